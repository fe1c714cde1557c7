//! One product across stores: the product, its offers in one currency and their spread.

use super::Money;
use super::offers::Offer;
use preciso_core::domain::{Currency, OfferId, ProductId, StoreId};
use preciso_core::query::CurrencyCount;
use serde::Serialize;
use utoipa::ToSchema;

/// The product compared.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductInfo {
    pub id: ProductId,
    pub title: String,
    pub brand: Option<String>,
    pub gtin: Option<String>,
    pub category: Option<String>,
}

/// The range of the product's prices in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Spread {
    pub currency: Currency,
    /// Offers in this currency.
    pub offers: u64,
    pub min: Money,
    pub max: Money,
    /// `max - min`.
    pub spread: Money,
    /// The spread in percent of `min`.
    pub spread_pct: f64,
    pub cheapest_store: StoreId,
    pub cheapest_offer_id: OfferId,
}

/// A product whose title or brand matched `q`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductMatch {
    pub product_id: ProductId,
    pub title: String,
    /// Its offers.
    pub offers: u64,
}

/// One product across stores: its offers in one currency, cheapest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comparison {
    /// The currency of `offers` and `spread` (null: none).
    pub currency: Option<Currency>,
    /// The currencies the product is sold in, most offers first.
    pub currencies: Vec<CurrencyCount>,
    pub product: ProductInfo,
    /// Stores with an offer in `currency`.
    pub stores: u64,
    pub spread: Vec<Spread>,
    pub offers: Vec<Offer>,
    /// With `q`: the products that matched, best first (the first is the one compared).
    pub matches: Vec<ProductMatch>,
}
