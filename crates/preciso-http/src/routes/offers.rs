//! Offers: best prices per category, ranked offers, trending drops, offer detail and history.

use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::layers::auth::{Caller, Scope};
use crate::model::error::ErrorBody;
use crate::model::offers::{BestOfferPage, Offer, OfferHistory, RankedOfferPage, TrendingPage};
use crate::params::{
    CategoryParam, CategoryPath, CurrencyParam, DaysParam, Filters, OfferIdPath, Paging, SortParam,
    UserParam,
};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use preciso_core::domain::OfferId;
use preciso_core::ports::{BestOffer, Catalog, Personalization, ScoredOffer};
use preciso_core::query::{Preferences, Sort, read_with_met_bounds_lifted};

/// `user_id`, which reads a user's preferences (personal data): it needs the `users` scope.
fn user_id(q: &crate::params::Params, caller: &Caller) -> ApiResult<Option<i64>> {
    let id = q.user_id()?;
    if id.is_some() {
        caller.require(Scope::Users)?;
    }
    Ok(id)
}

/// The user's preferences, or 404 if `user_id` names no user.
pub(crate) fn preferences(c: &dyn Catalog, user_id: Option<i64>) -> ApiResult<Option<Preferences>> {
    match user_id {
        None => Ok(None),
        Some(id) => match c.user(id)? {
            Some(u) => Ok(Some(u.preferences)),
            None => Err(ApiError::NotFound(format!("user {id} does not exist"))),
        },
    }
}

/// A best offer's price in minor units (`read_with_met_bounds_lifted` checks it).
pub(crate) fn best_price(b: &BestOffer) -> i64 {
    b.offer.price.minor
}

/// Cheapest current offer per product in a category, personalized by `user_id`.
#[utoipa::path(
    get,
    path = "/api/best-prices/{*category}",
    operation_id = "best_prices",
    tag = "offers",
    params(CategoryPath, CurrencyParam, UserParam, Paging, Filters),
    responses(
        (status = 200, description = "A page of best offers.", body = BestOfferPage),
        (status = 403, description = "`user_id` needs a key with the users scope (personal data).", body = ErrorBody),
        (status = 404, description = "Unknown category or user.", body = ErrorBody),
    )
)]
pub async fn best_prices(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(category): PathParam,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<BestOfferPage>> {
    let key = crate::params::category_path(&category)?;
    let mut filter = q.filter()?;
    filter.category = Some(key.clone());
    let page = q.page()?;
    let user_id = user_id(&q, &caller)?;
    let default = state.config.default_currency;
    let (currency, currencies, result) = state
        .db(move |c| {
            let (currency, currencies) =
                crate::currency::choose(c, default, filter.currency, &key)?;
            filter.currency = currency;
            let prefs = preferences(c, user_id)?;
            let who = Personalization { preferences: prefs.as_ref() };
            let p = read_with_met_bounds_lifted(c, &filter, best_price, |f| {
                c.best_prices(f, page, who)
            })?;
            if p.total == 0 && !crate::params::category_known(c, &key)? {
                return Err(ApiError::NotFound(format!(
                    "no category {key:?} (see /api/categories)"
                )));
            }
            Ok((currency, currencies, p))
        })
        .await?;
    Ok(Json(BestOfferPage::new(result, currency, currencies)))
}

/// Offers ranked by value score (the API description gives the formula) or by `sort`.
#[utoipa::path(
    get,
    path = "/api/ranked-offers",
    operation_id = "ranked_offers",
    tag = "offers",
    params(CurrencyParam, UserParam, Paging, CategoryParam, Filters, SortParam),
    responses(
        (status = 200, description = "A page of scored offers.", body = RankedOfferPage),
        (status = 403, description = "`user_id` needs a key with the users scope (personal data).", body = ErrorBody),
        (status = 404, description = "Unknown user.", body = ErrorBody),
    )
)]
pub async fn ranked(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<RankedOfferPage>> {
    let mut filter = q.filter()?;
    let page = q.page()?;
    let sort = q.sort(Sort::Value)?;
    let user_id = user_id(&q, &caller)?;
    let scope = filter.category.clone().unwrap_or_default();
    let default = state.config.default_currency;
    let (currency, currencies, result) = state
        .db(move |c| {
            let (currency, currencies) =
                crate::currency::choose(c, default, filter.currency, &scope)?;
            filter.currency = currency;
            let prefs = preferences(c, user_id)?;
            let who = Personalization { preferences: prefs.as_ref() };
            let price = |o: &ScoredOffer| o.offer.price.minor;
            let listed = read_with_met_bounds_lifted(c, &filter, price, |f| {
                c.list_offers(f, sort, page, who)
            })?;
            Ok((currency, currencies, listed))
        })
        .await?;
    Ok(Json(RankedOfferPage {
        items: result.items.iter().map(Into::into).collect(),
        page: result.page,
        limit: result.limit,
        total: result.total,
        total_exact: result.total_exact,
        currency,
        currencies,
    }))
}

/// The largest real price drops over `days`.
#[utoipa::path(
    get,
    path = "/api/trending-offers",
    operation_id = "trending_offers",
    tag = "offers",
    params(CurrencyParam, Paging, CategoryParam, Filters, DaysParam),
    responses((status = 200, description = "A page of drops.", body = TrendingPage))
)]
pub async fn trending(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<TrendingPage>> {
    let days = q.int("days", 1, 90)?.unwrap_or(7);
    let filter = q.filter()?;
    let page = q.page()?;
    // Drops are ranked by percentage: currencies may mix unless the request names one.
    let scope = filter.category.clone().unwrap_or_default();
    let currency = filter.currency;
    let since = chrono::Utc::now().timestamp() - days * 86_400;
    let (currencies, drops) =
        state.db(move |c| Ok((c.currencies(&scope)?, c.trending(since, &filter, page)?))).await?;
    Ok(Json(TrendingPage {
        items: drops.items.iter().map(Into::into).collect(),
        page: drops.page,
        limit: drops.limit,
        total: drops.total,
        total_exact: drops.total_exact,
        currency,
        currencies,
        days,
    }))
}

fn offer_id(raw: &str) -> ApiResult<OfferId> {
    OfferId::parse(raw).map_err(|_| ApiError::bad("id", "offer id must be 16 hexadecimal digits"))
}

/// One offer.
#[utoipa::path(
    get,
    path = "/api/offers/{id}",
    operation_id = "get_offer",
    tag = "offers",
    params(OfferIdPath),
    responses(
        (status = 200, description = "The offer.", body = Offer),
        (status = 404, description = "No such offer.", body = ErrorBody),
    )
)]
pub async fn detail(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> ApiResult<Json<Offer>> {
    let id = offer_id(&id)?;
    let offer = state.db_point(move |c| Ok(c.offer(id)?)).await?;
    offer
        .map(|o| Json(Offer::from(o)))
        .ok_or_else(|| ApiError::NotFound(format!("offer {id} does not exist")))
}

/// An offer's price history.
#[utoipa::path(
    get,
    path = "/api/offers/{id}/history",
    operation_id = "offer_history",
    tag = "offers",
    params(OfferIdPath),
    responses(
        (status = 200, description = "The offer and its history, oldest first.", body = OfferHistory),
        (status = 404, description = "No such offer.", body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> ApiResult<Json<OfferHistory>> {
    let id = offer_id(&id)?;
    let (offer, points) = state.db(move |c| Ok((c.offer(id)?, c.offer_history(id)?))).await?;
    let Some(offer) = offer else {
        return Err(ApiError::NotFound(format!("offer {id} does not exist")));
    };
    Ok(Json(OfferHistory {
        offer: Offer::from(&offer),
        history: points.iter().map(Into::into).collect(),
    }))
}
