//! One scraped record on its way into the catalog: the raw values the reader found, and
//! their normalization into a domain `Offer` (docs/NORMALIZATION.md, docs/INGEST.md). Required
//! fields (store, title, price) and fields that decide identity or time (currency, scraped_at)
//! reject the record when invalid; optional descriptive fields that fail (GTIN, rating, reviews,
//! availability, list price) are dropped and counted as warnings, so one bad barcode never loses an
//! offer.

use crate::mapping::Field;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use preciso_core::domain::{Availability, Currency, Gtin, Offer, StoreAliases, StoreId};
use preciso_core::hash::{
    OfferContent, content_hash, offer_id, product_id, product_key, title_key,
};
use preciso_core::normalize::{Scraped, parse_price, parse_rating, parse_review_count, preprocess};
use std::borrow::Cow;
use std::collections::HashMap;

/// A value as the reader found it, borrowed from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawValue<'a> {
    Text(&'a str),
    /// A JSON number's decimal text, exactly as written.
    Number(&'a str),
    Null,
    Bool(bool),
    /// An array or object where a scalar was expected.
    Nested,
}

impl<'a> RawValue<'a> {
    fn scraped(self) -> Option<Scraped<'a>> {
        match self {
            RawValue::Text(s) => Some(Scraped::Text(s)),
            RawValue::Number(n) => Some(Scraped::Number(n)),
            _ => None,
        }
    }

    /// Text of a scalar (entities decoded, NFKC, trimmed), or `None` for null / empty text.
    /// Borrows unless preprocessing changed something.
    fn text(self) -> Option<Cow<'a, str>> {
        let text = match self {
            RawValue::Text(s) => preprocess(s),
            RawValue::Number(n) => Cow::Borrowed(n.trim()),
            RawValue::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            RawValue::Null | RawValue::Nested => return None,
        };
        (!text.is_empty()).then_some(text)
    }
}

/// Where a stored value lives: a byte range of the record's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Text(u32, u32),
    Number(u32, u32),
    Null,
    Bool(bool),
    Nested,
}

/// A record's fields by canonical slot, plus where it came from. The source text and the
/// values share one buffer, so a record costs one allocation however many fields it has
/// (and the thread that normalizes it frees one block, not one per field).
#[derive(Debug, Clone, Default)]
pub struct RawRecord {
    slots: [Option<Slot>; Field::COUNT],
    /// The source text, then each value's text.
    text: String,
    source_len: usize,
    /// Keys that matched no field (counted in the summary).
    pub unknown_keys: u32,
    /// 1-based line of the record's start in its file.
    pub line: u64,
    /// 1-based record number in its file.
    pub number: u64,
}

impl RawRecord {
    /// An empty record whose source text (kept for the rejects file) is `source`; room is
    /// reserved for values of about the source's size.
    pub fn new(line: u64, number: u64, source: &str) -> Self {
        let mut text = String::with_capacity(source.len() * 2);
        text.push_str(source);
        RawRecord { line, number, source_len: source.len(), text, ..Default::default() }
    }

    pub fn source(&self) -> &str {
        &self.text[..self.source_len]
    }

    pub fn into_source(mut self) -> String {
        self.text.truncate(self.source_len);
        self.text
    }

    pub fn set(&mut self, field: Field, value: RawValue<'_>) {
        let slot = match value {
            RawValue::Text(s) => {
                let (start, end) = self.push(s);
                Slot::Text(start, end)
            }
            RawValue::Number(n) => {
                let (start, end) = self.push(n);
                Slot::Number(start, end)
            }
            RawValue::Null => Slot::Null,
            RawValue::Bool(b) => Slot::Bool(b),
            RawValue::Nested => Slot::Nested,
        };
        self.slots[field.index()] = Some(slot);
    }

    pub fn get(&self, field: Field) -> Option<RawValue<'_>> {
        Some(match self.slots[field.index()]? {
            Slot::Text(start, end) => RawValue::Text(&self.text[start as usize..end as usize]),
            Slot::Number(start, end) => RawValue::Number(&self.text[start as usize..end as usize]),
            Slot::Null => RawValue::Null,
            Slot::Bool(b) => RawValue::Bool(b),
            Slot::Nested => RawValue::Nested,
        })
    }

    /// Appends `s` to the record's text; readers bound a record's size well below 4 GiB.
    fn push(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        (start as u32, self.text.len() as u32)
    }
}

/// Why a record (or one of its fields) was not accepted as given.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordError {
    /// Canonical field name; `None` when the record as a whole is unreadable.
    pub field: Option<&'static str>,
    pub code: String,
    pub message: String,
}

impl RecordError {
    pub fn new(field: Option<Field>, code: &str, message: impl Into<String>) -> Self {
        RecordError {
            field: field.map(Field::name),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// What normalization knows beyond the record: defaults from flags and configuration.
#[derive(Debug, Clone)]
pub struct RecordContext {
    /// `--store`, for files whose records carry no store.
    pub default_store: Option<StoreId>,
    /// `--currency`, for stores whose currency is known neither from config nor the catalog.
    pub default_currency: Option<Currency>,
    pub store_currency: HashMap<StoreId, Currency>,
    /// Names that mean a configured store (its name, its aliases, merged stores).
    pub store_aliases: StoreAliases,
    pub store_timezone: HashMap<StoreId, Tz>,
    pub default_timezone: Tz,
    /// Unix seconds; the observation time of records without `scraped_at`.
    pub ingest_time: i64,
}

/// A normalized offer plus the optional fields that were dropped.
#[derive(Debug)]
pub struct Normalized {
    pub offer: Offer,
    pub warnings: Vec<RecordError>,
}

impl RecordContext {
    pub fn normalize(&self, raw: &RawRecord) -> Result<Normalized, Vec<RecordError>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let store = self.store(raw).map_err(|e| errors.push(e)).ok();
        let title = required_text(raw, Field::Title).map_err(|e| errors.push(e)).ok();
        let currency = store.as_ref().and_then(|s| match self.currency(raw, s) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        });
        let price = match (raw.get(Field::Price), currency) {
            (None | Some(RawValue::Null), _) => {
                errors.push(RecordError::new(Some(Field::Price), "missing", "price is missing"));
                None
            }
            (Some(v), Some(c)) => money(v, Field::Price, c).map_err(|e| errors.push(e)).ok(),
            (Some(_), None) => None,
        };
        let observed_at =
            store.as_ref().and_then(|s| self.observed_at(raw, s).map_err(|e| errors.push(e)).ok());
        let (Some(store), Some(title), Some(price), Some(observed_at)) =
            (store, title, price, observed_at)
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let list_price = optional(raw, Field::ListPrice, &mut warnings, |v| {
            let m = money(v, Field::ListPrice, price.currency)?;
            if m.currency != price.currency {
                return Err(RecordError::new(
                    Some(Field::ListPrice),
                    "currency_conflict",
                    format!("list price is in {} but price is in {}", m.currency, price.currency),
                ));
            }
            Ok(m)
        });
        let gtin = optional(raw, Field::Gtin, &mut warnings, |v| {
            let text = v.text().unwrap_or_default();
            Gtin::parse(&text).map_err(|e| {
                RecordError::new(Some(Field::Gtin), "invalid_gtin", format!("gtin {text:?}: {e}"))
            })
        });
        let availability = optional(raw, Field::Availability, &mut warnings, |v| {
            let text = v.text().unwrap_or_default();
            Availability::parse(&text).ok_or_else(|| {
                RecordError::new(
                    Some(Field::Availability),
                    "unknown_availability",
                    format!("availability {text:?} is not a known stock word"),
                )
            })
        })
        .unwrap_or_default();
        let rating = optional(raw, Field::Rating, &mut warnings, |v| {
            let s = scalar(v, Field::Rating)?;
            parse_rating(s)
                .map_err(|e| RecordError::new(Some(Field::Rating), e.code.as_str(), e.message))
        });
        let review_count = optional(raw, Field::Reviews, &mut warnings, |v| {
            let s = scalar(v, Field::Reviews)?;
            parse_review_count(s)
                .map_err(|e| RecordError::new(Some(Field::Reviews), e.code.as_str(), e.message))
        });
        let owned_text = |field| raw.get(field).and_then(RawValue::text).map(Cow::into_owned);
        let sku = owned_text(Field::Sku);
        let url = owned_text(Field::Url);
        let image_url = owned_text(Field::ImageUrl);
        let brand = owned_text(Field::Brand);
        let category = raw.get(Field::Category).and_then(RawValue::text).map(|c| category_path(&c));
        let tkey = title_key(brand.as_deref(), &title);
        let pkey = product_key(gtin.as_ref(), &tkey);
        let content_hash = content_hash(&OfferContent {
            store: store.as_str(),
            sku: sku.as_deref(),
            gtin: gtin.as_ref().map(Gtin::as_str),
            title: &title,
            brand: brand.as_deref(),
            category: category.as_deref(),
            price_minor: price.minor,
            currency: price.currency.code(),
            list_price_minor: list_price.map(|m| m.minor),
            availability: availability.as_str(),
            rating_hundredths: rating.map(|r| i64::from(r.hundredths())),
            review_count: review_count.map(i64::from),
            url: url.as_deref(),
            image_url: image_url.as_deref(),
        });
        let offer = Offer {
            id: offer_id(&store, sku.as_deref(), url.as_deref(), &tkey),
            store,
            sku,
            url,
            product_id: product_id(&pkey),
            title,
            brand,
            category,
            gtin,
            image_url,
            price,
            list_price,
            availability,
            rating,
            review_count,
            observed_at,
            content_hash,
        };
        Ok(Normalized { offer, warnings })
    }

    /// The store a record names (or the default), resolved through aliases.
    pub fn store(&self, raw: &RawRecord) -> Result<StoreId, RecordError> {
        let named = raw.get(Field::Store).and_then(RawValue::text);
        match (named, &self.default_store) {
            (Some(name), _) => {
                StoreId::parse(&name).map(|id| self.store_aliases.resolve(id)).map_err(|e| {
                    RecordError::new(
                        Some(Field::Store),
                        "invalid_store",
                        format!("store {name:?}: {e}"),
                    )
                })
            }
            (None, Some(default)) => Ok(self.store_aliases.resolve(default.clone())),
            (None, None) => Err(RecordError::new(
                Some(Field::Store),
                "missing",
                "store is missing (add a store field or pass --store)",
            )),
        }
    }

    fn currency(&self, raw: &RawRecord, store: &StoreId) -> Result<Currency, RecordError> {
        if let Some(code) = raw.get(Field::Currency).and_then(RawValue::text) {
            return Currency::parse(&code).map_err(|e| {
                RecordError::new(Some(Field::Currency), "unknown_currency", e.to_string())
            });
        }
        self.store_currency.get(store).copied().or(self.default_currency).ok_or_else(|| {
            RecordError::new(
                Some(Field::Currency),
                "missing",
                format!(
                    "no currency for store {store:?}: add a currency field, set \
                     stores.{store}.currency in preciso.toml, or pass --currency"
                ),
            )
        })
    }

    fn observed_at(&self, raw: &RawRecord, store: &StoreId) -> Result<i64, RecordError> {
        let Some(text) = raw.get(Field::ScrapedAt).and_then(RawValue::text) else {
            return Ok(self.ingest_time);
        };
        let tz = self.store_timezone.get(store).copied().unwrap_or(self.default_timezone);
        let at = parse_timestamp(&text, tz).ok_or_else(|| {
            RecordError::new(
                Some(Field::ScrapedAt),
                "invalid_timestamp",
                format!("scraped_at {text:?} is not RFC 3339 nor YYYY-MM-DD HH:MM:SS"),
            )
        })?;
        // A clock a day ahead is a scraper bug; it would pin last_seen in the future.
        if at > self.ingest_time + 86_400 {
            return Err(RecordError::new(
                Some(Field::ScrapedAt),
                "in_future",
                format!("scraped_at {text:?} is more than a day in the future"),
            ));
        }
        Ok(at)
    }
}

fn required_text(raw: &RawRecord, field: Field) -> Result<String, RecordError> {
    let text = raw.get(field).and_then(RawValue::text).map(Cow::into_owned).ok_or_else(|| {
        RecordError::new(Some(field), "missing", format!("{} is missing or empty", field.name()))
    })?;
    // Bytes bound characters from above, so most texts need no count.
    if text.len() > 2000 && text.chars().count() > 2000 {
        return Err(RecordError::new(
            Some(field),
            "too_long",
            format!("{} exceeds 2000 characters", field.name()),
        ));
    }
    Ok(text)
}

fn scalar(v: RawValue<'_>, field: Field) -> Result<Scraped<'_>, RecordError> {
    v.scraped().ok_or_else(|| {
        RecordError::new(
            Some(field),
            "invalid_type",
            format!("{} must be text or a number", field.name()),
        )
    })
}

fn money(
    v: RawValue<'_>,
    field: Field,
    currency: Currency,
) -> Result<preciso_core::Money, RecordError> {
    let s = scalar(v, field)?;
    parse_price(s, currency).map_err(|e| RecordError::new(Some(field), e.code.as_str(), e.message))
}

/// Runs an optional field's parser; absent or null yields `None`, a failure a warning.
fn optional<T>(
    raw: &RawRecord,
    field: Field,
    warnings: &mut Vec<RecordError>,
    parse: impl FnOnce(RawValue<'_>) -> Result<T, RecordError>,
) -> Option<T> {
    let v = raw.get(field)?;
    if matches!(v, RawValue::Null) || matches!(v, RawValue::Text(s) if s.trim().is_empty()) {
        return None;
    }
    parse(v).map_err(|e| warnings.push(e)).ok()
}

/// "Tecnología/Celulares" or "Tecnología > Celulares" → "Tecnología > Celulares".
fn category_path(text: &str) -> String {
    let sep = if text.contains('>') { '>' } else { '/' };
    let mut path = String::with_capacity(text.len() + 4);
    for part in text.split(sep).map(str::trim).filter(|s| !s.is_empty()) {
        if !path.is_empty() {
            path.push_str(" > ");
        }
        path.push_str(part);
    }
    path
}

/// RFC 3339, or a naive `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` / `YYYY-MM-DD` in `tz`.
pub fn parse_timestamp(text: &str, tz: Tz) -> Option<i64> {
    let naive = match plain_datetime(text) {
        Some(naive) => naive,
        None => {
            if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
                return Some(dt.timestamp());
            }
            formatted_datetime(text)?
        }
    };
    // In a DST overlap take the earlier instant; in a gap, the instant an hour later.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())
        .map(|dt| dt.timestamp())
}

/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS` exactly: what scrapers write almost always,
/// read without interpreting a format string per record. Anything else is `None`.
fn plain_datetime(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to]
            .iter()
            .try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)
}

fn formatted_datetime(text: &str) -> Option<NaiveDateTime> {
    // chrono's `%Y` also takes signed and short years ("+026-11-01"); the forms accepted here
    // all start with a four-digit year.
    let b = text.as_bytes();
    if b.len() < 10 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_paths_join_their_parts_with_one_separator() {
        assert_eq!(category_path("Tecnología/Celulares"), "Tecnología > Celulares");
        assert_eq!(category_path(" Hogar >  Cocina > "), "Hogar > Cocina");
        assert_eq!(category_path("a/b > c"), "a/b > c");
        assert_eq!(category_path("Mercado"), "Mercado");
        assert_eq!(category_path("//"), "");
    }

    #[test]
    fn titles_are_bounded_in_characters_not_bytes() {
        let record = |title: &str| {
            let mut raw = RawRecord::new(1, 1, "");
            raw.set(Field::Title, RawValue::Text(title));
            raw
        };
        let at_limit = "ñ".repeat(2000);
        assert_eq!(required_text(&record(&at_limit), Field::Title), Ok(at_limit));
        let over = record(&"ñ".repeat(2001));
        assert_eq!(required_text(&over, Field::Title).unwrap_err().code, "too_long");
        assert_eq!(required_text(&record("  "), Field::Title).unwrap_err().code, "missing");
    }
}
