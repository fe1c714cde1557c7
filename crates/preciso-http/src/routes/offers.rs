//! Offers: best prices per category, ranked offers, trending drops, offer detail and history.

use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::layers::auth::{Caller, Scope};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use preciso_core::domain::{Currency, Money, OfferId};
use preciso_core::ports::{Catalog, Personalization};
use preciso_core::query::{CurrencyCount, OfferView, Preferences, Sort};
use serde_json::{Value, json};

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

/// An offer with display strings for its money fields.
pub(crate) fn offer_json(o: &OfferView) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    v["price"] = money(&o.price);
    v["list_price"] = o.list_price.as_ref().map_or(Value::Null, money);
    v["previous_price"] = o.previous_price.as_ref().map_or(Value::Null, money);
    v["discount_pct"] = json!((o.discount_pct() * 100.0).round() / 100.0);
    v
}

pub(crate) fn money(m: &Money) -> Value {
    json!({ "minor": m.minor, "currency": m.currency.code(), "display": m.display() })
}

fn page_json(items: Vec<Value>, page: u32, limit: u32, total: u64) -> Value {
    json!({ "items": items, "page": page, "limit": limit, "total": total })
}

/// A page of a listing in one currency: which one, and the scope's currencies.
pub(crate) fn in_currency(
    mut body: Value,
    currency: Option<Currency>,
    currencies: &[CurrencyCount],
) -> Value {
    body["currency"] = json!(currency);
    body["currencies"] = json!(currencies);
    body
}

pub async fn best_prices(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(category): PathParam,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
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
            let p =
                c.best_prices(&filter, page, Personalization { preferences: prefs.as_ref() })?;
            if p.total == 0
                && !c
                    .categories()?
                    .iter()
                    .any(|k| k.key == key || k.key.starts_with(&format!("{key}/")))
            {
                return Err(ApiError::NotFound(format!(
                    "no category {key:?} (see /api/categories)"
                )));
            }
            Ok((currency, currencies, p))
        })
        .await?;
    let items = result
        .items
        .iter()
        .map(|b| {
            let mut v = offer_json(&b.offer);
            v["offers_for_product"] = json!(b.offers_for_product);
            v["preferred"] = json!(b.preferred);
            v
        })
        .collect();
    let body = page_json(items, result.page, result.limit, result.total);
    Ok(Json(in_currency(body, currency, &currencies)))
}

pub async fn ranked(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    let mut filter = q.filter()?;
    let page = q.page()?;
    let sort = q.sort(Sort::Value)?;
    let user_id = user_id(&q, &caller)?;
    let scope = filter.category.clone().unwrap_or_default();
    let default = state.config.default_currency;
    let (currency, currencies, result) = state
        .db_heavy(move |c| {
            let (currency, currencies) =
                crate::currency::choose(c, default, filter.currency, &scope)?;
            filter.currency = currency;
            let prefs = preferences(c, user_id)?;
            let who = Personalization { preferences: prefs.as_ref() };
            Ok((currency, currencies, c.list_offers(&filter, sort, page, who)?))
        })
        .await?;
    let items = result
        .items
        .iter()
        .map(|s| {
            let mut v = offer_json(&s.offer);
            v["value_score"] = json!(s.value_score);
            v["category_median"] = s
                .category_median
                .map_or(Value::Null, |m| money(&Money::new(m, s.offer.price.currency)));
            v
        })
        .collect();
    let body = page_json(items, result.page, result.limit, result.total);
    Ok(Json(in_currency(body, currency, &currencies)))
}

pub async fn trending(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    let days = q.int("days", 1, 90)?.unwrap_or(7);
    let filter = q.filter()?;
    let page = q.page()?;
    // Drops are ranked by percentage: currencies may mix unless the request names one.
    let scope = filter.category.clone().unwrap_or_default();
    let currency = filter.currency;
    let since = chrono::Utc::now().timestamp() - days * 86_400;
    let (currencies, drops) =
        state.db(move |c| Ok((c.currencies(&scope)?, c.trending(since, &filter, page)?))).await?;
    let items = drops
        .items
        .iter()
        .map(|d| {
            let mut v = offer_json(&d.offer);
            v["reference_price"] = money(&Money::new(d.reference_minor, d.offer.price.currency));
            v["drop_pct"] = json!(d.drop_bp as f64 / 100.0);
            v["dropped_at"] = json!(d.dropped_at);
            v
        })
        .collect();
    let body = page_json(items, drops.page, drops.limit, drops.total);
    let mut body = in_currency(body, currency, &currencies);
    body["days"] = json!(days);
    Ok(Json(body))
}

fn offer_id(raw: &str) -> ApiResult<OfferId> {
    OfferId::parse(raw).map_err(|_| ApiError::bad("id", "offer id must be 16 hexadecimal digits"))
}

pub async fn detail(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> ApiResult<Json<Value>> {
    let id = offer_id(&id)?;
    let offer = state.db(move |c| Ok(c.offer(id)?)).await?;
    offer
        .map(|o| Json(offer_json(&o)))
        .ok_or_else(|| ApiError::NotFound(format!("offer {id} does not exist")))
}

pub async fn history(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> ApiResult<Json<Value>> {
    let id = offer_id(&id)?;
    let (offer, points) = state.db(move |c| Ok((c.offer(id)?, c.offer_history(id)?))).await?;
    let Some(offer) = offer else {
        return Err(ApiError::NotFound(format!("offer {id} does not exist")));
    };
    let points: Vec<Value> = points
        .iter()
        .map(|p| {
            json!({
                "observed_at": p.observed_at,
                "price": money(&p.price),
                "list_price": p.list_price.as_ref().map_or(Value::Null, money),
                "availability": p.availability,
            })
        })
        .collect();
    Ok(Json(json!({ "offer": offer_json(&offer), "history": points })))
}
