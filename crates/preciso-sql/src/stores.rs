//! Store identity in portable SQL: the names stores were written as, the aliases merges
//! leave, and the merge of one store into another, written once over `Tx` (a transaction
//! each adapter provides) and run by both.

use crate::tables;
use preciso_core::domain::StoreId;
use preciso_core::hash::{OfferContent, content_hash, offer_id, title_key};
use preciso_core::ports::{Cell, MergeReport, SeenName, StoreError, StoreRecords};

/// A transaction of either backend: `?` placeholders, cells for values and rows.
pub trait Tx {
    fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, StoreError>;
    fn execute(&mut self, sql: &str, params: &[Cell]) -> Result<u64, StoreError>;
}

pub const SELECT_NAMES: &str = "SELECT store_id, name, records, last_seen_at FROM store_names
    ORDER BY store_id, records DESC, name";

/// Adds one name's records (both dialects' upsert).
pub const ADD_NAME: &str = "INSERT INTO store_names (store_id, name, records, last_seen_at)
    VALUES (?, ?, ?, ?)
    ON CONFLICT (store_id, name) DO UPDATE SET records = store_names.records + excluded.records,
        last_seen_at = CASE WHEN excluded.last_seen_at > store_names.last_seen_at
                            THEN excluded.last_seen_at ELSE store_names.last_seen_at END";

/// Adds a store's records of one ingest run (both dialects' upsert).
pub const ADD_STORE_COUNT: &str = "INSERT INTO ingest_store_counts
        (file_id, store_id, at, accepted, rejected) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (file_id, store_id) DO UPDATE SET
        accepted = ingest_store_counts.accepted + excluded.accepted,
        rejected = ingest_store_counts.rejected + excluded.rejected";

/// Each store's records over the runs of a time window (by the `at` index).
pub const SELECT_STORE_COUNTS: &str = "SELECT store_id, CAST(SUM(accepted) AS BIGINT),
        CAST(SUM(rejected) AS BIGINT)
    FROM ingest_store_counts WHERE at >= ? AND at <= ? GROUP BY store_id ORDER BY store_id";

pub fn store_count_params(file_id: i64, at: i64, c: &StoreRecords) -> [Cell; 5] {
    let n = |v: u64| Cell::Int(i64::try_from(v).unwrap_or(i64::MAX));
    [
        Cell::Int(file_id),
        Cell::Text(c.store.to_string()),
        Cell::Int(at),
        n(c.accepted),
        n(c.rejected),
    ]
}

pub fn store_count_from_row(row: &[Cell]) -> Result<StoreRecords, StoreError> {
    let n = |c: &Cell| match c {
        Cell::Int(v) => Ok(u64::try_from(*v).unwrap_or(0)),
        other => Err(StoreError::Backend(format!("ingest_store_counts: {other:?}"))),
    };
    match row {
        [Cell::Text(store), a, r] => {
            Ok(StoreRecords { store: store_id(store)?, accepted: n(a)?, rejected: n(r)? })
        }
        _ => Err(StoreError::Backend("ingest_store_counts: unexpected row".into())),
    }
}

pub const SELECT_ALIASES: &str = "SELECT alias, store_id FROM store_aliases ORDER BY alias";

pub fn add_name_params(n: &SeenName) -> [Cell; 4] {
    [
        Cell::Text(n.store.to_string()),
        Cell::Text(n.name.clone()),
        Cell::Int(i64::try_from(n.records).unwrap_or(i64::MAX)),
        Cell::Int(n.last_seen),
    ]
}

pub fn name_from_row(row: &[Cell]) -> Result<SeenName, StoreError> {
    match row {
        [Cell::Text(store), Cell::Text(name), Cell::Int(records), Cell::Int(at)] => Ok(SeenName {
            store: store_id(store)?,
            name: name.clone(),
            records: u64::try_from(*records).unwrap_or(0),
            last_seen: *at,
        }),
        _ => Err(StoreError::Backend("store_names: unexpected row".into())),
    }
}

pub fn alias_from_row(row: &[Cell]) -> Result<(String, StoreId), StoreError> {
    match row {
        [Cell::Text(alias), Cell::Text(store)] => Ok((alias.clone(), store_id(store)?)),
        _ => Err(StoreError::Backend("store_aliases: unexpected row".into())),
    }
}

fn store_id(raw: &str) -> Result<StoreId, StoreError> {
    StoreId::parse(raw).map_err(|e| StoreError::Backend(format!("stored store id {raw:?}: {e}")))
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// The offer columns a merge reads, in this order.
const MERGE_COLUMNS: &str = "id, sku, url, title, brand, category, gtin, image_url, price_minor,
    list_price_minor, currency, availability, rating_centi, review_count, first_seen, last_seen,
    product_id";

/// One offer of the store being merged away.
struct Moving {
    id: i64,
    new_id: i64,
    content_hash: Vec<u8>,
    first_seen: i64,
    last_seen: i64,
    product_id: i64,
}

fn opt_text(c: &Cell) -> Option<&str> {
    match c {
        Cell::Text(t) => Some(t),
        _ => None,
    }
}

fn opt_int(c: &Cell) -> Option<i64> {
    match c {
        Cell::Int(i) => Some(*i),
        _ => None,
    }
}

/// The row's identity and content hash as if `into` had scraped it.
fn rekey(row: &[Cell], into: &StoreId) -> Result<Moving, StoreError> {
    let bad = || StoreError::Backend("offers: unexpected row in a merge".into());
    let [
        id,
        sku,
        url,
        title,
        brand,
        category,
        gtin,
        image,
        price,
        list,
        currency,
        avail,
        rating,
        reviews,
        first,
        last,
        product,
    ] = row
    else {
        return Err(bad());
    };
    let title = opt_text(title).ok_or_else(bad)?;
    let (sku, url, brand) = (opt_text(sku), opt_text(url), opt_text(brand));
    let hash = content_hash(&OfferContent {
        store: into.as_str(),
        sku,
        gtin: opt_text(gtin),
        title,
        brand,
        category: opt_text(category),
        price_minor: opt_int(price).ok_or_else(bad)?,
        currency: opt_text(currency).ok_or_else(bad)?,
        list_price_minor: opt_int(list),
        availability: opt_text(avail).ok_or_else(bad)?,
        rating_hundredths: opt_int(rating),
        review_count: opt_int(reviews),
        url,
        image_url: opt_text(image),
    });
    Ok(Moving {
        id: opt_int(id).ok_or_else(bad)?,
        new_id: offer_id(into, sku, url, &title_key(brand, title)).as_i64(),
        content_hash: hash.to_vec(),
        first_seen: opt_int(first).ok_or_else(bad)?,
        last_seen: opt_int(last).ok_or_else(bad)?,
        product_id: opt_int(product).ok_or_else(bad)?,
    })
}

/// `preciso stores merge FROM INTO` (see `CatalogStore::merge_stores`). The caller commits,
/// then refreshes the derived tables (the products and offers this marked, category medians).
pub fn merge(tx: &mut dyn Tx, from: &StoreId, into: &StoreId) -> Result<MergeReport, StoreError> {
    if from == into {
        return Err(StoreError::Conflict(format!("{from} cannot be merged into itself")));
    }
    let exists = |tx: &mut dyn Tx, s: &StoreId| -> Result<bool, StoreError> {
        Ok(!tx.query("SELECT 1 FROM stores WHERE id = ?", &[text(s.as_str())])?.is_empty())
    };
    if !exists(tx, from)? {
        return Err(StoreError::NotFound);
    }
    if !exists(tx, into)? {
        tx.execute(
            "INSERT INTO stores (id, name, country, currency, base_url, created_at, last_seen_at)
             SELECT ?, ?, country, currency, NULL, created_at, last_seen_at FROM stores WHERE id = ?",
            &[text(into.as_str()), text(into.as_str()), text(from.as_str())],
        )?;
    }
    let rows = tx.query(
        &format!("SELECT {MERGE_COLUMNS} FROM offers WHERE store_id = ? ORDER BY id"),
        &[text(from.as_str())],
    )?;
    let mut report = MergeReport::default();
    for row in &rows {
        let m = rekey(row, into)?;
        let held = tx.query("SELECT last_seen FROM offers WHERE id = ?", &[Cell::Int(m.new_id)])?;
        match held.first().and_then(|r| r.first()).and_then(opt_int) {
            None => {
                move_offer(tx, &m, into)?;
                report.moved += 1;
            }
            Some(kept_last_seen) => {
                // The newer row's columns may carry the kept offer to another product: the one
                // it leaves is marked too.
                let moved = [Cell::Int(m.new_id), Cell::Int(m.product_id)];
                tx.execute(crate::best::MARK_PREVIOUS_PRODUCT, &moved)?;
                merge_offer(tx, &m, kept_last_seen)?;
                report.merged += 1;
            }
        }
        tx.execute(crate::best::MARK_PRODUCT, &[Cell::Int(m.product_id)])?;
        // The drop follows the history: recomputed under the new id by the trend refresh.
        crate::trend::forget_drop(tx, m.id)?;
        tx.execute(crate::reads::MARK_TREND, &[Cell::Int(m.new_id)])?;
    }
    report.ledger_rows = tx.execute(
        "UPDATE ingest_files SET store_id = ? WHERE store_id = ?",
        &[text(into.as_str()), text(from.as_str())],
    )?;
    // Per-store record counts follow, added to the target's own for the same runs.
    for row in tx.query(
        "SELECT file_id, at, accepted, rejected FROM ingest_store_counts WHERE store_id = ?",
        &[text(from.as_str())],
    )? {
        if let [Cell::Int(file), Cell::Int(at), Cell::Int(a), Cell::Int(r)] = row.as_slice() {
            let moved = StoreRecords {
                store: into.clone(),
                accepted: u64::try_from(*a).unwrap_or(0),
                rejected: u64::try_from(*r).unwrap_or(0),
            };
            tx.execute(ADD_STORE_COUNT, &store_count_params(*file, *at, &moved))?;
        }
    }
    tx.execute("DELETE FROM ingest_store_counts WHERE store_id = ?", &[text(from.as_str())])?;
    move_identity(tx, from, into)?;
    Ok(report)
}

/// The offers columns but `skip`, for copying a row.
fn columns_but(skip: &[&str]) -> String {
    let offers = tables::table("offers").expect("the offers table is listed");
    let kept: Vec<&str> = offers.columns.iter().filter(|c| !skip.contains(c)).copied().collect();
    kept.join(", ")
}

/// A new row under the new id (parents first: the history's foreign key), the history moved
/// to it, the old row gone.
fn move_offer(tx: &mut dyn Tx, m: &Moving, into: &StoreId) -> Result<(), StoreError> {
    let cols = columns_but(&["id", "store_id"]);
    tx.execute(
        &format!(
            "INSERT INTO offers (id, store_id, {cols}) SELECT ?, ?, {cols} FROM offers WHERE id = ?"
        ),
        &[Cell::Int(m.new_id), text(into.as_str()), Cell::Int(m.id)],
    )?;
    tx.execute(
        "UPDATE offers SET content_hash = ? WHERE id = ?",
        &[Cell::Bytes(m.content_hash.clone()), Cell::Int(m.new_id)],
    )?;
    tx.execute(
        "UPDATE price_history SET offer_id = ? WHERE offer_id = ?",
        &[Cell::Int(m.new_id), Cell::Int(m.id)],
    )?;
    tx.execute("DELETE FROM offers WHERE id = ?", &[Cell::Int(m.id)])?;
    Ok(())
}

/// The target already holds this offer: its history gains the observations it lacks, the
/// most recently seen of the two rows becomes the current one, and the span of both is kept.
fn merge_offer(tx: &mut dyn Tx, m: &Moving, kept_last_seen: i64) -> Result<(), StoreError> {
    let (new, old) = (Cell::Int(m.new_id), Cell::Int(m.id));
    tx.execute(
        "INSERT INTO price_history (offer_id, observed_at, price_minor, list_price_minor, currency,
             availability, arrival)
         SELECT ?, h.observed_at, h.price_minor, h.list_price_minor, h.currency, h.availability,
             h.arrival
         FROM price_history h
         WHERE h.offer_id = ? AND NOT EXISTS (
             SELECT 1 FROM price_history k WHERE k.offer_id = ? AND k.observed_at = h.observed_at)",
        &[new.clone(), old.clone(), new.clone()],
    )?;
    if m.last_seen > kept_last_seen {
        let cols = columns_but(&["id", "store_id", "first_seen"]);
        tx.execute(
            &format!(
                "UPDATE offers SET ({cols}) = (SELECT {cols} FROM offers WHERE id = ?) WHERE id = ?"
            ),
            &[old.clone(), new.clone()],
        )?;
        tx.execute(
            "UPDATE offers SET content_hash = ? WHERE id = ?",
            &[Cell::Bytes(m.content_hash.clone()), new.clone()],
        )?;
    }
    tx.execute(
        "UPDATE offers SET first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END
         WHERE id = ?",
        &[Cell::Int(m.first_seen), Cell::Int(m.first_seen), new],
    )?;
    tx.execute("DELETE FROM price_history WHERE offer_id = ?", std::slice::from_ref(&old))?;
    tx.execute("DELETE FROM offers WHERE id = ?", &[old])?;
    Ok(())
}

/// Names, aliases and freshness of `from` go to `into`; `from`'s slug and name become
/// aliases of `into`; the `from` row goes.
fn move_identity(tx: &mut dyn Tx, from: &StoreId, into: &StoreId) -> Result<(), StoreError> {
    let (f, i) = (text(from.as_str()), text(into.as_str()));
    for row in tx.query(
        "SELECT store_id, name, records, last_seen_at FROM store_names WHERE store_id = ?",
        std::slice::from_ref(&f),
    )? {
        let mut n = name_from_row(&row)?;
        n.store = into.clone();
        tx.execute(ADD_NAME, &add_name_params(&n))?;
    }
    tx.execute("DELETE FROM store_names WHERE store_id = ?", std::slice::from_ref(&f))?;
    tx.execute(
        "UPDATE store_aliases SET store_id = ? WHERE store_id = ?",
        &[i.clone(), f.clone()],
    )?;
    let name = tx.query("SELECT name FROM stores WHERE id = ?", std::slice::from_ref(&f))?;
    let mut aliases = vec![from.to_string()];
    if let Some(Cell::Text(n)) = name.first().and_then(|r| r.first())
        && let Ok(slug) = StoreId::parse(n)
    {
        aliases.push(slug.to_string());
    }
    for alias in aliases {
        tx.execute("DELETE FROM store_aliases WHERE alias = ?", &[text(&alias)])?;
        tx.execute(
            "INSERT INTO store_aliases (alias, store_id) VALUES (?, ?)",
            &[text(&alias), i.clone()],
        )?;
    }
    tx.execute(
        "UPDATE stores SET last_seen_at = (
             SELECT max(last_seen_at) FROM stores WHERE id IN (?, ?))
         WHERE id = ?",
        &[f.clone(), i.clone(), i],
    )?;
    tx.execute("DELETE FROM stores WHERE id = ?", &[f])?;
    Ok(())
}
