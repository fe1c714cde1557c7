//! Reports: store comparison across the market, and price statistics of one category.

use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::model::error::ErrorBody;
use crate::model::reports::{
    GroupStats, HistogramBin, PriceAnalysis, PriceStats, StoreComparison, StoreReport,
};
use crate::model::{Money, round2};
use crate::params::{BinsParam, CategoryPath, CurrencyParam};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use preciso_core::analysis::category::{CategoryAnalysis, NamedStats};
use preciso_core::analysis::stats::PriceStats as CoreStats;
use preciso_core::domain::Currency;
use preciso_core::market::StoreStanding;

/// Per-store report in one currency: offers, categories, price index, cheapest share,
/// freshness.
#[utoipa::path(
    get,
    path = "/api/reports/store-comparison",
    operation_id = "store_comparison",
    tag = "reports",
    params(CurrencyParam),
    responses((status = 200, description = "The report.", body = StoreComparison))
)]
pub async fn store_comparison(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<StoreComparison>> {
    let now = chrono::Utc::now().timestamp();
    let requested = crate::currency::requested(&q)?;
    let default = state.config.default_currency;
    // The market summary's rows of the report's currency (refreshed by every ingest run).
    let since_hour = (now - 86_400).div_euclid(3_600);
    let (currency, currencies, standings) = state
        .db(move |c| {
            let (currency, currencies) = crate::currency::choose(c, default, requested, "")?;
            let standings = match currency {
                Some(cur) => c.store_market(cur, since_hour)?,
                None => Vec::new(),
            };
            Ok((currency, currencies, standings))
        })
        .await?;
    Ok(Json(StoreComparison {
        currency,
        currencies,
        generated_at: now,
        price_index_definition: PRICE_INDEX.into(),
        stores: standings.into_iter().map(store_report).collect(),
    }))
}

const PRICE_INDEX: &str = "median over the store's products sold by 2+ stores of (store price / median price across stores) x 100; 100 = market level, below is cheaper";

fn store_report(s: StoreStanding) -> StoreReport {
    let share = |part: u64, whole: u64| {
        if whole > 0 { round2(part as f64 / whole as f64) } else { 0.0 }
    };
    StoreReport {
        offers: s.offers,
        categories: s.categories,
        price_index: s.price_index,
        compared_products: s.compared,
        cheapest_share: share(s.cheapest, s.compared),
        last_seen: s.last_seen,
        fresh_share_24h: share(s.fresh, s.offers),
        store: s.store,
    }
}

fn money_stats(s: &CoreStats, currency: Currency) -> PriceStats {
    let m = |v: i64| Money::new(v, currency);
    PriceStats {
        count: s.count,
        min: m(s.min),
        max: m(s.max),
        mean: m(s.mean),
        median: m(s.median),
        p10: m(s.p10),
        p25: m(s.p25),
        p75: m(s.p75),
        p90: m(s.p90),
        std_dev: m(s.std_dev),
    }
}

/// Price statistics of a category in one currency.
#[utoipa::path(
    get,
    path = "/api/reports/price-analysis/{*category}",
    operation_id = "price_analysis",
    tag = "reports",
    params(CategoryPath, CurrencyParam, BinsParam),
    responses(
        (status = 200, description = "Statistics, histogram, per-brand and per-store breakdown.", body = PriceAnalysis),
        (status = 404, description = "No offers in the category.", body = ErrorBody),
    )
)]
pub async fn price_analysis(
    State(state): State<AppState>,
    PathParam(category): PathParam,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<PriceAnalysis>> {
    let key = crate::params::category_path(&category)?;
    let bins = q.int("bins", 1, 100)?.unwrap_or(10) as usize;
    let requested = crate::currency::requested(&q)?;
    let default = state.config.default_currency;
    let lookup = key.clone();
    // The analysis is the market summary's (rebuilt at the end of every ingest run): one
    // path's rows, not its offers.
    let (currency, currencies, summary) = state
        .db(move |c| {
            let (currency, currencies) = crate::currency::choose(c, default, requested, &lookup)?;
            let stored = match currency {
                Some(cur) => c.price_analysis(&lookup, cur)?,
                None => None,
            };
            // No analysis in that currency is a 404 only when the category has no offer at all
            // (the market summary's category counts).
            if stored.is_none() && !crate::params::category_known(c, &lookup)? {
                return Err(ApiError::NotFound(format!(
                    "no offers in category {lookup:?} (see /api/categories)"
                )));
            }
            let analysis = match stored {
                Some(a) => analysis_body(&a, bins),
                None => empty_analysis(&lookup),
            };
            Ok((currency, currencies, analysis))
        })
        .await?;
    Ok(Json(PriceAnalysis { currency, currencies, ..summary }))
}

/// The analysis of a category with no currency to run in (no offers in scope, no default).
fn empty_analysis(category: &str) -> PriceAnalysis {
    PriceAnalysis {
        category: category.to_string(),
        currency: None,
        currencies: Vec::new(),
        offers: 0,
        stats: None,
        histogram: Vec::new(),
        by_brand: Vec::new(),
        by_store: Vec::new(),
    }
}

/// The response body of a stored analysis, its histogram in `bins` bins.
fn analysis_body(a: &CategoryAnalysis, bins: usize) -> PriceAnalysis {
    let currency = a.currency;
    let groups = |groups: &[NamedStats]| {
        groups
            .iter()
            .map(|g| GroupStats {
                name: g.name.clone(),
                stats: Some(money_stats(&g.stats, currency)),
            })
            .collect()
    };
    PriceAnalysis {
        category: a.path.clone(),
        currency: Some(currency),
        currencies: Vec::new(),
        offers: a.stats.count,
        stats: Some(money_stats(&a.stats, currency)),
        histogram: a
            .histogram(bins)
            .iter()
            .map(|b| HistogramBin {
                from: Money::new(b.from, currency),
                to: Money::new(b.to, currency),
                count: b.count,
            })
            .collect(),
        by_brand: groups(&a.by_brand),
        by_store: groups(&a.by_store),
    }
}
