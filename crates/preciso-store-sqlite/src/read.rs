//! The read side of the storage port for SQLite: listings, best prices, comparison, history,
//! trend candidates, report rows, brands and categories. Users and keys are in `accounts.rs`.

use crate::SqliteCatalog;
use crate::SqliteRow;
use preciso_core::analysis::category::CategoryAnalysis;
use preciso_core::domain::{Availability, Currency, Gtin, Money, OfferId, ProductId, StoreIdCache};
use preciso_core::market::StoreStanding;
use preciso_core::ports::{
    BestOffer, CatalogRead, Personalization, ScoredOffer, StoreError, TrendingOffer,
};
use preciso_core::query::{
    BrandCount, COUNT_LIMIT, CategoryCount, CurrencyCount, HistoryPoint, MatchCount, OfferFilter,
    OfferView, Page, PageRequest, Rank, Sort,
};
use preciso_core::ranking;
use preciso_sql::reads::{self, Query};
use preciso_sql::{OFFER_COLUMNS, Param, offer_from_row};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use std::collections::HashSet;

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// A listing's statement from the connection's cache. A statement that pins an index
/// (`INDEXED BY`) runs without the pin while the index is missing: an initial load
/// (`crate::bulk`) drops the offers' indexes while it appends, and a reader meanwhile gets the
/// planner's choice instead of "no such index" (checked before each use: a statement cached
/// with the index would fail when the load dropped it).
fn prepare<'c>(c: &'c Connection, sql: &str) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    if pins(sql).any(|name| !index_exists(c, name).unwrap_or(false)) {
        return c.prepare_cached(&without_pins(sql));
    }
    c.prepare_cached(sql)
}

const PIN: &str = " INDEXED BY ";

/// The indexes `sql` pins.
fn pins(sql: &str) -> impl Iterator<Item = &str> {
    sql.match_indices(PIN).map(|(at, _)| {
        let after = &sql[at + PIN.len()..];
        &after[..after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len())]
    })
}

pub(crate) fn index_exists(c: &Connection, name: &str) -> rusqlite::Result<bool> {
    let mut stmt = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?)",
    )?;
    stmt.query_row([name], |r| r.get(0))
}

/// `sql` with every `INDEXED BY name` removed.
fn without_pins(sql: &str) -> String {
    let mut out = sql.to_string();
    for name in pins(sql) {
        out = out.replace(&format!("{PIN}{name}"), "");
    }
    out
}

/// Maps the first 20 columns (`OFFER_COLUMNS`) of a row.
pub(crate) fn offer_row(r: &Row<'_>) -> rusqlite::Result<OfferView> {
    offer_from_row(&SqliteRow(r))
}

pub(crate) fn values(params: &[Param]) -> Vec<Value> {
    params
        .iter()
        .map(|p| match p {
            Param::Int(i) => Value::Integer(*i),
            Param::Text(t) => Value::Text(t.clone()),
            Param::NullInt | Param::NullText => Value::Null,
        })
        .collect()
}

fn count(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<u64> {
    conn.query_row(sql, params_from_iter(params), |r| r.get::<_, i64>(0)).map(|n| n as u64)
}

/// The indexes a read by key walks (`reads_by_key_quick`): an initial load drops them, in this
/// process or another, until its end; without them each such read scans its table.
/// Looked up at most once per `KEY_CHECK_EVERY`: the statement, run per request, cost a
/// comparison by id 10–15 µs of its ~95 (a load that starts meanwhile is seen within it).
const KEY_INDEXES: &str = "SELECT count(*) FROM sqlite_master WHERE type = 'index'
    AND name IN ('offers_id', 'offers_product', 'products_id')";

const KEY_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The last answer of the key-index lookup and when it was taken (ms since `base`).
pub(crate) struct KeyIndexes {
    base: std::time::Instant,
    checked_ms: std::sync::atomic::AtomicU64,
    there: std::sync::atomic::AtomicBool,
}

impl Default for KeyIndexes {
    fn default() -> Self {
        KeyIndexes {
            base: std::time::Instant::now(),
            checked_ms: std::sync::atomic::AtomicU64::new(u64::MAX),
            there: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl KeyIndexes {
    /// The kept answer while it is younger than `KEY_CHECK_EVERY`, else `look`'s.
    fn there(&self, look: impl FnOnce() -> bool) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let now = self.base.elapsed().as_millis() as u64;
        let checked = self.checked_ms.load(Relaxed);
        if checked != u64::MAX && now.saturating_sub(checked) < KEY_CHECK_EVERY.as_millis() as u64 {
            return self.there.load(Relaxed);
        }
        let there = look();
        self.there.store(there, Relaxed);
        self.checked_ms.store(now, Relaxed);
        there
    }
}

/// Runs a shared query and maps each row.
fn query_map<T>(
    c: &Connection,
    q: &Query,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = prepare(c, &q.sql)?;
    stmt.query_map(params_from_iter(values(&q.params)), f)?.collect()
}

/// A listing's total (`reads::Total`).
fn total_of(c: &Connection, t: &reads::Total) -> rusqlite::Result<MatchCount> {
    if let reads::Total::Complement { query, counted } = t {
        let total: Option<i64> = prepare(c, &query.sql)?
            .query_row(params_from_iter(values(&query.params)), |r| r.get(0))?;
        return match total {
            Some(total) => Ok(t.of(total.max(0) as u64, 0)),
            None => total_of(c, counted),
        };
    }
    if let Some(q) = t.product_ids() {
        let mut products = rustc_hash::FxHashSet::default();
        let mut read = 0;
        let mut stmt = prepare(c, &q.sql)?;
        let mut rows = stmt.query(params_from_iter(values(&q.params)))?;
        while let Some(r) = rows.next()? {
            products.insert(r.get::<_, i64>(0)?);
            read += 1;
        }
        return Ok(t.of(products.len() as u64, read));
    }
    let q = t.query();
    let (total, read) = c.query_row(&q.sql, params_from_iter(values(&q.params)), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    Ok(t.of(total as u64, read as u64))
}

fn query_count(c: &Connection, q: &Query) -> rusqlite::Result<u64> {
    count(c, &q.sql, &values(&q.params))
}

fn decode_currency(s: &str) -> rusqlite::Result<Currency> {
    Currency::parse(s).map_err(conversion)
}

/// The products whose brand or title hold every word of `q` (`reads::search_words`: a prefix,
/// or a one-character word whole), by FTS5 (migration 0012), lowest ids first, at most
/// `limit`: a subquery and its parameters; `None` without a word.
fn matches(q: &str, limit: i64) -> Option<(String, Vec<Param>)> {
    let words = reads::search_words(q);
    if words.is_empty() {
        return None;
    }
    let query: Vec<String> = words
        .iter()
        .map(|w| format!("\"{}\"{}", w.text, if w.prefix { "*" } else { "" }))
        .collect();
    let sql = "SELECT rowid FROM product_search WHERE product_search MATCH ?
        ORDER BY rowid LIMIT ?";
    Some((sql.into(), vec![Param::Text(query.join(" ")), Param::Int(limit)]))
}

/// A search's candidates (`reads::first_candidates`) and whether more products match, read
/// once; the statements after take them as a JSON array through `json_each`, planned as a
/// probe per id like the subquery of the matches it replaces (`json_list`).
fn candidates(c: &Connection, q: &str) -> rusqlite::Result<(Vec<i64>, bool)> {
    let Some((sql, params)) = matches(q, reads::SEARCH_CANDIDATES + 1) else {
        return Ok((Vec::new(), false));
    };
    let ids = query_map(c, &Query { sql, params }, |r| r.get::<_, i64>(0))?;
    Ok(reads::first_candidates(ids))
}

fn json_list(ids: &[i64]) -> Param {
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    Param::Text(format!("[{}]", items.join(",")))
}

/// A counted trending page walked down the rank index no further than the drop ranked as many
/// places from the top as there are matches, so the walk reads about as many entries as a sort
/// of the matches would (ties with that drop aside): a store's page at 3M offers sorted 4,332
/// matches in 0.7–1.1 ms and is found within the top ~400 drops, under 0.1 ms. `None` when the
/// catalog has that few drops. A page short of what the count says it holds means the filter's
/// drops sit lower: the caller sorts them instead, having paid for the floor and the walk.
fn walked_to_floor(
    c: &Connection,
    since: i64,
    filter: &OfferFilter,
    page: PageRequest,
    total: MatchCount,
) -> rusqlite::Result<Option<Vec<TrendingOffer>>> {
    let floor: Option<i64> = c
        .prepare_cached(
            "SELECT drop_bp FROM offer_drops INDEXED BY offer_drops_rank
             ORDER BY drop_bp DESC, offer_id DESC LIMIT 1 OFFSET ?1",
        )?
        .query_row([total.total.saturating_sub(1) as i64], |r| r.get(0))
        .optional()?;
    let Some(floor) = floor else { return Ok(None) };
    trending_rows(c, since, filter, page, DROPS_BY_RANK, Some(floor)).map(Some)
}

/// The drops table pinned to its rank index (largest drop first).
const DROPS_BY_RANK: &str = "offer_drops o INDEXED BY offer_drops_rank";

/// A trending page read as `reads::trending_page` builds it.
fn trending_rows(
    c: &Connection,
    since: i64,
    filter: &OfferFilter,
    page: PageRequest,
    drops: &str,
    floor: Option<i64>,
) -> rusqlite::Result<Vec<TrendingOffer>> {
    query_map(c, &reads::trending_page(since, filter, page, drops, floor), |r| {
        Ok(TrendingOffer {
            offer: offer_row(r)?,
            reference_minor: r.get("reference_minor")?,
            drop_bp: r.get("drop_bp")?,
            dropped_at: r.get("drop_at")?,
        })
    })
}

/// A value-ranked page by the threshold rule (`preciso_core::ranking`) where it applies and
/// its scans stop within their cap; `None`: rank by sorting.
pub(crate) fn value_ranks(
    c: &Connection,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
    total: MatchCount,
) -> rusqlite::Result<Option<Vec<Rank>>> {
    // Pinned: with a category and a price bound the planner preferred sorting the category's
    // offers (92k at 1M: 170 ms) to walking the value index and stopping early (~2 ms).
    let offers = "offers o INDEXED BY offers_value";
    let Some(scan) = reads::value_scan(filter, sort, page, who.preferences, offers) else {
        return Ok(None);
    };
    let currency_offers = query_count(c, &scan.currency_offers)?;
    if !ranking::scan_suits(total.at_least(), currency_offers) {
        return Ok(None);
    }
    // A brand's deep page: its offers, sorted along the brand's index (`sorted_index`), are
    // fewer than the walk would pass.
    if let Some(brand) = reads::brand_offers(filter) {
        let (brand, wanted) = (query_count(c, &brand)?, page.depth());
        if ranking::brand_sort_suits(brand, wanted, total.total, currency_offers) {
            return Ok(None);
        }
    }
    let medians: ranking::Medians =
        query_map(c, &scan.medians, |r| Ok((r.get(0)?, r.get(1)?)))?.into_iter().collect();
    ranking::page_by_passes(scan.passes.len(), page.offset(), page.limit, |pass, top| {
        let q = &scan.passes[pass];
        let mut stmt = prepare(c, &q.sql)?;
        let mut rows = stmt.query(params_from_iter(values(&q.params)))?;
        while let Some(r) = rows.next()? {
            let own: f64 = r.get(1)?;
            let category = r.get_ref(3)?.as_str_or_null().map_err(conversion)?;
            let (score, median) = medians.score(own, r.get(2)?, category);
            if !top.push(r.get(0)?, score, median, own) {
                break;
            }
        }
        Ok(())
    })
}

/// A category's price-sorted page from one walk per key under it (`reads::price_by_keys`),
/// merged; `None`: rank by sorting. Pinned: for a single key the planner walked the currency's
/// price index instead, past every cheaper offer of other categories (6 ms at 1M, 25 at 3M).
fn price_by_keys(
    c: &Connection,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
) -> rusqlite::Result<Option<Vec<Rank>>> {
    let keys = filter_keys(c, filter)?;
    let offers = "offers o INDEXED BY offers_category";
    let Some(walks) = reads::price_by_keys(filter, sort, page, who.preferences, &keys, offers)
    else {
        return Ok(None);
    };
    let mut ranks = Vec::new();
    for q in &walks {
        ranks.extend(query_map(c, q, |r| {
            Ok((r.get(3)?, Rank::new(r.get(0)?, r.get(1)?, r.get(2)?)))
        })?);
    }
    let descending = sort == Sort::PriceDesc;
    Ok(Some(preciso_core::query::merge_by_price(ranks, descending, page)))
}

/// A rating-sorted page from a walk of the currency's rating order (`reads::rating_walk`);
/// `None`: rank by sorting (another sort, or the walk's budget ran out before the page was
/// full). Pinned: planned for its LIMIT, the walk can look dearer than a filter's own index.
fn rating_walk(
    c: &Connection,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
) -> rusqlite::Result<Option<Vec<Rank>>> {
    let offers = "offers o INDEXED BY offers_rating";
    let Some(walk) = reads::rating_walk(filter, sort, page, who.preferences, offers) else {
        return Ok(None);
    };
    let ranks = query_map(c, &walk.page, |r| Ok(Rank::new(r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let complete =
        ranks.len() == page.limit as usize || query_count(c, &walk.currency_offers)? <= walk.budget;
    Ok(complete.then_some(ranks))
}

/// A filtered date-sorted page along the kept newest offers (`reads::recent_walk`), where the
/// walk is expected to be cheaper than sorting the matches and gives the whole page.
fn recent_walk(
    c: &Connection,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
    total: MatchCount,
) -> rusqlite::Result<Option<Vec<Rank>>> {
    let Some(walk) = reads::recent_walk(filter, sort, page, who.preferences) else {
        return Ok(None);
    };
    if !walk.suits(total, query_count(c, &walk.drawn_from)?, query_count(c, &walk.kept)?) {
        return Ok(None);
    }
    let ranks = query_map(c, &walk.page, |r| Ok(Rank::new(r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(preciso_core::market::recent_walk_complete(ranks.len(), page, total).then_some(ranks))
}

/// The index a best-prices pass filtered by a store or a brand walks in price order: the
/// store's (`offers_store`) or the brand's (`offers_brand`), which lead with that column, then
/// currency and price, and carry the category key and availability, so the walk checks a
/// category without reading the table. Left to itself the planner walked the currency's price
/// order instead, reading each offer from the table to check its store (a leaf category's
/// store at 3M: ~2,000 table reads for a page, 34 ms; pinned 6.5 ms), or sorted a top-level
/// category's matches for a brand (33.5 → 2.8 ms). A category of one key walks the category
/// index (`reads::best_prices`' `one_key`); one of several is left to the planner: pinned to
/// the category index it sorted every match (473 ms).
fn best_prices_index(filter: &OfferFilter, one_key: bool) -> &'static str {
    // With both, the brand's: it carries the store (migration 0041), and a brand is the
    // narrower of the two (a store's 49k offers at 1M against a brand's 16.6k in a currency).
    if filter.store.is_some() && filter.brand.is_none() {
        "offers o INDEXED BY offers_store"
    } else if filter.brand.is_some() {
        "offers o INDEXED BY offers_brand"
    } else if one_key {
        "offers o INDEXED BY offers_category"
    } else {
        "offers o"
    }
}

/// The index a price-sorted listing of a brand without a category walks: the brand's, which
/// holds its offers in price order per currency. The sampled statistics (`stats::analyze`) rate
/// the few-valued leading columns (currency, store, brand, category) alike, at ~1,001 offers a
/// value, so with a store as well the planner walked the whole currency's price order,
/// skipping other brands' offers (page 50 at 1M offers: 159 ms; along the brand's, 11 ms).
/// A brand's date-sorted listing (past the newest offers the market summary keeps) sorts the
/// brand's matches, found on its index, which carries the store too (migration 0041): with a
/// store as well the planner read every offer of the store (page 50 at 1M: 79 ms; 13 ms); one
/// product's offers are left to the planner (the product's index is narrower). A brand's
/// value-sorted listing without a category, when it is sorted rather than walked (its matches
/// too sparse for the value index's walk, `ranking::scan_suits`, or fewer than the walk would
/// pass, `ranking::brand_sort_suits`), scores the brand's matches from the brand's index,
/// which holds every column of the score (migration 0043): left to the planner it read the
/// currency's whole value index to score them (a store and a brand at 3M: 63–68 ms; 11–14
/// along the brand's). With a category the planner chooses (the category's index holds the
/// score's columns too, and a leaf may hold far fewer offers than a large brand). The rating and discount sorts keep the planner's choice: it walks their
/// index, which carries the store and brand, and stops at the page (a store pinned instead: 62
/// ms, its offers sorted). A category's listings have their own walks (`price_by_keys`).
fn sorted_index(filter: &OfferFilter, sort: Sort) -> &'static str {
    let by_price = matches!(sort, Sort::Price | Sort::PriceDesc);
    let by_brand = filter.brand.is_some() && filter.product.is_none();
    let by_date = sort == Sort::Date && by_brand;
    let by_value = sort == Sort::Value && by_brand && filter.category.is_none();
    if by_date || by_value || by_price && filter.brand.is_some() && filter.category.is_none() {
        "offers o INDEXED BY offers_brand"
    } else {
        "offers o"
    }
}

/// The keys under the filter's category that hold offers (`reads::category_keys`); none
/// without a category.
fn filter_keys(c: &Connection, filter: &OfferFilter) -> rusqlite::Result<Vec<String>> {
    let Some(category) = &filter.category else { return Ok(Vec::new()) };
    query_map(c, &reads::category_keys(category), |r| r.get(0))
}

/// Whether the filter's one store or brand holds at least 1/64 of its category's products
/// (`reads::narrowed_share`, the summaries' counts; `ranking::scan_suits`' share): then walking
/// the category's keys in price order, skipping other stores' or brands' offers on the index,
/// reads a few dozen offers a listed product. Along the store's or brand's own index instead,
/// a page walked past every cheaper offer of other categories, which grew with the catalog (a
/// leaf's washing machines by store: 1.9 ms at 1M, 4.5 at 3M). Sparser, that index serves.
fn narrowed_densely(c: &Connection, filter: &OfferFilter) -> rusqlite::Result<bool> {
    let Some((narrowed, category)) = reads::narrowed_share(filter) else { return Ok(false) };
    let narrowed = query_count(c, &narrowed)?;
    Ok(narrowed > 0 && ranking::scan_suits(narrowed, query_count(c, &category)?))
}

/// A category of several keys, or one store's or brand's offers in a category where they lie
/// densely (`narrowed_densely`): the offers its best-prices page chooses (the first buyable
/// offer of each product, in price order) from one walk per key along the category index
/// (`reads::best_price_walk`), merged, and whether they are every match. Left to the planner
/// the pass walked the currency's price order past every cheaper offer of other categories
/// (a top-level category of appliances with a price bound: 28 ms at 3M). With the offers, the
/// listing's total when the walks read every match. `None` where the pass
/// decides instead: preferences, a store or brand lying sparsely (their own index), a single
/// key without them, more than `PRICE_WALK_KEYS` keys, or a walk that stopped at its limit
/// before the page filled.
fn best_by_key_walks(
    c: &Connection,
    filter: &OfferFilter,
    who: Personalization<'_>,
    keys: &[String],
    wanted: usize,
) -> rusqlite::Result<Option<(Vec<OfferView>, Option<u64>)>> {
    if filter.currency.is_none()
        || who.preferences.is_some()
        || keys.is_empty()
        || keys.len() > reads::PRICE_WALK_KEYS
    {
        return Ok(None);
    }
    let narrowed = filter.store.is_some() || filter.brand.is_some();
    if (narrowed && !narrowed_densely(c, filter)?) || (!narrowed && keys.len() < 2) {
        return Ok(None);
    }
    let n = reads::first_rows(wanted);
    let offers = "offers o INDEXED BY offers_category";
    let mut rows: Vec<(i64, i64, i64)> = Vec::new();
    // Past the smallest last row of a walk that reached its limit, the merge is not known.
    let mut bound: Option<(i64, i64)> = None;
    for key in keys {
        let walk = query_map(c, &reads::best_price_walk(filter, key, n, offers), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        if walk.len() == n
            && let Some(&(price, id, _)) = walk.last()
        {
            bound = Some(bound.map_or((price, id), |b| b.min((price, id))));
        }
        rows.extend(walk);
    }
    rows.sort_unstable_by_key(|&(price, id, _)| (price, id));
    let mut seen = HashSet::new();
    let mut chosen = Vec::new();
    for &(price, id, product) in &rows {
        if chosen.len() == wanted {
            break;
        }
        if bound.is_some_and(|b| (price, id) > b) {
            return Ok(None);
        }
        if seen.insert(product) {
            chosen.push(id);
        }
    }
    if chosen.len() < wanted && bound.is_some() {
        return Ok(None);
    }
    // Every match read (no walk reached its limit): the products seen are the listing's total.
    let total = (chosen.len() < wanted).then_some(seen.len() as u64);
    let mut loaded: rustc_hash::FxHashMap<i64, OfferView> =
        query_map(c, &reads::offers_by_ids(&chosen), offer_row)?
            .into_iter()
            .map(|o| (o.id.as_i64(), o))
            .collect();
    let offers = chosen.iter().filter_map(|id| loaded.remove(id)).collect();
    Ok(Some((offers, total)))
}

impl CatalogRead for SqliteCatalog {
    fn list_offers(
        &self,
        filter: &OfferFilter,
        sort: Sort,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<ScoredOffer>, StoreError> {
        let offers = sorted_index(filter, sort);
        let (ranked, total) = reads::list_offers(filter, sort, page, who.preferences, offers);
        self.with_reader(|c| {
            // Counted first: how many match decides how the value ranking reads them.
            let total = total_of(c, &total)?;
            let rank = |r: &rusqlite::Row<'_>| Ok(Rank::new(r.get(0)?, r.get(1)?, r.get(2)?));
            // A page past the last match is empty: not ranked (PostgreSQL, misjudging how few
            // offers a price bound leaves in a currency, sorted a third of them to find none).
            if total.ends_before(page.offset()) {
                return Ok(Page::counted(Vec::new(), page, total));
            }
            let listed = reads::listed_page(filter, sort, page, who.preferences);
            let ranks: Vec<Rank> = match listed.map(|q| query_map(c, &q, rank)).transpose()? {
                // No rows: the summary is stale or the page is past the list's last offer.
                Some(ranks) if !ranks.is_empty() => ranks,
                _ => match value_ranks(c, filter, sort, page, who, total)? {
                    Some(ranks) => ranks,
                    None => match price_by_keys(c, filter, sort, page, who)? {
                        Some(ranks) => ranks,
                        None => match rating_walk(c, filter, sort, page, who)? {
                            Some(ranks) => ranks,
                            None => match recent_walk(c, filter, sort, page, who, total)? {
                                Some(ranks) => ranks,
                                None => query_map(c, &ranked, rank)?,
                            },
                        },
                    },
                },
            };
            let ids: Vec<i64> = ranks.iter().map(|r| r.id).collect();
            let offers = query_map(c, &reads::offers_by_ids(&ids), offer_row)?;
            let items = preciso_core::query::in_rank_order(ranks, offers);
            Ok(Page::counted(items, page, total))
        })
    }

    /// Streams offers in price order and keeps the first per product: page 1 reads only as
    /// many rows as it needs.
    fn best_prices(
        &self,
        filter: &OfferFilter,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<BestOffer>, StoreError> {
        if let Some((scope, currency)) = preciso_core::best::summary_scope(filter, who.preferences)
        {
            let (rows, total) = preciso_sql::best::page(scope, currency, page);
            return self.with_reader(|c| {
                let items = query_map(c, &rows, |r| {
                    let offers_for_product = r.get::<_, i64>("offers_for_product")? as u64;
                    Ok(BestOffer { offer: offer_row(r)?, offers_for_product, preferred: false })
                })?;
                Ok(Page::new(items, page, query_count(c, &total)?))
            });
        }
        let wanted = page.depth() as usize;
        self.with_reader(|c| {
            let keys = filter_keys(c, filter)?;
            // A leaf: its one key, matched as an equality (`reads::best_prices`).
            let one_key = match keys.as_slice() {
                [key] => Some(key.as_str()),
                _ => None,
            };
            let index = best_prices_index(filter, one_key.is_some());
            let q = reads::best_prices(filter, who.preferences, OFFER_COLUMNS, index, one_key);
            let personalized = q.passes.len() == 2;
            let mut seen: HashSet<i64> = HashSet::new();
            let mut chosen: Vec<(OfferView, bool)> = Vec::new();
            // Whether the pass read every match (then `seen` holds every product: the total).
            let mut exhausted = false;
            let mut walked_total = None;
            let passes = match best_by_key_walks(c, filter, who, &keys, wanted)? {
                Some((offers, total)) => {
                    chosen = offers.into_iter().map(|o| (o, false)).collect();
                    walked_total = total;
                    &q.passes[..0]
                }
                None => &q.passes[..],
            };
            for (pass, pq) in passes.iter().enumerate() {
                let mut stmt = prepare(c, &pq.sql)?;
                let mut rows = stmt.query(params_from_iter(values(&pq.params)))?;
                while chosen.len() < wanted {
                    let Some(r) = rows.next()? else {
                        exhausted = true;
                        break;
                    };
                    let offer = offer_row(r)?;
                    if seen.insert(offer.product_id.as_i64()) {
                        chosen.push((offer, personalized && pass == 0));
                    }
                }
            }
            let page_items: Vec<(OfferView, bool)> =
                chosen.into_iter().skip(page.offset() as usize).collect();
            let ids: Vec<i64> = page_items.iter().map(|(o, _)| o.product_id.as_i64()).collect();
            let counts = if ids.is_empty() {
                Default::default()
            } else {
                query_map(c, &q.per_products(&ids), |r| Ok((r.get(0)?, r.get(1)?)))?
                    .into_iter()
                    .collect()
            };
            let items = preciso_core::best::with_counts(page_items, &counts);
            // A pass that read every match counted its products already: no count to run.
            let total = if let Some(total) = walked_total {
                MatchCount { total, exact: true }
            } else if exhausted && !personalized {
                MatchCount { total: seen.len() as u64, exact: true }
            } else {
                total_of(c, &q.total)?
            };
            Ok(Page::counted(items, page, total))
        })
    }

    fn offer(&self, id: OfferId) -> Result<Option<OfferView>, StoreError> {
        self.with_reader(|c| Ok(query_map(c, &reads::offer_by_id(id.as_i64()), offer_row)?.pop()))
    }

    fn offer_history(&self, id: OfferId) -> Result<Vec<HistoryPoint>, StoreError> {
        self.with_reader(|c| {
            query_map(c, &reads::offer_history(id.as_i64()), |r| {
                let currency = decode_currency(r.get_ref(3)?.as_str()?)?;
                Ok(HistoryPoint {
                    observed_at: r.get(0)?,
                    price: Money::new(r.get(1)?, currency),
                    list_price: r.get::<_, Option<i64>>(2)?.map(|m| Money::new(m, currency)),
                    availability: Availability::from_db(&r.get::<_, String>(4)?),
                })
            })
        })
    }

    fn product_offers(&self, product: ProductId) -> Result<Vec<OfferView>, StoreError> {
        self.with_reader(|c| query_map(c, &reads::product_offers(product.as_i64()), offer_row))
    }

    fn product_by_gtin(&self, gtin: &Gtin) -> Result<Option<ProductId>, StoreError> {
        let q = reads::product_by_gtin(gtin);
        self.with_reader(|c| Ok(query_map(c, &q, |r| r.get(0))?.pop().map(ProductId::from_i64)))
    }

    fn search_products(
        &self,
        q: &str,
        limit: u32,
    ) -> Result<Vec<(ProductId, String, u64)>, StoreError> {
        let Some(matched) = matches(q, reads::SEARCH_CANDIDATES) else { return Ok(Vec::new()) };
        let mut params = matched.1;
        params.push(Param::Int(i64::from(limit)));
        let candidates = format!("SELECT id, title FROM products WHERE id IN ({})", matched.0);
        let q = Query { sql: reads::search_ranked(&candidates), params };
        self.with_reader(|c| {
            query_map(c, &q, |r| {
                Ok((ProductId::from_i64(r.get(0)?), r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
        })
    }

    fn search_offers(
        &self,
        q: &str,
        filter: &OfferFilter,
        descending: bool,
        page: PageRequest,
    ) -> Result<Page<BestOffer>, StoreError> {
        let summary = preciso_core::best::summary_scope(filter, None);
        self.with_reader(|c| {
            let (ids, more) = candidates(c, q)?;
            if ids.is_empty() {
                return Ok(preciso_core::best::search_page(Vec::new(), Vec::new(), 0, false, page));
            }
            let params = vec![json_list(&ids)];
            let sql = "SELECT value FROM json_each(?)";
            let best: Vec<(i64, i64, u64)> = match summary {
                Some((scope, currency)) => {
                    let matched = format!("b.product_id IN ({sql})");
                    let q = reads::search_best(&matched, params.clone(), scope, currency);
                    query_map(c, &q, |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
                    })?
                }
                None => Vec::new(),
            };
            // No rows from the summary: no candidate is sold in its scope and currency, or a
            // refresh is pending.
            let (picked, total) = if !best.is_empty() {
                preciso_core::best::products_page(best, descending, page)
            } else {
                let matched = format!("o.product_id IN ({sql})");
                let q = reads::search_offers(&matched, params, filter);
                let rows = query_map(c, &q, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                preciso_core::best::cheapest_per_product(&rows, descending, page)
            };
            let ids: Vec<i64> = picked.iter().map(|(id, _)| *id).collect();
            let offers = query_map(c, &reads::offers_by_ids(&ids), offer_row)?;
            Ok(preciso_core::best::search_page(picked, offers, total, more, page))
        })
    }

    fn trending(
        &self,
        since: i64,
        filter: &OfferFilter,
        page: PageRequest,
    ) -> Result<Page<TrendingOffer>, StoreError> {
        self.with_reader(|c| {
            // An empty window (stale scrapes), or a page past the last, answers from the count
            // alone.
            let total = total_of(c, &reads::trending_count(since, filter))?;
            if total.ends_before(page.offset()) {
                return Ok(Page::counted(Vec::new(), page, total));
            }
            // Pinned: more matches than a count reads (`COUNT_LIMIT`; the daily counts give
            // exact totals past it) are walked from the largest drop (the page fills after a
            // few hundred). Fewer, for a filter with an index of its own, are walked no
            // further than the drop ranked as many places down as they are
            // (`walked_to_floor`), and sorted along that index (at most the count's limit) when
            // the walk comes up short. Unpinned, SQLite sorted every drop of the window for a
            // category's page.
            let few = total.rows_on(page).filter(|_| total.total <= COUNT_LIMIT);
            let items = match (reads::drop_filter_index(filter), few) {
                (Some(index), Some(rows)) => {
                    match walked_to_floor(c, since, filter, page, total)? {
                        Some(items) if items.len() as u64 == rows => items,
                        _ => {
                            let drops = format!("offer_drops o INDEXED BY {index}");
                            trending_rows(c, since, filter, page, &drops, None)?
                        }
                    }
                }
                _ => trending_rows(c, since, filter, page, DROPS_BY_RANK, None)?,
            };
            Ok(Page::counted(items, page, total))
        })
    }

    fn currencies(&self, scope: &str) -> Result<Vec<CurrencyCount>, StoreError> {
        let q = Query {
            sql: preciso_sql::best::SCOPE_CURRENCIES.into(),
            params: vec![preciso_sql::text(scope)],
        };
        self.with_reader(|c| {
            let rows = query_map(c, &q, |r| preciso_sql::currency_count_from_row(&SqliteRow(r)))?;
            Ok(rows.into_iter().flatten().collect())
        })
    }

    fn reads_by_key_quick(&self) -> bool {
        // In use below the bound: a connection is idle or opens without waiting for one.
        let pool = self.pool_stats();
        pool.in_use < pool.max
            && self.key_indexes.there(|| {
                self.with_reader(|c| {
                    c.prepare_cached(KEY_INDEXES)?.query_row([], |r| r.get::<_, i64>(0))
                })
                .is_ok_and(|n| n == 3)
            })
    }

    fn price_span(&self, path: &str, currency: Currency) -> Result<Option<(i64, i64)>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(preciso_sql::price_analysis::SPAN)?;
            let mut rows = stmt.query(rusqlite::params![path, currency.code()])?;
            rows.next()?.map(|r| Ok((r.get(0)?, r.get(1)?))).transpose()
        })
    }

    fn price_analysis(
        &self,
        path: &str,
        currency: Currency,
    ) -> Result<Option<CategoryAnalysis>, StoreError> {
        use preciso_sql::price_analysis::{READ, assemble, part_from_row};
        let parts = self.with_reader(|c| {
            let mut stmt = c.prepare_cached(READ)?;
            stmt.query_map(rusqlite::params![path, currency.code()], |r| {
                part_from_row(&SqliteRow(r))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        assemble(path, currency, parts)
    }

    fn store_market(
        &self,
        currency: Currency,
        seen_since_hour: i64,
    ) -> Result<Vec<StoreStanding>, StoreError> {
        let mut stores = StoreIdCache::default();
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(preciso_sql::market::STORE_MARKET)?;
            stmt.query_map(rusqlite::params![seen_since_hour, currency.code()], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                Ok(StoreStanding {
                    store: stores.get(r.get_ref(0)?.as_str()?).map_err(conversion)?,
                    offers: n(1)?,
                    categories: n(2)?,
                    price_index: r.get::<_, Option<i64>>(3)?.map(|c| c as f64 / 100.0),
                    compared: n(4)?,
                    cheapest: n(5)?,
                    last_seen: r.get(6)?,
                    fresh: n(7)?,
                })
            })?
            .collect()
        })
    }

    fn brands(&self, limit: u32) -> Result<Vec<BrandCount>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(preciso_sql::market::BRANDS)?;
            stmt.query_map([limit], |r| {
                Ok(BrandCount {
                    brand: r.get(0)?,
                    offers: r.get::<_, i64>(1)? as u64,
                    products: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }

    fn categories(&self) -> Result<Vec<CategoryCount>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(preciso_sql::market::CATEGORIES)?;
            stmt.query_map([], |r| {
                Ok(CategoryCount {
                    category: r.get(0)?,
                    key: r.get(1)?,
                    offers: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteCatalog;
    use preciso_core::domain::{Currency, StoreId};

    /// `sqlite_stat1` for the offers' indexes as `stats::analyze` sampled them on the 1M
    /// benchmark catalog: every few-valued leading column (currency, store, brand, category)
    /// rated at 1,001 offers a value.
    const SAMPLED: &[(&str, &str)] = &[
        ("offers_price_change", "980135 1001"),
        ("offers_discount", "980135 1001 2 1 1 1 1 1"),
        ("offers_value", "980135 1001 1 1 1 1 1 1 1 1 1 1"),
        ("offers_rating", "980135 1001 1001 1 1 1 1 1 1"),
        ("offers_price", "980135 1001 14 1 1 1"),
        ("offers_brand", "980135 1001 1001 106 65 36 2 1 1 1 1 1"),
        ("offers_category", "980135 1001 1001 24 1 1 1 1 1 1 1 1 1 1"),
        ("offers_store", "980135 1001 1001 31 1 1 1 1"),
        ("offers_product", "980135 11 7 7 2 1 1 1 1"),
        ("offers_id", "980135 1"),
    ];

    /// A new catalog whose statistics are `SAMPLED`, and a connection to it (the directory
    /// must outlive both).
    fn sampled_catalog() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let cat = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        let conn = Connection::open(cat.path()).unwrap();
        conn.execute_batch("ANALYZE; DELETE FROM sqlite_stat1").unwrap();
        for (idx, stat) in SAMPLED {
            conn.execute("INSERT INTO sqlite_stat1 VALUES ('offers', ?1, ?2)", [idx, stat])
                .unwrap();
        }
        // A connection reads the statistics when it loads the schema: this one loaded it
        // before they were written.
        drop(conn);
        let conn = Connection::open(cat.path()).unwrap();
        (dir, conn)
    }

    /// SQLite's plan for page 50 of the listing (`reads::list_offers` over `offers`), its
    /// steps joined by "; ".
    fn page_50_plan(conn: &Connection, filter: &OfferFilter, sort: Sort, offers: &str) -> String {
        let page = PageRequest { page: 50, limit: 20 };
        let (q, _) = reads::list_offers(filter, sort, page, None, offers);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql)).unwrap();
        let steps: Vec<String> = stmt
            .query_map(params_from_iter(values(&q.params)), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        steps.join("; ")
    }

    /// A price-sorted page of a brand in a store walks the brand's price order: under the
    /// sampled statistics the planner walked the whole currency's (`offers_price`); a
    /// date-sorted one finds its matches on the brand's index, not among the store's offers.
    #[test]
    fn a_brands_sorted_listing_reads_the_brands_index() {
        let (_dir, conn) = sampled_catalog();
        let filter = OfferFilter {
            currency: Some(Currency::COP),
            store: Some(StoreId::parse("exito").unwrap()),
            brand: Some("lenovo".into()),
            ..Default::default()
        };
        let plan = |sort: Sort, offers: &str| page_50_plan(&conn, &filter, sort, offers);
        // The statistics mislead the planner as on the benchmark catalog (cheapest first; for
        // dearest first it happened to take the brand's index)...
        let unpinned = plan(Sort::Price, "offers o");
        assert!(unpinned.contains("USING INDEX offers_price"), "{unpinned}");
        for sort in [Sort::Price, Sort::PriceDesc] {
            // ...and the listing's index walks the brand's price order instead (sorting only
            // the ties of a price by id, and then the page's own rows).
            let chosen = plan(sort, sorted_index(&filter, sort));
            assert!(chosen.contains("INDEX offers_brand (brand_key=? AND currency=?)"), "{chosen}");
            assert!(chosen.contains("LAST TERM OF ORDER BY"), "{sort:?}: {chosen}");
        }
        // By date, the planner read the store's offers to check their brand; the listing's
        // index finds the brand's in the store on the brand's index.
        let unpinned = plan(Sort::Date, "offers o");
        assert!(unpinned.contains("USING INDEX offers_store"), "{unpinned}");
        let chosen = plan(Sort::Date, sorted_index(&filter, Sort::Date));
        assert!(chosen.contains("INDEX offers_brand (brand_key=? AND currency=?)"));
        // By value (sorted: too few matches to walk the value index), the matches are found
        // and scored on the brand's index alone, which holds the score's columns (before
        // migration 0043 the planner scored them from the currency's whole value index).
        let chosen = plan(Sort::Value, sorted_index(&filter, Sort::Value));
        let brands = "USING COVERING INDEX offers_brand (brand_key=? AND currency=?)";
        assert!(chosen.contains(brands), "{chosen}");
    }

    /// A deep discount-sorted page of a category with a price bound walks the currency's
    /// discount order, testing category and price on the index (migration 0042): before, the
    /// index lacked the category and the planner sorted every match (a top-level category's
    /// 92k at 1M: 22 ms; 3 ms along the index).
    #[test]
    fn a_categorys_discount_listing_walks_the_discount_index() {
        let (_dir, conn) = sampled_catalog();
        let filter = OfferFilter {
            currency: Some(Currency::COP),
            category: Some("tecnologia".into()),
            min_price: preciso_core::query::Decimal::parse("100"),
            ..Default::default()
        };
        let plan = page_50_plan(&conn, &filter, Sort::Discount, "offers o");
        // The walk reads nothing but the index (the page's 20 rows are sorted again once
        // scored: the plan's one temporary B-tree).
        assert!(plan.contains("USING COVERING INDEX offers_discount (currency=?)"), "{plan}");
        assert_eq!(plan.matches("TEMP B-TREE").count(), 1, "{plan}");
    }
}
