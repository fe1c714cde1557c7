//! Data-file uploads ("archivos"): `POST /api/archivos` ingests a multipart file or a raw body
//! through the same pipeline as `preciso ingest` and returns its summary; `GET` lists the
//! ledger.

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::layers::auth::Caller;
use crate::params::Params;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use preciso_core::domain::{Currency, StoreId};
use preciso_ingest::{Format, IngestOptions, IngestReport, IngestSource, ingest};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    let page = q.page()?;
    let mut files = state.db(move |c| Ok(c.ingest_files(page.limit, page.offset())?)).await?;
    if !caller.is_admin() {
        files.iter_mut().for_each(redact);
    }
    Ok(Json(json!({ "items": files, "page": page.page, "limit": page.limit })))
}

/// A ledger row as a caller without an admin key sees it: the file by its name only, no
/// archive key, no error text (they name paths, buckets and internals).
fn redact(file: &mut preciso_core::domain::IngestFile) {
    file.name = preciso_ops::status::base_name(&file.name);
    file.archive_key = None;
    file.error = None;
}

/// Keeps letters, digits, `.`, `-`, `_` of a client-supplied file name.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("upload");
    let cleaned: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if cleaned.trim_matches('.').is_empty() { "upload".into() } else { cleaned }
}

fn format_from(q: &Params, content_type: &str) -> ApiResult<Option<Format>> {
    if let Some(f) = q.str("format") {
        return Format::parse(f)
            .map(Some)
            .ok_or_else(|| ApiError::bad("format", "format must be json, jsonl or csv"));
    }
    Ok(match content_type {
        "application/x-ndjson" | "application/jsonl" => Some(Format::Jsonl),
        "text/csv" => Some(Format::Csv),
        _ => None,
    })
}

struct Spooled {
    path: PathBuf,
    name: String,
}

/// Where upload bytes come from: a raw body or one multipart field.
// One value per request, never moved in a hot loop: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Chunks<'a> {
    Raw(Body),
    Field(axum::extract::multipart::Field<'a>),
}

impl Chunks<'_> {
    async fn next(&mut self) -> ApiResult<Option<axum::body::Bytes>> {
        use http_body_util::BodyExt;
        let read_error =
            |e: String| ApiError::bad("body", format!("reading the upload failed: {e}"));
        match self {
            Chunks::Raw(body) => loop {
                match body.frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(read_error(e.to_string())),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
            Chunks::Field(field) => field.chunk().await.map_err(|e| read_error(e.to_string())),
        }
    }
}

/// Streams the upload to a spool file, enforcing the size limit as it goes.
async fn spool(state: &AppState, name: &str, mut chunks: Chunks<'_>) -> ApiResult<Spooled> {
    let dir = state.uploads.spool_dir.clone();
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", dir.display())))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
    let path = dir.join(format!("{stamp}-{}", safe_name(name)));
    let mut file = std::fs::File::create(&path)
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", path.display())))?;
    let limit = state.config.upload_limit;
    let mut written = 0usize;
    let result = async {
        while let Some(chunk) = chunks.next().await? {
            written += chunk.len();
            if written > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            file.write_all(&chunk)
                .map_err(|e| ApiError::Internal(format!("writing upload: {e}")))?;
        }
        if written == 0 {
            return Err(ApiError::bad("body", "the upload is empty"));
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(Spooled { path, name: safe_name(name) })
}

/// Flags of an upload, from the query string.
fn upload_options(
    state: &AppState,
    q: &Params,
    format: Option<Format>,
) -> ApiResult<IngestOptions> {
    let mut opts = state.uploads.options.clone();
    opts.format = format.or(opts.format);
    opts.dry_run = q.str("dry_run").is_some_and(|v| v == "true" || v == "1");
    opts.force = q.str("force").is_some_and(|v| v == "true" || v == "1");
    opts.context.ingest_time = chrono::Utc::now().timestamp();
    if let Some(s) = q.str("store") {
        opts.context.default_store =
            Some(StoreId::parse(s).map_err(|e| ApiError::bad("store", format!("store: {e}")))?);
    }
    if let Some(c) = q.str("currency") {
        opts.context.default_currency =
            Some(Currency::parse(c).map_err(|e| ApiError::bad("currency", e.to_string()))?);
    }
    Ok(opts)
}

pub async fn upload(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
    req: Request,
) -> ApiResult<(StatusCode, Json<IngestReport>)> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let spooled = if content_type == "multipart/form-data" {
        let mut form = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::bad("body", format!("malformed multipart body: {e}")))?;
        let field = loop {
            match form
                .next_field()
                .await
                .map_err(|e| ApiError::bad("body", format!("malformed multipart body: {e}")))?
            {
                Some(f) if f.file_name().is_some() || f.name() == Some("file") => break f,
                Some(_) => continue,
                None => return Err(ApiError::bad("file", "the multipart body has no file field")),
            }
        };
        let name = field.file_name().unwrap_or("upload").to_string();
        spool(&state, &name, Chunks::Field(field)).await?
    } else {
        let name = q.str("name").unwrap_or("upload").to_string();
        spool(&state, &name, Chunks::Raw(req.into_body())).await?
    };
    let format = format_from(&q, &content_type)?;
    let opts = upload_options(&state, &q, format)?;
    let source = IngestSource { path: spooled.path.clone(), name: spooled.name };
    let report = state
        .db(move |c| {
            let mut opts = opts;
            for s in c.stores()? {
                if let Some(cur) = s.currency {
                    opts.context.store_currency.entry(s.id).or_insert(cur);
                }
            }
            ingest(c, &source, &opts, &|_| {}).map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await;
    let _ = std::fs::remove_file(&spooled.path);
    let report = report?;
    // The cache layer empties the cache after every successful write, this one included;
    // the ingest totals of /metrics were counted by the pipeline itself.
    let status = if report.status == "done" { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(report)))
}
