//! Row access both drivers provide, and the mapping of an offer row (`OFFER_COLUMNS`) to the
//! API's `OfferView`.

use preciso_core::domain::{Availability, Currency, Money, OfferId, ProductId, Rating, StoreId};
use preciso_core::query::OfferView;

/// The few typed reads the shared mappings need. Integers are 64-bit in both schemas.
pub trait SqlRow {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    /// A value the schema guarantees but the row did not satisfy.
    fn invalid(&self, i: usize, what: String) -> Self::Error;
}

pub fn offer_from_row<R: SqlRow>(r: &R) -> Result<OfferView, R::Error> {
    let currency = Currency::parse(&r.text(13)?).map_err(|e| r.invalid(13, e.to_string()))?;
    let money = |v: Option<i64>| v.map(|m| Money::new(m, currency));
    Ok(OfferView {
        id: OfferId::from_i64(r.int(0)?),
        store: StoreId::parse(&r.text(1)?).map_err(|e| r.invalid(1, e.to_string()))?,
        product_id: ProductId::from_i64(r.int(2)?),
        sku: r.opt_text(3)?,
        title: r.text(4)?,
        brand: r.opt_text(5)?,
        category: r.opt_text(6)?,
        gtin: r.opt_text(7)?,
        url: r.opt_text(8)?,
        image_url: r.opt_text(9)?,
        price: Money::new(r.int(10)?, currency),
        list_price: money(r.opt_int(11)?),
        previous_price: money(r.opt_int(12)?),
        availability: Availability::from_db(&r.text(14)?),
        rating: r.opt_int(15)?.and_then(|h| Rating::from_hundredths(h).ok()),
        review_count: r.opt_int(16)?.and_then(|n| u32::try_from(n).ok()),
        first_seen: r.int(17)?,
        last_seen: r.int(18)?,
        price_changed_at: r.int(19)?,
    })
}
