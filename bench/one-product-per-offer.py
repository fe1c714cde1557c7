#!/usr/bin/env python3
"""Rewrites a generated JSON Lines scrape into the catalog shape where every offer is its own
product: GTIN-like fields removed, each title made store-specific with the offer's SKU (as
marketplaces and scrapers without GTINs give). Keys are matched like Preciso matches them
(case and accents folded). Lines that are not JSON objects are copied as they are.
Usage: one-product-per-offer.py IN.jsonl OUT.jsonl"""
import json
import sys
import unicodedata


def fold(key):
    return unicodedata.normalize("NFD", key).encode("ascii", "ignore").decode().lower()


TITLE = {"title", "name", "nombre", "titulo"}
SKU = {"sku", "id", "codigo"}
GTIN = {"gtin", "ean", "upc", "barcode"}

with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    for line in src:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            dst.write(line)
            continue
        keys = {fold(k): k for k in record}
        sku = next((record[keys[k]] for k in SKU if k in keys), None)
        title = next((keys[k] for k in TITLE if k in keys), None)
        if sku is not None and title is not None and isinstance(record[title], str):
            record[title] = f"{record[title]} {sku}"
        for k in GTIN & keys.keys():
            del record[keys[k]]
        dst.write(json.dumps(record, ensure_ascii=False) + "\n")
