//! Refresh of the best-offer summary (`preciso_core::best`) on PostgreSQL: takes the dirty
//! marks, streams the marked (or all) products' buyable offers in product order through a
//! portal, and writes the summary rows in set-based chunks, all in one transaction.

use crate::backend;
use postgres::{Client, Transaction};
use preciso_core::best::{BestRow, EVERY_PRODUCT, OfferPrice, ProductStream};
use preciso_core::ports::StoreError;

/// Rows fetched per round trip and written per INSERT.
const CHUNK: usize = 10_000;

/// Serializes refreshes of concurrent ingest runs (`pg_advisory_xact_lock` key).
const REFRESH_LOCK: i64 = 0x7072_6563_6973_6f62;

/// Rebuilds the summary rows of the marked products, or of all of them when the marks include
/// `EVERY_PRODUCT`, in one transaction.
pub(crate) fn refresh(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REFRESH_LOCK]).map_err(backend)?;
    // Taking the marks first means any batch committing after this point leaves its own mark
    // for the next refresh, and any batch committed before it is visible to the reads below.
    let taken: Vec<i64> = tx
        .query("DELETE FROM product_best_dirty RETURNING product_id", &[])
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let portal = if taken.is_empty() {
        return tx.commit().map_err(backend);
    } else if taken.contains(&EVERY_PRODUCT) {
        tx.batch_execute(preciso_sql::best::DELETE_ALL_ROWS).map_err(backend)?;
        tx.bind(&preciso_sql::best::all_offers(), &[])
    } else {
        tx.execute("DELETE FROM product_best WHERE product_id = ANY($1)", &[&taken])
            .map_err(backend)?;
        tx.bind(
            "SELECT product_id, id, category_key, currency, price_minor FROM offers
             WHERE availability <> 'out_of_stock' AND product_id = ANY($1) ORDER BY product_id",
            &[&taken],
        )
    }
    .map_err(backend)?;
    let mut stream = ProductStream::default();
    let mut pending: Vec<BestRow> = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, CHUNK as i32).map_err(backend)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let offer = OfferPrice {
                offer_id: r.get(1),
                category_key: r.get(2),
                currency: r.get(3),
                price_minor: r.get(4),
            };
            pending.extend(stream.push(r.get(0), offer));
        }
        if pending.len() >= CHUNK {
            insert(&mut tx, &std::mem::take(&mut pending))?;
        }
    }
    pending.extend(stream.finish());
    insert(&mut tx, &pending)?;
    tx.batch_execute(preciso_sql::best::RECOUNT_SCOPES).map_err(backend)?;
    tx.commit().map_err(backend)
}

fn insert(tx: &mut Transaction<'_>, rows: &[BestRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let scopes: Vec<&str> = rows.iter().map(|r| r.scope.as_str()).collect();
    let products: Vec<i64> = rows.iter().map(|r| r.product_id).collect();
    let currencies: Vec<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
    let prices: Vec<i64> = rows.iter().map(|r| r.price_minor).collect();
    let offers: Vec<i64> = rows.iter().map(|r| r.offer_id).collect();
    let counts: Vec<i64> = rows.iter().map(|r| r.offers).collect();
    tx.execute(
        "INSERT INTO product_best (scope, product_id, currency, price_minor, offer_id, offers)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])",
        &[&scopes, &products, &currencies, &prices, &offers, &counts],
    )
    .map(drop)
    .map_err(backend)
}
