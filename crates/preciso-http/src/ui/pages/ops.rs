//! `/ops`: the scheduler's jobs with their last and next runs, the recent runs with each
//! step's result, the archive and backup state (the answers of `GET /api/jobs`, `/api/runs`
//! and `/api/status`), and for an admin session a button per job that runs it now (the same
//! handler as `POST /api/jobs/{name}/run`). Paths and error texts show only to admins.

use super::super::layout::Section;
use super::super::{Ctx, format, see_other, url};
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::layers::auth::Scope;
use crate::model::jobs::{JobList, Run};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use preciso_ops::status::StatusDoc;

pub async fn page(ctx: Ctx) -> Response {
    match content(&ctx).await {
        Ok(body) => ctx.render(Section::Ops, ctx.t.ops_title, body),
        Err(ApiError::Unavailable { .. }) => {
            ctx.render(Section::Ops, ctx.t.ops_title, html! { p.notice { (ctx.t.no_scheduler) } })
        }
        Err(e) => ctx.error(e),
    }
}

async fn content(ctx: &Ctx) -> ApiResult<Markup> {
    let state = || State(ctx.state.clone());
    let Json(jobs) = crate::routes::jobs::list(state()).await?;
    let Json(status) = crate::routes::jobs::status(state(), ctx.caller.clone()).await?;
    let q = crate::params::Params::from_pairs(vec![("limit".into(), "20".into())]);
    let Json(runs) = crate::routes::jobs::runs(state(), ctx.caller.clone(), QueryParams(q)).await?;
    let t = ctx.t;
    Ok(html! {
        @if let Some(id) = ctx.get("run") { p.notice role="status" { (t.run_started) ": #" (id) } }
        @if ctx.get("skipped").is_some() { p.notice.bad role="status" { (t.run_skipped) } }
        @if !ctx.caller.is_admin() { p.muted { (t.admin_only) } }
        h2 { (t.jobs) }
        (job_table(ctx, &jobs, &status))
        div.grid2 {
            section { h2 { (t.backups) } (backups(ctx, &status)) }
            section { h2 { (t.archive) } (archive(ctx, &status)) }
        }
        h2 { (t.recent_runs) }
        (run_table(ctx, &runs.items))
    })
}

fn job_table(ctx: &Ctx, jobs: &JobList, status: &StatusDoc) -> Markup {
    let t = ctx.t;
    let admin = ctx.caller.is_admin();
    html! {
        div.table-wrap { table {
            thead { tr {
                th scope="col" { (t.job) } th scope="col" { (t.last_run) } th scope="col" { (t.last_success) }
                th scope="col" { (t.next_run) } @if admin { th scope="col" { span.vh { (t.run_now) } } }
            } }
            tbody {
                @for j in &jobs.items {
                    @let s = status.jobs.iter().find(|s| s.name == j.name);
                    tr {
                        th scope="row" { (j.name) br; span.muted { (j.description) } @if !j.enabled { br; span.badge.warn { "off" } } }
                        td { @if let Some(r) = s.and_then(|s| s.last_run.as_ref()) {
                            span class=(r.status.as_str()) { (r.status.as_str()) } br; span.muted { (r.started_at.format("%Y-%m-%d %H:%M UTC")) }
                        } @else { (t.never) } }
                        td { @if let Some(at) = s.and_then(|s| s.last_success) { (at.format("%Y-%m-%d %H:%M UTC")) } @else { (t.never) } }
                        td { @if let Some(n) = j.next_runs.first() { (n.utc.format("%Y-%m-%d %H:%M UTC")) } @else { "—" } }
                        @if admin {
                            td { form method="post" action=(format!("/ops/jobs/{}/run", super::super::segment(&j.name))) {
                                input type="hidden" name="csrf" value=(ctx.csrf.as_deref().unwrap_or(""));
                                button type="submit" aria-label=(format!("{} {}", t.run_now, j.name)) { (t.run_now) }
                            } }
                        }
                    }
                }
            }
        } }
    }
}

fn backups(ctx: &Ctx, s: &StatusDoc) -> Markup {
    let t = ctx.t;
    html! {
        @match &s.backups {
            Some(b) => dl {
                @if let Some(dir) = &b.dir { dt { "dir" } dd { code { (dir.display()) } } }
                dt { (t.count) } dd { (b.count) }
                dt { (t.newest) } dd { @if let Some(at) = b.newest_created_at { (at.format("%Y-%m-%d %H:%M UTC")) } @else { (t.never) } }
                dt { (t.verified) } dd { @if let Some(at) = b.newest_verified_at { (at.format("%Y-%m-%d %H:%M UTC")) } @else { (t.never) } }
            },
            None => p.muted { (t.not_configured) },
        }
        p.muted { (t.disk) ": " (format::count(s.disk.free_bytes >> 20, ctx.lang)) " MiB / " (format::count(s.disk.total_bytes >> 20, ctx.lang)) " MiB" }
    }
}

fn archive(ctx: &Ctx, s: &StatusDoc) -> Markup {
    let t = ctx.t;
    html! {
        @match &s.archive {
            Some(a) => dl {
                @if let Some(loc) = &a.location { dt { "location" } dd { code { (loc) } } }
                dt { (t.count) } dd { (format::count(a.checked, ctx.lang)) }
                dt { (t.missing_in_archive) } dd class=(if a.missing_in_archive > 0 { "fail" } else { "pass" }) { (a.missing_in_archive) }
                dt { (t.orphans) } dd { (a.orphan_in_archive) }
            },
            None => p.muted { (t.not_configured) },
        }
    }
}

fn run_table(ctx: &Ctx, runs: &[Run]) -> Markup {
    let t = ctx.t;
    html! {
        div.table-wrap { table {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (t.job) } th scope="col" { (t.status) } th scope="col" { (t.trigger) }
                th scope="col" { (t.started) } th.num scope="col" { (t.duration) } th scope="col" { (t.steps) }
            } }
            tbody {
                @for r in runs {
                    tr {
                        td { (r.id) } th scope="row" { (r.job) }
                        td { span class=(r.status.as_str()) { (r.status.as_str()) }
                            @if let Some(e) = &r.error { br; span.fail { (e) } } }
                        td { (r.trigger.as_str()) }
                        td { (r.started_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                        td.num { @if let Some(ms) = r.duration_ms { (format!("{:.1} s", ms as f64 / 1000.0)) } @else { "—" } }
                        td { ul { @for s in &r.steps { li {
                            (s.name) ": " span class=(s.status.as_str()) { (s.status.as_str()) }
                            @for (k, v) in &s.counts { " · " (k) " " (v) }
                            @if let Some(e) = &s.error { br; span.fail { (e) } }
                        } } } }
                    }
                }
            }
        } }
    }
}

/// `POST /ops/jobs/{name}/run`: an admin session with its form token runs the job now.
pub async fn run(
    ctx: Ctx,
    axum::extract::Path(name): axum::extract::Path<String>,
    form: super::login::Form,
) -> Response {
    let token_ok = match (&ctx.session, form.get("csrf")) {
        (Some(s), Some(token)) => ctx.state.sessions.csrf_ok("session", &s.nonce, token),
        _ => false,
    };
    if !token_ok || ctx.caller.require(Scope::Admin).is_err() {
        return ctx.forbidden();
    }
    let state = State(ctx.state.clone());
    let empty = QueryParams(crate::params::Params::from_pairs(Vec::new()));
    match crate::routes::jobs::trigger(state, ctx.caller.clone(), PathParam(name), empty).await {
        Ok(response) => {
            let body =
                axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
            let run_id = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["run_id"].as_i64())
                .unwrap_or(0);
            see_other(&url("/ops", &[("run", &run_id.to_string())]))
        }
        Err(ApiError::ConflictDetails { .. }) => see_other("/ops?skipped=1"),
        Err(e) => ctx.error(e),
    }
}
