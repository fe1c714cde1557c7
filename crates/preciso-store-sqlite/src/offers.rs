//! The read side of the storage port for SQLite: listings, best prices, comparison, history,
//! trend candidates, report rows, brands and categories. Users and keys are in `users.rs`.

use crate::SqliteCatalog;
use preciso_sql::{OFFER_COLUMNS, Param, SqlRow, VALUE_SCORE, filter_where, offer_from_row, order_by, preferred_expr};
use preciso_core::domain::{
    Availability, Currency, Gtin, Money, OfferId, ProductId, StoreId, fold_for_matching,
};
use preciso_core::ports::{
    ApiKeyRecord, BestOffer, CatalogRead, DropCandidate, Personalization, ScoredOffer, StoreError, StoreOfferRow,
};
use preciso_core::query::{
    BrandCount, CategoryCount, HistoryPoint, NewUser, OfferFilter, OfferView, Page, PageRequest,
    Preferences, PricedOffer, Sort, User,
};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};
use std::collections::HashSet;

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

#[derive(Debug)]
struct Invalid(String);
impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Invalid {}

struct SqliteRow<'a, 'b>(&'a Row<'b>);

impl SqlRow for SqliteRow<'_, '_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.0.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.0.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.0.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.0.get(i)
    }
    fn invalid(&self, _i: usize, what: String) -> rusqlite::Error {
        conversion(Invalid(what))
    }
}

/// Maps the first 20 columns (`OFFER_COLUMNS`) of a row.
pub(crate) fn offer_row(r: &Row<'_>) -> rusqlite::Result<OfferView> {
    offer_from_row(&SqliteRow(r))
}

pub(crate) fn values(params: &[Param]) -> Vec<Value> {
    params
        .iter()
        .map(|p| match p {
            Param::Int(i) => Value::Integer(*i),
            Param::Text(t) => Value::Text(t.clone()),
        })
        .collect()
}

fn count(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<u64> {
    conn.query_row(sql, params_from_iter(params), |r| r.get::<_, i64>(0)).map(|n| n as u64)
}

impl SqliteCatalog {
    fn list(
        &self,
        filter: &OfferFilter,
        sort: Sort,
        page: PageRequest,
        prefs: Option<&Preferences>,
    ) -> Result<Page<ScoredOffer>, StoreError> {
        let w = filter_where(filter, prefs);
        let preferred = preferred_expr(prefs);
        let sql = format!(
            "SELECT {OFFER_COLUMNS}, {VALUE_SCORE} AS value_score, cs.median_minor
             FROM offers o LEFT JOIN category_stats cs
               ON cs.category_key = o.category_key AND cs.currency = o.currency
             WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
            w.sql(),
            match &preferred {
                Some((pref, _)) => format!("{pref} DESC, {}", order_by(sort)),
                None => order_by(sort).to_string(),
            }
        );
        let mut params = values(&w.params);
        if let Some((_, p)) = &preferred {
            params.extend(values(p));
        }
        params.push(Value::Integer(i64::from(page.limit)));
        params.push(Value::Integer(page.offset() as i64));
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let items = stmt
                .query_map(params_from_iter(&params), |r| {
                    Ok(ScoredOffer {
                        offer: offer_row(r)?,
                        value_score: (r.get::<_, f64>(20)? * 100.0).round() / 100.0,
                        category_median: r.get(21)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let total = count(c, &format!("SELECT count(*) FROM offers o WHERE {}", w.sql()), &values(&w.params))?;
            Ok(Page { items, page: page.page, limit: page.limit, total })
        })
    }

    /// Streams offers in price order and keeps the first per product: page 1 reads only as
    /// many rows as it needs. Preferred offers (if any) form a first pass.
    fn best(
        &self,
        filter: &OfferFilter,
        page: PageRequest,
        prefs: Option<&Preferences>,
    ) -> Result<Page<BestOffer>, StoreError> {
        let mut w = filter_where(filter, prefs);
        w.push("o.availability <> 'out_of_stock'", []);
        let wanted = page.offset() as usize + page.limit as usize;
        // Preferred offers first (if the user has preferences), then every offer.
        let passes: Vec<(String, Vec<Param>)> = match preferred_expr(prefs) {
            Some((pref, p)) => vec![(format!("{pref} = 1"), p), ("1 = 1".into(), vec![])],
            None => vec![("1 = 1".into(), vec![])],
        };
        self.with_reader(|c| {
            let mut seen: HashSet<i64> = HashSet::new();
            let mut chosen: Vec<(OfferView, bool)> = Vec::new();
            for (pass, (clause, pass_params)) in passes.iter().enumerate() {
                let sql = format!(
                    "SELECT {OFFER_COLUMNS} FROM offers o WHERE {} AND {clause}
                     ORDER BY o.currency, o.price_minor, o.id",
                    w.sql()
                );
                let mut params = values(&w.params);
                params.extend(values(pass_params));
                let mut stmt = c.prepare_cached(&sql)?;
                let mut rows = stmt.query(params_from_iter(&params))?;
                while chosen.len() < wanted {
                    let Some(r) = rows.next()? else { break };
                    let offer = offer_row(r)?;
                    if seen.insert(offer.product_id.as_i64()) {
                        chosen.push((offer, pass == 0 && passes.len() == 2));
                    }
                }
            }
            let total = count(
                c,
                &format!("SELECT count(DISTINCT o.product_id) FROM offers o WHERE {}", w.sql()),
                &values(&w.params),
            )?;
            let mut per_product = c.prepare_cached(&format!(
                "SELECT count(*) FROM offers o WHERE {} AND o.product_id = ?",
                w.sql()
            ))?;
            let mut items = Vec::new();
            for (offer, preferred) in chosen.into_iter().skip(page.offset() as usize) {
                let mut params = values(&w.params);
                params.push(Value::Integer(offer.product_id.as_i64()));
                let n: i64 = per_product.query_row(params_from_iter(&params), |r| r.get(0))?;
                items.push(BestOffer { offer, offers_for_product: n as u64, preferred });
            }
            Ok(Page { items, page: page.page, limit: page.limit, total })
        })
    }
}

impl CatalogRead for SqliteCatalog {
    fn list_offers(
        &self,
        filter: &OfferFilter,
        sort: Sort,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<ScoredOffer>, StoreError> {
        self.list(filter, sort, page, who.preferences)
    }

    fn best_prices(
        &self,
        filter: &OfferFilter,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<BestOffer>, StoreError> {
        self.best(filter, page, who.preferences)
    }

    fn offer(&self, id: OfferId) -> Result<Option<OfferView>, StoreError> {
        use rusqlite::OptionalExtension;
        self.with_reader(|c| {
            c.prepare_cached(&format!("SELECT {OFFER_COLUMNS} FROM offers o WHERE o.id = ?1"))?
                .query_row([id.as_i64()], offer_row)
                .optional()
        })
    }

    fn offer_history(&self, id: OfferId) -> Result<Vec<HistoryPoint>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT observed_at, price_minor, list_price_minor, currency, availability
                 FROM price_history WHERE offer_id = ?1 ORDER BY observed_at",
            )?;
            stmt.query_map([id.as_i64()], |r| {
                let currency = Currency::parse(&r.get::<_, String>(3)?).map_err(conversion)?;
                Ok(HistoryPoint {
                    observed_at: r.get(0)?,
                    price: Money::new(r.get(1)?, currency),
                    list_price: r.get::<_, Option<i64>>(2)?.map(|m| Money::new(m, currency)),
                    availability: Availability::from_db(&r.get::<_, String>(4)?),
                })
            })?
            .collect()
        })
    }

    fn product_offers(&self, product: ProductId) -> Result<Vec<OfferView>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {OFFER_COLUMNS} FROM offers o WHERE o.product_id = ?1
                 ORDER BY o.currency, o.price_minor, o.id"
            ))?;
            stmt.query_map([product.as_i64()], offer_row)?.collect()
        })
    }

    fn product_by_gtin(&self, gtin: &Gtin) -> Result<Option<ProductId>, StoreError> {
        use rusqlite::OptionalExtension;
        self.with_reader(|c| {
            c.query_row("SELECT id FROM products WHERE key = ?1", [format!("gtin:{gtin}")], |r| r.get(0))
                .optional()
                .map(|id: Option<i64>| id.map(ProductId::from_i64))
        })
    }

    fn search_products(&self, q: &str, limit: u32) -> Result<Vec<(ProductId, String, u64)>, StoreError> {
        let words: Vec<String> = fold_for_matching(q)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(8)
            .map(|w| format!("%{}%", w.replace(['%', '_'], "")))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        // Product keys are folded (lowercase, no accents), so LIKE on them is accent-blind.
        let clause = vec!["p.key LIKE ?"; words.len()].join(" AND ");
        let sql = format!(
            "SELECT p.id, p.title, (SELECT count(*) FROM offers o WHERE o.product_id = p.id) AS n
             FROM products p WHERE {clause} ORDER BY n DESC, p.id LIMIT ?"
        );
        let mut params: Vec<Value> = words.into_iter().map(Value::Text).collect();
        params.push(Value::Integer(i64::from(limit)));
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map(params_from_iter(&params), |r| {
                Ok((ProductId::from_i64(r.get(0)?), r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect()
        })
    }

    fn drop_candidates(
        &self,
        since: i64,
        filter: &OfferFilter,
        limit: u32,
    ) -> Result<Vec<DropCandidate>, StoreError> {
        let mut w = filter_where(filter, None);
        w.push("o.price_changed_at >= ? AND o.prev_price_minor > o.price_minor", [Param::Int(since)]);
        let sql = format!(
            "SELECT {OFFER_COLUMNS} FROM offers o WHERE {}
             ORDER BY CAST(o.prev_price_minor - o.price_minor AS REAL) / o.prev_price_minor DESC, o.id
             LIMIT ?",
            w.sql()
        );
        let mut params = values(&w.params);
        params.push(Value::Integer(i64::from(limit)));
        self.with_reader(|c| {
            let offers: Vec<OfferView> =
                c.prepare_cached(&sql)?.query_map(params_from_iter(&params), offer_row)?.collect::<Result<_, _>>()?;
            let mut hist = c.prepare_cached(
                "SELECT observed_at, price_minor FROM price_history WHERE offer_id = ?1 ORDER BY observed_at",
            )?;
            offers
                .into_iter()
                .map(|o| {
                    let h = hist
                        .query_map([o.id.as_i64()], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(DropCandidate { offer: o, history: h })
                })
                .collect()
        })
    }

    fn category_prices(&self, category_key: &str) -> Result<Vec<PricedOffer>, StoreError> {
        let filter = OfferFilter { category: Some(category_key.to_string()), ..Default::default() };
        let w = filter_where(&filter, None);
        let sql = format!(
            "SELECT o.store_id, o.brand, o.product_id, o.currency, o.price_minor, o.last_seen
             FROM offers o WHERE {} ORDER BY o.currency, o.price_minor",
            w.sql()
        );
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map(params_from_iter(values(&w.params)), |r| {
                Ok(PricedOffer {
                    store: StoreId::parse(&r.get::<_, String>(0)?).map_err(conversion)?,
                    brand: r.get(1)?,
                    product_id: ProductId::from_i64(r.get(2)?),
                    currency: Currency::parse(&r.get::<_, String>(3)?).map_err(conversion)?,
                    price_minor: r.get(4)?,
                    last_seen: r.get(5)?,
                })
            })?
            .collect()
        })
    }

    fn store_offer_rows(&self) -> Result<Vec<StoreOfferRow>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT store_id, product_id, category_key, currency, price_minor, last_seen FROM offers",
            )?;
            stmt.query_map([], |r| {
                Ok(StoreOfferRow {
                    store: StoreId::parse(&r.get::<_, String>(0)?).map_err(conversion)?,
                    product_id: ProductId::from_i64(r.get(1)?),
                    category_key: r.get(2)?,
                    currency: Currency::parse(&r.get::<_, String>(3)?).map_err(conversion)?,
                    price_minor: r.get(4)?,
                    last_seen: r.get(5)?,
                })
            })?
            .collect()
        })
    }

    fn brands(&self, limit: u32) -> Result<Vec<BrandCount>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT min(brand), count(*), count(DISTINCT product_id) FROM offers
                 WHERE brand IS NOT NULL GROUP BY lower(brand)
                 ORDER BY count(*) DESC, min(brand) LIMIT ?1",
            )?;
            stmt.query_map([limit], |r| {
                Ok(BrandCount { brand: r.get(0)?, offers: r.get::<_, i64>(1)? as u64, products: r.get::<_, i64>(2)? as u64 })
            })?
            .collect()
        })
    }

    fn categories(&self) -> Result<Vec<CategoryCount>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT min(category), category_key, count(*) FROM offers
                 WHERE category_key IS NOT NULL GROUP BY category_key ORDER BY category_key",
            )?;
            stmt.query_map([], |r| {
                Ok(CategoryCount { category: r.get(0)?, key: r.get(1)?, offers: r.get::<_, i64>(2)? as u64 })
            })?
            .collect()
        })
    }

    fn create_user(&self, user: &NewUser, prefs: &Preferences) -> Result<User, StoreError> {
        self.with_conn_err(|c| crate::users::create(c, user, prefs))
    }

    fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.with_reader(|c| crate::users::get(c, id))
    }

    fn users(&self, page: PageRequest) -> Result<Page<User>, StoreError> {
        self.with_reader(|c| crate::users::list(c, page))
    }

    fn update_user(&self, id: i64, user: &NewUser, prefs: &Preferences) -> Result<Option<User>, StoreError> {
        self.with_conn_err(|c| crate::users::update(c, id, user, prefs))
    }

    fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        self.with_reader(|c| c.execute("DELETE FROM users WHERE id = ?1", [id]).map(|n| n > 0))
    }

    fn create_api_key(&self, name: &str, prefix: &str, key_hash: &str, scopes: &[String]) -> Result<ApiKeyRecord, StoreError> {
        self.with_reader(|c| crate::users::create_key(c, name, prefix, key_hash, scopes))
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.with_reader(crate::users::keys)
    }

    fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError> {
        self.with_reader(|c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = strftime('%s','now') WHERE id = ?1 AND revoked_at IS NULL",
                params![id],
            )
            .map(|n| n > 0)
        })
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.with_reader(|c| crate::users::key_by_hash(c, key_hash))
    }
}
