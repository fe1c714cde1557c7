//! One module per page, and the pieces several pages show: money, the currency switcher, the
//! pager, a list of best offers, the analysis a page reads its scores from.

pub mod category;
pub mod home;
pub mod login;
pub mod ops;
pub mod product;
pub mod quality;
pub mod search;
pub mod stores;

use super::{Ctx, format, segment};
use crate::error::{ApiError, ApiResult};
use crate::model::Money;
use crate::model::offers::BestOffer;
use axum::Json;
use axum::extract::State;
use maud::{Markup, html};
use preciso_core::domain::Currency;
use preciso_core::quality::engine::Report;
use preciso_core::query::CurrencyCount;

pub fn money(m: &Money) -> Markup {
    html! { span.price { (format::money(m.minor, m.currency)) } }
}

/// The currency a listing runs in and the switch to the scope's other currencies: a form
/// that keeps the page's other parameters.
pub fn currency_switch(ctx: &Ctx, current: Option<Currency>, all: &[CurrencyCount]) -> Markup {
    let t = ctx.t;
    let others: Vec<(&str, &str)> = ctx
        .pairs
        .iter()
        .filter(|(k, v)| !v.is_empty() && !matches!(k.as_str(), "currency" | "page" | "lang"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    html! {
        @if all.len() > 1 {
            form.inline method="get" action=(ctx.path) {
                @for (k, v) in &others { input type="hidden" name=(k) value=(v); }
                label {
                    (t.currency)
                    select name="currency" {
                        @for c in all {
                            option value=(c.currency.code()) selected[Some(c.currency) == current] {
                                (c.currency.code()) " (" (format::count(c.offers, ctx.lang)) " " (t.offers_count) ")"
                            }
                        }
                    }
                }
                button type="submit" { (t.switch_currency) }
            }
            p.muted { (t.currency_note) }
        } @else if let Some(c) = current {
            p.muted { (t.currency) ": " (c.code()) }
        }
    }
}

/// Previous / next links with "page n of m" ("of at least m" when the total is a lower
/// bound: there is a next page while this one lies within it).
pub fn pager(ctx: &Ctx, page: u32, limit: u32, total: u64, exact: bool) -> Markup {
    let t = ctx.t;
    let pages = page_count(limit, total);
    let prev = (page > 1).then(|| ctx.url_with(&[("page", &(page - 1).to_string())]));
    let next = has_next(page, limit, total, exact)
        .then(|| ctx.url_with(&[("page", &(page + 1).to_string())]));
    html! {
        nav.pager aria-label=(t.pagination) {
            @if let Some(href) = prev { a href=(href) rel="prev" { "← " (t.previous) } }
            span {
                (t.page) " " (page) " " (t.of) " "
                @if !exact { (t.at_least) " " }
                (format::count(pages, ctx.lang))
            }
            @if let Some(href) = next { a href=(href) rel="next" { (t.next) " →" } }
        }
    }
}

/// Pages a total fills (at least one).
fn page_count(limit: u32, total: u64) -> u64 {
    total.div_ceil(u64::from(limit.max(1))).max(1)
}

/// Whether a page follows `page`: within the total, or one past it when the total is a lower
/// bound (more matches exist than were counted).
fn has_next(page: u32, limit: u32, total: u64, exact: bool) -> bool {
    let pages = page_count(limit, total);
    u64::from(page) < pages || (!exact && u64::from(page) == pages)
}

pub fn product_href(id: impl std::fmt::Display) -> String {
    format!("/products/{id}")
}

pub fn category_href(key: &str) -> String {
    format!("/categories/{}", key.split('/').map(segment).collect::<Vec<_>>().join("/"))
}

/// Best offers as a list: product, brand and category, its best price and where.
pub fn best_list(ctx: &Ctx, items: &[BestOffer]) -> Markup {
    let t = ctx.t;
    html! {
        ol.results {
            @for b in items {
                li {
                    div.t {
                        a href=(product_href(b.offer.product_id)) { (b.offer.title) }
                        br;
                        span.muted {
                            @if let Some(brand) = &b.offer.brand { (brand) " · " }
                            @if let Some(c) = &b.offer.category { (c) }
                        }
                    }
                    div {
                        (money(&b.offer.price)) " "
                        span.muted { (b.offer.store.as_str()) " · " (format::count(b.offers_for_product, ctx.lang)) " " (t.offers_count) }
                    }
                }
            }
        }
    }
}

/// The newest succeeded analysis (any scope), with its run id: what the quality scores of the
/// pages come from.
pub async fn latest_report(ctx: &Ctx) -> ApiResult<Option<(i64, Report)>> {
    let q = crate::params::Params::from_pairs(vec![
        ("status".into(), "succeeded".into()),
        ("limit".into(), "1".into()),
    ]);
    let Json(page) = crate::routes::forensic::list(
        State(ctx.state.clone()),
        ctx.caller.clone(),
        crate::extract::QueryParams(q),
    )
    .await?;
    let Some(run) = page.items.first() else { return Ok(None) };
    let id = run.job_id;
    let text = crate::routes::forensic::stored_report(&ctx.state, id).await?;
    let report: Report = serde_json::from_str(&text)
        .map_err(|e| ApiError::Internal(format!("stored report {id}: {e}")))?;
    Ok(Some((id, report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_bound_total_leaves_a_next_page_after_its_last() {
        assert!(
            has_next(1, 20, 41, true) && has_next(2, 20, 41, true) && !has_next(3, 20, 41, true)
        );
        // 10,000 counted, more exist: page 500 of "at least 500" has a next page.
        assert!(has_next(500, 20, 10_000, false));
        assert!(!has_next(500, 20, 10_000, true));
        assert_eq!(page_count(20, 0), 1);
    }
}
