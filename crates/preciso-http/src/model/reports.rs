//! Reports: each store against the market, and a category's price statistics.

use super::Money;
use preciso_core::domain::{Currency, StoreId};
use preciso_core::query::CurrencyCount;
use serde::Serialize;
use utoipa::ToSchema;

/// One store against the market, in the report's currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreReport {
    pub store: StoreId,
    /// Offers in the report's currency.
    pub offers: u64,
    /// Distinct categories of those offers.
    pub categories: u64,
    /// See `price_index_definition`; null when no product is sold by another store too.
    pub price_index: Option<f64>,
    /// Products it sells that 2+ stores sell.
    pub compared_products: u64,
    /// Share of those where it is (one of) the cheapest, 0–1.
    pub cheapest_share: f64,
    /// Unix seconds of its newest observation.
    pub last_seen: i64,
    /// Share of its offers seen in the last 24 hours (to the hour: offers seen in the hour
    /// that began 24 hours ago count), 0–1.
    pub fresh_share_24h: f64,
}

/// The per-store report of the whole market in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreComparison {
    pub currency: Option<Currency>,
    pub currencies: Vec<CurrencyCount>,
    /// Unix seconds.
    pub generated_at: i64,
    pub price_index_definition: String,
    pub stores: Vec<StoreReport>,
}

/// Price statistics of a group of offers in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceStats {
    pub count: u64,
    pub min: Money,
    pub max: Money,
    pub mean: Money,
    pub median: Money,
    pub p10: Money,
    pub p25: Money,
    pub p75: Money,
    pub p90: Money,
    pub std_dev: Money,
}

/// One histogram bin: prices from `from` up to `to`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistogramBin {
    pub from: Money,
    pub to: Money,
    pub count: u64,
}

/// The statistics of one brand or store of the category.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupStats {
    /// The brand (`(none)` for offers without one) or the store.
    pub name: String,
    pub stats: Option<PriceStats>,
}

/// Price statistics of a category in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceAnalysis {
    /// The category key.
    pub category: String,
    pub currency: Option<Currency>,
    pub currencies: Vec<CurrencyCount>,
    /// Offers of the category in `currency`.
    pub offers: u64,
    /// Null when the category has no offers in `currency`.
    pub stats: Option<PriceStats>,
    pub histogram: Vec<HistogramBin>,
    pub by_brand: Vec<GroupStats>,
    pub by_store: Vec<GroupStats>,
}
