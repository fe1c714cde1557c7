//! One product across stores: its offers in one currency (`currency`, else the default, else
//! the currency most of its offers are in), cheapest first, with their spread; the other
//! currencies it is sold in are listed with their counts. The product is named by
//! `product_id`, `gtin` or free text `q` (exactly one).

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::model::compare::{Comparison, ProductInfo, ProductMatch, Spread};
use crate::model::error::ErrorBody;
use crate::model::{Money, round2};
use crate::params::{CurrencyParam, ProductLookup};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use preciso_core::domain::{Gtin, ProductId};
use preciso_core::ports::Catalog;
use preciso_core::query::OfferView;
use std::collections::BTreeMap;

enum Lookup {
    Id(ProductId),
    Gtin(Gtin),
    Text(String),
}

fn lookup(q: &crate::params::Params) -> ApiResult<Lookup> {
    let given: Vec<&str> =
        ["product_id", "gtin", "q"].into_iter().filter(|k| q.str(k).is_some()).collect();
    if given.len() != 1 {
        return Err(ApiError::bad("product_id", "give exactly one of product_id, gtin or q"));
    }
    Ok(match given[0] {
        "product_id" => {
            Lookup::Id(ProductId::parse(q.str("product_id").unwrap_or_default()).map_err(|_| {
                ApiError::bad("product_id", "product_id must be 16 hexadecimal digits")
            })?)
        }
        "gtin" => Lookup::Gtin(
            Gtin::parse(q.str("gtin").unwrap_or_default())
                .map_err(|e| ApiError::bad("gtin", format!("gtin: {e}")))?,
        ),
        _ => {
            let text = q.str("q").unwrap_or_default();
            if text.chars().count() > 200 {
                return Err(ApiError::bad("q", "q must be at most 200 characters"));
            }
            Lookup::Text(text.to_string())
        }
    })
}

/// min, max, spread and the cheapest store for each currency among the offers.
fn spreads(offers: &[OfferView]) -> Vec<Spread> {
    let mut by_currency: BTreeMap<&str, Vec<&OfferView>> = BTreeMap::new();
    for o in offers {
        by_currency.entry(o.price.currency.code()).or_default().push(o);
    }
    by_currency
        .values()
        .filter_map(|group| {
            let cheapest = group.iter().min_by_key(|o| (o.price.minor, o.id))?;
            let dearest = group.iter().max_by_key(|o| o.price.minor)?;
            let currency = cheapest.price.currency;
            let spread = dearest.price.minor - cheapest.price.minor;
            let pct = if cheapest.price.minor > 0 {
                spread as f64 * 100.0 / cheapest.price.minor as f64
            } else {
                0.0
            };
            Some(Spread {
                currency,
                offers: group.len() as u64,
                min: cheapest.price.into(),
                max: dearest.price.into(),
                spread: Money::new(spread, currency),
                spread_pct: round2(pct),
                cheapest_store: cheapest.store.clone(),
                cheapest_offer_id: cheapest.id,
            })
        })
        .collect()
}

/// The product looked up, the text search's matches (none by id or GTIN) and its offers.
fn find(c: &dyn Catalog, how: Lookup) -> ApiResult<Found> {
    let (id, matches) = match how {
        Lookup::Id(id) => (Some(id), Vec::new()),
        Lookup::Gtin(g) => (c.product_by_gtin(&g)?, Vec::new()),
        Lookup::Text(t) => {
            let found = c.search_products(&t, 10)?;
            (found.first().map(|f| f.0), found)
        }
    };
    let Some(id) = id else {
        return Err(ApiError::NotFound("no product matches".into()));
    };
    let offers = c.product_offers(id)?;
    if offers.is_empty() {
        return Err(ApiError::NotFound(format!("product {id} does not exist")));
    }
    Ok((id, matches, offers))
}

type Found = (ProductId, Vec<(ProductId, String, u64)>, Vec<OfferView>);

/// One product across stores: exactly one of `product_id`, `gtin` or `q` names it.
#[utoipa::path(
    get,
    path = "/api/price-comparison",
    operation_id = "price_comparison",
    tag = "compare",
    params(ProductLookup, CurrencyParam),
    responses(
        (status = 200, description = "The product, its offers in one currency cheapest first, their spread, and the currencies it is sold in.", body = Comparison),
        (status = 404, description = "No product matches.", body = ErrorBody),
    )
)]
pub async fn price_comparison(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Comparison>> {
    let how = lookup(&q)?;
    let requested = crate::currency::requested(&q)?;
    // By id or GTIN it reads one product's rows; a text search scans the index first.
    let (product, matches, offers) = match how {
        Lookup::Text(_) => state.db(move |c| find(c, how)).await?,
        _ => state.db_point(move |c| find(c, how)).await?,
    };
    let (currency, currencies) =
        crate::currency::choose_among(&state, requested, offers.iter().map(|o| o.price.currency));
    let first = &offers[0];
    let info = ProductInfo {
        id: product,
        title: first.title.clone(),
        brand: first.brand.clone(),
        gtin: offers.iter().find_map(|o| o.gtin.clone()),
        category: first.category.clone(),
    };
    let offers: Vec<OfferView> =
        offers.into_iter().filter(|o| Some(o.price.currency) == currency).collect();
    let stores: std::collections::BTreeSet<&str> =
        offers.iter().map(|o| o.store.as_str()).collect();
    let (stores, spread) = (stores.len() as u64, spreads(&offers));
    Ok(Json(Comparison {
        currency,
        currencies,
        product: info,
        stores,
        spread,
        offers: offers.into_iter().map(Into::into).collect(),
        matches: matches
            .into_iter()
            .map(|(product_id, title, offers)| ProductMatch { product_id, title, offers })
            .collect(),
    }))
}
