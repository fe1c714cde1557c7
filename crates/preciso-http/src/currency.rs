//! One currency per listing: every listing, filter and aggregate of money runs in the
//! request's `currency`, else the catalog's default (`catalog.currency`), else the currency
//! with the most offers in the scope. Answers say which currency they used and list the
//! currencies of the scope with their counts, so a client can switch. Prices of different
//! currencies are never ranked or summed together.

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use preciso_core::domain::Currency;
use preciso_core::ports::Catalog;
use preciso_core::query::CurrencyCount;

/// The `currency` query parameter, if given.
pub fn requested(q: &Params) -> ApiResult<Option<Currency>> {
    q.typed("currency")?
        .map(|c| {
            Currency::parse(c).map_err(|_| {
                let known: Vec<&str> = Currency::all().map(Currency::code).collect();
                ApiError::bad(
                    "currency",
                    format!("currency must be one of {}, got {c:?}", known.join(", ")),
                )
            })
        })
        .transpose()
}

/// The currency a listing of `scope` (a category key, `""` for the whole catalog) runs in,
/// and the scope's currencies. `None` when nothing decides one (an empty scope and no
/// default). Runs inside the handler's database call (`default`: `catalog.currency`), so a
/// listing costs one trip to the blocking pool, not two.
pub fn choose(
    c: &dyn Catalog,
    default: Option<Currency>,
    requested: Option<Currency>,
    scope: &str,
) -> ApiResult<(Option<Currency>, Vec<CurrencyCount>)> {
    let counts = c.currencies(scope)?;
    Ok((requested.or(default).or_else(|| counts.first().map(|c| c.currency)), counts))
}

/// The same among a few offers' currencies (one product's offers): most offers first.
pub fn choose_among(
    state: &AppState,
    requested: Option<Currency>,
    offers: impl Iterator<Item = Currency>,
) -> (Option<Currency>, Vec<CurrencyCount>) {
    let mut counts: Vec<CurrencyCount> = Vec::new();
    for c in offers {
        match counts.iter_mut().find(|x| x.currency == c) {
            Some(x) => x.offers += 1,
            None => counts.push(CurrencyCount { currency: c, offers: 1, products: 1 }),
        }
    }
    counts.sort_by(|a, b| b.offers.cmp(&a.offers).then(a.currency.cmp(&b.currency)));
    let default = state.config.default_currency.filter(|d| counts.iter().any(|c| c.currency == *d));
    (requested.or(default).or_else(|| counts.first().map(|c| c.currency)), counts)
}
