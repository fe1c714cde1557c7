//! SQL of the market summary (`preciso_core::market`): the scan it is folded from, writing
//! its rows (over `Tx`, run by both adapters), and the reads of the catalog listings and the
//! store comparison.

use crate::stores::Tx;
use preciso_core::domain::Currency;
use preciso_core::domain::IngestCounts;
use preciso_core::market::{Listed, ListedNames, Market};
use preciso_core::ports::{Cell, StoreError};
use preciso_core::query::{MatchCount, PageRequest};

/// The first scan, any order: `store_id, category, category_key, currency, last_seen,
/// availability, brand, brand_key, id, price_minor` of every offer.
pub const SCAN: &str = "SELECT store_id, category, category_key, currency, last_seen,
    availability, brand, brand_key, id, price_minor FROM offers";

/// The second scan, in product order: `product_id, currency, store_id, price_minor,
/// availability, brand_key, category_key` (on SQLite a walk of the covering `offers_product`
/// index).
pub const PRICE_SCAN: &str = "SELECT product_id, currency, store_id, price_minor, availability,
    brand_key, category_key FROM offers ORDER BY product_id";

/// `brand, offers, products`, most offers first; one `?` for the limit.
pub const BRANDS: &str = "SELECT brand, offers, products FROM brand_counts
    ORDER BY offers DESC, brand LIMIT ?";

/// Marks the summary stale, in the transaction that changed offers, moving its generation on
/// (both dialects' upsert). Run last in the transaction: it locks the one row until commit.
pub const MARK: &str = "INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1";

/// The mark's generation (no row: not marked). A rebuild reads it before its scans and clears
/// the mark only at that generation (`CLEAR`): a batch that commits during the rebuild leaves
/// it for the next one.
pub const GENERATION: &str = "SELECT generation FROM market_dirty WHERE id = 1";
const CLEAR: &str = "DELETE FROM market_dirty WHERE generation = ?";

/// How a run's batches marked the summary stale: whether it was clean when the run began, and
/// how many of its batches marked it (each `MARK` adds one to the generation).
#[derive(Debug, Clone, Copy)]
pub struct RunMarks {
    clean_at_start: bool,
    batches: i64,
}

impl RunMarks {
    /// A run that found the summary marked (`true`: not marked) when it began.
    pub fn new(clean_at_start: bool) -> Self {
        RunMarks { clean_at_start, batches: 0 }
    }

    /// Whether a batch with these counts marks the summary (`MARK` in its transaction): any
    /// offer it read, unchanged ones too (their `last_seen` moves).
    pub fn batch_marks(counts: &IngestCounts) -> bool {
        counts.inserted + counts.updated + counts.unchanged > 0
    }

    /// One of the run's batches committed its `MARK`.
    pub fn marked(&mut self) {
        self.batches += 1;
    }

    /// The generation at which the stored price analyses still hold, if the run `changed` no
    /// offer (its offers unchanged: same price, store, brand and category) and found the
    /// summary clean: every mark since is its own while the generation equals its batches'
    /// number. A rebuild that reads another generation (a run that died before its end, a
    /// store merge, another run's batch) rebuilds the analyses too.
    pub fn prices_as_of(&self, changed: bool) -> Option<i64> {
        (self.clean_at_start && !changed && self.batches > 0).then_some(self.batches)
    }
}

/// `category, category_key, offers` by key.
pub const CATEGORIES: &str =
    "SELECT category, category_key, offers FROM category_counts ORDER BY category_key";

/// Per store: offers, distinct categories, in-stock offers, newest observation (null without
/// offers).
pub const STORE_SUMMARIES: &str = "SELECT s.id, coalesce(t.offers, 0), coalesce(t.categories, 0),
    coalesce(t.in_stock, 0), t.last_seen
    FROM stores s LEFT JOIN store_stats t ON t.store_id = s.id ORDER BY s.id";

/// One currency's stores: `store_id, offers, categories, price_index_centi, compared,
/// cheapest, last_seen`, then their offers seen in or after an hour (`?` currency, hour,
/// currency).
pub const STORE_MARKET: &str = "SELECT m.store_id, m.offers, m.categories, m.price_index_centi,
    m.compared, m.cheapest, m.last_seen,
    CAST(coalesce((SELECT sum(h.offers) FROM store_seen_hours h
        WHERE h.currency = m.currency AND h.store_id = m.store_id AND h.hour >= ?), 0) AS BIGINT)
    FROM store_market m WHERE m.currency = ? ORDER BY m.store_id";

/// The total of a store's best-prices listing in one currency (`?` store, currency): its
/// products with a buyable offer.
pub const STORE_PRODUCTS: &str = "SELECT coalesce(
    (SELECT products FROM store_market WHERE store_id = ? AND currency = ?), 0)";

/// The total of a category's best-prices listing filtered by one store or one brand (`?`
/// currency, category key, scope, store id or brand key): its products with a buyable offer.
pub const CATEGORY_PRODUCTS: &str = "SELECT coalesce((SELECT products FROM category_products
    WHERE currency = ? AND category_key = ? AND scope = ? AND name = ?), 0)";

/// A brand's offers in one currency (`?` currency, brand key): the total of a listing filtered
/// by the brand alone.
pub const BRAND_OFFERS: &str = "SELECT coalesce((SELECT offers FROM brand_offers
    WHERE currency = ? AND brand_key = ?), 0)";

/// Offers each currency's value list keeps at most (`market_value`): every page a
/// whole-currency value listing may ask for (`ranking::MAX_DEPTH`), read there by rank.
pub const VALUE_KEPT: u32 = preciso_core::ranking::MAX_DEPTH as u32;

/// The page of a currency's whole value ranking its list keeps.
pub const VALUE_LIST_PAGE: PageRequest = PageRequest { page: 1, limit: VALUE_KEPT };

/// The currencies a rebuild ranks a value list for — every currency of `m`'s offers — with
/// their offers (the listing's total, which the walk weighs).
pub fn value_list_currencies(m: &Market) -> Vec<(Currency, MatchCount)> {
    let mut offers: std::collections::BTreeMap<&str, u64> = Default::default();
    for s in &m.markets {
        *offers.entry(s.currency.as_str()).or_default() += s.offers;
    }
    offers
        .into_iter()
        .filter_map(|(code, total)| {
            Some((Currency::parse(code).ok()?, MatchCount { total, exact: true }))
        })
        .collect()
}

/// Writes each currency's value list (`currency`, its offer ids best first: the value
/// ranking's first `VALUE_KEPT`, or every offer of a smaller currency), after `write` in the
/// same transaction.
pub fn write_value_lists(tx: &mut dyn Tx, lists: &[(String, Vec<i64>)]) -> Result<(), StoreError> {
    let rows = lists
        .iter()
        .flat_map(|(currency, ids)| {
            ids.iter().enumerate().map(move |(rank, id)| {
                vec![Cell::Text(currency.clone()), Cell::Int(rank as i64), Cell::Int(*id)]
            })
        })
        .collect();
    insert(tx, "market_value", "currency, rank, offer_id", rows)
}

/// Rows per INSERT statement.
const CHUNK: usize = 200;

fn n(v: u64) -> Cell {
    Cell::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Inserts `rows` into `table`, `CHUNK` rows per statement.
pub(crate) fn insert(
    tx: &mut dyn Tx,
    table: &str,
    columns: &str,
    rows: Vec<Vec<Cell>>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let width = chunk.first().map_or(0, Vec::len);
        let one = format!("({})", vec!["?"; width].join(", "));
        let values = vec![one; chunk.len()].join(", ");
        let params: Vec<Cell> = chunk.iter().flatten().cloned().collect();
        tx.execute(&format!("INSERT INTO {table} ({columns}) VALUES {values}"), &params)?;
    }
    Ok(())
}

/// The columns of both lists of newest offers, in the order `insert_list` writes them.
const LIST_COLUMNS: &str =
    "currency, store_id, rank, offer_id, last_seen, brand_key, category_key, price_minor";

/// Inserts one list of newest offers of `currency` into `table`, its ranks their positions,
/// each row with what the listing filters read of its offer (`Listed`: price, store, brand
/// and category keys, named through `names`; a store's list holds its own offers only, so its
/// rows' store is the list's).
fn insert_list(
    tx: &mut dyn Tx,
    table: &str,
    currency: &str,
    offers: &[Listed],
    names: &ListedNames,
) -> Result<(), StoreError> {
    let text = |list: &[String], at: u32| {
        ListedNames::get(list, at).map_or(Cell::Null, |name| Cell::Text(name.to_string()))
    };
    // One chunk's rows at a time: a list's rows are built for its inserts only.
    for (at, chunk) in offers.chunks(CHUNK).enumerate() {
        let rows = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                vec![
                    Cell::Text(currency.to_string()),
                    text(&names.stores, l.store),
                    n((at * CHUNK + i) as u64),
                    Cell::Int(l.offer),
                    Cell::Int(l.last_seen),
                    text(&names.brand_keys, l.brand),
                    text(&names.category_keys, l.category),
                    Cell::Int(l.price_minor),
                ]
            })
            .collect();
        insert(tx, table, LIST_COLUMNS, rows)?;
    }
    Ok(())
}

/// Replaces the summary's rows with `m`'s and clears the mark of `generation` (read before
/// the scans `m` was folded from; `None`: it was not marked). Inside the caller's transaction.
pub fn write(tx: &mut dyn Tx, m: &Market, generation: Option<i64>) -> Result<(), StoreError> {
    if let Some(g) = generation {
        tx.execute(CLEAR, &[Cell::Int(g)])?;
    }
    for table in [
        "category_counts",
        "brand_counts",
        "store_stats",
        "store_market",
        "store_seen_hours",
        "market_recent",
        "store_recent",
        "store_category_offers",
        "category_products",
        "brand_offers",
        // Written after the rest by the adapter that ranks them (`write_value_lists`): a
        // summary written without them holds none, so no list outlives the offers it ranked.
        "market_value",
    ] {
        tx.execute(&format!("DELETE FROM {table}"), &[])?;
    }
    let categories = m
        .categories
        .iter()
        .map(|c| vec![Cell::Text(c.key.clone()), Cell::Text(c.category.clone()), n(c.offers)])
        .collect();
    insert(tx, "category_counts", "category_key, category, offers", categories)?;
    let brands = m
        .brands
        .iter()
        .map(|b| {
            vec![Cell::Text(b.key.clone()), Cell::Text(b.brand.clone()), n(b.offers), n(b.products)]
        })
        .collect();
    insert(tx, "brand_counts", "brand_key, brand, offers, products", brands)?;
    let stores = m
        .stores
        .iter()
        .map(|s| {
            vec![
                Cell::Text(s.store.clone()),
                n(s.offers),
                n(s.categories),
                n(s.in_stock),
                Cell::Int(s.last_seen),
            ]
        })
        .collect();
    insert(tx, "store_stats", "store_id, offers, categories, in_stock, last_seen", stores)?;
    let markets = m
        .markets
        .iter()
        .map(|s| {
            vec![
                Cell::Text(s.currency.clone()),
                Cell::Text(s.store.clone()),
                n(s.offers),
                n(s.products),
                n(s.categories),
                s.price_index.map_or(Cell::Null, |p| Cell::Int((p * 100.0).round() as i64)),
                n(s.compared),
                n(s.cheapest),
                Cell::Int(s.last_seen),
            ]
        })
        .collect();
    insert(
        tx,
        "store_market",
        "currency, store_id, offers, products, categories, price_index_centi, compared, cheapest, \
         last_seen",
        markets,
    )?;
    let hours = m
        .seen_hours
        .iter()
        .map(|h| {
            vec![
                Cell::Text(h.currency.clone()),
                Cell::Text(h.store.clone()),
                Cell::Int(h.hour),
                n(h.offers),
            ]
        })
        .collect();
    insert(tx, "store_seen_hours", "currency, store_id, hour, offers", hours)?;
    for list in &m.recent {
        insert_list(tx, "market_recent", &list.currency, &list.offers, &m.listed_names)?;
    }
    for list in &m.store_recent {
        insert_list(tx, "store_recent", &list.currency, &list.offers, &m.listed_names)?;
    }
    let by_category = m
        .category_offers
        .iter()
        .map(|c| {
            vec![
                Cell::Text(c.currency.clone()),
                Cell::Text(c.category_key.clone()),
                Cell::Text(c.store.clone()),
                n(c.offers),
            ]
        })
        .collect();
    insert(tx, "store_category_offers", "currency, category_key, store_id, offers", by_category)?;
    let products = m
        .category_products
        .iter()
        .map(|c| {
            vec![
                Cell::Text(c.currency.clone()),
                Cell::Text(c.path.clone()),
                Cell::Text(c.scope.as_str().to_string()),
                Cell::Text(c.name.clone()),
                n(c.products),
            ]
        })
        .collect();
    insert(tx, "category_products", "currency, category_key, scope, name, products", products)?;
    let brand_offers = m
        .brand_offers
        .iter()
        .map(|b| vec![Cell::Text(b.currency.clone()), Cell::Text(b.brand_key.clone()), n(b.offers)])
        .collect();
    insert(tx, "brand_offers", "currency, brand_key, offers", brand_offers)
}
