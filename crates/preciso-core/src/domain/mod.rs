//! Validated domain types. Every newtype has a `parse` that is the only way to build it from
//! untrusted text, so a value that exists is a valid value.

mod availability;
mod currency;
mod gtin;
mod ids;
mod money;
mod offer;
mod rating;
pub(crate) mod text;

pub use availability::Availability;
pub use currency::{Currency, CurrencyError, Grouping};
pub use gtin::{Gtin, GtinError};
pub use ids::{AliasConflict, IdError, OfferId, ProductId, StoreAliases, StoreId, StoreIdCache};
pub use money::Money;
pub use offer::{IngestCounts, IngestFile, IngestStatus, Offer, PriceObservation, Store};
pub use rating::{Rating, RatingError};
pub use text::{category_key, fold_for_matching, slugify};
