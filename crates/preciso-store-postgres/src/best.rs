//! Refresh of the best-offer summary (`preciso_core::best`) on PostgreSQL: takes the dirty
//! marks and, in one transaction, either rebuilds every row (the marks include
//! `EVERY_PRODUCT`: an initial load) streaming all buyable offers in product order through a
//! portal, or merges two portals in product order — the marked products' buyable offers and
//! their stored rows — and writes only the rows that changed. One bitmap scan over all the
//! marked products reads each heap page of `offers` once, in physical order; rounds of a few
//! thousand products read the same pages again and again (4.7 s instead of 0.6 s for 38k
//! products at a million offers). The scope counts (`product_best_scopes`) follow from the
//! rows written instead of a recount of the whole summary. The same transaction recounts
//! the offers on the products' rows (`products.offers`, migration 0046), which the text
//! search ranks by: the marked products', or every product's after a rebuild or when more
//! than half are marked (`recount`).

use crate::backend;
use postgres::{Client, Portal, Row, Transaction};
use preciso_core::best::{BestRow, EVERY_PRODUCT, OfferPrice, ProductStream, ScopeTally};
use preciso_core::ports::StoreError;

/// Rows fetched per round trip and written per INSERT.
const CHUNK: usize = 10_000;

/// The summary's page index (migration 0013).
const ORDER_INDEX: &str = "CREATE INDEX IF NOT EXISTS product_best_order
    ON product_best(scope, currency, price_minor, offer_id)";

/// Serializes refreshes of concurrent ingest runs (`pg_advisory_xact_lock` key).
const REFRESH_LOCK: i64 = 0x7072_6563_6973_6f62;

const OFFERS_OF: &str = "SELECT product_id, id, category_key, currency, price_minor FROM offers
    WHERE availability <> 'out_of_stock' AND product_id = ANY($1) ORDER BY product_id";

const ROWS_OF: &str = "SELECT product_id, scope, currency, price_minor, offer_id, offers
    FROM product_best WHERE product_id = ANY($1) ORDER BY product_id";

/// The planner's estimate of the products (-1 before any statistics: then every recount is
/// whole, which at that size costs nothing).
const PRODUCTS_ESTIMATE: &str = "SELECT reltuples FROM pg_class WHERE oid = 'products'::regclass";

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
        let tally = rebuild_all(&mut tx)?;
        recount(&mut tx, None)?;
        tally
    } else {
        taken.sort_unstable();
        let tally = refresh_products(&mut tx, &taken)?;
        // A probe per marked product costs about twice a product's share of the whole
        // recount (9.7 against 4.6 µs at 100k products and 1M offers): past half of them, all.
        let products: f64 =
            tx.query_one(PRODUCTS_ESTIMATE, &[]).map_err(backend)?.get::<_, f32>(0).into();
        let whole = taken.len() as f64 * 2.0 >= products;
        recount(&mut tx, (!whole).then_some(&taken[..]))?;
        tally
    };
    add_to_scopes(&mut tx, &tally)?;
    tx.commit().map_err(backend)
}

/// Sets `products.offers` (migration 0046) to each product's count of offers, of every
/// availability, where it differs: of `products`, or of every product. Every run marks the
/// products whose offers it adds, moves or removes (as the summary needs), so recounting the
/// marked ones keeps every count. The whole recount merges the two primary-key orders (0.3 s
/// for 100k products and 1M offers when nothing changed, 1.2 s when 86k did).
pub(crate) fn recount(
    tx: &mut Transaction<'_>,
    products: Option<&[i64]>,
) -> Result<(), StoreError> {
    match products {
        Some(ids) => tx.execute(
            "UPDATE products p SET offers = c.n
             FROM (SELECT m.id, (SELECT count(*) FROM offers o WHERE o.product_id = m.id) AS n
                   FROM UNNEST($1::bigint[]) AS m(id)) c
             WHERE p.id = c.id AND p.offers <> c.n",
            &[&ids],
        ),
        None => tx.execute(
            "UPDATE products p SET offers = c.n
             FROM (SELECT q.id, count(o.product_id) AS n
                   FROM products q LEFT JOIN offers o ON o.product_id = q.id GROUP BY q.id) c
             WHERE p.id = c.id AND p.offers <> c.n",
            &[],
        ),
    }
    .map(drop)
    .map_err(backend)
}

/// Every row again, counted whole.
fn rebuild_all(tx: &mut Transaction<'_>) -> Result<ScopeTally, StoreError> {
    // Filling an empty summary (an initial load), the page index is built once at the end
    // from sorted rows instead of a random B-tree insert per row (9.0 s to 4.8 s for 1.3M
    // rows). Dropping it locks the table until commit, which only an empty summary's readers
    // can afford; a summary with rows keeps its index and its readers.
    let empty: bool = tx
        .query_one("SELECT NOT EXISTS (SELECT 1 FROM product_best)", &[])
        .map_err(backend)?
        .get(0);
    tx.batch_execute("DELETE FROM product_best; DELETE FROM product_best_scopes")
        .map_err(backend)?;
    if empty {
        tx.batch_execute("DROP INDEX IF EXISTS product_best_order").map_err(backend)?;
    }
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
            append(tx, &rows)?;
        }
    }
    pending.extend(stream.finish());
    pending.iter().for_each(|r| tally.count(r, 1));
    append(tx, &pending)?;
    tx.batch_execute(ORDER_INDEX).map_err(backend)?;
    // A table rewritten whole: without statistics the planner takes it for any size, and a
    // partial refresh's lookup by product scans it instead of its key (0.1 s per lookup).
    tx.batch_execute("ANALYZE product_best").map_err(backend)?;
    Ok(tally)
}

/// A partial refresh: the marked products' stored rows against their recomputed ones, both
/// read in product order and merged; only differences are written (most marked products keep
/// their rows: a price changed that was not the best).
fn refresh_products(tx: &mut Transaction<'_>, products: &[i64]) -> Result<ScopeTally, StoreError> {
    let mut offers = Cursor::open(tx, OFFERS_OF, products)?;
    let mut stored = Cursor::open(tx, ROWS_OF, products)?;
    let mut tally = ScopeTally::default();
    let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
    loop {
        let next = match (offers.peek(tx)?, stored.peek(tx)?) {
            (Some(a), Some(b)) => a.min(b),
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => break,
        };
        let mut prices = Vec::new();
        offers.take(tx, next, |r| prices.push(offer_price(r)))?;
        let mut before = Vec::new();
        stored.take(tx, next, |r| before.push(stored_row(r)))?;
        let after = preciso_core::best::best_rows(next, &prices);
        let changes = preciso_core::best::changes(&before, after, &mut tally);
        upserts.extend(changes.upserts);
        deletes.extend(changes.deletes.into_iter().map(|(s, c)| (next, s, c)));
        if upserts.len() + deletes.len() >= CHUNK {
            flush(tx, &mut upserts, &mut deletes)?;
        }
    }
    flush(tx, &mut upserts, &mut deletes)?;
    Ok(tally)
}

fn flush(
    tx: &mut Transaction<'_>,
    upserts: &mut Vec<BestRow>,
    deletes: &mut Vec<(i64, String, String)>,
) -> Result<(), StoreError> {
    delete(tx, &std::mem::take(deletes))?;
    upsert(tx, &std::mem::take(upserts))
}

/// Rows of a portal ordered by product id (column 0), fetched `CHUNK` at a time. Writes made
/// through the same transaction after the portal opened are not seen by it.
struct Cursor {
    portal: Portal,
    rows: std::iter::Peekable<std::vec::IntoIter<Row>>,
    done: bool,
}

impl Cursor {
    fn open(tx: &mut Transaction<'_>, sql: &str, products: &[i64]) -> Result<Self, StoreError> {
        let portal = tx.bind(sql, &[&products]).map_err(backend)?;
        Ok(Self { portal, rows: Vec::new().into_iter().peekable(), done: false })
    }

    /// The product of the next row, fetching more when the buffer is empty.
    fn peek(&mut self, tx: &mut Transaction<'_>) -> Result<Option<i64>, StoreError> {
        if self.rows.peek().is_none() && !self.done {
            let rows = tx.query_portal(&self.portal, CHUNK as i32).map_err(backend)?;
            self.done = rows.len() < CHUNK;
            self.rows = rows.into_iter().peekable();
        }
        Ok(self.rows.peek().map(|r| r.get(0)))
    }

    /// Hands every next row of `product` to `each`.
    fn take(
        &mut self,
        tx: &mut Transaction<'_>,
        product: i64,
        mut each: impl FnMut(&Row),
    ) -> Result<(), StoreError> {
        while self.peek(tx)? == Some(product) {
            if let Some(row) = self.rows.next() {
                each(&row);
            }
        }
        Ok(())
    }
}

fn stored_row(r: &Row) -> BestRow {
    BestRow {
        product_id: r.get(0),
        scope: r.get(1),
        currency: r.get(2),
        price_minor: r.get(3),
        offer_id: r.get(4),
        offers: r.get(5),
    }
}

fn offer_price(r: &Row) -> OfferPrice {
    OfferPrice {
        offer_id: r.get(1),
        category_key: r.get(2),
        currency: r.get(3),
        price_minor: r.get(4),
    }
}

/// Appends rows to the emptied summary of a rebuild, where nothing can conflict, by binary
/// `COPY` (less than half the server's time of `INSERT` over arrays; docs/BENCHMARKS.md).
fn append(tx: &mut Transaction<'_>, rows: &[BestRow]) -> Result<(), StoreError> {
    use postgres::types::Type;
    if rows.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(
            "COPY product_best (scope, product_id, currency, price_minor, offer_id, offers)
             FROM STDIN BINARY",
        )
        .map_err(backend)?;
    let types = [Type::TEXT, Type::INT8, Type::TEXT, Type::INT8, Type::INT8, Type::INT8];
    let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
    for r in rows {
        w.write(&[&r.scope, &r.product_id, &r.currency, &r.price_minor, &r.offer_id, &r.offers])
            .map_err(backend)?;
    }
    w.finish().map(drop).map_err(backend)
}

/// Inserts `rows`, each replacing the stored row of its key.
fn upsert(tx: &mut Transaction<'_>, rows: &[BestRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let scopes: Vec<&str> = chunk.iter().map(|r| r.scope.as_str()).collect();
        let products: Vec<i64> = chunk.iter().map(|r| r.product_id).collect();
        let currencies: Vec<&str> = chunk.iter().map(|r| r.currency.as_str()).collect();
        let prices: Vec<i64> = chunk.iter().map(|r| r.price_minor).collect();
        let offers: Vec<i64> = chunk.iter().map(|r| r.offer_id).collect();
        let counts: Vec<i64> = chunk.iter().map(|r| r.offers).collect();
        let sql =
            "INSERT INTO product_best (scope, product_id, currency, price_minor, offer_id, offers)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                 $5::bigint[], $6::bigint[])
             ON CONFLICT (product_id, scope, currency) DO UPDATE
             SET price_minor = excluded.price_minor, offer_id = excluded.offer_id,
                 offers = excluded.offers";
        tx.execute(sql, &[&scopes, &products, &currencies, &prices, &offers, &counts])
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
