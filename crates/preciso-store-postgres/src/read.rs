//! The read side for PostgreSQL: the shared queries of `preciso-sql`, renumbered, plus users
//! and API keys.

use crate::PgConn;
use crate::{PgCatalog, PgRow, backend, bind, refs};
use postgres::Row;
use preciso_core::analysis::category::CategoryAnalysis;
use preciso_core::domain::{
    Availability, Currency, Gtin, Money, OfferId, ProductId, StoreId, StoreIdCache,
};
use preciso_core::market::StoreStanding;
use preciso_core::ports::{
    BestOffer, CatalogRead, Personalization, ScoredOffer, StoreError, TrendingOffer,
};
use preciso_core::query::{
    BrandCount, CategoryCount, CurrencyCount, HistoryPoint, MatchCount, OfferFilter, OfferView,
    Page, PageRequest, Rank, Sort,
};
use preciso_core::ranking;
use preciso_sql::reads::{self, Query};
use preciso_sql::{Param, numbered, offer_from_row};
use std::collections::HashSet;

/// A listing's statement, planned for its values (`PgConn::query_planned`).
fn run(c: &mut PgConn, q: &Query) -> Result<Vec<Row>, StoreError> {
    c.query_planned(&numbered(&q.sql), &q.params)
}

/// A lookup whose plan does not depend on its values, from the connection's statement cache.
fn run_cached(c: &mut PgConn, q: &Query) -> Result<Vec<Row>, StoreError> {
    let params = bind(&q.params);
    c.query_cached(&numbered(&q.sql), &refs(&params))
}

/// The category keys at or below `category` that hold offers (`reads::category_keys`).
fn category_keys(c: &mut PgConn, category: &str) -> Result<Vec<String>, StoreError> {
    Ok(run_cached(c, &reads::category_keys(category))?.iter().map(|r| r.get(0)).collect())
}

/// A listing's total (`reads::Total`).
fn total_of(c: &mut PgConn, t: &reads::Total) -> Result<MatchCount, StoreError> {
    let rows = run(c, &t.query())?;
    let row = rows.first().ok_or_else(|| StoreError::Backend("a count returned no row".into()))?;
    match (row.get::<_, Option<i64>>(0), t) {
        (Some(total), _) => Ok(t.of(total.max(0) as u64, row.get::<_, i64>(1) as u64)),
        // A complement whose tails ran long: counted instead.
        (None, reads::Total::Complement { counted, .. }) => total_of(c, counted),
        (None, _) => Err(StoreError::Backend("a count returned NULL".into())),
    }
}

fn count(c: &mut PgConn, q: &Query) -> Result<u64, StoreError> {
    Ok(run(c, q)?.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
}

/// Offers by id or by product (`offers_by_ids`, `offer_by_id`, `product_offers`).
fn offers(c: &mut PgConn, q: &Query) -> Result<Vec<OfferView>, StoreError> {
    run_cached(c, q)?.iter().map(|r| offer_from_row(&PgRow(r))).collect()
}

fn currency(s: &str) -> Result<Currency, StoreError> {
    Currency::parse(s).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Store ids of many rows, each distinct one parsed once.
fn store_ids() -> impl FnMut(&str) -> Result<StoreId, StoreError> {
    let mut cache = StoreIdCache::default();
    move |raw| cache.get(raw).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The products whose brand or title hold every word of `q` (`reads::search_words`: a prefix,
/// or a one-character word whole), through the expression of the products_search index
/// (migration 0012), lowest ids first: a subquery of their `columns` and its parameters; `None`
/// without a word. The matches are found in a subquery fenced by `OFFSET 0`, then sorted:
/// planned with the `LIMIT`, a common prefix's search (`a:*`: 17k of 100k products) walked the
/// primary key and computed each product's text vector until 2,000 matched (73 ms; from the
/// index and a sort, 4.8 ms). At most `limit`.
fn matches(q: &str, columns: &str, limit: i64) -> Option<(String, Vec<Param>)> {
    let words = reads::search_words(q);
    if words.is_empty() {
        return None;
    }
    let query: Vec<String> = words
        .iter()
        .map(|w| if w.prefix { format!("{}:*", w.text) } else { w.text.clone() })
        .collect();
    let sql = format!(
        "SELECT {columns} FROM (SELECT {columns} FROM products WHERE to_tsvector('simple',
            translate(lower(coalesce(brand, '') || ' ' || title),
                'áàâãäåéèêëíìîïóòôõöúùûüñçý', 'aaaaaaeeeeiiiiooooouuuuncy'))
            @@ to_tsquery('simple', ?) OFFSET 0) m ORDER BY id LIMIT ?"
    );
    Some((sql, vec![Param::Text(query.join(" & ")), Param::Int(limit)]))
}

/// A search's candidates (`reads::first_candidates`) and whether more products match, read
/// once; the statements after take them as an array (`array_list`).
fn candidates(c: &mut PgConn, q: &str) -> Result<(Vec<i64>, bool), StoreError> {
    let Some((sql, params)) = matches(q, "id", reads::SEARCH_CANDIDATES + 1) else {
        return Ok((Vec::new(), false));
    };
    let ids = run(c, &Query { sql, params })?.iter().map(|r| r.get(0)).collect();
    Ok(reads::first_candidates(ids))
}

/// A trending page read as `reads::trending_page` builds it (`prepared`: as a statement
/// prepared once per connection, for a text that serves every request of its filters).
fn trending_rows(
    c: &mut PgConn,
    q: &Query,
    prepared: bool,
) -> Result<Vec<TrendingOffer>, StoreError> {
    let rows = if prepared { run_cached(c, q)? } else { run(c, q)? };
    rows.iter()
        .map(|r| {
            Ok(TrendingOffer {
                offer: offer_from_row(&PgRow(r))?,
                reference_minor: r.try_get("reference_minor").map_err(backend)?,
                drop_bp: r.try_get("drop_bp").map_err(backend)?,
                dropped_at: r.try_get("drop_at").map_err(backend)?,
            })
        })
        .collect()
}

/// `ids` as an array literal, cast from text: the shared statements bind text, not arrays.
fn array_list(ids: &[i64]) -> Param {
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    Param::Text(format!("{{{}}}", items.join(",")))
}

/// `search_ranked` from the offer counts stored on the products' rows (`candidates` with
/// `id, title, offers`): nothing while any product waits for its summary refresh
/// (`crate::best::recount` keeps the counts there).
fn stored_ranking(candidates: &str) -> String {
    format!(
        "SELECT c.id, c.title, c.offers FROM ({candidates}) c
         WHERE NOT EXISTS (SELECT 1 FROM product_best_dirty)
         ORDER BY c.offers DESC, c.id LIMIT ?"
    )
}

/// Rows a portal read fetches per round trip: 256 first (most walks stop within them), then
/// twice the last, up to 4,096. At 256 each time, a ranked page 100 at 1M offers read ~29k rows
/// in 115 round trips, a fifth of its 50 ms (docs/BENCHMARKS.md).
pub(crate) fn portal_batches() -> impl Iterator<Item = i32> {
    std::iter::successors(Some(256), |n: &i32| Some((n * 2).min(4096)))
}

/// A value-ranked page by the threshold rule (`preciso_core::ranking`) where it applies and
/// its scans stop within their cap; `None`: rank by sorting. Each scan is a portal read in
/// batches, so it stops where the rule does.
fn value_ranks(
    c: &mut PgConn,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
    matching: u64,
) -> Result<Option<Vec<Rank>>, StoreError> {
    let Some(scan) = reads::value_scan(filter, sort, page, who.preferences, "offers o") else {
        return Ok(None);
    };
    if !ranking::scan_suits(matching, count(c, &scan.currency_offers)?) {
        return Ok(None);
    }
    // A brand's deep page walks here even where sorting the brand's offers would pass fewer
    // (`reads::brand_offers`, which SQLite asks): PostgreSQL's brand index does not hold the
    // score's columns, and widened to them (SQLite's migration 0043) the planner chose the
    // category's index for a brand's date-sorted page in a category (21–33 → 46–110 ms at 1M).
    let medians: ranking::Medians =
        run(c, &scan.medians)?.iter().map(|r| (r.get(0), r.get(1))).collect();
    ranking::page_by_passes(scan.passes.len(), page.offset(), page.limit, |pass, top| {
        let q = &scan.passes[pass];
        let mut tx = c.transaction().map_err(backend)?;
        // The scan's LIMIT is its cap, far above what it reads: planned for the whole cap, a
        // filtered scan would sort the filter's offers first (a store's: 199 ms at 1M) instead
        // of walking `offers_value` and stopping early (the portal reads in batches).
        tx.batch_execute("SET LOCAL enable_sort = off").map_err(backend)?;
        let params = bind(&q.params);
        let portal = tx.bind(&numbered(&q.sql), &refs(&params)).map_err(backend)?;
        for batch in portal_batches() {
            let rows = tx.query_portal(&portal, batch).map_err(backend)?;
            if rows.is_empty() || !feed_walk(&rows, &medians, top) {
                break;
            }
        }
        tx.commit().map_err(backend)
    })
}

/// Scores a value walk's rows (`reads::ValueScan`'s `id, own, price_minor, category_key`) into
/// `top`, in order; false once it refuses one: the walk stops there.
pub(crate) fn feed_walk(
    rows: &[Row],
    medians: &ranking::Medians,
    top: &mut ranking::ValueTop,
) -> bool {
    for r in rows {
        let own: f64 = r.get(1);
        let (score, median) = medians.score(own, r.get(2), r.get(3));
        if !top.push(r.get(0), score, median, own) {
            return false;
        }
    }
    true
}

/// A category's price-sorted page from one walk per key under it (`reads::price_by_keys`),
/// merged; `None`: rank by sorting (the planner, misjudging a category's share, sorted a
/// top-level category's 92k offers at 1M: 50 ms).
fn price_by_keys(
    c: &mut PgConn,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
) -> Result<Option<Vec<Rank>>, StoreError> {
    let Some(category) = &filter.category else { return Ok(None) };
    let keys = category_keys(c, category)?;
    let Some(walks) = reads::price_by_keys(filter, sort, page, who.preferences, &keys, "offers o")
    else {
        return Ok(None);
    };
    let mut ranks = Vec::new();
    for q in &walks {
        let rows = run(c, q)?;
        ranks.extend(rows.iter().map(|r| (r.get(3), Rank::new(r.get(0), r.get(1), r.get(2)))));
    }
    let descending = sort == Sort::PriceDesc;
    Ok(Some(preciso_core::query::merge_by_price(ranks, descending, page)))
}

/// A rating-sorted page from a walk of the currency's rating order (`reads::rating_walk`);
/// `None`: rank by sorting (another sort, or the walk's budget ran out before the page was
/// full).
fn rating_walk(
    c: &mut PgConn,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
) -> Result<Option<Vec<Rank>>, StoreError> {
    let Some(walk) = reads::rating_walk(filter, sort, page, who.preferences, "offers o") else {
        return Ok(None);
    };
    let ranks: Vec<Rank> =
        run(c, &walk.page)?.iter().map(|r| Rank::new(r.get(0), r.get(1), r.get(2))).collect();
    let complete =
        ranks.len() == page.limit as usize || count(c, &walk.currency_offers)? <= walk.budget;
    Ok(complete.then_some(ranks))
}

/// A filtered date-sorted page along the kept newest offers (`reads::recent_walk`), where the
/// walk is expected to be cheaper than sorting the matches and gives the whole page.
fn recent_walk(
    c: &mut PgConn,
    filter: &OfferFilter,
    sort: Sort,
    page: PageRequest,
    who: Personalization<'_>,
    total: MatchCount,
) -> Result<Option<Vec<Rank>>, StoreError> {
    let Some(walk) = reads::recent_walk(filter, sort, page, who.preferences) else {
        return Ok(None);
    };
    if !walk.suits(total, count(c, &walk.drawn_from)?, count(c, &walk.kept)?) {
        return Ok(None);
    }
    let ranks: Vec<Rank> =
        run(c, &walk.page)?.iter().map(|r| Rank::new(r.get(0), r.get(1), r.get(2))).collect();
    Ok(preciso_core::market::recent_walk_complete(ranks.len(), page, total).then_some(ranks))
}

impl CatalogRead for PgCatalog {
    fn list_offers(
        &self,
        filter: &OfferFilter,
        sort: Sort,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<ScoredOffer>, StoreError> {
        let (ranked, total) = reads::list_offers(filter, sort, page, who.preferences, "offers o");
        self.with_client(|c| {
            // Counted first: how many match decides how the value ranking reads them.
            let total = total_of(c, &total)?;
            let rank = |rows: Vec<Row>| -> Vec<Rank> {
                rows.iter().map(|r| Rank::new(r.get(0), r.get(1), r.get(2))).collect()
            };
            // A page past the last match is empty: not ranked (PostgreSQL, misjudging how few
            // offers a price bound leaves in a currency, sorted a third of them to find none).
            if total.ends_before(page.offset()) {
                return Ok(Page::counted(Vec::new(), page, total));
            }
            let listed = reads::listed_page(filter, sort, page, who.preferences);
            let ranks: Vec<Rank> = match listed.map(|q| run(c, &q).map(rank)).transpose()? {
                // No rows: the summary is stale or the page is past the list's last offer.
                Some(ranks) if !ranks.is_empty() => ranks,
                _ => match value_ranks(c, filter, sort, page, who, total.at_least())? {
                    Some(ranks) => ranks,
                    None => match price_by_keys(c, filter, sort, page, who)? {
                        Some(ranks) => ranks,
                        None => match rating_walk(c, filter, sort, page, who)? {
                            Some(ranks) => ranks,
                            None => match recent_walk(c, filter, sort, page, who, total)? {
                                Some(ranks) => ranks,
                                None => rank(run(c, &ranked)?),
                            },
                        },
                    },
                },
            };
            let ids: Vec<i64> = ranks.iter().map(|r| r.id).collect();
            let loaded = offers(c, &reads::offers_by_ids(&ids))?;
            let items = preciso_core::query::in_rank_order(ranks, loaded);
            Ok(Page::counted(items, page, total))
        })
    }

    fn best_prices(
        &self,
        filter: &OfferFilter,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<BestOffer>, StoreError> {
        if let Some((scope, currency)) = preciso_core::best::summary_scope(filter, who.preferences)
        {
            let (rows, total) = preciso_sql::best::page(scope, currency, page);
            return self.with_client(|c| {
                let items = run(c, &rows)?
                    .iter()
                    .map(|r| {
                        let offers_for_product =
                            r.try_get::<_, i64>("offers_for_product").map_err(backend)? as u64;
                        Ok(BestOffer {
                            offer: offer_from_row(&PgRow(r))?,
                            offers_for_product,
                            preferred: false,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(Page::new(items, page, count(c, &total)?))
            });
        }
        let q = reads::best_prices(filter, who.preferences, reads::BEST_PASS_IDS, "offers o", None);
        let wanted = page.depth() as usize;
        let personalized = q.passes.len() == 2;
        self.with_client(|c| {
            let mut seen: HashSet<i64> = HashSet::new();
            // The offers chosen, as ids: only the page's are loaded, at the end.
            let mut chosen: Vec<(i64, bool)> = Vec::new();
            // Whether the pass read every match (then `seen` holds every product: the total).
            let mut exhausted = false;
            for (pass, pq) in q.passes.iter().enumerate() {
                let preferred = personalized && pass == 0;
                let mut keep = |r: &Row| {
                    let (id, product): (i64, i64) = (r.get("id"), r.get("product_id"));
                    if seen.insert(product) {
                        chosen.push((id, preferred));
                    }
                    chosen.len() >= wanted
                };
                // PostgreSQL plans a protocol portal to return every row: for a store's or a
                // price range's offers it sorted all of them (44k: 280 ms) to hand out the
                // first. A LIMIT makes it plan for the first rows (5 ms); the rest streams
                // through a portal only when those did not fill the page.
                let first = reads::first_rows(wanted);
                let walks = match (&filter.category, personalized) {
                    (Some(category), false) => {
                        let keys = category_keys(c, category)?;
                        reads::best_prices_by_keys(filter, who.preferences, &keys, first)
                    }
                    _ => None,
                };
                let rows = run(c, &walks.unwrap_or_else(|| pq.with_limit(first)))?;
                let filled = rows.iter().any(&mut keep);
                if filled || rows.len() < first {
                    exhausted = !filled;
                    continue;
                }
                let rest = pq.with_offset(first);
                let mut tx = c.transaction().map_err(backend)?;
                let params = bind(&rest.params);
                let portal = tx.bind(&numbered(&rest.sql), &refs(&params)).map_err(backend)?;
                for batch in portal_batches() {
                    let rows = tx.query_portal(&portal, batch).map_err(backend)?;
                    if rows.is_empty() {
                        exhausted = true;
                        break;
                    }
                    if rows.iter().any(&mut keep) {
                        break;
                    }
                }
                tx.commit().map_err(backend)?;
            }
            let on_page: Vec<(i64, bool)> =
                chosen.into_iter().skip(page.offset() as usize).collect();
            let ids: Vec<i64> = on_page.iter().map(|(id, _)| *id).collect();
            let loaded =
                if ids.is_empty() { Vec::new() } else { offers(c, &reads::offers_by_ids(&ids))? };
            let page_items = preciso_core::query::in_id_order(on_page, loaded);
            let products: Vec<i64> =
                page_items.iter().map(|(o, _)| o.product_id.as_i64()).collect();
            let counts = if products.is_empty() {
                Default::default()
            } else {
                run(c, &q.per_products(&products))?.iter().map(|r| (r.get(0), r.get(1))).collect()
            };
            let items = preciso_core::best::with_counts(page_items, &counts);
            // A pass that read every match counted its products already: no count to run (one
            // planned on a misjudged price range walked a whole index, docs/BENCHMARKS.md).
            let total = if exhausted && !personalized {
                MatchCount { total: seen.len() as u64, exact: true }
            } else {
                total_of(c, &q.total)?
            };
            Ok(Page::counted(items, page, total))
        })
    }

    fn offer(&self, id: OfferId) -> Result<Option<OfferView>, StoreError> {
        self.with_client(|c| Ok(offers(c, &reads::offer_by_id(id.as_i64()))?.pop()))
    }

    fn offer_history(&self, id: OfferId) -> Result<Vec<HistoryPoint>, StoreError> {
        self.with_client(|c| {
            run_cached(c, &reads::offer_history(id.as_i64()))?
                .iter()
                .map(|r| {
                    let cur = currency(r.get(3))?;
                    Ok(HistoryPoint {
                        observed_at: r.get(0),
                        price: Money::new(r.get(1), cur),
                        list_price: r.get::<_, Option<i64>>(2).map(|m| Money::new(m, cur)),
                        availability: Availability::from_db(r.get(4)),
                    })
                })
                .collect()
        })
    }

    fn product_offers(&self, product: ProductId) -> Result<Vec<OfferView>, StoreError> {
        self.with_client(|c| offers(c, &reads::product_offers(product.as_i64())))
    }

    fn product_by_gtin(&self, gtin: &Gtin) -> Result<Option<ProductId>, StoreError> {
        self.with_client(|c| {
            Ok(run_cached(c, &reads::product_by_gtin(gtin))?
                .first()
                .map(|r| ProductId::from_i64(r.get(0))))
        })
    }

    fn search_products(
        &self,
        q: &str,
        limit: u32,
    ) -> Result<Vec<(ProductId, String, u64)>, StoreError> {
        let Some((sql, mut params)) = matches(q, "id, title, offers", reads::SEARCH_CANDIDATES)
        else {
            return Ok(Vec::new());
        };
        params.push(Param::Int(i64::from(limit)));
        // Ranked by the counts on the products' rows (migration 0046), read with the matches;
        // while a run's marks wait for their refresh they may be behind, and no row comes back:
        // then each candidate's offers are counted, as when nothing matches.
        let stored = Query { sql: stored_ranking(&sql), params: params.clone() };
        let counted = Query { sql: reads::search_ranked(&sql), params };
        self.with_client(|c| {
            let mut rows = run(c, &stored)?;
            if rows.is_empty() {
                rows = run(c, &counted)?;
            }
            Ok(rows
                .iter()
                .map(|r| (ProductId::from_i64(r.get(0)), r.get(1), r.get::<_, i64>(2) as u64))
                .collect())
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
        self.with_client(|c| {
            let (ids, more) = candidates(c, q)?;
            if ids.is_empty() {
                return Ok(preciso_core::best::search_page(Vec::new(), Vec::new(), 0, false, page));
            }
            // An array, not `IN (subquery)`: the planner misjudged a store's share of the
            // offers (10.6k for 49k) and hashed all of them against the matches (28 ms against
            // 17 at 1M).
            let params = vec![array_list(&ids)];
            // Unnested in a subquery: a constant array of 2,000 was estimated element by
            // element at planning (3.3 against 2.7 ms for the summary's statement).
            let list = "ANY(ARRAY(SELECT unnest(CAST(CAST(? AS text) AS bigint[]))))";
            let summary = summary.map(|(scope, currency)| {
                let matched = format!("b.product_id = {list}");
                reads::search_best(&matched, params.clone(), scope, currency)
            });
            let from_offers =
                reads::search_offers(&format!("o.product_id = {list}"), params, filter);
            let best: Vec<(i64, i64, u64)> = match &summary {
                Some(q) => run(c, q)?
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2).max(0) as u64))
                    .collect(),
                None => Vec::new(),
            };
            // No rows from the summary: no candidate is sold in its scope and currency, or a
            // refresh is pending.
            let (picked, total) = if !best.is_empty() {
                preciso_core::best::products_page(best, descending, page)
            } else {
                let rows: Vec<(i64, i64, i64)> =
                    run(c, &from_offers)?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
                preciso_core::best::cheapest_per_product(&rows, descending, page)
            };
            let ids: Vec<i64> = picked.iter().map(|(id, _)| *id).collect();
            let loaded = offers(c, &reads::offers_by_ids(&ids))?;
            Ok(preciso_core::best::search_page(picked, loaded, total, more, page))
        })
    }

    fn trending(
        &self,
        since: i64,
        filter: &OfferFilter,
        page: PageRequest,
    ) -> Result<Page<TrendingOffer>, StoreError> {
        self.with_client(|c| {
            // An empty window (stale scrapes), or a page past the last, answers from the count
            // alone.
            let total = total_of(c, &reads::trending_count(since, filter))?;
            if total.ends_before(page.offset()) {
                return Ok(Page::counted(Vec::new(), page, total));
            }
            // Dense matches of a filter are walked down the rank a little way (a prefix of
            // it holds the page); kept when it held the page's rows, else sorted (left to the
            // planner, which sorted them all: a leaf's 90 days, 2.5 ms at 1M, 4 at 3M).
            if let (Some(_), Some(rows)) = (reads::drop_filter_index(filter), total.rows_on(page)) {
                // Every drop's count: one statement, prepared once (a statement planned anew
                // cost a store's page at 1M a fifth more than its sort saved).
                let all =
                    run_cached(c, &reads::trending_count(0, &OfferFilter::default()).query())?;
                let all = all.first().map_or(u64::MAX, |r| r.get::<_, i64>(0) as u64);
                let walk = ranking::drop_walk(page.depth(), total.total, all);
                if let Some(walk) = walk {
                    let walked = reads::trending_walk(since, filter, page, walk);
                    let items = trending_rows(c, &walked, true)?;
                    if items.len() as u64 == rows {
                        return Ok(Page::counted(items, page, total));
                    }
                }
            }
            let rows = reads::trending_page(since, filter, page, "offer_drops o", None);
            Ok(Page::counted(trending_rows(c, &rows, false)?, page, total))
        })
    }

    fn currencies(&self, scope: &str) -> Result<Vec<CurrencyCount>, StoreError> {
        let q = Query {
            sql: preciso_sql::best::SCOPE_CURRENCIES.into(),
            params: vec![preciso_sql::text(scope)],
        };
        self.with_client(|c| {
            let rows = run_cached(c, &q)?;
            let counts: Result<Vec<_>, _> =
                rows.iter().map(|r| preciso_sql::currency_count_from_row(&PgRow(r))).collect();
            Ok(counts?.into_iter().flatten().collect())
        })
    }

    fn price_span(&self, path: &str, currency: Currency) -> Result<Option<(i64, i64)>, StoreError> {
        self.with_client(|c| {
            let sql = numbered(preciso_sql::price_analysis::SPAN);
            let rows = c.query_cached(&sql, &[&path, &currency.code()])?;
            Ok(rows.first().map(|r| (r.get(0), r.get(1))))
        })
    }

    fn price_analysis(
        &self,
        path: &str,
        currency: Currency,
    ) -> Result<Option<CategoryAnalysis>, StoreError> {
        use preciso_sql::price_analysis::{READ, assemble, part_from_row};
        let parts = self.with_client(|c| {
            let rows = c.query_cached(&numbered(READ), &[&path, &currency.code()])?;
            rows.iter().map(|r| part_from_row(&PgRow(r))).collect::<Result<Vec<_>, _>>()
        })?;
        assemble(path, currency, parts)
    }

    fn store_market(
        &self,
        currency: Currency,
        seen_since_hour: i64,
    ) -> Result<Vec<StoreStanding>, StoreError> {
        let mut store_id = store_ids();
        self.with_client(|c| {
            let sql = numbered(preciso_sql::market::STORE_MARKET);
            let rows = c.query(&sql, &[&seen_since_hour, &currency.code()]).map_err(backend)?;
            rows.iter()
                .map(|r| {
                    let n = |i: usize| r.get::<_, i64>(i).max(0) as u64;
                    Ok(StoreStanding {
                        store: store_id(r.get(0))?,
                        offers: n(1),
                        categories: n(2),
                        price_index: r.get::<_, Option<i64>>(3).map(|c| c as f64 / 100.0),
                        compared: n(4),
                        cheapest: n(5),
                        last_seen: r.get(6),
                        fresh: n(7),
                    })
                })
                .collect()
        })
    }

    fn brands(&self, limit: u32) -> Result<Vec<BrandCount>, StoreError> {
        self.with_client(|c| {
            let rows = c
                .query(&numbered(preciso_sql::market::BRANDS), &[&i64::from(limit)])
                .map_err(backend)?;
            Ok(rows
                .iter()
                .map(|r| BrandCount {
                    brand: r.get(0),
                    offers: r.get::<_, i64>(1) as u64,
                    products: r.get::<_, i64>(2) as u64,
                })
                .collect())
        })
    }

    fn categories(&self) -> Result<Vec<CategoryCount>, StoreError> {
        self.with_client(|c| {
            let rows = c.query(preciso_sql::market::CATEGORIES, &[]).map_err(backend)?;
            Ok(rows
                .iter()
                .map(|r| CategoryCount {
                    category: r.get(0),
                    key: r.get(1),
                    offers: r.get::<_, i64>(2) as u64,
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use preciso_core::testing::Fixture;

    /// A catalog in a database of its own holding three fixture offers (`a`, `b`, `c`); `None`
    /// without a PostgreSQL to test against.
    fn three_offers(
        name: &str,
    ) -> Option<(crate::testing::TempDb, PgCatalog, Vec<preciso_core::domain::Offer>)> {
        let db = crate::testing::TempDb::create(name)?;
        let catalog = PgCatalog::open(&db.url).unwrap();
        let offers: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|sku| Fixture { sku, ..Default::default() }.offer())
            .collect();
        preciso_core::testing::apply(&catalog, "day", &offers);
        Some((db, catalog, offers))
    }

    /// The fixtures' category in pesos from `min_price` up.
    fn hogar_from(min_price: &str) -> OfferFilter {
        OfferFilter {
            currency: Currency::parse("COP").ok(),
            min_price: preciso_core::query::Decimal::parse(min_price),
            category: Some("hogar".into()),
            ..Default::default()
        }
    }

    /// Listing statements are prepared for each execution, so PostgreSQL plans each for its
    /// category, brand or price bound (a cached one may settle on a generic plan after five
    /// runs); lookups by id or product stay in the connection's statement cache.
    #[test]
    fn listings_are_planned_for_their_values_and_lookups_stay_cached() {
        let Some((_db, catalog, offers)) = three_offers("read") else { return };
        let filter = hogar_from("1");
        for _ in 0..6 {
            let who = Personalization::default();
            catalog.list_offers(&filter, Sort::Value, PageRequest::default(), who).unwrap();
            catalog.best_prices(&filter, PageRequest::default(), who).unwrap();
            catalog.product_offers(offers[0].product_id).unwrap();
        }
        let cached: Vec<String> =
            catalog.with_client(|c| Ok(c.statements.keys().cloned().collect())).unwrap();
        assert!(cached.iter().any(|s| s.contains("WHERE o.product_id = $1")), "{cached:?}");
        assert!(!cached.iter().any(|s| s.contains("count(*) FROM (SELECT")), "{cached:?}");
        assert!(!cached.iter().any(|s| s.contains("o.price_minor >=")), "{cached:?}");
    }

    /// Along the discount index, a category's discount-sorted page tests the category and the
    /// price bound on the index and reads only the rows it keeps (migration 0042). Before, it
    /// read every walked offer's row to test its category, and PostgreSQL, whose sample put a
    /// top-level category's 92k offers with a price bound at 41k, sorted them all for page 50
    /// instead (44–66 ms at 1M; the walk 4–8 ms).
    #[test]
    fn a_categorys_discount_walk_tests_the_category_on_the_index() {
        let Some((db, _catalog, _)) = three_offers("discount_walk") else { return };
        let filter = hogar_from("100");
        let page = PageRequest { page: 50, limit: 20 };
        let (q, _) = reads::list_offers(&filter, Sort::Discount, page, None, "offers o");
        let mut client = crate::connect(&db.url).unwrap();
        // The walk, whatever three offers' statistics would make of it.
        client
            .batch_execute(
                "SET enable_sort = off; SET enable_seqscan = off; SET enable_bitmapscan = off",
            )
            .unwrap();
        let params = bind(&q.params);
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN (VERBOSE) {}", numbered(&q.sql)), &refs(&params))
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let walk = plan.iter().position(|l| l.contains("using offers_discount")).expect("walk");
        let tested = &plan[walk + 2];
        assert!(tested.trim_start().starts_with("Index Cond:"), "{plan:#?}");
        assert!(
            tested.contains("category_key >=") && tested.contains("price_minor >="),
            "{tested}"
        );
    }

    /// A portal walk asks for few rows first and grows its batches to a bound.
    #[test]
    fn portal_batches_double_from_256_up_to_4096() {
        let sizes: Vec<i32> = super::portal_batches().take(7).collect();
        assert_eq!(sizes, [256, 512, 1024, 2048, 4096, 4096, 4096]);
    }
}
