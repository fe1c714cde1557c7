//! Catalog listings: brands (with counts), categories and stores.

use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::model::catalog::{BrandList, CategoryList, StoreInfo, StoreList};
use crate::params::BrandLimit;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;

/// Brands with their offer and product counts.
#[utoipa::path(
    get,
    path = "/api/brands",
    operation_id = "list_brands",
    tag = "catalog",
    params(BrandLimit),
    responses((status = 200, description = "Brands, most offers first.", body = BrandList))
)]
pub async fn brands(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<BrandList>> {
    let limit = q.int("limit", 1, 1000)?.unwrap_or(100) as u32;
    let items = state.db(move |c| Ok(c.brands(limit)?)).await?;
    Ok(Json(BrandList { items }))
}

/// Categories with their keys and offer counts.
#[utoipa::path(
    get,
    path = "/api/categories",
    operation_id = "list_categories",
    tag = "catalog",
    responses((status = 200, description = "Categories.", body = CategoryList))
)]
pub async fn categories(State(state): State<AppState>) -> ApiResult<Json<CategoryList>> {
    let items = state.db(|c| Ok(c.categories()?)).await?;
    Ok(Json(CategoryList { items }))
}

/// Stores with their offer counts.
#[utoipa::path(
    get,
    path = "/api/stores",
    operation_id = "list_stores",
    tag = "catalog",
    responses((status = 200, description = "Stores.", body = StoreList))
)]
pub async fn stores(State(state): State<AppState>) -> ApiResult<Json<StoreList>> {
    let (stores, summaries) = state.db(|c| Ok((c.stores()?, c.store_summaries()?))).await?;
    let items = stores
        .into_iter()
        .map(|s| {
            let sum = summaries.iter().find(|x| x.store == s.id);
            StoreInfo {
                offers: sum.map_or(0, |x| x.offers),
                categories: sum.map_or(0, |x| x.categories),
                in_stock: sum.map_or(0, |x| x.in_stock),
                last_seen: sum.and_then(|x| x.last_seen),
                id: s.id,
                name: s.name,
                country: s.country,
                currency: s.currency,
                base_url: s.base_url,
            }
        })
        .collect();
    Ok(Json(StoreList { items }))
}
