//! `/stores`: every store side by side (the answers of `GET /api/stores` and
//! `GET /api/reports/store-comparison`: offers, stock, price index, how often it is the
//! cheapest) and each store's data-quality score over time (`GET /api/forensic/scores`).

use super::super::chart::{self, Label, Series};
use super::super::layout::Section;
use super::super::{Ctx, format, url};
use super::currency_switch;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::model::catalog::StoreList;
use crate::model::reports::StoreComparison;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use preciso_core::quality::runs::ScorePoint;
use std::collections::BTreeMap;

pub async fn page(ctx: Ctx) -> Response {
    match content(&ctx).await {
        Ok(body) => ctx.render(Section::Stores, ctx.t.stores_title, body),
        Err(e) => ctx.error(e),
    }
}

async fn content(ctx: &Ctx) -> ApiResult<Markup> {
    let state = || State(ctx.state.clone());
    let Json(stores) = crate::routes::catalog::stores(state()).await?;
    let currency: Vec<(String, String)> =
        ctx.pairs.iter().filter(|(k, _)| k == "currency").cloned().collect();
    let Json(cmp) = crate::routes::reports::store_comparison(
        state(),
        QueryParams(crate::params::Params::from_pairs(currency)),
    )
    .await?;
    let scores_q = crate::params::Params::from_pairs(vec![("limit".into(), "1000".into())]);
    let Json(scores) = crate::routes::forensic::scores(state(), QueryParams(scores_q)).await?;
    Ok(html! {
        (currency_switch(ctx, cmp.currency, &cmp.currencies))
        (table(ctx, &stores, &cmp, &scores.items))
        p.muted { (cmp.price_index_definition) }
        h2 { (ctx.t.score_trend) }
        (trend(ctx, &scores.items))
    })
}

fn latest_scores(points: &[ScorePoint]) -> BTreeMap<&str, f64> {
    // Oldest first: the last one written per store is its newest.
    points.iter().map(|p| (p.store.as_str(), p.score)).collect()
}

fn table(ctx: &Ctx, stores: &StoreList, cmp: &StoreComparison, points: &[ScorePoint]) -> Markup {
    let t = ctx.t;
    let scores = latest_scores(points);
    html! {
        div.table-wrap { table {
            caption { (t.stores_title) @if let Some(c) = cmp.currency { " (" (c.code()) ")" } }
            thead { tr {
                th scope="col" { (t.store) } th.num scope="col" { (t.offers) } th.num scope="col" { (t.in_stock) }
                th.num scope="col" { (t.categories) } th.num scope="col" { (t.price_index) }
                th.num scope="col" { (t.cheapest_share) } th.num scope="col" { (t.compared) }
                th.num scope="col" { (t.score) } th scope="col" { (t.last_seen) }
            } }
            tbody {
                @for s in &stores.items {
                    @let r = cmp.stores.iter().find(|r| r.store == s.id);
                    tr {
                        th scope="row" { a href=(url("/search", &[("store", s.id.as_str())])) { (s.name) } }
                        // In the report's currency when the store sells in it; else all of it.
                        td.num { (format::count(r.map_or(s.offers, |r| r.offers), ctx.lang)) }
                        td.num { (format::count(s.in_stock, ctx.lang)) }
                        td.num { (format::count(r.map_or(s.categories, |r| r.categories), ctx.lang)) }
                        td.num { @if let Some(i) = r.and_then(|r| r.price_index) { (format!("{i:.1}")) } @else { "—" } }
                        td.num { @if let Some(r) = r { (format::percent(r.cheapest_share, ctx.lang)) } @else { "—" } }
                        td.num { @if let Some(r) = r { (format::count(r.compared_products, ctx.lang)) } @else { "—" } }
                        td.num { @if let Some(sc) = scores.get(s.id.as_str()) { (format!("{sc:.1}")) } @else { "—" } }
                        td { @if let Some(at) = s.last_seen { (format::time(at)) } @else { "—" } }
                    }
                }
            }
        } }
    }
}

/// Each store's score per analysis, as lines, with the numbers in a table.
pub fn trend(ctx: &Ctx, points: &[ScorePoint]) -> Markup {
    let t = ctx.t;
    if points.is_empty() {
        return html! { p.muted { (t.no_analysis) } };
    }
    let mut by_store: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for p in points {
        by_store.entry(p.store.as_str()).or_default().push((p.as_of, p.score));
    }
    let series: Vec<Series> = by_store
        .iter()
        .map(|(name, pts)| Series { name: (*name).to_string(), points: pts.clone() })
        .collect();
    let until = points.iter().map(|p| p.as_of).max().unwrap_or(0);
    let svg = chart::time_lines(
        &series,
        until,
        false,
        &|v| format!("{v:.0}"),
        &Label { id: "scores", title: t.score_trend, desc: t.score_trend_desc },
    );
    html! {
        figure { (maud::PreEscaped(svg)) figcaption.muted { (t.score_trend_desc) } }
        details {
            summary { (t.chart_data) }
            div.table-wrap { table {
                caption { (t.score_trend) }
                thead { tr { th scope="col" { (t.store) } th scope="col" { (t.date) } th.num scope="col" { (t.score) } th.num scope="col" { (t.live_offers) } } }
                tbody { @for p in points { tr { th scope="row" { (p.store) } td { (format::time(p.as_of)) } td.num { (format!("{:.1}", p.score)) } td.num { (format::count(p.live_offers, ctx.lang)) } } } }
            } }
        }
    }
}
