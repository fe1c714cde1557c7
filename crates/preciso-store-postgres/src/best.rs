//! Refresh of the best-offer summary (`preciso_core::best`) on PostgreSQL: takes the dirty
//! marks and, in one transaction, either rebuilds every row (the marks include
//! `EVERY_PRODUCT`: an initial load) streaming all buyable offers in product order through a
//! portal, or recomputes the marked products a chunk at a time and writes only the rows that
//! changed. The scope counts (`product_best_scopes`) follow from the rows written instead of
//! a recount of the whole summary.

use crate::backend;
use postgres::{Client, Transaction};
use preciso_core::best::{BestRow, EVERY_PRODUCT, OfferPrice, ProductStream, ScopeTally};
use preciso_core::ports::StoreError;
use std::collections::HashMap;

/// Rows fetched per round trip and written per INSERT.
const CHUNK: usize = 10_000;

/// Marked products recomputed per round of a partial refresh.
const PRODUCTS_PER_ROUND: usize = 2_000;

/// Serializes refreshes of concurrent ingest runs (`pg_advisory_xact_lock` key).
const REFRESH_LOCK: i64 = 0x7072_6563_6973_6f62;

const OFFERS_OF: &str = "SELECT product_id, id, category_key, currency, price_minor FROM offers
    WHERE availability <> 'out_of_stock' AND product_id = ANY($1) ORDER BY product_id";

const ROWS_OF: &str = "SELECT product_id, scope, currency, price_minor, offer_id, offers
    FROM product_best WHERE product_id = ANY($1)";

/// Rebuilds the summary rows of the marked products, or of all of them when the marks include
/// `EVERY_PRODUCT`, in one transaction.
pub(crate) fn refresh(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REFRESH_LOCK]).map_err(backend)?;
    // Taking the marks first means any batch committing after this point leaves its own mark
    // for the next refresh, and any batch committed before it is visible to the reads below.
    let mut taken: Vec<i64> = tx
        .query("DELETE FROM product_best_dirty RETURNING product_id", &[])
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if taken.is_empty() {
        return tx.commit().map_err(backend);
    }
    let tally = if taken.contains(&EVERY_PRODUCT) {
        rebuild_all(&mut tx)?
    } else {
        taken.sort_unstable();
        let mut tally = ScopeTally::default();
        for round in taken.chunks(PRODUCTS_PER_ROUND) {
            refresh_products(&mut tx, round, &mut tally)?;
        }
        tally
    };
    add_to_scopes(&mut tx, &tally)?;
    tx.commit().map_err(backend)
}

/// Every row again, counted whole.
fn rebuild_all(tx: &mut Transaction<'_>) -> Result<ScopeTally, StoreError> {
    tx.batch_execute("DELETE FROM product_best; DELETE FROM product_best_scopes")
        .map_err(backend)?;
    let portal = tx.bind(&preciso_sql::best::all_offers(), &[]).map_err(backend)?;
    let mut stream = ProductStream::default();
    let mut pending: Vec<BestRow> = Vec::new();
    let mut tally = ScopeTally::default();
    loop {
        let rows = tx.query_portal(&portal, CHUNK as i32).map_err(backend)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            pending.extend(stream.push(r.get(0), offer_price(r)));
        }
        if pending.len() >= CHUNK {
            let rows = std::mem::take(&mut pending);
            rows.iter().for_each(|r| tally.count(r, 1));
            write(tx, &rows, "")?;
        }
    }
    pending.extend(stream.finish());
    pending.iter().for_each(|r| tally.count(r, 1));
    write(tx, &pending, "")?;
    Ok(tally)
}

/// One round of a partial refresh: the products' stored rows against their recomputed ones;
/// only differences are written (most marked products keep their rows: a price changed that
/// was not the best).
fn refresh_products(
    tx: &mut Transaction<'_>,
    products: &[i64],
    tally: &mut ScopeTally,
) -> Result<(), StoreError> {
    let mut old: HashMap<i64, Vec<BestRow>> = HashMap::new();
    for r in tx.query(ROWS_OF, &[&products]).map_err(backend)? {
        let row = BestRow {
            product_id: r.get(0),
            scope: r.get(1),
            currency: r.get(2),
            price_minor: r.get(3),
            offer_id: r.get(4),
            offers: r.get(5),
        };
        old.entry(row.product_id).or_default().push(row);
    }
    let mut new: HashMap<i64, Vec<BestRow>> = HashMap::new();
    let mut stream = ProductStream::default();
    let mut keep = |rows: Vec<BestRow>| {
        if let Some(first) = rows.first() {
            new.insert(first.product_id, rows);
        }
    };
    for r in tx.query(OFFERS_OF, &[&products]).map_err(backend)? {
        keep(stream.push(r.get(0), offer_price(&r)));
    }
    keep(stream.finish());
    let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
    for product in products {
        let before = old.remove(product).unwrap_or_default();
        let after = new.remove(product).unwrap_or_default();
        let changes = preciso_core::best::changes(&before, after, tally);
        upserts.extend(changes.upserts);
        deletes.extend(changes.deletes.into_iter().map(|(s, c)| (*product, s, c)));
    }
    delete(tx, &deletes)?;
    write(tx, &upserts, UPSERT)
}

fn offer_price(r: &postgres::Row) -> OfferPrice {
    OfferPrice {
        offer_id: r.get(1),
        category_key: r.get(2),
        currency: r.get(3),
        price_minor: r.get(4),
    }
}

/// Replaces the row of the same key (a rebuild, which starts from an empty table, has none).
const UPSERT: &str = "ON CONFLICT (product_id, scope, currency) DO UPDATE
    SET price_minor = excluded.price_minor, offer_id = excluded.offer_id, offers = excluded.offers";

/// Inserts `rows`, followed by `conflict` (empty, or `UPSERT`).
fn write(tx: &mut Transaction<'_>, rows: &[BestRow], conflict: &str) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let scopes: Vec<&str> = chunk.iter().map(|r| r.scope.as_str()).collect();
        let products: Vec<i64> = chunk.iter().map(|r| r.product_id).collect();
        let currencies: Vec<&str> = chunk.iter().map(|r| r.currency.as_str()).collect();
        let prices: Vec<i64> = chunk.iter().map(|r| r.price_minor).collect();
        let offers: Vec<i64> = chunk.iter().map(|r| r.offer_id).collect();
        let counts: Vec<i64> = chunk.iter().map(|r| r.offers).collect();
        let sql = format!(
            "INSERT INTO product_best (scope, product_id, currency, price_minor, offer_id, offers)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                 $5::bigint[], $6::bigint[]) {conflict}"
        );
        tx.execute(&sql, &[&scopes, &products, &currencies, &prices, &offers, &counts])
            .map_err(backend)?;
    }
    Ok(())
}

fn delete(tx: &mut Transaction<'_>, keys: &[(i64, String, String)]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let products: Vec<i64> = keys.iter().map(|k| k.0).collect();
    let scopes: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let currencies: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    tx.execute(
        "DELETE FROM product_best b USING UNNEST($1::bigint[], $2::text[], $3::text[])
             AS d(product_id, scope, currency)
         WHERE b.product_id = d.product_id AND b.scope = d.scope AND b.currency = d.currency",
        &[&products, &scopes, &currencies],
    )
    .map(drop)
    .map_err(backend)
}

/// Adds the tally's deltas to the scope counts; scopes left without products go.
fn add_to_scopes(tx: &mut Transaction<'_>, tally: &ScopeTally) -> Result<(), StoreError> {
    let scopes: Vec<&str> = tally.0.keys().map(|(s, _)| s.as_str()).collect();
    let currencies: Vec<&str> = tally.0.keys().map(|(_, c)| c.as_str()).collect();
    let products: Vec<i64> = tally.0.values().map(|v| v.0).collect();
    let offers: Vec<i64> = tally.0.values().map(|v| v.1).collect();
    tx.execute(
        "INSERT INTO product_best_scopes (scope, currency, products, offers)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])
         ON CONFLICT (scope, currency) DO UPDATE
         SET products = product_best_scopes.products + excluded.products,
             offers = product_best_scopes.offers + excluded.offers",
        &[&scopes, &currencies, &products, &offers],
    )
    .map_err(backend)?;
    tx.execute(preciso_sql::best::DROP_EMPTY_SCOPES, &[]).map(drop).map_err(backend)
}
