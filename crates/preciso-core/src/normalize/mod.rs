//! The normalization contract of docs/NORMALIZATION.md: scraped price, rating and review-count
//! values become exact domain values or a typed error with a stable code. Pure functions; the
//! table-driven tests in `tests/` are the contract's public sample.

mod amount;
mod error;
mod prep;
mod price;
mod rating;
mod reviews;

pub use error::{ErrorCode, FieldError};
pub use prep::{decode_entities, preprocess};
pub use price::parse_price;
pub use rating::parse_rating;
pub use reviews::parse_review_count;

/// A scraped value as it arrived: text from a page, or a number from a structured feed. A
/// number carries its JSON decimal text (e.g. `"19.99"`, `"2349900"`, `"1e3"`), never an f64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scraped<'a> {
    Text(&'a str),
    Number(&'a str),
}
