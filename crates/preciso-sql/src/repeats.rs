//! The records an initial load sets aside (each adapter's `bulk` module): a record whose offer
//! id the load may have written already cannot be checked against tables without their unique
//! indexes, so it waits in a temporary table `bulk_repeats` (`seq` numbering the file order,
//! then `COLUMNS`) and is replayed through the ordinary writer at the load's end.

use crate::SqlRow;
use preciso_core::domain::{
    Availability, Currency, Gtin, Money, Offer, OfferId, ProductId, Rating, StoreId,
};

/// A record's columns in `bulk_repeats`, in order (after `seq`).
pub const COLUMNS: &str = "id, store, sku, url, product_id, title, brand, category, gtin,
    image_url, price_minor, currency, list_price_minor, availability, rating_centi,
    review_count, observed_at, content_hash";

/// The records set aside after a sequence number (`?1`), at most `?2` of them, in file order:
/// `seq` then `COLUMNS`.
pub const AFTER: &str = "SELECT seq, id, store, sku, url, product_id, title, brand, category,
    gtin, image_url, price_minor, currency, list_price_minor, availability, rating_centi,
    review_count, observed_at, content_hash
    FROM bulk_repeats WHERE seq > ? ORDER BY seq LIMIT ?";

/// The record of a row of `AFTER` (column 0 is `seq`).
pub fn offer_from_row<R: SqlRow>(r: &R) -> Result<Offer, R::Error> {
    let parsed = |i: usize, e: &dyn std::fmt::Display| r.invalid(i, e.to_string());
    let currency = Currency::parse(&r.text(12)?).map_err(|e| parsed(12, &e))?;
    let store = StoreId::parse(&r.text(2)?).map_err(|e| parsed(2, &e))?;
    let gtin = r.opt_text(9)?.map(|g| Gtin::parse(&g)).transpose().map_err(|e| parsed(9, &e))?;
    let rating =
        r.opt_int(15)?.map(Rating::from_hundredths).transpose().map_err(|e| parsed(15, &e))?;
    let review_count = r.opt_int(16)?.map(u32::try_from).transpose().map_err(|e| parsed(16, &e))?;
    let hash = r.opt_bytes(18)?.ok_or_else(|| r.invalid(18, "no content hash".into()))?;
    Ok(Offer {
        id: OfferId::from_i64(r.int(1)?),
        store,
        sku: r.opt_text(3)?,
        url: r.opt_text(4)?,
        product_id: ProductId::from_i64(r.int(5)?),
        title: r.text(6)?,
        brand: r.opt_text(7)?,
        category: r.opt_text(8)?,
        gtin,
        image_url: r.opt_text(10)?,
        price: Money::new(r.int(11)?, currency),
        list_price: r.opt_int(13)?.map(|m| Money::new(m, currency)),
        availability: Availability::from_db(&r.text(14)?),
        rating,
        review_count,
        observed_at: r.int(17)?,
        content_hash: hash.try_into().map_err(|_| r.invalid(18, "not 32 bytes".into()))?,
    })
}
