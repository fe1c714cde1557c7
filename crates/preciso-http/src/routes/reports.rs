//! Reports: store comparison across the market, and price statistics of one category.

use super::offers::money;
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use preciso_core::analysis::stats::{histogram, quantile, summarize_sorted};
use preciso_core::domain::{Currency, Money};
use preciso_core::ports::StoreOfferRow;
use preciso_core::query::{CategoryPrices, PricedRow};
use rustc_hash::FxHashMap;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Default)]
struct StoreAcc {
    offers: u64,
    categories: BTreeSet<String>,
    last_seen: i64,
    fresh: u64,
    ratios: Vec<f64>,
    cheapest: u64,
    compared: u64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Each store's lowest price per (product, currency), then each product with two or more
/// stores is one comparison: the store's price over the product's median across stores.
fn compare(rows: &[StoreOfferRow], now: i64) -> BTreeMap<String, StoreAcc> {
    let mut acc: BTreeMap<String, StoreAcc> = BTreeMap::new();
    let mut market: HashMap<(i64, Currency), BTreeMap<String, i64>> = HashMap::new();
    for r in rows {
        let a = acc.entry(r.store.to_string()).or_default();
        a.offers += 1;
        if let Some(k) = &r.category_key {
            a.categories.insert(k.clone());
        }
        a.last_seen = a.last_seen.max(r.last_seen);
        a.fresh += u64::from(r.last_seen >= now - 86_400);
        let best = market
            .entry((r.product_id.as_i64(), r.currency))
            .or_default()
            .entry(r.store.to_string())
            .or_insert(r.price_minor);
        *best = (*best).min(r.price_minor);
    }
    for stores in market.values().filter(|s| s.len() >= 2) {
        let mut prices: Vec<i64> = stores.values().copied().collect();
        prices.sort_unstable();
        let median = quantile(&prices, 0.5).unwrap_or(1).max(1) as f64;
        let min = prices[0];
        for (store, &p) in stores {
            let a = acc.entry(store.clone()).or_default();
            a.ratios.push(p as f64 / median);
            a.compared += 1;
            a.cheapest += u64::from(p == min);
        }
    }
    acc
}

pub async fn store_comparison(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    let now = chrono::Utc::now().timestamp();
    let requested = crate::currency::requested(&q)?;
    let default = state.config.default_currency;
    // The whole market's rows in the report's currency, read and folded on a heavy thread.
    let (currency, currencies, accs) = state
        .db_heavy(move |c| {
            let (currency, currencies) = crate::currency::choose(c, default, requested, "")?;
            let mut rows = c.store_offer_rows()?;
            rows.retain(|r| Some(r.currency) == currency);
            Ok((currency, currencies, compare(&rows, now)))
        })
        .await?;
    let stores: Vec<Value> = accs
        .into_iter()
        .map(|(store, mut a)| {
            a.ratios.sort_by(f64::total_cmp);
            let index = (!a.ratios.is_empty()).then(|| round2(a.ratios[a.ratios.len() / 2] * 100.0));
            json!({
                "store": store,
                "offers": a.offers,
                "categories": a.categories.len(),
                "price_index": index,
                "compared_products": a.compared,
                "cheapest_share": if a.compared > 0 { round2(a.cheapest as f64 / a.compared as f64) } else { 0.0 },
                "last_seen": a.last_seen,
                "fresh_share_24h": if a.offers > 0 { round2(a.fresh as f64 / a.offers as f64) } else { 0.0 },
            })
        })
        .collect();
    Ok(Json(json!({
        "currency": currency,
        "currencies": currencies,
        "generated_at": now,
        "price_index_definition": "median over the store's products sold by 2+ stores of (store price / median price across stores) x 100; 100 = market level, below is cheaper",
        "stores": stores,
    })))
}

fn group_stats(prices: &mut [i64], currency: Currency) -> Value {
    prices.sort_unstable();
    let Some(s) = summarize_sorted(prices) else { return Value::Null };
    let m = |v: i64| money(&Money::new(v, currency));
    json!({
        "count": s.count, "min": m(s.min), "max": m(s.max), "mean": m(s.mean), "median": m(s.median),
        "p10": m(s.p10), "p25": m(s.p25), "p75": m(s.p75), "p90": m(s.p90), "std_dev": m(s.std_dev),
    })
}

fn breakdown<'r>(
    rows: &[&'r PricedRow],
    key: impl Fn(&'r PricedRow) -> &'r str,
    currency: Currency,
) -> Vec<Value> {
    // Hashed while grouping (a lookup per row), sorted once by name for the response.
    let mut groups: FxHashMap<&str, Vec<i64>> = FxHashMap::default();
    for r in rows {
        groups.entry(key(r)).or_default().push(r.price_minor);
    }
    let mut groups: Vec<(&str, Vec<i64>)> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|(name, _)| *name);
    groups
        .into_iter()
        .map(|(name, mut prices)| json!({ "name": name, "stats": group_stats(&mut prices, currency) }))
        .collect()
}

pub async fn price_analysis(
    State(state): State<AppState>,
    PathParam(category): PathParam,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    let key = crate::params::category_path(&category)?;
    let bins = q.int("bins", 1, 100)?.unwrap_or(10) as usize;
    let requested = crate::currency::requested(&q)?;
    let default = state.config.default_currency;
    let lookup = key.clone();
    // Reading and summarizing a category run together on a heavy thread: the rows never
    // outlive the computation.
    let (currency, currencies, summary) = state
        .db_heavy(move |c| {
            let (currency, currencies) = crate::currency::choose(c, default, requested, &lookup)?;
            let prices = c.category_prices(&lookup)?;
            if prices.rows.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "no offers in category {lookup:?} (see /api/categories)"
                )));
            }
            Ok((currency, currencies, currency.map(|cur| summarize_category(&prices, cur, bins))))
        })
        .await?;
    let mut body = summary.unwrap_or_else(|| json!({ "offers": 0 }));
    body["category"] = json!(key);
    Ok(Json(crate::routes::offers::in_currency(body, currency, &currencies)))
}

/// Statistics, histogram and per-brand and per-store breakdowns of the category's offers in
/// `currency`.
fn summarize_category(data: &CategoryPrices, currency: Currency, bins: usize) -> Value {
    let group: Vec<&PricedRow> = data.rows.iter().filter(|r| r.currency == currency).collect();
    let mut prices: Vec<i64> = group.iter().map(|r| r.price_minor).collect();
    let stats = group_stats(&mut prices, currency);
    let hist: Vec<Value> = histogram(&prices, bins)
        .iter()
        .map(|b| json!({ "from": money(&Money::new(b.from, currency)), "to": money(&Money::new(b.to, currency)), "count": b.count }))
        .collect();
    json!({
        "offers": group.len(),
        "stats": stats,
        "histogram": hist,
        "by_brand": breakdown(&group, |r| data.brand(r).unwrap_or("(none)"), currency),
        "by_store": breakdown(&group, |r| data.store(r).as_str(), currency),
    })
}
