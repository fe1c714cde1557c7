//! Preciso's domain core: the catalog's types, the normalization contract of docs/NORMALIZATION.md,
//! content hashing and the storage port. It performs no IO and knows nothing of HTTP or SQL;
//! the store adapters, the ingest pipeline and the HTTP layer all depend on it, never the
//! reverse.

pub mod analysis;
pub mod best;
pub mod domain;
pub mod hash;
pub mod market;
pub mod normalize;
pub mod ports;
pub mod quality;
pub mod query;
pub mod ranking;
pub mod reconcile;
pub mod runs;
#[cfg(feature = "openapi")]
mod schema;
#[cfg(feature = "testing")]
pub mod testing;

pub use domain::*;
