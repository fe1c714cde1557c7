//! The API's typed bodies: what each handler returns and takes, one module per resource as in
//! `routes/`. The OpenAPI document's schemas are derived from these types (`utoipa`), so a
//! field added here is in the document by construction; the web UI renders the same types.

pub mod archivos;
pub mod catalog;
pub mod compare;
pub mod error;
pub mod forensic;
pub mod health;
pub mod jobs;
pub mod offers;
pub mod reports;
pub mod users;

use preciso_core::domain::Currency;
use serde::Serialize;
use utoipa::ToSchema;

/// An amount of money: an integer of minor units, its currency and how that currency writes
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Money {
    /// Integer amount in the currency's minor unit (ISO 4217 exponent: cents for USD, pesos
    /// for CLP).
    pub minor: i64,
    pub currency: Currency,
    /// Formatted in the currency's convention, e.g. `COP 2.349.900,00`.
    pub display: String,
}

impl From<preciso_core::domain::Money> for Money {
    fn from(m: preciso_core::domain::Money) -> Self {
        Money { minor: m.minor, currency: m.currency, display: m.display() }
    }
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        preciso_core::domain::Money::new(minor, currency).into()
    }
}

/// A percentage or share rounded to two decimals, as answers show them.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A page of a listing whose money runs in one currency: the page, which currency it used and
/// the scope's currencies (so a client can switch).
macro_rules! listing_page {
    ($(#[$meta:meta])* $name:ident of $item:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// 1-based page number.
            pub page: u32,
            /// Page size.
            pub limit: u32,
            /// Items over all pages (see `total_exact`).
            pub total: u64,
            /// False when more items match than a listing counts (10,000, the deepest page
            /// it ranks; a text search: its first 2,000 matching products): `total` is then a
            /// lower bound. True for totals a summary keeps.
            pub total_exact: bool,
            /// The one currency the answer lists, filters and aggregates (null: none in scope).
            pub currency: Option<preciso_core::domain::Currency>,
            /// The currencies of the scope, most offers first.
            pub currencies: Vec<preciso_core::query::CurrencyCount>,
        }
    };
}
pub(crate) use listing_page;
