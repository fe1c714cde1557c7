//! `/quality`: the newest analysis (the stored report of `GET /api/forensic/analysis/{id}`):
//! each store's score, weakest first, with what pulls it down; the findings by severity with
//! examples; links to the exports.

use super::super::layout::Section;
use super::super::{Ctx, format};
use super::latest_report;
use crate::error::ApiResult;
use axum::response::Response;
use maud::{Markup, html};
use preciso_core::quality::engine::{Report, StoreScore};
use preciso_core::quality::{CheckResult, Outcome, Severity, Value};

pub async fn page(ctx: Ctx) -> Response {
    match content(&ctx).await {
        Ok(body) => ctx.render(Section::Quality, ctx.t.quality_title, body),
        Err(e) => ctx.error(e),
    }
}

async fn content(ctx: &Ctx) -> ApiResult<Markup> {
    let t = ctx.t;
    let Some((id, report)) = latest_report(ctx).await? else {
        return Ok(html! { p.notice { (t.no_analysis) } });
    };
    Ok(html! {
        p {
            strong { (t.latest_analysis) } " #" (id) " · " (format::time(report.as_of))
            @if let Some(s) = report.overall_score { " · " (t.overall) ": " strong { (format!("{s:.1}")) } " / 100" }
        }
        p { (t.export) ": "
            a href=(format!("/quality/{id}/export?format=html")) { "HTML" } " · "
            a href=(format!("/quality/{id}/export?format=csv")) { "CSV" } " · "
            a href=(format!("/quality/{id}/export?format=json")) { "JSON" }
        }
        h2 { (t.quality_scores) }
        (store_scores(ctx, id, &report, usize::MAX))
        h2 { (t.findings) }
        (findings(ctx, &report))
    })
}

/// `/quality/{id}/export?format=html|csv|json`: the export of `GET /api/forensic/export/{id}`
/// under the page's session (a browser link cannot send an API key).
pub async fn export(ctx: Ctx, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let format: Vec<(String, String)> =
        ctx.pairs.iter().filter(|(k, _)| k == "format").cloned().collect();
    let q = crate::extract::QueryParams(crate::params::Params::from_pairs(format));
    let state = axum::extract::State(ctx.state.clone());
    match crate::routes::forensic::export(state, crate::extract::PathParam(id), q).await {
        Ok(r) => r,
        Err(e) => ctx.error(e),
    }
}

fn is_finding(c: &CheckResult) -> bool {
    matches!(c.outcome, Outcome::Fail | Outcome::Warn)
}

/// The failing or warning checks with examples from `store`, most examples first.
fn reasons<'r>(report: &'r Report, store: &str) -> Vec<(&'r CheckResult, usize)> {
    let mut found: Vec<(&CheckResult, usize)> = report
        .checks
        .iter()
        .filter(|c| is_finding(c))
        .map(|c| (c, c.examples.iter().filter(|e| e.store == store).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
    found
}

/// Scores, weakest first, at most `limit` stores, the weakest named with why.
pub fn store_scores(ctx: &Ctx, id: i64, report: &Report, limit: usize) -> Markup {
    let t = ctx.t;
    let mut stores: Vec<&StoreScore> = report.stores.iter().collect();
    stores.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.store.cmp(&b.store)));
    let worst = stores.first();
    html! {
        @if let Some(w) = worst {
            p.notice {
                strong { (t.worst_store) ": " (w.store) } " (" (format!("{:.1}", w.score)) "/100)"
                @let why = reasons(report, &w.store);
                @if !why.is_empty() {
                    " — "
                    @for (i, (c, n)) in why.iter().take(3).enumerate() {
                        @if i > 0 { "; " }
                        a href=(format!("/quality#{}", c.id.as_str())) { code { (c.id.as_str()) } } " " (c.id.description()) " (" (n) ")"
                    }
                }
                @if let Some(r) = w.reject_rate.filter(|r| *r > 0.0) { "; " (t.reject_rate) " " (format::percent(r, ctx.lang)) }
                @if w.freshness_hours > 24.0 { "; " (t.freshness) " " (format!("{:.0}", w.freshness_hours)) }
            }
        }
        div.table-wrap { table {
            caption { (t.quality_scores) " (#" (id) ")" }
            thead { tr {
                th scope="col" { (t.store) } th.num scope="col" { (t.score) } th.num scope="col" { (t.live_offers) }
                th.num scope="col" { (t.freshness) } th.num scope="col" { (t.reject_rate) } th scope="col" { (t.findings) }
            } }
            tbody {
                @for s in stores.iter().take(limit) {
                    tr {
                        th scope="row" { (s.store) }
                        td.num { strong class=(score_class(s.score)) { (format!("{:.1}", s.score)) } }
                        td.num { (format::count(s.live_offers, ctx.lang)) " / " (format::count(s.offers, ctx.lang)) }
                        td.num { (format!("{:.1}", s.freshness_hours)) }
                        td.num { @if let Some(r) = s.reject_rate { (format::percent(r, ctx.lang)) } @else { "—" } }
                        td { @for (c, n) in reasons(report, &s.store).iter().take(3) { code { (c.id.as_str()) } " (" (n) ") " } }
                    }
                }
            }
        } }
    }
}

fn score_class(score: f64) -> &'static str {
    match score {
        s if s >= 90.0 => "pass",
        s if s >= 70.0 => "warn",
        _ => "fail",
    }
}

fn findings(ctx: &Ctx, report: &Report) -> Markup {
    let t = ctx.t;
    let levels = [
        (Severity::Critical, t.critical),
        (Severity::Warning, t.warning),
        (Severity::Info, t.info),
    ];
    html! {
        @if !report.checks.iter().any(is_finding) { p { (t.all_passed) } }
        @for (severity, name) in levels {
            @let checks: Vec<&CheckResult> = report.checks.iter().filter(|c| c.severity == severity && is_finding(c)).collect();
            @if !checks.is_empty() {
                h3 { (name) " (" (checks.len()) ")" }
                @for c in checks { (check(ctx, c)) }
            }
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Num(n) => format!("{n}"),
        Value::Text(s) => s.clone(),
    }
}

fn check(ctx: &Ctx, c: &CheckResult) -> Markup {
    let t = ctx.t;
    let outcome = match c.outcome {
        Outcome::Fail => "fail",
        _ => "warn",
    };
    html! {
        section id=(c.id.as_str()) {
            h4 { code { (c.id.as_str()) } " " span class=(outcome) { (outcome) } }
            p { (c.id.description()) " — " (t.unexpected) ": " (format::count(c.unexpected_count, ctx.lang)) " / " (format::count(c.element_count, ctx.lang)) " (" (format::percent(c.unexpected_ratio, ctx.lang)) ")" }
            @if !c.examples.is_empty() {
                details {
                    summary { (t.examples) " (" (c.examples.len()) ")" }
                    div.table-wrap { table {
                        thead { tr { th scope="col" { (t.store) } th scope="col" { "SKU" } th scope="col" { (t.values) } } }
                        tbody { @for e in &c.examples { tr {
                            td { (e.store) } td { (e.sku.as_deref().unwrap_or("—")) }
                            td { @for (k, v) in &e.values { code { (k) } " = " (value_text(v)) " " } }
                        } } }
                    } }
                }
            }
        }
    }
}
