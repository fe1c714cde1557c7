//! Row access both drivers provide, and the mapping of an offer row (`OFFER_COLUMNS`) to the
//! API's `OfferView`.

use preciso_core::domain::{
    Availability, Currency, IngestCounts, IngestFile, IngestStatus, Money, OfferId, ProductId,
    Rating, Store, StoreId,
};
use preciso_core::ports::ApiKeyRecord;
use preciso_core::query::{CurrencyCount, OfferView, Preferences, User};

/// The few typed reads the shared mappings need. Integers are 64-bit in both schemas.
pub trait SqlRow {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, Self::Error>;
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

/// Columns of `LEDGER_COLUMNS`.
pub fn ledger_from_row<R: SqlRow>(r: &R) -> Result<IngestFile, R::Error> {
    let count = |i| -> Result<u64, R::Error> { Ok(r.int(i)?.max(0) as u64) };
    Ok(IngestFile {
        id: r.int(0)?,
        name: r.text(1)?,
        sha256: r.text(2)?,
        size: count(3)?,
        store: r.opt_text(4)?.and_then(|s| StoreId::parse(&s).ok()),
        received_at: r.int(5)?,
        finished_at: r.opt_int(6)?,
        status: IngestStatus::from_db(&r.text(7)?),
        counts: IngestCounts {
            read: count(8)?,
            inserted: count(9)?,
            updated: count(10)?,
            unchanged: count(11)?,
            duplicate: count(12)?,
            rejected: count(13)?,
        },
        archive_key: r.opt_text(14)?,
        error: r.opt_text(15)?,
    })
}

/// A row of `best::SCOPE_CURRENCIES`; `None` for a currency the catalog no longer supports.
pub fn currency_count_from_row<R: SqlRow>(r: &R) -> Result<Option<CurrencyCount>, R::Error> {
    let count = |i| -> Result<u64, R::Error> { Ok(r.int(i)?.max(0) as u64) };
    let Ok(currency) = Currency::parse(&r.text(0)?) else { return Ok(None) };
    Ok(Some(CurrencyCount { currency, offers: count(1)?, products: count(2)? }))
}

pub const LEDGER_COLUMNS: &str =
    "id, name, sha256, size, store_id, received_at, finished_at, status,
    read, inserted, updated, unchanged, duplicate, rejected, archive_key, error";

pub const STORE_COLUMNS: &str = "id, name, country, currency, base_url";

pub fn store_from_row<R: SqlRow>(r: &R) -> Result<Store, R::Error> {
    Ok(Store {
        id: StoreId::parse(&r.text(0)?).map_err(|e| r.invalid(0, e.to_string()))?,
        name: r.text(1)?,
        country: r.opt_text(2)?,
        currency: r.opt_text(3)?.and_then(|c| Currency::parse(&c).ok()),
        base_url: r.opt_text(4)?,
    })
}

pub const USER_COLUMNS: &str = "id, name, email, preferences, created_at, updated_at";

/// Preferences are stored as JSON text; an unreadable value reads as no preferences.
pub fn user_from_row<R: SqlRow>(
    r: &R,
    decode: impl Fn(&str) -> Preferences,
) -> Result<User, R::Error> {
    Ok(User {
        id: r.int(0)?,
        name: r.text(1)?,
        email: r.text(2)?,
        preferences: decode(&r.text(3)?),
        created_at: r.int(4)?,
        updated_at: r.int(5)?,
    })
}

pub const KEY_COLUMNS: &str = "id, name, prefix, scopes, created_at, revoked_at";

pub fn key_from_row<R: SqlRow>(r: &R) -> Result<ApiKeyRecord, R::Error> {
    Ok(ApiKeyRecord {
        id: r.int(0)?,
        name: r.text(1)?,
        prefix: r.text(2)?,
        scopes: r.text(3)?.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
        created_at: r.int(4)?,
        revoked_at: r.opt_int(5)?,
    })
}
