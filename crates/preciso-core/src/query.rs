//! The read side's vocabulary: filters, sorting, pages and the views the API returns. Backends
//! translate these into their own queries; nothing here knows SQL.

use crate::domain::{Availability, Currency, Money, OfferId, ProductId, Rating, StoreId};

/// Sort orders of the `sort` parameter (docs/API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Cheapest first.
    #[default]
    Price,
    /// Most expensive first.
    PriceDesc,
    /// Best rated first.
    Rating,
    /// Most recently seen first.
    Date,
    /// Largest discount versus list price first.
    Discount,
    /// Highest value score first (see `value_score`).
    Value,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "price" => Sort::Price,
            "-price" => Sort::PriceDesc,
            "rating" => Sort::Rating,
            "date" => Sort::Date,
            "discount" => Sort::Discount,
            "value" => Sort::Value,
            _ => return None,
        })
    }

    pub const NAMES: &'static [&'static str] =
        &["price", "-price", "rating", "date", "discount", "value"];
}

/// Filters shared by the listing endpoints. Money is compared in one currency: with
/// `currency` set, only its offers match and the price bounds are in its major units; without
/// it (internal scans), each bound applies in every offer's own currency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferFilter {
    /// Only offers in this currency.
    pub currency: Option<Currency>,
    /// `category_key` prefix of whole segments.
    pub category: Option<String>,
    /// Case-insensitive brand name.
    pub brand: Option<String>,
    pub store: Option<StoreId>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    pub product: Option<ProductId>,
    /// A filter named nothing that exists (a store or category spelled without a letter or
    /// digit): no offer matches, as for an unknown store.
    pub unmatched: bool,
}

impl OfferFilter {
    /// The filter without the price bounds that every price from `lowest` to `highest` (minor
    /// units of its currency: the span of its category's offers) meets: a price slider left
    /// at an end narrows nothing, and a listing without bounds takes its total from the
    /// summaries instead of counting its matches. Unchanged without a currency, since the
    /// bounds then apply in each offer's own.
    pub fn without_met_bounds(&self, lowest: i64, highest: i64) -> OfferFilter {
        let Some(currency) = self.currency else { return self.clone() };
        let minor = |b: Decimal| b.bound_minor(currency);
        OfferFilter {
            min_price: self.min_price.filter(|&b| minor(b) > lowest),
            max_price: self.max_price.filter(|&b| minor(b) < highest),
            ..self.clone()
        }
    }

    /// Whether a price in minor units of the filter's currency meets its bounds (compared as
    /// the SQL compares them); `true` without a currency.
    pub fn admits_price(&self, minor: i64) -> bool {
        let Some(currency) = self.currency else { return true };
        let bound = |b: Option<Decimal>| b.map(|b| b.bound_minor(currency));
        bound(self.min_price).is_none_or(|min| minor >= min)
            && bound(self.max_price).is_none_or(|max| minor <= max)
    }

    /// Whether a price span could lift a bound: a category, a currency and a bound.
    pub fn bounded_in_category(&self) -> Option<(&str, Currency)> {
        let bounded = self.min_price.is_some() || self.max_price.is_some();
        Some((self.category.as_deref()?, self.currency?)).filter(|_| bounded)
    }
}

/// Reads a listing (`read`) with the bounds its category's prices all meet lifted
/// (`OfferFilter::without_met_bounds`), then checks that the span still holds and that its
/// page meets the bounds as given: the span and the listing are separate reads, and a batch
/// committed between them may bring a price outside the bounds — the listing is then read
/// again with them. `price` is an item's price in minor units of the filter's currency.
pub fn read_with_met_bounds_lifted<T, E: From<crate::ports::StoreError>>(
    catalog: &dyn crate::ports::CatalogRead,
    filter: &OfferFilter,
    price: impl Fn(&T) -> i64,
    read: impl Fn(&OfferFilter) -> Result<Page<T>, E>,
) -> Result<Page<T>, E> {
    let Some((category, currency)) = filter.bounded_in_category() else { return read(filter) };
    let span = catalog.price_span(category, currency)?;
    let lifted = match span {
        Some((lowest, highest)) => filter.without_met_bounds(lowest, highest),
        None => return read(filter),
    };
    if lifted == *filter {
        return read(filter);
    }
    let page = read(&lifted)?;
    // A batch that commits meanwhile marks the summary (the span reads `None` then), and an
    // offer it moved outside the bounds may sit on this page or another.
    let held = catalog.price_span(category, currency)? == span;
    if held && page.items.iter().all(|item| filter.admits_price(price(item))) {
        Ok(page)
    } else {
        read(filter)
    }
}

/// A non-negative decimal from a query string, kept exact: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: i64,
    pub scale: u32,
}

impl Decimal {
    /// Parses `123`, `123.45`; at most 12 integer digits and 6 decimals (no amount is larger
    /// than `Money::MAX_MINOR`); no sign, no exponent.
    pub fn parse(s: &str) -> Option<Decimal> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty() || int.len() > 12 || frac.len() > 6 {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{int}{frac}");
        let mantissa = digits.parse::<i64>().ok()?;
        Some(Decimal { mantissa, scale: frac.len() as u32 })
    }

    /// A price bound in minor units of a currency, as listings compare it: rounded toward
    /// zero, and past what i64 holds `i64::MAX` (no stored price reaches it).
    pub fn bound_minor(self, currency: Currency) -> i64 {
        self.to_minor(currency).unwrap_or(i64::MAX)
    }

    /// The amount in minor units of a currency, rounded toward zero; `None` on overflow.
    pub fn to_minor(self, currency: Currency) -> Option<i64> {
        let exp = u32::from(currency.exponent());
        if exp >= self.scale {
            self.mantissa.checked_mul(10i64.checked_pow(exp - self.scale)?)
        } else {
            Some(self.mantissa / 10i64.checked_pow(self.scale - exp)?)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: u32,
    /// 1–100.
    pub limit: u32,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 100;
    pub const DEFAULT_LIMIT: u32 = 20;

    pub fn offset(self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.limit)
    }

    /// How deep the page reaches: the rows before it and its own.
    pub fn depth(self) -> u64 {
        self.offset() + u64::from(self.limit)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { page: 1, limit: Self::DEFAULT_LIMIT }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    /// False when `total` is a lower bound: a listing whose total is counted over its matches
    /// (no summary keeps it) stops counting past `COUNT_LIMIT`, a text search past
    /// `SEARCH_CANDIDATES`.
    pub total_exact: bool,
}

/// Where a listing's count over its matches stops (`ranking::MAX_DEPTH`, the deepest row a
/// listing ranks without sorting everything): a count reads at most this many matches, so a
/// filtered listing costs the same at any catalog size; past it the total reads "at least".
pub const COUNT_LIMIT: u64 = crate::ranking::MAX_DEPTH;

/// Matching products a text search considers, the lowest product ids first (so both backends
/// answer alike): its cost stays the same at any catalog size; past them its total reads "at
/// least".
pub const SEARCH_CANDIDATES: u64 = 2_000;

impl<T> Page<T> {
    /// A page with an exact total.
    pub fn new(items: Vec<T>, page: PageRequest, total: u64) -> Self {
        Page { items, page: page.page, limit: page.limit, total, total_exact: true }
    }

    /// A page whose total is `counted` (exact, or a lower bound).
    pub fn counted(items: Vec<T>, page: PageRequest, counted: MatchCount) -> Self {
        Page {
            items,
            page: page.page,
            limit: page.limit,
            total: counted.total,
            total_exact: counted.exact,
        }
    }
}

/// A listing's total: exact (from a summary, or a count that ended before its limit), or a
/// lower bound (at most `COUNT_LIMIT`) when the count stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchCount {
    pub total: u64,
    pub exact: bool,
}

impl MatchCount {
    /// Whether no match lies at `offset` or past it (a page there is empty without reading).
    pub fn ends_before(self, offset: u64) -> bool {
        self.exact && self.total <= offset
    }

    /// A number of matches for decisions that compare it with others (`ranking::scan_suits`):
    /// the count, or unbounded when it stopped.
    pub fn at_least(self) -> u64 {
        if self.exact { self.total } else { u64::MAX }
    }

    /// How many rows `page` holds when the count is exact (`None`: unknown).
    pub fn rows_on(self, page: PageRequest) -> Option<u64> {
        self.exact.then(|| self.total.saturating_sub(page.offset()).min(u64::from(page.limit)))
    }
}

/// An offer as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OfferView {
    pub id: OfferId,
    pub store: StoreId,
    pub product_id: ProductId,
    pub sku: Option<String>,
    pub title: String,
    pub brand: Option<String>,
    pub category: Option<String>,
    pub gtin: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub price: Money,
    pub list_price: Option<Money>,
    /// The price before the latest change, if it changed.
    pub previous_price: Option<Money>,
    pub availability: Availability,
    pub rating: Option<Rating>,
    pub review_count: Option<u32>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub price_changed_at: i64,
}

impl OfferView {
    /// Discount versus the list price, in percent (0 when there is none).
    pub fn discount_pct(&self) -> f64 {
        match self.list_price {
            Some(l) if l.minor > self.price.minor && l.minor > 0 => {
                (l.minor - self.price.minor) as f64 * 100.0 / l.minor as f64
            }
            _ => 0.0,
        }
    }
}

/// A user's personalization (docs/DATA-MODEL.md).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    pub stores: Vec<String>,
    pub brands: Vec<String>,
    pub categories: Vec<String>,
    /// Maximum price, in whole major units of each offer's currency.
    pub budget: Option<u64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub preferences: Preferences,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub email: String,
}

/// How many buyable offers and products of a category scope are in one currency: the
/// currencies a listing can switch to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CurrencyCount {
    pub currency: Currency,
    /// Offers in stock or of unknown stock.
    pub offers: u64,
    pub products: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrandCount {
    pub brand: String,
    pub offers: u64,
    pub products: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryCount {
    pub category: String,
    pub key: String,
    pub offers: u64,
}

/// One price of the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryPoint {
    pub observed_at: i64,
    pub price: Money,
    pub list_price: Option<Money>,
    pub availability: Availability,
}

/// An offer's place in a ranked listing, before the offer itself is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    pub id: i64,
    /// 0–100, two decimals.
    pub value_score: f64,
    pub category_median: Option<i64>,
}

impl Rank {
    pub fn new(id: i64, value_score: f64, category_median: Option<i64>) -> Self {
        Rank { id, value_score: (value_score * 100.0).round() / 100.0, category_median }
    }
}

/// One page of `items` in price order (`descending`: dearest first), ties by id; `key` gives
/// an item's `(price_minor, offer id)`.
pub fn price_page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> (i64, i64),
    descending: bool,
    page: PageRequest,
) -> impl Iterator<Item = T> {
    if descending {
        items.sort_by_key(|t| {
            let (price, id) = key(t);
            (std::cmp::Reverse(price), id)
        });
    } else {
        items.sort_by_key(|t| key(t));
    }
    items.into_iter().skip(page.offset() as usize).take(page.limit as usize)
}

/// A page of `ranks` gathered from several walks in price order (each `(price_minor, rank)`):
/// all of them in price order (`descending`: dearest first), ties by id, then the page.
pub fn merge_by_price(ranks: Vec<(i64, Rank)>, descending: bool, page: PageRequest) -> Vec<Rank> {
    price_page(ranks, |(price, r)| (*price, r.id), descending, page).map(|(_, r)| r).collect()
}

/// Pairs each `(offer id, T)` of `order` with its loaded offer, in that order; one whose offer
/// is missing (deleted between the two reads) is left out.
pub fn in_id_order<T>(
    order: impl IntoIterator<Item = (i64, T)>,
    offers: Vec<OfferView>,
) -> Vec<(OfferView, T)> {
    let mut by_id: std::collections::HashMap<i64, OfferView> =
        offers.into_iter().map(|o| (o.id.as_i64(), o)).collect();
    order.into_iter().filter_map(|(id, t)| Some((by_id.remove(&id)?, t))).collect()
}

/// Pairs ranks with their loaded offers, in rank order (`in_id_order`).
pub fn in_rank_order(ranks: Vec<Rank>, offers: Vec<OfferView>) -> Vec<crate::ports::ScoredOffer> {
    in_id_order(ranks.into_iter().map(|r| (r.id, r)), offers)
        .into_iter()
        .map(|(offer, r)| crate::ports::ScoredOffer {
            offer,
            value_score: r.value_score,
            category_median: r.category_median,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_the_span_meets_are_lifted_and_the_others_kept() {
        let brl = Currency::parse("BRL").unwrap();
        let reais = |mantissa| Some(Decimal { mantissa, scale: 0 });
        let f = |min, max| OfferFilter {
            currency: Some(brl),
            category: Some("hogar".into()),
            min_price: reais(min),
            max_price: reais(max),
            ..Default::default()
        };
        // The span of the category's prices: R$ 10,00 to R$ 500,00.
        let lifted = |min, max| {
            let g = f(min, max).without_met_bounds(1_000, 50_000);
            (g.min_price.is_none(), g.max_price.is_none())
        };
        assert_eq!(lifted(10, 500), (true, true), "at the span's ends");
        assert_eq!(lifted(1, 9_999), (true, true), "beyond them");
        assert_eq!(lifted(11, 499), (false, false), "inside: they narrow");
        assert_eq!(lifted(10, 499), (true, false));
        // A bound past i64 compares as i64::MAX, as in SQL: a maximum no price reaches is
        // lifted, a minimum no price reaches matches nothing and stays.
        let huge = Some(Decimal { mantissa: i64::MAX, scale: 0 });
        let g = OfferFilter { min_price: huge, max_price: huge, ..f(10, 500) };
        let g = g.without_met_bounds(1_000, 50_000);
        assert_eq!((g.min_price, g.max_price), (huge, None));
        // Without a currency each bound applies in every offer's own: nothing is lifted.
        let any = OfferFilter { currency: None, ..f(10, 500) };
        assert_eq!(any.without_met_bounds(1_000, 50_000), any);
        assert_eq!(any.bounded_in_category(), None);
        assert_eq!(f(10, 500).bounded_in_category(), Some(("hogar", brl)));
        // The page check after a lifted read: the bounds as given, ends included.
        let given = f(10, 500);
        assert!(given.admits_price(1_000) && given.admits_price(50_000));
        assert!(!given.admits_price(999) && !given.admits_price(50_001));
        assert!(any.admits_price(1));
    }

    #[test]
    fn decimals_parse_within_the_documented_bounds() {
        assert_eq!(Decimal::parse("123.45"), Some(Decimal { mantissa: 12345, scale: 2 }));
        assert_eq!(Decimal::parse(".5"), Some(Decimal { mantissa: 5, scale: 1 }));
        assert_eq!(Decimal::parse("5."), Some(Decimal { mantissa: 5, scale: 0 }));
        assert_eq!(Decimal::parse("999999999999.999999").map(|d| d.scale), Some(6));
        for bad in [".", "", "1.2345678", "1234567890123", "-1", "1e3", "59620771749000000.12838"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }
}
