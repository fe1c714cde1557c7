//! Product search: the products whose brand or title hold every word of `q` (through the
//! text index), each with its cheapest current offer in one currency, filtered like the other
//! listings and paginated. Without `q` it is the best-prices listing of the category (or of
//! the whole catalog). The web UI's `/search` renders this answer.

use super::offers::best_price;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::model::offers::BestOfferPage;
use crate::params::{CategoryParam, CurrencyParam, Filters, Paging, SearchQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use preciso_core::ports::Personalization;
use preciso_core::query::read_with_met_bounds_lifted;

/// The longest `q`.
const MAX_QUERY_CHARS: usize = 200;

/// Products matching `q` with their best current price.
#[utoipa::path(
    get,
    path = "/api/search",
    operation_id = "search_products",
    tag = "offers",
    params(SearchQuery, CategoryParam, Filters, CurrencyParam, Paging),
    responses(
        (status = 200, description = "A page of products, each with its cheapest offer that passes the filters.", body = BestOfferPage),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<BestOfferPage>> {
    let text = q.str("q").map(str::trim).unwrap_or("").to_string();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad("q", format!("q must be at most {MAX_QUERY_CHARS} characters")));
    }
    let descending = match q.typed("sort")? {
        None | Some("price") => false,
        Some("-price") if !text.is_empty() => true,
        Some("-price") => {
            return Err(ApiError::bad("sort", "sort=-price needs q (without q: cheapest first)"));
        }
        Some(other) => {
            return Err(ApiError::bad("sort", format!("sort is price or -price, got {other:?}")));
        }
    };
    let mut filter = q.filter()?;
    let page = q.page()?;
    let default = state.config.default_currency;
    let (currency, currencies, result) = state
        .db(move |c| {
            let scope = filter.category.clone().unwrap_or_default();
            let (currency, currencies) =
                crate::currency::choose(c, default, filter.currency, &scope)?;
            filter.currency = currency;
            let result = read_with_met_bounds_lifted(c, &filter, best_price, |f| {
                if text.is_empty() {
                    c.best_prices(f, page, Personalization { preferences: None })
                } else {
                    c.search_offers(&text, f, descending, page)
                }
            })?;
            Ok((currency, currencies, result))
        })
        .await?;
    Ok(Json(BestOfferPage::new(result, currency, currencies)))
}
