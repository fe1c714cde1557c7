//! `/categories/{name}`: a category's best prices (the answer of `GET /api/best-prices`), the
//! distribution of its prices as a histogram, and its per-brand and per-store breakdown (the
//! answer of `GET /api/reports/price-analysis`), all in one currency.

use super::super::chart::{self, Bin, Label};
use super::super::layout::Section;
use super::super::{Ctx, format};
use super::{best_list, currency_switch, money, pager};
use crate::error::ApiResult;
use crate::extract::{PathParam, QueryParams};
use crate::model::reports::{GroupStats, PriceAnalysis};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

pub async fn page(ctx: Ctx, axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match content(&ctx, name).await {
        Ok((title, body)) => ctx.render(Section::Search, &title, body),
        Err(e) => ctx.error(e),
    }
}

async fn content(ctx: &Ctx, name: String) -> ApiResult<(String, Markup)> {
    let state = || State(ctx.state.clone());
    let listing: Vec<(String, String)> = ctx
        .pairs
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "currency" | "page"))
        .cloned()
        .collect();
    let Json(best) = crate::routes::offers::best_prices(
        state(),
        ctx.caller.clone(),
        PathParam(name.clone()),
        QueryParams(crate::params::Params::from_pairs(listing.clone())),
    )
    .await?;
    let mut analysis_q: Vec<(String, String)> =
        listing.into_iter().filter(|(k, _)| k == "currency").collect();
    analysis_q.push(("bins".into(), "12".into()));
    let Json(analysis) = crate::routes::reports::price_analysis(
        state(),
        PathParam(name),
        QueryParams(crate::params::Params::from_pairs(analysis_q)),
    )
    .await?;
    let t = ctx.t;
    // The category's own name, as its offers write it, when one of them is in it directly.
    let title = best
        .items
        .iter()
        .filter_map(|b| b.offer.category.as_ref())
        .find(|c| preciso_core::domain::category_key(c) == analysis.category)
        .cloned()
        .unwrap_or_else(|| analysis.category.clone());
    let body = html! {
        (currency_switch(ctx, best.currency, &best.currencies))
        @if let Some(s) = &analysis.stats {
            ul.cards {
                li { span.n { (format::count(s.count, ctx.lang)) } span.l { (t.offers) } }
                li { span.n { (money(&s.min)) } span.l { (t.minimum) } }
                li { span.n { (money(&s.median)) } span.l { (t.median) } }
                li { span.n { (money(&s.max)) } span.l { (t.maximum) } }
            }
        }
        h2 { (t.distribution) }
        (histogram(ctx, &analysis))
        h2 { (t.best_prices) }
        (best_list(ctx, &best.items))
        (pager(ctx, best.page, best.limit, best.total, best.total_exact))
        div.grid2 {
            section { h2 { (t.by_brand) } (groups(ctx, t.brand, &analysis.by_brand)) }
            section { h2 { (t.by_store) } (groups(ctx, t.store, &analysis.by_store)) }
        }
    };
    Ok((title, body))
}

fn histogram(ctx: &Ctx, a: &PriceAnalysis) -> Markup {
    let t = ctx.t;
    let Some(currency) = a.currency else { return html! {} };
    let scale = 10f64.powi(i32::from(currency.exponent()));
    let bins: Vec<Bin> = a
        .histogram
        .iter()
        .map(|b| Bin {
            from: b.from.minor as f64 / scale,
            to: b.to.minor as f64 / scale,
            count: b.count,
        })
        .collect();
    let title = format!("{}: {}", t.distribution, a.category);
    let svg = chart::histogram(
        &bins,
        &|v| format::major(v, currency),
        &Label { id: "histogram", title: &title, desc: t.distribution_desc },
    );
    html! {
        figure { (maud::PreEscaped(svg)) figcaption.muted { (t.distribution_desc) " (" (currency.code()) ")" } }
        details {
            summary { (t.chart_data) }
            div.table-wrap { table {
                caption { (title) }
                thead { tr { th scope="col" { (t.from) } th scope="col" { (t.to) } th.num scope="col" { (t.count) } } }
                tbody { @for b in &a.histogram { tr { td { (money(&b.from)) } td { (money(&b.to)) } td.num { (format::count(b.count, ctx.lang)) } } } }
            } }
        }
    }
}

fn groups(ctx: &Ctx, what: &str, groups: &[GroupStats]) -> Markup {
    let t = ctx.t;
    html! {
        div.table-wrap { table {
            thead { tr { th scope="col" { (what) } th.num scope="col" { (t.offers) } th.num scope="col" { (t.minimum) } th.num scope="col" { (t.median) } th.num scope="col" { (t.maximum) } } }
            tbody {
                @for g in groups.iter().take(25) {
                    tr {
                        th scope="row" { (g.name) }
                        @if let Some(s) = &g.stats {
                            td.num { (format::count(s.count, ctx.lang)) } td.num { (money(&s.min)) } td.num { (money(&s.median)) } td.num { (money(&s.max)) }
                        } @else { td.num { "0" } td {} td {} td {} }
                    }
                }
            }
        } }
    }
}
