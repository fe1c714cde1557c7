//! The read queries of the storage port as portable SQL plus parameters. Adapters execute
//! them and map rows (`offer_from_row` for `OFFER_COLUMNS`).

use crate::filter::{
    OFFER_COLUMNS, VALUE_OWN, VALUE_SCORE, Where, filter_where, order_by, preferred_expr,
};
use crate::{Param, text};
use preciso_core::domain::{Currency, Gtin, StoreId, fold_for_matching};
use preciso_core::market::{ProductScope, RECENT_KEPT, RECENT_MAX, STORE_RECENT_KEPT};
use preciso_core::query::{COUNT_LIMIT, MatchCount, OfferFilter, PageRequest, Preferences, Sort};
use preciso_core::ranking;

/// SQL text with `?` placeholders and its parameters.
#[derive(Debug, Clone)]
pub struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    fn new(sql: String, params: Vec<Param>) -> Self {
        Query { sql, params }
    }

    /// Its first `n` rows (for a query without a LIMIT of its own).
    pub fn with_limit(&self, n: usize) -> Query {
        self.suffixed("LIMIT", n)
    }

    /// Its rows after the first `n` (for a query without a LIMIT or OFFSET of its own).
    pub fn with_offset(&self, n: usize) -> Query {
        self.suffixed("OFFSET", n)
    }

    fn suffixed(&self, clause: &str, n: usize) -> Query {
        let mut params = self.params.clone();
        params.push(Param::Int(i64::try_from(n).unwrap_or(i64::MAX)));
        Query::new(format!("{} {clause} ?", self.sql), params)
    }
}

/// A listing's total: read from a summary (exact), or counted over the matching offers, which
/// stops after `COUNT_LIMIT + 1` of them: `Matches` selects one row per match and counts them,
/// `Products` selects each match's `product_id` and counts the distinct ones (a lower bound
/// when the offers ran past the limit); or a summary's total less what a price bound leaves
/// out, when that is little (`Complement`).
#[derive(Debug, Clone)]
pub enum Total {
    Summary(Query),
    Matches(Query),
    Products(Query),
    /// A listing bounded in price whose unbounded total a summary keeps: that total less the
    /// matches lying only outside the bounds, read from the two ends of the price order
    /// (`complement`). `query` returns NULL for the total when those ends hold more than
    /// `TAIL_ROWS` offers, or while a run has marked the summaries: then `counted` counts the
    /// matches. A wide range's total costs its tails, not its matches (a leaf's products of
    /// one brand from 100 to 5,000,000: 674 of 685 at 1M offers and 2,005 of 2,026 at 3M,
    /// each counted).
    Complement {
        query: Query,
        counted: Box<Total>,
    },
}

/// Offers beyond a price bound a complement reads at most before the matches are counted
/// instead: what a narrow range (most offers beyond it) pays on top of its count.
pub const TAIL_ROWS: u64 = 256;

const COUNT_STOP: u64 = COUNT_LIMIT + 1;

impl Total {
    /// The statement that reads the total: one row of two numbers, the total and the offers
    /// read (whether the count stopped), for `of`.
    pub fn query(&self) -> Query {
        let (sql, params) = match self {
            Total::Summary(q) => {
                (format!("SELECT coalesce(({}), 0), CAST(0 AS BIGINT)", q.sql), &q.params)
            }
            Total::Matches(m) => (
                format!("SELECT count(*), count(*) FROM ({} LIMIT {COUNT_STOP}) m", m.sql),
                &m.params,
            ),
            Total::Products(m) => (
                format!(
                    "SELECT count(DISTINCT m.product_id), count(*) FROM ({} LIMIT {COUNT_STOP}) m",
                    m.sql
                ),
                &m.params,
            ),
            Total::Complement { query, .. } => (query.sql.clone(), &query.params),
        };
        Query::new(sql, params.clone())
    }

    /// For `Products`, what an adapter may count in its own process instead of running
    /// `query`: the matching offers' product ids, at most `COUNT_LIMIT + 1`, whose distinct
    /// count and number go to `of`. SQLite's `count(DISTINCT)` built a temporary B-tree of
    /// them: half of a best-prices page's time with a store and a price bound at 1M offers.
    pub fn product_ids(&self) -> Option<Query> {
        match self {
            Total::Products(m) => Some(m.with_limit(COUNT_STOP as usize)),
            Total::Summary(_) | Total::Matches(_) | Total::Complement { .. } => None,
        }
    }

    /// The total, from the two numbers `query` read.
    pub fn of(&self, total: u64, read: u64) -> MatchCount {
        match self {
            Total::Summary(_) | Total::Complement { .. } => MatchCount { total, exact: true },
            Total::Matches(_) | Total::Products(_) => {
                MatchCount { total: total.min(COUNT_LIMIT), exact: read < COUNT_STOP }
            }
        }
    }
}

/// What a price bound leaves out of a listing: the offers it excludes, or the products all of
/// whose matching offers it excludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeftOut {
    Offers,
    Products,
}

/// `Total::Complement` of a listing bounded in price in one currency, or `counted` when it has
/// no bound or no summary keeps its total without them. `summary` gives a filter's total from
/// a summary, `clauses` the listing's conditions on `offers o` for a filter. The two tails
/// (`price_minor` below the lower bound, above the upper) are read with the listing's
/// conditions without the bounds, so along the same index, at most `TAIL_ROWS + 1` offers; a
/// tail product is left out only when none of its offers matches within the bounds.
fn complement(
    filter: &OfferFilter,
    summary: impl Fn(&OfferFilter) -> Option<Query>,
    clauses: impl Fn(&OfferFilter) -> Where,
    left_out: LeftOut,
    counted: Total,
) -> Total {
    let Some(currency) = filter.currency else { return counted };
    let unbounded = OfferFilter { min_price: None, max_price: None, ..filter.clone() };
    let Some(total) = summary(&unbounded) else { return counted };
    let outside = clauses(&unbounded);
    // Offers are only counted: their tails read nothing the index does not hold.
    let column = match left_out {
        LeftOut::Offers => "1",
        LeftOut::Products => "o.product_id",
    };
    let mut params = Vec::new();
    let mut tails = Vec::new();
    for (op, bound) in [("<", filter.min_price), (">", filter.max_price)] {
        if let Some(bound) = bound {
            tails.push(format!(
                "SELECT {column} AS x FROM offers o WHERE {} AND o.price_minor {op} ?",
                outside.sql()
            ));
            params.extend(outside.params.iter().cloned());
            params.push(Param::Int(bound.bound_minor(currency)));
        }
    }
    if tails.is_empty() {
        return counted;
    }
    params.extend(total.params);
    let left = match left_out {
        LeftOut::Offers => "(SELECT count(*) FROM t)".to_string(),
        LeftOut::Products => {
            let inside = clauses(filter);
            let sql = format!(
                "(SELECT count(*) FROM (SELECT DISTINCT x FROM t) d
                  WHERE NOT EXISTS (SELECT 1 FROM offers o WHERE o.product_id = d.x AND {}))",
                inside.sql()
            );
            params.extend(inside.params);
            sql
        }
    };
    // The branch not taken runs none of its subqueries (SQLite and PostgreSQL alike evaluate
    // an uncorrelated subquery where it is first needed). While a run has marked the
    // summaries (its offers written, their totals not yet), live tails would be taken from
    // the last run's totals: then counted too.
    let sql = format!(
        "WITH t AS MATERIALIZED ({} LIMIT {})
         SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM market_dirty)
                  AND NOT EXISTS (SELECT 1 FROM product_best_dirty)
                  AND (SELECT count(*) FROM t) <= {TAIL_ROWS}
             THEN coalesce(({}), 0) - {left} END, CAST(0 AS BIGINT)",
        tails.join(" UNION ALL "),
        TAIL_ROWS + 1,
        total.sql,
    );
    Total::Complement { query: Query::new(sql, params), counted: Box::new(counted) }
}

/// A page of offers in two steps: `ids` ranks the matching offers reading only indexed columns
/// and returns `id, value_score, category median` of the page in order; the caller then loads
/// those offers with `offers_by_ids` (so a category-wide sort never touches the table).
/// The total is the number of matching offers. `offers` is the FROM item for `offers o` of
/// the page's query (an adapter may pin an index there).
pub fn list_offers(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
    offers: &str,
) -> (Query, Total) {
    let count = match summary_count(filter, prefs) {
        Some(q) => Total::Summary(q),
        None => {
            let w = filter_where(filter, prefs);
            let counted = Total::Matches(Query::new(
                format!("SELECT 1 FROM offers o WHERE {}", w.sql()),
                w.params,
            ));
            let summary = |f: &OfferFilter| summary_count(f, prefs);
            let clauses = |f: &OfferFilter| filter_where(f, prefs);
            complement(filter, summary, clauses, LeftOut::Offers, counted)
        }
    };
    (ranked(filter, sort, page, prefs, offers), count)
}

/// Keys a category's price-sorted page walks at most (`price_by_keys`).
pub const PRICE_WALK_KEYS: usize = 64;

/// A category's price-sorted page as one walk per category key under it (`keys`, from
/// `category_keys`): along `offers_category` (key, currency, price, …) each key's matching
/// offers come in price order, so each walk reads at most the page's depth — instead of
/// sorting the category's offers, or walking the currency's price order past every cheaper
/// offer of other categories. Each query returns `id, value_score, median_minor,
/// price_minor`; the caller merges them (`query::merge_by_price`). `offers` is the FROM item
/// for `offers o` (an adapter may pin the index). `None` for other sorts, preferences, no
/// currency or category, a page past `ranking::MAX_DEPTH`, or more than `PRICE_WALK_KEYS`
/// keys.
pub fn price_by_keys(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
    keys: &[String],
    offers: &str,
) -> Option<Vec<Query>> {
    let wanted = page.depth();
    let descending = match sort {
        Sort::Price => false,
        Sort::PriceDesc => true,
        _ => return None,
    };
    filter.currency?;
    filter.category.as_ref()?;
    if prefs.is_some() || wanted > ranking::MAX_DEPTH || keys.len() > PRICE_WALK_KEYS {
        return None;
    }
    let rest = OfferFilter { category: None, ..filter.clone() };
    let w = filter_where(&rest, None);
    let order = if descending { "o.price_minor DESC, o.id" } else { "o.price_minor, o.id" };
    let walk = |key: &String| {
        let mut params = w.params.clone();
        params.push(text(key));
        params.push(Param::Int(i64::try_from(wanted).unwrap_or(i64::MAX)));
        Query::new(
            format!(
                "SELECT o.id, {VALUE_SCORE} AS value_score, cs.median_minor, o.price_minor
                 FROM {offers} LEFT JOIN category_stats cs
                   ON cs.category_key = o.category_key AND cs.currency = o.currency
                 WHERE {} AND o.category_key = ? ORDER BY {order} LIMIT ?",
                w.sql()
            ),
            params,
        )
    };
    Some(keys.iter().map(walk).collect())
}

/// A rating-sorted page read along the currency's rating order (`offers_rating`: currency,
/// rating, reviews, id, then every column a listing filters on) instead of sorting every match:
/// a top-level category's rating page sorted its 92k offers at 1M (58 ms; 107 ms at 3M).
pub struct RatingWalk {
    /// `id, value_score, median_minor` of the page: the first `budget` offers of the currency in
    /// rating order are read from the index alone, those matching the filter kept, and the
    /// page's taken from them.
    pub page: Query,
    /// Index entries the walk reads at most (`ranking::scan_cap`).
    pub budget: u64,
    /// The currency's offers (the market summary): when they are no more than `budget`, a
    /// short page is the listing's last; otherwise it means the walk stopped early, and the
    /// listing sorts instead.
    pub currency_offers: Query,
}

/// The rating walk of a page, or `None` where the listing sorts: another sort, no currency,
/// no category (without one the planners walk the rating index themselves: a store, a brand
/// and a price are among its columns), a product's offers (their own index serves better),
/// preferred stores or brands ordering first, or a page past `ranking::MAX_DEPTH`. `offers` is
/// the FROM item for `offers o` (an adapter may pin the index).
pub fn rating_walk(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
    offers: &str,
) -> Option<RatingWalk> {
    let wanted = page.depth();
    let currency = filter.currency?;
    if sort != Sort::Rating
        || filter.category.is_none()
        || wanted > ranking::MAX_DEPTH
        || filter.product.is_some()
        || preferred_expr(prefs).is_some()
    {
        return None;
    }
    let budget = ranking::scan_cap(wanted);
    let w = filter_where(filter, prefs);
    let order = order_by(Sort::Rating);
    // The walk's columns are named as the offers' so that the filter's clauses apply to it.
    let sql = format!(
        "SELECT o.id, {VALUE_SCORE} AS value_score, cs.median_minor
         FROM offers o LEFT JOIN category_stats cs
           ON cs.category_key = o.category_key AND cs.currency = o.currency
         WHERE o.id IN (
             SELECT o.id FROM (
                 SELECT o.id, o.currency, o.rating_centi, o.review_count, o.category_key,
                        o.store_id, o.brand_key, o.price_minor
                 FROM {offers} WHERE o.currency = ? ORDER BY {order} LIMIT ?) o
             WHERE {} ORDER BY {order} LIMIT ?)
         ORDER BY {order} LIMIT ? OFFSET ?",
        w.sql()
    );
    let mut params = vec![text(currency.code()), Param::Int(budget as i64)];
    params.extend(w.params);
    params.push(Param::Int(wanted as i64));
    params.push(Param::Int(i64::from(page.limit)));
    params.push(Param::Int(page.offset() as i64));
    Some(RatingWalk {
        page: Query::new(sql, params),
        budget,
        currency_offers: market_offers(currency, None),
    })
}

/// `id, value_score, median_minor` of a page of `offers` (the FROM item for `offers o`)
/// matching the filter, in the sort's order.
fn ranked(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
    offers: &str,
) -> Query {
    let w = filter_where(filter, prefs);
    let preferred = preferred_expr(prefs);
    let order = match &preferred {
        // A bare `0` would be read as a column number, so no preferences means no term.
        Some((pref, _)) => format!("{pref} DESC, {}", order_by(sort)),
        None => order_by(sort).to_string(),
    };
    let mut params = w.params.clone();
    if let Some((_, p)) = &preferred {
        params.extend(p.iter().cloned());
    }
    params.push(Param::Int(i64::from(page.limit)));
    params.push(Param::Int(page.offset() as i64));
    let sql = if sort == Sort::Value {
        format!(
            "SELECT o.id, {VALUE_SCORE} AS value_score, cs.median_minor
             FROM {offers} LEFT JOIN category_stats cs
               ON cs.category_key = o.category_key AND cs.currency = o.currency
             WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            w.sql()
        )
    } else {
        // The page's ids first, in the sort's order (which names offer columns only), then the
        // score and the category's median of those rows alone: the rows an OFFSET skips no
        // longer compute them (page 100 by price or rating on PostgreSQL at 1M: 2,000 scores
        // and median lookups for 20 rows). The outer ORDER BY repeats the order, and with it
        // the preferences' parameters.
        if let Some((_, p)) = preferred {
            params.extend(p);
        }
        let ids = format!(
            "SELECT o.id FROM {offers} WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
            w.sql()
        );
        scored_page(&ids, &order)
    };
    Query::new(sql, params)
}

/// `id, value_score, median_minor` of the offers a page's subquery `ids` chose (its `id`
/// column), in `order` (which may name the subquery's columns as `page.`): each offer scored
/// and its category's median looked up after the page is cut, for its own rows alone.
fn scored_page(ids: &str, order: &str) -> String {
    format!(
        "SELECT o.id, {VALUE_SCORE} AS value_score, cs.median_minor
         FROM ({ids}) page
         JOIN offers o ON o.id = page.id
         LEFT JOIN category_stats cs
           ON cs.category_key = o.category_key AND cs.currency = o.currency
         ORDER BY {order}"
    )
}

/// Whether nothing but the currency narrows a listing (no other filter, no budget): its date
/// order is the market summary's list itself.
fn currency_only(filter: &OfferFilter, prefs: Option<&Preferences>) -> bool {
    let rest = OfferFilter { currency: None, ..filter.clone() };
    rest == OfferFilter::default() && prefs.is_none_or(|p| p.budget.is_none())
}

/// A date- or value-sorted page of a whole currency read by rank from the market summary's
/// lists — its newest offers (`market_recent`) or its best by value score (`market_value`,
/// written by the adapter's value walk at each rebuild) — the same rows as `list_offers`'
/// `ranked` query; `None` where the listing ranks otherwise: another sort, anything but the
/// currency filtering, preferred stores or brands ordering first, or a page past the list's
/// guaranteed length (`market::RECENT_KEPT`, `market::VALUE_KEPT`). While the summary is
/// marked stale (a run between its batches and its refresh, a merge) it returns no rows: the
/// caller then ranks as it would without the list, as it does for a page past the currency's
/// last offer (or a currency the value walk gave up on).
pub fn listed_page(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
) -> Option<Query> {
    let (list, kept) = match sort {
        Sort::Date => ("market_recent", RECENT_KEPT as u64),
        Sort::Value => ("market_value", u64::from(crate::market::VALUE_KEPT)),
        _ => return None,
    };
    if page.depth() > kept || preferred_expr(prefs).is_some() {
        return None;
    }
    let currency = filter.currency?;
    if !currency_only(filter, prefs) {
        return None;
    }
    Some(Query::new(
        format!(
            "SELECT o.id, {VALUE_SCORE} AS value_score, cs.median_minor
             FROM {list} r JOIN offers o ON o.id = r.offer_id
             LEFT JOIN category_stats cs
               ON cs.category_key = o.category_key AND cs.currency = o.currency
             WHERE r.currency = ? AND r.rank >= ? AND NOT EXISTS (SELECT 1 FROM market_dirty)
             ORDER BY r.rank LIMIT ?"
        ),
        vec![
            text(currency.code()),
            Param::Int(page.offset() as i64),
            Param::Int(i64::from(page.limit)),
        ],
    ))
}

/// A filtered date-sorted page read along the market summary's newest offers, the matching
/// ones kept, instead of sorting every match by `last_seen`, which no index holds (a category's
/// newest offers at 1M: 103 ms on SQLite, 165 ms on PostgreSQL): the currency's newest in date
/// order (`market_recent`, up to `RECENT_MAX`), or with a store filter the store's
/// (`store_recent`, up to `STORE_RECENT_KEPT`: a store's scrape moves all its offers at once,
/// so the currency's newest are mostly one or two stores'). Either list is a prefix of its
/// offers' date order, so the matches in it are a prefix of the listing's; each carries the
/// columns the filters read, so the walk reads the list alone and then the page's own offers.
pub struct RecentWalk {
    /// `id, value_score, median_minor` of the page (scored after it is cut); no rows while the
    /// summary is stale.
    pub page: Query,
    /// The offers the list is drawn from: the currency's, or the store's in it (the market
    /// summary), for `market::recent_walk_suits`.
    pub drawn_from: Query,
    /// How many of them the list keeps (one number: its length).
    pub kept: Query,
    /// The page's depth: offset and limit.
    pub wanted: u64,
}

impl RecentWalk {
    /// Whether to walk rather than sort (`market::recent_walk_suits`), given the listing's
    /// count, the offers the list is drawn from (`drawn_from`'s answer) and its length
    /// (`kept`'s).
    pub fn suits(&self, total: MatchCount, drawn_from: u64, kept: u64) -> bool {
        preciso_core::market::recent_walk_suits(self.wanted, total.at_least(), drawn_from, kept)
    }
}

/// The walk of a date-sorted page, or `None`: another sort, no currency, one product's offers,
/// preferred stores or brands ordering first, or a page past the list. A currency-only listing
/// reads its page by rank instead (`listed_page`).
pub fn recent_walk(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
) -> Option<RecentWalk> {
    let currency = filter.currency?;
    let (list, longest) = match &filter.store {
        Some(_) => ("store_recent", STORE_RECENT_KEPT as u64),
        None => ("market_recent", RECENT_MAX as u64),
    };
    let wanted = page.depth();
    let whole_currency = currency_only(filter, prefs);
    // One product's offers are few: sorted, not walked (the lists do not carry the product).
    let walks = filter.product.is_none() && preferred_expr(prefs).is_none() && !whole_currency;
    if sort != Sort::Date || wanted > longest || !walks {
        return None;
    }
    // The list carries the other columns the filter reads (migration 0039), named `o.` as the
    // offers' are; its key leads with the currency (and store) the filter names.
    let w = filter_where(filter, prefs);
    let ids = format!(
        "SELECT o.rank, o.offer_id AS id FROM {list} o
         WHERE {} AND NOT EXISTS (SELECT 1 FROM market_dirty)
         ORDER BY o.rank LIMIT ? OFFSET ?",
        w.sql()
    );
    let sql = scored_page(&ids, "page.rank");
    let mut params = w.params;
    params.push(Param::Int(i64::from(page.limit)));
    params.push(Param::Int(page.offset() as i64));
    Some(RecentWalk {
        page: Query::new(sql, params),
        drawn_from: market_offers(currency, filter.store.as_ref()),
        kept: list_length(list, currency, filter.store.as_ref()),
        wanted,
    })
}

/// The number of offers of a currency — or of one store, a category (with what is below it),
/// or both, in it; or of one brand alone in it — from the market summary (`store_market`,
/// `store_category_offers`, `brand_offers`) instead of counting them; `None` when anything
/// else filters.
fn summary_count(filter: &OfferFilter, prefs: Option<&Preferences>) -> Option<Query> {
    let currency = filter.currency?;
    if prefs.is_some_and(|p| p.budget.is_some()) {
        return None;
    }
    if filter.brand.is_some() {
        // Preferred stores or brands reorder a listing, not its total: none passed.
        return preciso_core::best::brand_scope(filter, None).map(|(currency, brand_key)| {
            let params = vec![text(currency.code()), Param::Text(brand_key)];
            Query::new(crate::market::BRAND_OFFERS.into(), params)
        });
    }
    let rest = OfferFilter { currency: None, store: None, category: None, ..filter.clone() };
    if rest != OfferFilter::default() {
        return None;
    }
    if filter.category.is_none() {
        return Some(market_offers(currency, filter.store.as_ref()));
    }
    // The same clauses as the listing's: the summary's columns are named as the offers'.
    let w = filter_where(filter, None);
    Some(Query::new(
        format!(
            "SELECT CAST(coalesce(sum(o.offers), 0) AS BIGINT) FROM store_category_offers o
             WHERE {}",
            w.sql()
        ),
        w.params,
    ))
}

/// The length of a currency's list of newest offers, or of one store's in it (`list`): its
/// last rank, read from the end of its key.
fn list_length(list: &str, currency: Currency, store: Option<&StoreId>) -> Query {
    let (key, params) = currency_and_store(currency, store);
    Query::new(
        format!(
            "SELECT coalesce((SELECT rank + 1 FROM {list} WHERE {key}
                ORDER BY rank DESC LIMIT 1), 0)"
        ),
        params,
    )
}

/// The offers of a currency, or of one store in it, from the market summary.
fn market_offers(currency: Currency, store: Option<&StoreId>) -> Query {
    let (key, params) = currency_and_store(currency, store);
    Query::new(
        format!("SELECT CAST(coalesce(sum(offers), 0) AS BIGINT) FROM store_market WHERE {key}"),
        params,
    )
}

/// `currency = ?`, and `store_id = ?` with a store: the key of the market summary's tables kept
/// per currency and store, and its parameters.
fn currency_and_store(currency: Currency, store: Option<&StoreId>) -> (&'static str, Vec<Param>) {
    let mut params = vec![text(currency.code())];
    let Some(store) = store else { return ("currency = ?", params) };
    params.push(text(store.as_str()));
    ("currency = ? AND store_id = ?", params)
}

/// A value-ranked page by the threshold rule (`preciso_core::ranking`).
pub struct ValueScan {
    /// One query per pass (preferred offers first when the user has preferences), each
    /// reading the matching offers in descending own part along the `offers_value` index:
    /// `id, own, price_minor, category_key`, at most `ranking::scan_cap` rows. The caller
    /// scores each from `medians` (`ranking::Medians::score`): joined per offer in SQL, the
    /// median's lookup cost more than the walk (docs/BENCHMARKS.md).
    pub passes: Vec<Query>,
    /// `category_key, median_minor` of the currency's categories.
    pub medians: Query,
    /// The currency's offers: with the listing's count, whether to scan at all
    /// (`ranking::scan_suits`).
    pub currency_offers: Query,
}

/// With a brand and something else narrowing the listing (a store, category or price), the
/// brand's offers from the market summary (`brand_counts`): whether sorting them beats a value
/// scan's walk (`ranking::brand_sort_suits`). SQLite asks; PostgreSQL walks (its brand index
/// lacks the score's columns: docs/DECISIONS.md). A brand alone walks: its count is its own
/// density, so the walk passes what it expects (a brand's page 50 at 3M: 17.9 ms walked, 23.1
/// ms sorted).
pub fn brand_offers(filter: &OfferFilter) -> Option<Query> {
    let narrowed = OfferFilter { currency: None, brand: None, ..filter.clone() };
    let brand = filter.brand.as_ref().filter(|_| narrowed != OfferFilter::default())?;
    Some(Query::new(
        "SELECT coalesce((SELECT offers FROM brand_counts WHERE brand_key = ?), 0)".into(),
        vec![Param::Text(fold_for_matching(brand.trim()))],
    ))
}

/// The value scan of a page, or `None` where the listing ranks by sorting: another sort, a
/// page deeper than `ranking::MAX_DEPTH`, a product's offers (their own index serves better),
/// or no currency chosen (the index leads with it). `offers` is the FROM item for `offers o`:
/// an adapter may pin the index there (planned for the whole cap, a filter with its own index
/// looks cheaper to sort than to walk in order).
pub fn value_scan(
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    prefs: Option<&Preferences>,
    offers: &str,
) -> Option<ValueScan> {
    let wanted = page.depth();
    if sort != Sort::Value || wanted > ranking::MAX_DEPTH || filter.product.is_some() {
        return None;
    }
    let currency = filter.currency?;
    let cap = ranking::scan_cap(wanted);
    let w = filter_where(filter, prefs);
    let pass = |clause: String, extra: Vec<Param>| {
        let mut params = w.params.clone();
        params.extend(extra);
        params.push(Param::Int(i64::try_from(cap).unwrap_or(i64::MAX)));
        Query::new(
            format!(
                "SELECT o.id, CAST({VALUE_OWN} AS DOUBLE PRECISION) AS own, o.price_minor,
                        o.category_key
                 FROM {offers}
                 WHERE {} AND {clause} ORDER BY {VALUE_OWN} DESC, o.id LIMIT ?",
                w.sql()
            ),
            params,
        )
    };
    let passes = match preferred_expr(prefs) {
        Some((pref, p)) => {
            vec![pass(format!("{pref} = 1"), p.clone()), pass(format!("{pref} = 0"), p)]
        }
        None => vec![pass("1 = 1".into(), vec![])],
    };
    let medians = Query::new(
        "SELECT category_key, median_minor FROM category_stats WHERE currency = ?".into(),
        vec![text(currency.code())],
    );
    Some(ValueScan { passes, currency_offers: market_offers(currency, None), medians })
}

/// `OFFER_COLUMNS` of the given offers, in no particular order.
pub fn offers_by_ids(ids: &[i64]) -> Query {
    let marks = vec!["?"; ids.len().max(1)].join(", ");
    let mut params: Vec<Param> = ids.iter().map(|&id| Param::Int(id)).collect();
    if params.is_empty() {
        params.push(Param::Int(0));
    }
    Query::new(format!("SELECT {OFFER_COLUMNS} FROM offers o WHERE o.id IN ({marks})"), params)
}

/// Best prices: buyable offers matching the filter, in price order, one query per pass
/// (preferred offers first when the user has preferences). The caller keeps the first offer
/// of each product and stops when it has enough.
pub struct BestPrices {
    pub passes: Vec<Query>,
    /// The products over all pages: counted from the offers, or for a store's own listing
    /// read from the market summary (`preciso_core::best::store_scope`).
    pub total: Total,
    /// The filter every offer matches, for `per_products`.
    matching: Where,
}

impl BestPrices {
    /// `product_id, count(*)` of the matching offers of `products`, in one statement (the
    /// page's products: their ids make the product index the one to read, whatever else
    /// filters).
    pub fn per_products(&self, products: &[i64]) -> Query {
        let marks = vec!["?"; products.len()].join(", ");
        let mut params = self.matching.params.clone();
        params.extend(products.iter().map(|p| Param::Int(*p)));
        Query::new(
            format!(
                "SELECT o.product_id, count(*) FROM offers o WHERE {} AND o.product_id IN ({marks})
                 GROUP BY o.product_id",
                self.matching.sql()
            ),
            params,
        )
    }
}

/// What a best-prices pass selects for an adapter that loads the page's offers by id
/// (`best_prices`): `id, product_id`.
pub const BEST_PASS_IDS: &str = "o.id, o.product_id";

/// The first `n` offers of a category's best-prices pass (`best_prices`, the same offers in the
/// same order) as one walk per category key under it (`keys`, from `category_keys`), each along
/// `offers_category` (key, currency, price) and limited to `n`, merged by price: `price_minor,
/// id, product_id`, which that index holds, so no walk reads a table row (the page's offers are
/// then read by id). With a price bound PostgreSQL planned the single pass as a bitmap of every
/// matching offer of the category, sorted: 28k heap rows for a page (175–245 ms at 1M offers,
/// 5.5 ms as walks).
/// `None` unless the filter has a currency and a category with at most `PRICE_WALK_KEYS` keys
/// and no preferences (which add a pass).
pub fn best_prices_by_keys(
    filter: &OfferFilter,
    prefs: Option<&Preferences>,
    keys: &[String],
    n: usize,
) -> Option<Query> {
    filter.currency?;
    filter.category.as_ref()?;
    if prefs.is_some() || keys.is_empty() || keys.len() > PRICE_WALK_KEYS {
        return None;
    }
    let rest = OfferFilter { category: None, ..filter.clone() };
    let mut w = filter_where(&rest, None);
    w.push("o.availability <> 'out_of_stock'", []);
    let limit = Param::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut params = Vec::new();
    let walks: Vec<String> = keys
        .iter()
        .map(|key| {
            params.extend(w.params.iter().cloned());
            params.push(text(key));
            params.push(limit.clone());
            format!(
                "(SELECT o.price_minor, o.id, o.product_id FROM offers o
                  WHERE {} AND o.category_key = ? ORDER BY o.price_minor, o.id LIMIT ?)",
                w.sql()
            )
        })
        .collect();
    params.push(limit);
    // The currency is fixed, so (price, id) is the pass's order.
    Some(Query::new(
        format!(
            "SELECT * FROM ({}) o ORDER BY o.price_minor, o.id LIMIT ?",
            walks.join(" UNION ALL ")
        ),
        params,
    ))
}

/// Rows a category's best-prices page reads first per key (or in all, as one LIMIT), for
/// `wanted` products: a product has a few offers in most listings, so these nearly always fill
/// the page.
pub fn first_rows(wanted: usize) -> usize {
    (wanted * 8).max(256)
}

/// `filter` with its category matched as an equality on `key` (one of its keys) instead of a
/// key range and the summary's key list.
fn where_in_key(filter: &OfferFilter, prefs: Option<&Preferences>, key: &str) -> Where {
    let mut w = filter_where(&OfferFilter { category: None, ..filter.clone() }, prefs);
    w.push("o.category_key = ?", [text(key)]);
    w
}

/// One key's first `n` buyable offers of a category's best-prices pass, as `price_minor, id,
/// product_id` in (price, id) order — columns the category index holds, so the walk reads no
/// table row. The caller merges the keys' walks and loads only the offers it chose. `offers`
/// is the FROM item for `offers o` (an adapter may pin the index).
pub fn best_price_walk(filter: &OfferFilter, key: &str, n: usize, offers: &str) -> Query {
    let mut w = where_in_key(filter, None, key);
    w.push("o.availability <> 'out_of_stock'", []);
    let mut params = w.params.clone();
    params.push(Param::Int(i64::try_from(n).unwrap_or(i64::MAX)));
    Query::new(
        format!(
            "SELECT o.price_minor, o.id, o.product_id FROM {offers} WHERE {}
             ORDER BY o.price_minor, o.id LIMIT ?",
            w.sql()
        ),
        params,
    )
}

/// `columns` are what each pass selects: `OFFER_COLUMNS` for an adapter that builds the page
/// from the pass's rows, or `BEST_PASS_IDS` for one that loads the page's offers by id
/// afterwards (a pass then reads no table row where an index covers its filter). `offers` is
/// the passes' FROM item for `offers o` (an adapter may pin the index). `one_key`:
/// the filter's category holds offers under this key alone (`category_keys`, read by the
/// caller), matched as an equality — a key range and a key list let SQLite's planner neither
/// walk the category index in price order nor see how few offers match, so it walked the
/// currency's price order past every cheaper offer of other categories.
pub fn best_prices(
    filter: &OfferFilter,
    prefs: Option<&Preferences>,
    columns: &str,
    offers: &str,
    one_key: Option<&str>,
) -> BestPrices {
    let clauses = |f: &OfferFilter| {
        let mut w = match one_key.filter(|_| f.category.is_some()) {
            Some(key) => where_in_key(f, prefs, key),
            None => filter_where(f, prefs),
        };
        w.push("o.availability <> 'out_of_stock'", []);
        w
    };
    let w = clauses(filter);
    let pass = |clause: &str, extra: Vec<Param>| {
        let mut params = w.params.clone();
        params.extend(extra);
        Query::new(
            format!(
                "SELECT {columns} FROM {offers} WHERE {} AND {clause} ORDER BY o.currency, o.price_minor, o.id",
                w.sql()
            ),
            params,
        )
    };
    let passes = match preferred_expr(prefs) {
        Some((pref, p)) => vec![pass(&format!("{pref} = 1"), p), pass("1 = 1", vec![])],
        None => vec![pass("1 = 1", vec![])],
    };
    let total = match best_products(filter, prefs) {
        Some(q) => Total::Summary(q),
        None => {
            let counted = Total::Products(Query::new(
                format!("SELECT o.product_id FROM offers o WHERE {}", w.sql()),
                w.params.clone(),
            ));
            // Without its bounds, a category alone (or the whole currency) is the best-price
            // summary's scope, which the adapters page from before building these passes.
            let summary = |f: &OfferFilter| {
                best_products(f, prefs).or_else(|| {
                    let (scope, currency) = preciso_core::best::summary_scope(f, prefs)?;
                    Some(crate::best::scope_products(scope, currency))
                })
            };
            complement(filter, summary, clauses, LeftOut::Products, counted)
        }
    };
    BestPrices { passes, total, matching: w }
}

/// The products of a best-prices listing whose total the market summary keeps: a store's own
/// listing (`preciso_core::best::store_scope`), a category's narrowed to one store or brand
/// (`category_scope`), a brand's (`brand_scope`).
fn best_products(filter: &OfferFilter, prefs: Option<&Preferences>) -> Option<Query> {
    if let Some((store, currency)) = preciso_core::best::store_scope(filter, prefs) {
        Some(Query::new(
            crate::market::STORE_PRODUCTS.into(),
            vec![text(store.as_str()), text(currency.code())],
        ))
    } else if let Some((category, currency, scope, name)) =
        preciso_core::best::category_scope(filter, prefs)
    {
        Some(category_products(currency, category, scope, name))
    } else {
        let (currency, brand) = preciso_core::best::brand_scope(filter, prefs)?;
        let every = preciso_core::market::EVERY_CATEGORY;
        Some(category_products(currency, every, ProductScope::Brand, brand))
    }
}

/// For a category's best prices narrowed to one store or one brand (price bounds aside), from
/// the summaries: that store's or brand's products in the category, then the category's
/// products — how densely the narrowed offers lie along the category's price order. `None`
/// without a category, a currency, or exactly one of a store and a brand.
pub fn narrowed_share(filter: &OfferFilter) -> Option<(Query, Query)> {
    let unbounded = OfferFilter { min_price: None, max_price: None, ..filter.clone() };
    let (category, currency, scope, name) = preciso_core::best::category_scope(&unbounded, None)?;
    let narrowed = category_products(currency, category, scope, name);
    Some((narrowed, crate::best::scope_products(category, currency)))
}

/// The products with a buyable offer in `currency` and the category path, of one store or
/// brand, from the market summary (`market::CATEGORY_PRODUCTS`).
fn category_products(currency: Currency, path: &str, scope: ProductScope, name: String) -> Query {
    Query::new(
        crate::market::CATEGORY_PRODUCTS.into(),
        vec![text(currency.code()), text(path), text(scope.as_str()), Param::Text(name)],
    )
}

pub fn offer_by_id(id: i64) -> Query {
    Query::new(format!("SELECT {OFFER_COLUMNS} FROM offers o WHERE o.id = ?"), vec![Param::Int(id)])
}

/// `min(received_at)` of the runs of one content (`?` twice: its SHA-256) that did not finish
/// since the newest that did (`CatalogStore::interrupted_since`).
pub const INTERRUPTED_SINCE: &str = "SELECT min(received_at) FROM ingest_files
    WHERE sha256 = ? AND status <> 'done'
      AND id > COALESCE((SELECT max(id) FROM ingest_files WHERE sha256 = ? AND status = 'done'), 0)";

/// `observed_at, price_minor, list_price_minor, currency, availability`, oldest first.
pub fn offer_history(id: i64) -> Query {
    Query::new(
        "SELECT observed_at, price_minor, list_price_minor, currency, availability
         FROM price_history WHERE offer_id = ? ORDER BY observed_at"
            .into(),
        vec![Param::Int(id)],
    )
}

pub fn product_offers(product: i64) -> Query {
    Query::new(
        format!(
            "SELECT {OFFER_COLUMNS} FROM offers o WHERE o.product_id = ? ORDER BY o.currency, o.price_minor, o.id"
        ),
        vec![Param::Int(product)],
    )
}

/// The product grouped by a GTIN, found by the id its key hashes to; the GTIN on that row
/// confirms it (products keep no key: it follows from their GTIN, brand and title).
pub fn product_by_gtin(gtin: &Gtin) -> Query {
    let id = preciso_core::hash::product_id(&preciso_core::hash::product_key(Some(gtin), ""));
    Query::new(
        "SELECT id FROM products WHERE id = ? AND gtin = ?".into(),
        vec![Param::Int(id.as_i64()), text(gtin.as_str())],
    )
}

/// One word a product search looks for, folded (case, accents) to letters and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWord {
    pub text: String,
    /// Matched as a word prefix (two characters or more) or as a whole word (one): a single
    /// letter as a prefix matched a sixth of the products, more with the catalog, each an
    /// equally arbitrary answer; as a word it finds "Talla L" or "Pack x 6" for `l` or `6`.
    pub prefix: bool,
}

/// The words a product search looks for: `q` folded (case, accents) into words of letters and
/// digits, at most 8. Each adapter matches them through its text index, as prefixes or whole
/// words as each says.
pub fn search_words(q: &str) -> Vec<SearchWord> {
    fold_for_matching(q)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| SearchWord { text: w.to_string(), prefix: w.chars().nth(1).is_some() })
        .collect()
}

/// `preciso_core::query::SEARCH_CANDIDATES`, as the statements bind it.
pub const SEARCH_CANDIDATES: i64 = preciso_core::query::SEARCH_CANDIDATES as i64;

/// A search's candidates from its matches' ids, lowest first, read one past
/// `SEARCH_CANDIDATES`: the first `SEARCH_CANDIDATES` and whether more match (then the
/// search's total is a lower bound: it counts among the candidates only).
pub fn first_candidates(mut ids: Vec<i64>) -> (Vec<i64>, bool) {
    let cap = SEARCH_CANDIDATES as usize;
    let more = ids.len() > cap;
    ids.truncate(cap);
    (ids, more)
}

/// Rows a search reads at most: its candidate products' offers (`search_offers`).
pub const SEARCH_ROWS: i64 = 20_000;

/// The buyable offers of the matching products that pass `filter`, grouped by product,
/// cheapest first: `product_id, price_minor, id` (`best::SearchRow`), which the product index
/// holds, so the ranking reads no offer's row; the page's offers are then read by id
/// (`offers_by_ids`). `matched` is the adapter's condition on `o.product_id` naming its text
/// index's matches (taking `match_params`), in the form its planner walks the product index
/// with, once per match.
pub fn search_offers(matched: &str, match_params: Vec<Param>, filter: &OfferFilter) -> Query {
    let mut w = filter_where(filter, None);
    w.push("o.availability <> 'out_of_stock'", []);
    let mut params = match_params;
    params.extend(w.params.iter().cloned());
    params.push(Param::Int(SEARCH_ROWS));
    Query::new(
        format!(
            "SELECT o.product_id, o.price_minor, o.id FROM offers o
             WHERE {matched} AND {}
             ORDER BY o.product_id, o.price_minor, o.id LIMIT ?",
            w.sql()
        ),
        params,
    )
}

/// A search's matching products' cheapest buyable offers from the best-offer summary, where
/// nothing narrows the search beyond a category (`best::summary_scope` gives `scope` and
/// `currency`): `price_minor, offer_id, offers` of each, one row per product, where
/// `search_offers` reads every buyable offer of each (a search at 1M: 1,627 rows instead of
/// 4,409, 8.6 → 6.3 ms on PostgreSQL; SQLite's page 4.0 → 2.3 ms). `matched` names the
/// matches as in `search_offers`, on `b.product_id`; the summary's key leads with the
/// product. No rows while any product waits for its summary refresh (a run between its
/// batches and its end, or one that died there), or when no candidate is sold in the scope
/// and currency: the caller then reads the offers.
pub fn search_best(
    matched: &str,
    match_params: Vec<Param>,
    scope: &str,
    currency: Currency,
) -> Query {
    let mut params = match_params;
    params.extend([text(scope), text(currency.code())]);
    Query::new(
        format!(
            "SELECT b.price_minor, b.offer_id, b.offers FROM product_best b
             WHERE {matched} AND b.scope = ? AND b.currency = ?
               AND NOT EXISTS (SELECT 1 FROM product_best_dirty)"
        ),
        params,
    )
}

/// Ranks `candidates` (a subquery of the matching products' `id, title`): `id, title,
/// offers`. A subquery of ids only, joined back to products, was planned on PostgreSQL as a
/// hash join over every product (41.6 → 22.7 ms at 1M in `EXPLAIN ANALYZE`).
pub fn search_ranked(candidates: &str) -> String {
    format!(
        "SELECT c.id, c.title, (SELECT count(*) FROM offers o WHERE o.product_id = c.id) AS n
         FROM ({candidates}) c ORDER BY n DESC, c.id LIMIT ?"
    )
}

/// The drops a trending listing matches: current prices that are a real drop which began at
/// or after `since`. The drops carry what the filters read (migration 0026), so the filter's
/// clauses name `o.`: here `o` is the drops table, which has those columns but the product's,
/// matched through the offer instead.
fn drops_where(since: i64, filter: &OfferFilter) -> Where {
    let mut w: Where = filter_where(&OfferFilter { product: None, ..filter.clone() }, None);
    if let Some(p) = filter.product {
        w.push(
            "o.offer_id IN (SELECT id FROM offers WHERE product_id = ?)",
            [Param::Int(p.as_i64())],
        );
    }
    w.push("o.drop_at >= ?", [Param::Int(since)]);
    w
}

/// A trending listing's count: its matching drops. Over every drop or one store's, category's
/// or brand's (nothing else filtering), the whole days after the window's first from
/// `drop_days` plus the first day's drops since `since`, counted along the filter's index:
/// exact at any size. Otherwise counted along the index of its filter (`drop_filter_index`) or
/// the window's, up to the count's limit.
pub fn trending_count(since: i64, filter: &OfferFilter) -> Total {
    let w = drops_where(since, filter);
    let Some((dimension, value)) = day_dimension(filter).filter(|_| since >= 0) else {
        return Total::Matches(Query::new(
            format!("SELECT 1 FROM offer_drops o WHERE {}", w.sql()),
            w.params,
        ));
    };
    let first_day = since / crate::trend::DAY_SECS;
    let sql = format!(
        "SELECT (SELECT CAST(coalesce(sum(d.drops), 0) AS BIGINT) FROM drop_days d
                 WHERE d.dimension = ? AND {} AND d.day > ?)
              + (SELECT count(*) FROM offer_drops o WHERE {} AND o.drop_at < ?)",
        value.sql(),
        w.sql()
    );
    let mut params = vec![text(dimension)];
    params.extend(value.params);
    params.push(Param::Int(first_day));
    params.extend(w.params);
    params.push(Param::Int(first_day.saturating_add(1).saturating_mul(crate::trend::DAY_SECS)));
    Total::Summary(Query::new(sql, params))
}

/// The `drop_days` dimension of a trending filter and the condition on `d.value` it matches
/// (a category: its key and those below it); `None` when more than one of a store, category
/// and brand filter, or anything else does.
fn day_dimension(filter: &OfferFilter) -> Option<(&'static str, Where)> {
    let rest = OfferFilter { store: None, category: None, brand: None, ..filter.clone() };
    if rest != OfferFilter::default() {
        return None;
    }
    let mut w = Where::default();
    let dimension = match (&filter.store, &filter.category, &filter.brand) {
        (None, None, None) => {
            w.push("d.value = ''", []);
            "all"
        }
        (Some(store), None, None) => {
            w.push("d.value = ?", [text(store.as_str())]);
            "store"
        }
        (None, Some(key), None) => {
            // The keys the listing's `category_clause` matches: listed in the market summary.
            let range = [text(key), text(&format!("{key}/")), text(&format!("{key}0"))];
            w.push(
                "d.value IN (SELECT c.category_key FROM category_counts c
                    WHERE c.category_key = ? OR (c.category_key >= ? AND c.category_key < ?))",
                range,
            );
            "category"
        }
        (None, None, Some(brand)) => {
            w.push("d.value = ?", [Param::Text(fold_for_matching(brand.trim()))]);
            "brand"
        }
        _ => return None,
    };
    Some((dimension, w))
}

/// A trending page, largest drop first: `OFFER_COLUMNS`, then `reference_minor, drop_bp,
/// drop_at` (read by name). The page's drops are chosen from the drops table alone and only
/// its own offers are read, by id. `drops` is the FROM item for `offer_drops o`: an adapter may
/// pin `offer_drops_rank` (walked from the largest drop, it stops once the page is full: for
/// many matches) or `drop_filter_index` (the matches, then a sort: for few). `floor` keeps the
/// drops of at least that many basis points: a walk of the rank index then ends there, full
/// page or not.
pub fn trending_page(
    since: i64,
    filter: &OfferFilter,
    page: PageRequest,
    drops: &str,
    floor: Option<i64>,
) -> Query {
    trending_from(since, filter, page, drops, Vec::new(), floor)
}

/// A trending page walked down the drops' rank, largest drop first, no further than `rows`
/// (`preciso_core::ranking::drop_walk`), its filters applied to that prefix of the rank index:
/// a planner that sorted the filter's matches (PostgreSQL: a leaf's 11k drops at 3M offers)
/// reads the prefix instead. The same text for any `rows` (a prepared statement serves).
pub fn trending_walk(since: i64, filter: &OfferFilter, page: PageRequest, rows: u64) -> Query {
    let drops = "(SELECT * FROM offer_drops o ORDER BY o.drop_bp DESC, o.offer_id DESC LIMIT ?) o";
    let rows = Param::Int(i64::try_from(rows).unwrap_or(i64::MAX));
    trending_from(since, filter, page, drops, vec![rows], None)
}

/// `trending_page` from the FROM item `drops` taking `drops_params`.
fn trending_from(
    since: i64,
    filter: &OfferFilter,
    page: PageRequest,
    drops: &str,
    drops_params: Vec<Param>,
    floor: Option<i64>,
) -> Query {
    let mut w = drops_where(since, filter);
    if let Some(bp) = floor {
        w.push("o.drop_bp >= ?", [Param::Int(bp)]);
    }
    let mut params = drops_params;
    params.extend(w.params.iter().cloned());
    params.push(Param::Int(i64::from(page.limit)));
    params.push(Param::Int(page.offset() as i64));
    Query::new(
        format!(
            "SELECT {OFFER_COLUMNS}, d.reference_minor, d.drop_bp, d.drop_at
             FROM (SELECT o.offer_id, o.reference_minor, o.drop_bp, o.drop_at
                   FROM {drops} WHERE {}
                   ORDER BY o.drop_bp DESC, o.offer_id DESC LIMIT ? OFFSET ?) d
             JOIN offers o ON o.id = d.offer_id
             ORDER BY d.drop_bp DESC, d.offer_id DESC",
            w.sql()
        ),
        params,
    )
}

/// The drops index that leads with one of the listing's filters (migration 0037), if any: a
/// store's, else a brand's, else a category's.
pub fn drop_filter_index(filter: &OfferFilter) -> Option<&'static str> {
    if filter.store.is_some() {
        Some("offer_drops_store")
    } else if filter.brand.is_some() {
        Some("offer_drops_brand")
    } else if filter.category.is_some() {
        Some("offer_drops_category")
    } else {
        None
    }
}

/// The category keys at or below `category_key` that hold offers (the market summary's
/// `category_counts`): `category_key`.
pub fn category_keys(category_key: &str) -> Query {
    Query::new(
        "SELECT category_key FROM category_counts
         WHERE category_key = ? OR (category_key >= ? AND category_key < ?)"
            .into(),
        vec![
            text(category_key),
            text(&format!("{category_key}/")),
            text(&format!("{category_key}0")),
        ],
    )
}

/// Per store, the newest observation among its offers (kept on the store row by ingest).
pub const STORE_FRESHNESS: &str = "SELECT id, last_seen_at FROM stores ORDER BY id";

/// Records a ledger row's archive key: parameters key, id.
pub const MARK_ARCHIVED: &str = "UPDATE ingest_files SET archive_key = ? WHERE id = ?";

/// Moves a store's freshness forward: parameters seen, store id, seen.
pub const STORE_SEEN: &str = "UPDATE stores SET last_seen_at = ?
    WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)";

/// Offers whose history an ingest extended: their drop is recomputed at the end of the run.
pub const MARK_TREND: &str =
    "INSERT INTO trend_dirty (offer_id) VALUES (?) ON CONFLICT (offer_id) DO NOTHING";

#[cfg(test)]
mod tests {
    use super::*;

    /// Words are folded and split on anything but letters and digits; one character (not one
    /// byte) is a whole word, two or more a prefix.
    #[test]
    fn one_character_words_are_whole_and_longer_ones_prefixes() {
        let words: Vec<(String, bool)> =
            search_words("É 6 ña Talla-L").into_iter().map(|w| (w.text, w.prefix)).collect();
        let expected = [("e", false), ("6", false), ("na", true), ("talla", true), ("l", false)];
        let expected: Vec<(String, bool)> =
            expected.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        assert_eq!(words, expected);
    }
}
