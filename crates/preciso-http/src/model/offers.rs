//! Offers as the API shows them: one offer, the cheapest per product, ranked by value, real
//! price drops, and an offer's price history.

use super::{Money, listing_page, round2};
use preciso_core::domain::{Availability, Currency, OfferId, ProductId, Rating, StoreId};
use preciso_core::ports::{BestOffer as Best, ScoredOffer, TrendingOffer as Drop};
use preciso_core::query::{CurrencyCount, HistoryPoint, OfferView};
use serde::Serialize;
use utoipa::ToSchema;

/// One store's current listing of a product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Offer {
    pub id: OfferId,
    pub store: StoreId,
    pub product_id: ProductId,
    /// The store's own code for the listing.
    pub sku: Option<String>,
    pub title: String,
    pub brand: Option<String>,
    /// Category path, segments joined by ` > `.
    pub category: Option<String>,
    /// GTIN/EAN/UPC, digits only.
    pub gtin: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub price: Money,
    /// The "before" price the store claims.
    pub list_price: Option<Money>,
    /// The price before the latest change, if it changed.
    pub previous_price: Option<Money>,
    pub availability: Availability,
    pub rating: Option<Rating>,
    pub review_count: Option<u32>,
    /// Unix seconds: first and latest observation, latest price change.
    pub first_seen: i64,
    pub last_seen: i64,
    pub price_changed_at: i64,
    /// Discount versus the list price, percent (0 without one).
    pub discount_pct: f64,
}

impl From<&OfferView> for Offer {
    fn from(o: &OfferView) -> Self {
        Offer::from(o.clone())
    }
}

/// Moves the offer's text into the response (a comparison's offers are not needed after).
impl From<OfferView> for Offer {
    fn from(o: OfferView) -> Self {
        Offer {
            discount_pct: round2(o.discount_pct()),
            id: o.id,
            store: o.store,
            product_id: o.product_id,
            sku: o.sku,
            title: o.title,
            brand: o.brand,
            category: o.category,
            gtin: o.gtin,
            url: o.url,
            image_url: o.image_url,
            price: o.price.into(),
            list_price: o.list_price.map(Money::from),
            previous_price: o.previous_price.map(Money::from),
            availability: o.availability,
            rating: o.rating,
            review_count: o.review_count,
            first_seen: o.first_seen,
            last_seen: o.last_seen,
            price_changed_at: o.price_changed_at,
        }
    }
}

/// The cheapest current offer of one product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BestOffer {
    #[serde(flatten)]
    pub offer: Offer,
    /// Offers of this product that matched the filters.
    pub offers_for_product: u64,
    /// From a store or brand the user prefers (with `user_id`).
    pub preferred: bool,
}

impl From<&Best> for BestOffer {
    fn from(b: &Best) -> Self {
        BestOffer {
            offer: (&b.offer).into(),
            offers_for_product: b.offers_for_product,
            preferred: b.preferred,
        }
    }
}

/// An offer with its value score (0–100; the API description gives the formula).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedOffer {
    #[serde(flatten)]
    pub offer: Offer,
    pub value_score: f64,
    /// Median current price of the offer's category in its currency.
    pub category_median: Option<Money>,
}

impl From<&ScoredOffer> for RankedOffer {
    fn from(s: &ScoredOffer) -> Self {
        RankedOffer {
            offer: (&s.offer).into(),
            value_score: s.value_score,
            category_median: s.category_median.map(|m| Money::new(m, s.offer.price.currency)),
        }
    }
}

/// An offer whose current price is a real drop from its usual price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendingOffer {
    #[serde(flatten)]
    pub offer: Offer,
    /// The usual price before the drop.
    pub reference_price: Money,
    /// The drop in percent of the reference price.
    pub drop_pct: f64,
    /// Unix seconds.
    pub dropped_at: i64,
}

impl From<&Drop> for TrendingOffer {
    fn from(d: &Drop) -> Self {
        TrendingOffer {
            offer: (&d.offer).into(),
            reference_price: Money::new(d.reference_minor, d.offer.price.currency),
            drop_pct: d.drop_bp as f64 / 100.0,
            dropped_at: d.dropped_at,
        }
    }
}

listing_page!(
    /// A page of best offers, one per product, cheapest first.
    BestOfferPage of BestOffer
);
impl BestOfferPage {
    /// A page of the store's best offers in `currency`, with the scope's currencies.
    pub fn new(
        page: preciso_core::query::Page<Best>,
        currency: Option<Currency>,
        currencies: Vec<CurrencyCount>,
    ) -> Self {
        BestOfferPage {
            items: page.items.iter().map(Into::into).collect(),
            page: page.page,
            limit: page.limit,
            total: page.total,
            total_exact: page.total_exact,
            currency,
            currencies,
        }
    }
}

listing_page!(
    /// A page of offers ranked by value score (or the requested sort).
    RankedOfferPage of RankedOffer
);

/// A page of the largest real drops over `days`. Drops are ranked by percentage, so currencies
/// mix unless the request names one (`currency` is then null).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendingPage {
    pub items: Vec<TrendingOffer>,
    pub page: u32,
    pub limit: u32,
    /// Drops over all pages (see `total_exact`).
    pub total: u64,
    /// False when more items match than a listing counts (10,000, the deepest page
    /// it ranks): `total` is then a lower bound. True for totals a summary keeps.
    pub total_exact: bool,
    /// The requested currency, or null when drops of every currency are listed.
    pub currency: Option<Currency>,
    /// The currencies of the scope, most offers first.
    pub currencies: Vec<CurrencyCount>,
    /// The window, in days.
    pub days: i64,
}

/// One row of price history, written when price, list price or availability changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PricePoint {
    /// Unix seconds.
    pub observed_at: i64,
    pub price: Money,
    pub list_price: Option<Money>,
    pub availability: Availability,
}

impl From<&HistoryPoint> for PricePoint {
    fn from(p: &HistoryPoint) -> Self {
        PricePoint {
            observed_at: p.observed_at,
            price: p.price.into(),
            list_price: p.list_price.map(Money::from),
            availability: p.availability,
        }
    }
}

/// An offer and its price history, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferHistory {
    pub offer: Offer,
    pub history: Vec<PricePoint>,
}
