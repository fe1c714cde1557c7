#!/usr/bin/env python3
"""The reference of issue #20: what a team's hand-written uploader does (the MongoDB uploaders
Preciso replaces, on standard `sqlite3`): one table keyed by each line's SHA-256, a batched
upsert per 5,000 lines that refreshes `seen` of a repeated line. No products, no price
history, no other index.
Usage: python-uploader.py IN.jsonl DB.sqlite"""
import hashlib, json, sqlite3, sys

db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("""CREATE TABLE IF NOT EXISTS offers (store TEXT, sku TEXT, title TEXT, price TEXT,
    hash TEXT PRIMARY KEY, seen INTEGER)""")
UPSERT = """INSERT INTO offers VALUES (?, ?, ?, ?, ?, strftime('%s','now'))
    ON CONFLICT (hash) DO UPDATE SET seen = excluded.seen"""
rows, n = [], 0
for line in open(sys.argv[1], "rb"):
    try:
        r = {k.lower(): v for k, v in json.loads(line).items()}
        rows.append((str(r.get("store") or r.get("tienda")), str(r.get("sku") or r.get("código")
                     or r.get("codigo")), r.get("title") or r.get("nombre"),
                     str(r.get("price") or r.get("precio")), hashlib.sha256(line).hexdigest()))
    except (ValueError, AttributeError):
        continue
    if len(rows) >= 5000:
        db.executemany(UPSERT, rows); db.commit(); n += len(rows); rows = []
db.executemany(UPSERT, rows); db.commit(); n += len(rows)
print(f"{n} rows")
