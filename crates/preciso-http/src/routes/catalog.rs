//! Catalog listings: brands (with counts), categories and stores.

use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn brands(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    let limit = q.int("limit", 1, 1000)?.unwrap_or(100) as u32;
    let brands = state.db(move |c| Ok(c.brands(limit)?)).await?;
    Ok(Json(json!({ "items": brands })))
}

pub async fn categories(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let categories = state.db(|c| Ok(c.categories()?)).await?;
    Ok(Json(json!({ "items": categories })))
}

pub async fn stores(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let (stores, summaries) = state.db(|c| Ok((c.stores()?, c.store_summaries()?))).await?;
    let items: Vec<Value> = stores
        .iter()
        .map(|s| {
            let sum = summaries.iter().find(|x| x.store == s.id);
            json!({
                "id": s.id,
                "name": s.name,
                "country": s.country,
                "currency": s.currency,
                "base_url": s.base_url,
                "offers": sum.map_or(0, |x| x.offers),
                "categories": sum.map_or(0, |x| x.categories),
                "in_stock": sum.map_or(0, |x| x.in_stock),
                "last_seen": sum.and_then(|x| x.last_seen),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
