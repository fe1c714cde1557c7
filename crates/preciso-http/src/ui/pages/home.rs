//! `/`: what the catalog holds, when data last arrived, whether the jobs are healthy, the
//! categories, and the stores' data-quality scores from the newest analysis (weakest first,
//! with why).

use super::super::layout::Section;
use super::super::{Ctx, format};
use super::{category_href, latest_report};
use crate::error::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use preciso_core::ports::CatalogCounts;
use preciso_core::query::CategoryCount;
use preciso_ops::status::StatusDoc;

pub async fn page(ctx: Ctx) -> Response {
    match content(&ctx).await {
        Ok(body) => ctx.render(Section::Home, ctx.t.home_title, body),
        Err(e) => ctx.error(e),
    }
}

async fn content(ctx: &Ctx) -> ApiResult<Markup> {
    let state = ctx.state.clone();
    let status = match ctx.state.ops {
        Some(_) => Some(crate::routes::jobs::status(State(state), ctx.caller.clone()).await?.0),
        None => None,
    };
    let counts = match &status {
        Some(s) => s.counts.clone(),
        None => ctx.state.db(|c| Ok(c.counts()?)).await?,
    };
    let Json(categories) = crate::routes::catalog::categories(State(ctx.state.clone())).await?;
    let report = latest_report(ctx).await?;
    let t = ctx.t;
    Ok(html! {
        (count_cards(ctx, &counts))
        @if let Some(s) = &status { (ingest_and_jobs(ctx, s)) }
        h2 { (t.quality_scores) }
        @match &report {
            Some((id, r)) => (super::quality::store_scores(ctx, *id, r, 5)),
            None => p.muted { (t.no_analysis) },
        }
        h2 { (t.categories) }
        (category_list(ctx, &categories.items))
    })
}

fn count_cards(ctx: &Ctx, c: &CatalogCounts) -> Markup {
    let t = ctx.t;
    let cards = [
        (t.offers, c.offers),
        (t.products, c.products),
        (t.stores, c.stores),
        (t.price_points, c.price_observations),
    ];
    html! {
        ul.cards {
            @for (label, n) in cards {
                li { span.n { (format::count(n, ctx.lang)) } span.l { (label) } }
            }
        }
    }
}

fn ingest_and_jobs(ctx: &Ctx, s: &StatusDoc) -> Markup {
    let t = ctx.t;
    html! {
        p {
            strong { (t.last_ingest) ": " }
            @match &s.last_ingest {
                Some(i) => { (i.received_at.format("%Y-%m-%d %H:%M UTC")) " · " code { (i.file) } " · " span class=(i.status.as_str()) { (i.status.as_str()) } },
                None => (t.never),
            }
        }
        h2 { (t.jobs) }
        div.table-wrap { table {
            thead { tr { th { (t.job) } th { (t.last_run) } th { (t.last_success) } th { (t.next_run) } } }
            tbody {
                @for j in &s.jobs {
                    tr {
                        td { a href="/ops" { (j.name) } }
                        td { @if let Some(r) = &j.last_run { span class=(r.status.as_str()) { (r.status.as_str()) } " · " (r.started_at.format("%Y-%m-%d %H:%M")) } @else { (t.never) } }
                        td { @if let Some(at) = j.last_success { (at.format("%Y-%m-%d %H:%M")) } @else { (t.never) } }
                        td { @if let Some(at) = j.next_run { (at.format("%Y-%m-%d %H:%M UTC")) } @else { "—" } }
                    }
                }
            }
        } }
    }
}

fn category_list(ctx: &Ctx, items: &[CategoryCount]) -> Markup {
    let mut top: Vec<&CategoryCount> = items.iter().collect();
    top.sort_by(|a, b| b.offers.cmp(&a.offers).then(a.key.cmp(&b.key)));
    html! {
        ul.cards {
            @for c in top.iter().take(24) {
                li { a href=(category_href(&c.key)) { (c.category) } span.l { " · " (format::count(c.offers, ctx.lang)) " " (ctx.t.offers_count) } }
            }
        }
    }
}
