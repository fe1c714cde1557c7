//! `/products/{id}`: one product across stores (the answer of `GET /api/price-comparison`):
//! its offers in one currency cheapest first, the spread, each store's price history as a
//! step chart (with the same numbers in a table), and beside any claimed discount the 30-day
//! low and the verdict of the analysis' Omnibus rule (`P.fake_discount`).

use super::super::chart::{self, Label, Series};
use super::super::layout::Section;
use super::super::{Ctx, format};
use super::{category_href, currency_switch, money};
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::model::compare::Comparison;
use crate::model::offers::{Offer, OfferHistory};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use preciso_core::analysis::omnibus::{self, Observation, Verdict};

/// Offers whose history a page draws at most.
const MAX_HISTORIES: usize = 12;

pub async fn page(ctx: Ctx, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    match content(&ctx, id).await {
        Ok((title, body)) => ctx.render(Section::Search, &title, body),
        Err(e) => ctx.error(e),
    }
}

/// What the page knows of one offer's history.
struct Judged {
    history: OfferHistory,
    lowest_30: Option<i64>,
    verdict: Verdict,
}

fn judge(mut history: OfferHistory, now: i64) -> Judged {
    // Points in another currency than the offer's now (a store that switched) are not
    // comparable with its price: left out of the low, the verdict and the chart.
    let currency = history.offer.price.currency;
    history.history.retain(|p| p.price.currency == currency);
    let obs: Vec<Observation> = history
        .history
        .iter()
        .map(|p| Observation {
            at: p.observed_at,
            price: p.price.minor,
            list: p.list_price.as_ref().map(|l| l.minor),
            arrival: 0,
        })
        .collect();
    let opens = now - omnibus::WINDOW_SECS;
    // The price in effect when the window opened, and every price set since.
    let start = obs.iter().rposition(|o| o.at <= opens).unwrap_or(0);
    let lowest_30 = obs[start.min(obs.len())..].iter().map(|o| o.price).min();
    Judged { verdict: omnibus::judge(&obs, omnibus::WINDOW_SECS), lowest_30, history }
}

async fn content(ctx: &Ctx, id: String) -> ApiResult<(String, Markup)> {
    let mut pairs = vec![("product_id".to_string(), id)];
    if let Some(c) = ctx.get("currency") {
        pairs.push(("currency".into(), c.to_string()));
    }
    let params = crate::params::Params::from_pairs(pairs);
    let state = || State(ctx.state.clone());
    let Json(cmp) = crate::routes::compare::price_comparison(state(), QueryParams(params)).await?;
    let now = chrono::Utc::now().timestamp();
    let mut judged = Vec::new();
    for o in cmp.offers.iter().take(MAX_HISTORIES) {
        let path = PathParam(o.id.to_string());
        match crate::routes::offers::history(state(), path).await {
            Ok(Json(h)) => judged.push(judge(h, now)),
            // Deleted between the two reads: the table still lists it.
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let title = cmp.product.title.clone();
    Ok((title, body(ctx, &cmp, &judged, now)))
}

fn body(ctx: &Ctx, cmp: &Comparison, judged: &[Judged], now: i64) -> Markup {
    let t = ctx.t;
    let p = &cmp.product;
    html! {
        p.muted {
            @if let Some(b) = &p.brand { (t.brand) ": " strong { (b) } " · " }
            @if let Some(c) = &p.category {
                (t.category) ": " a href=(category_href(&preciso_core::domain::category_key(c))) { (c) } " · "
            }
            @if let Some(g) = &p.gtin { "GTIN " code { (g) } }
        }
        (currency_switch(ctx, cmp.currency, &cmp.currencies))
        @for s in &cmp.spread {
            ul.cards {
                li { span.n { (money(&s.min)) } span.l { (t.cheapest) " · " (s.cheapest_store.as_str()) } }
                li { span.n { (money(&s.max)) } span.l { (t.dearest) } }
                li { span.n { (money(&s.spread)) } span.l { (t.spread) " · " (format::percent(s.spread_pct / 100.0, ctx.lang)) } }
                li { span.n { (format::count(cmp.stores, ctx.lang)) } span.l { (t.stores) } }
            }
        }
        h2 { (t.ranked_offers) }
        (offer_table(ctx, &cmp.offers, judged))
        h2 { (t.history) }
        (history_chart(ctx, cmp, judged, now))
    }
}

fn offer_table(ctx: &Ctx, offers: &[Offer], judged: &[Judged]) -> Markup {
    let t = ctx.t;
    html! {
        div.table-wrap { table {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (t.store) } th.num scope="col" { (t.price) }
                th.num scope="col" { (t.list_price) } th.num scope="col" { (t.lowest_30) }
                th scope="col" { (t.availability) } th scope="col" { (t.last_seen) } th scope="col" { span.vh { (t.see_in_store) } }
            } }
            tbody {
                @for (i, o) in offers.iter().enumerate() {
                    @let j = judged.iter().find(|j| j.history.offer.id == o.id);
                    tr {
                        td { (i + 1) }
                        th scope="row" { (o.store.as_str()) @if let Some(sku) = &o.sku { br; span.muted { (sku) } } }
                        td.num { (money(&o.price)) }
                        td.num {
                            @if let Some(l) = o.list_price.as_ref().filter(|l| l.minor > o.price.minor) {
                                (money(l)) br;
                                @match j.map(|j| j.verdict) {
                                    Some(Verdict::Fake { .. }) => span.badge.bad title=(t.fake_discount_why) { (t.fake_discount) },
                                    Some(Verdict::Honest { .. }) => span.badge.ok { (t.honest_discount) },
                                    _ => {},
                                }
                            } @else { "—" }
                        }
                        td.num { @if let Some(low) = j.and_then(|j| j.lowest_30) { span.price { (format::money(low, o.price.currency)) } } @else { "—" } }
                        td { (availability(ctx, o.availability)) }
                        td { (format::time(o.last_seen)) }
                        td { @if let Some(u) = o.url.as_deref().filter(|u| u.starts_with("http")) { a href=(u) rel="noopener noreferrer nofollow" { (t.see_in_store) } } }
                    }
                }
            }
        } }
        @if judged.iter().any(|j| matches!(j.verdict, Verdict::Fake { .. })) {
            p.notice.bad { strong { (t.fake_discount) ": " } (t.fake_discount_why) }
        }
    }
}

fn availability(ctx: &Ctx, a: preciso_core::domain::Availability) -> &'static str {
    use preciso_core::domain::Availability::*;
    match a {
        InStock => ctx.t.in_stock_word,
        OutOfStock => ctx.t.out_of_stock_word,
        Unknown => ctx.t.unknown_stock_word,
    }
}

fn history_chart(ctx: &Ctx, cmp: &Comparison, judged: &[Judged], now: i64) -> Markup {
    let t = ctx.t;
    let Some(currency) = cmp.currency else { return html! {} };
    let series: Vec<Series> = judged
        .iter()
        .map(|j| {
            let o = &j.history.offer;
            let twice = judged.iter().filter(|k| k.history.offer.store == o.store).count() > 1;
            let name = match (&o.sku, twice) {
                (Some(sku), true) => format!("{} ({sku})", o.store.as_str()),
                _ => o.store.as_str().to_string(),
            };
            let points = j
                .history
                .history
                .iter()
                .map(|p| {
                    (
                        p.observed_at,
                        p.price.minor as f64 / 10f64.powi(i32::from(currency.exponent())),
                    )
                })
                .collect();
            Series { name, points }
        })
        .collect();
    let title = format!("{}: {}", t.history, cmp.product.title);
    let until = judged.iter().map(|j| j.history.offer.last_seen).max().unwrap_or(now);
    let svg = chart::time_lines(
        &series,
        until,
        true,
        &|v| format::major(v, currency),
        &Label { id: "history", title: &title, desc: t.history_desc },
    );
    html! {
        figure {
            (maud::PreEscaped(svg))
            figcaption.muted { (t.history_desc) " (" (currency.code()) ")" }
        }
        details {
            summary { (t.chart_data) }
            div.table-wrap { table {
                caption { (title) }
                thead { tr { th scope="col" { (t.store) } th scope="col" { (t.date) } th.num scope="col" { (t.price) } th.num scope="col" { (t.list_price) } } }
                tbody {
                    @for (i, j) in judged.iter().enumerate() {
                        @for p in &j.history.history {
                            tr {
                                th scope="row" { span class=(format!("swatch s{}", i % 7)) {} (series[i].name) }
                                td { (format::time(p.observed_at)) }
                                td.num { (money(&p.price)) }
                                td.num { @if let Some(l) = &p.list_price { (money(l)) } @else { "—" } }
                            }
                        }
                    }
                }
            } }
        }
    }
}
