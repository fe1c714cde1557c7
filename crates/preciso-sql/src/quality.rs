//! The forensic analysis's reads (issue #18): a scope's current offers in id order, and their
//! price histories in (offer, time) order, so an adapter can merge the two streams and hand
//! each offer with its history to the engine without holding the catalog in memory.

use crate::filter::{Where, category_clause};
use crate::row::SqlRow;
use crate::{Param, text};
use preciso_core::analysis::omnibus::Observation;
use preciso_core::domain::{Currency, OfferId, ProductId, StoreId};
use preciso_core::ports::{QualityOffer, QualityScope, QualitySink, StoreError};

const OFFERS: &str = "SELECT o.id, o.store_id, o.sku, o.product_id, o.title, o.brand,
    o.category_key, o.gtin, o.url, o.image_url, o.currency, o.price_minor, o.list_price_minor,
    o.rating_centi, o.review_count, o.last_seen FROM offers o";

const HISTORIES: &str = "SELECT h.offer_id, h.observed_at, h.price_minor, h.list_price_minor,
    h.arrival, h.currency FROM price_history h";

fn scope_where(scope: &QualityScope) -> Where {
    let mut w = Where::default();
    if let Some(store) = &scope.store {
        w.push("o.store_id = ?", [text(store.as_str())]);
    }
    if let Some(key) = &scope.category {
        category_clause(&mut w, key);
    }
    if let Some(since) = scope.since {
        w.push("o.last_seen >= ?", [Param::Int(since)]);
    }
    w
}

/// The scope's offers, by id.
pub fn offers(scope: &QualityScope) -> (String, Vec<Param>) {
    let w = scope_where(scope);
    (format!("{OFFERS} WHERE {} ORDER BY o.id", w.sql()), w.params)
}

/// How many offers the scope has (progress is reported against it).
pub fn count(scope: &QualityScope) -> (String, Vec<Param>) {
    let w = scope_where(scope);
    (format!("SELECT COUNT(*) FROM offers o WHERE {}", w.sql()), w.params)
}

/// The histories of the scope's offers, by offer id then time, with each row's currency.
/// The whole catalog's is one scan in key order (SQLite's table is keyed by offer and time,
/// PostgreSQL's key covers the columns read: no table row, no join; 0.5 s instead of 4.3 s
/// for 2.4M rows through a key without them, docs/BENCHMARKS.md); a narrowed scope
/// joins its offers. Rows of offers outside the scope, or in another currency than the
/// offer's current one, are dropped by `merge`.
pub fn histories(scope: &QualityScope) -> (String, Vec<Param>) {
    if *scope == QualityScope::default() {
        return (format!("{HISTORIES} ORDER BY h.offer_id, h.observed_at"), Vec::new());
    }
    let w = scope_where(scope);
    let sql = format!(
        "{HISTORIES} JOIN offers o ON o.id = h.offer_id WHERE {} ORDER BY h.offer_id, h.observed_at",
        w.sql()
    );
    (sql, w.params)
}

/// A row of `offers`.
pub fn offer_from_row<R: SqlRow>(r: &R) -> Result<QualityOffer, R::Error> {
    Ok(QualityOffer {
        id: OfferId::from_i64(r.int(0)?),
        store: StoreId::parse(&r.text(1)?).map_err(|e| r.invalid(1, e.to_string()))?,
        sku: r.opt_text(2)?,
        product: ProductId::from_i64(r.int(3)?),
        title: r.text(4)?,
        brand: r.opt_text(5)?,
        category_key: r.opt_text(6)?,
        gtin: r.opt_text(7)?,
        url: r.opt_text(8)?,
        image_url: r.opt_text(9)?,
        currency: Currency::parse(&r.text(10)?).map_err(|e| r.invalid(10, e.to_string()))?,
        price: r.int(11)?,
        list: r.opt_int(12)?,
        rating_centi: r.opt_int(13)?,
        review_count: r.opt_int(14)?,
        last_seen: r.int(15)?,
    })
}

/// A row of `histories`: the offer id, the observation and its currency.
pub fn observation_from_row<R: SqlRow>(r: &R) -> Result<(i64, Observation, Currency), R::Error> {
    Ok((
        r.int(0)?,
        Observation {
            at: r.int(1)?,
            price: r.int(2)?,
            list: r.opt_int(3)?,
            arrival: r.int(4)?.clamp(0, 2) as u8,
        },
        Currency::parse(&r.text(5)?).map_err(|e| r.invalid(5, e.to_string()))?,
    ))
}

/// The two ordered streams of an adapter: `offers` rows and `histories` rows, mapped.
pub trait QualityStreams {
    fn next_offer(&mut self) -> Result<Option<QualityOffer>, StoreError>;
    fn next_observation(&mut self) -> Result<Option<(i64, Observation, Currency)>, StoreError>;
}

/// Hands each offer to `sink` with the observations of its id in its current currency (money
/// checks run per currency: rows of a store that changed currency are not compared): both
/// streams are in offer-id order (signed, as stored), so one pass over each suffices.
pub fn merge(
    streams: &mut dyn QualityStreams,
    sink: &mut QualitySink<'_>,
) -> Result<(), StoreError> {
    // The next observation not yet handed out.
    let mut pending: Option<(i64, Observation, Currency)> = None;
    let mut history = Vec::new();
    while let Some(offer) = streams.next_offer()? {
        let id = offer.id.as_i64();
        history.clear();
        loop {
            if pending.is_none() {
                pending = streams.next_observation()?;
            }
            match pending {
                Some((of, obs, currency)) if of == id => {
                    if currency == offer.currency {
                        history.push(obs);
                    }
                    pending = None;
                }
                // An observation of an offer the scope's offers did not list (outside the
                // scope, or it changed in between): skipped.
                Some((of, _, _)) if of < id => pending = None,
                _ => break,
            }
        }
        sink(offer, &history)?;
    }
    Ok(())
}
