//! Catalog listings: brands, categories and stores with their counts.

use preciso_core::domain::{Currency, StoreId};
use preciso_core::query::{BrandCount, CategoryCount};
use serde::Serialize;
use utoipa::ToSchema;

/// Brands, most offers first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandList {
    pub items: Vec<BrandCount>,
}

/// Categories with their keys (what `category` parameters match) and offer counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryList {
    pub items: Vec<CategoryCount>,
}

/// A store with its counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreInfo {
    pub id: StoreId,
    pub name: String,
    pub country: Option<String>,
    /// The currency its prices are in when a record names none.
    pub currency: Option<Currency>,
    pub base_url: Option<String>,
    pub offers: u64,
    pub categories: u64,
    pub in_stock: u64,
    /// Unix seconds of its newest observation.
    pub last_seen: Option<i64>,
}

/// Stores.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreList {
    pub items: Vec<StoreInfo>,
}
