//! Data-file uploads ("archivos"): `POST /api/archivos` ingests a multipart file or a raw body
//! through the same pipeline as `preciso ingest` and returns its summary; `GET` lists the
//! ledger.

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::layers::auth::Caller;
use crate::model::archivos::LedgerPage;
use crate::model::error::{ErrorBody, ErrorDetails};
use crate::params::{Paging, Params, UploadQuery};
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use preciso_core::domain::{Currency, StoreId};
use preciso_ingest::{
    Format, IngestError, IngestOptions, IngestReport, IngestSource, ReportStatus, ingest,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

/// The ingest ledger, newest first.
#[utoipa::path(
    get,
    path = "/api/archivos",
    operation_id = "list_ingests",
    tag = "ingest",
    params(Paging),
    responses((status = 200, description = "Ledger rows; names, archive keys and errors in full for admin keys only.", body = LedgerPage))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<LedgerPage>> {
    let page = q.page()?;
    let mut files = state.db(move |c| Ok(c.ingest_files(page.limit, page.offset())?)).await?;
    if !caller.is_admin() {
        files.iter_mut().for_each(redact);
    }
    Ok(Json(LedgerPage { items: files, page: page.page, limit: page.limit }))
}

/// A ledger row as a caller without an admin key sees it: the file by its name only, no
/// archive key, no error text (they name paths, buckets and internals).
fn redact(file: &mut preciso_core::domain::IngestFile) {
    file.name = preciso_ops::status::base_name(&file.name);
    file.archive_key = None;
    file.error = None;
}

/// A multipart upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The data file (JSON, JSON Lines or CSV).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

/// A raw upload body: any bytes (a JSON array of records, JSON Lines, CSV with a header row),
/// so its schema constrains nothing.
pub struct RawFile;

impl utoipa::PartialSchema for RawFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .description(Some(
                "The file's bytes; the format from `format`, `name`, the content type or sniffing.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for RawFile {}

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
    if let Some(f) = q.typed("format")? {
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

/// A spooled upload: removed when dropped, so an upload whose request was cancelled (the
/// client went away, the request timed out) leaves no file behind.
struct Spooled {
    path: PathBuf,
    name: String,
}

impl Drop for Spooled {
    // A Drop cannot await; unlinking one file is a single short system call.
    #[allow(clippy::disallowed_methods)]
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Spool names never collide: a sequence number of this process, its id and the time, and
/// the file is created with `create_new`.
static SPOOL_SEQ: AtomicU64 = AtomicU64::new(0);

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
        let read_error = |e: String| {
            if e.contains("length limit") {
                return ApiError::PayloadTooLarge { limit: 0 };
            }
            ApiError::bad("body", format!("reading the upload failed: {e}"))
        };
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

/// Streams the upload to a spool file (file IO on the blocking pool, through `tokio::fs`),
/// enforcing the size limit as it goes.
async fn spool(state: &AppState, name: &str, mut chunks: Chunks<'_>) -> ApiResult<Spooled> {
    let dir = state.uploads.spool_dir.clone();
    let io = |what: &str, e: std::io::Error| ApiError::Internal(format!("{what}: {e}"));
    tokio::fs::create_dir_all(&dir).await.map_err(|e| io("creating the spool directory", e))?;
    let unique = format!(
        "{}-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
        std::process::id(),
        SPOOL_SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let spooled =
        Spooled { path: dir.join(format!("{unique}-{}", safe_name(name))), name: safe_name(name) };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&spooled.path)
        .await
        .map_err(|e| io("creating a spool file", e))?;
    let limit = state.config.upload_limit;
    let mut written = 0usize;
    while let Some(chunk) = chunks.next().await.map_err(|e| match e {
        ApiError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge { limit },
        other => other,
    })? {
        written += chunk.len();
        if written > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        file.write_all(&chunk).await.map_err(|e| io("writing the upload", e))?;
    }
    file.flush().await.map_err(|e| io("writing the upload", e))?;
    if written == 0 {
        return Err(ApiError::bad("body", "the upload is empty"));
    }
    Ok(spooled)
}

/// Flags of an upload, from the query string.
fn upload_options(
    state: &AppState,
    q: &Params,
    format: Option<Format>,
) -> ApiResult<IngestOptions> {
    let mut opts = state.uploads.options.clone();
    opts.format = format.or(opts.format);
    opts.dry_run = q.flag("dry_run")?;
    opts.force = q.flag("force")?;
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

/// Upload a data file (multipart field `file`, or the raw body) and ingest it. Bad records
/// are rejected one by one (see the summary); a body with no record of offer data is a 422.
#[utoipa::path(
    post,
    path = "/api/archivos",
    operation_id = "upload",
    tag = "ingest",
    params(UploadQuery),
    request_body(
        description = "The file: a multipart form with a `file` field, or the raw bytes, the format from `format`, `name`, the content type or sniffing.",
        content(
            (UploadForm = "multipart/form-data"),
            (RawFile = "application/octet-stream"),
            (RawFile = "application/json"),
            (RawFile = "application/x-ndjson"),
            (RawFile = "text/csv"),
        )
    ),
    responses(
        (status = 201, description = "Ingested: the summary.", body = IngestReport),
        (status = 200, description = "Skipped (same content) or dry run: the summary.", body = IngestReport),
        (status = 403, description = "The API key lacks the write scope.", body = ErrorBody),
        (status = 413, description = "Upload too large.", body = ErrorBody),
        (status = 422, description = "The body is not a data file of offers (`details.reason`: `not_offer_data`).", body = ErrorBody),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
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
            let limit = state.config.upload_limit;
            match form.next_field().await.map_err(|e| multipart_error(e, limit))? {
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
    let mut opts = upload_options(&state, &q, format)?;
    // A request that goes away (client gone, timeout) stops its ingest after the batch in
    // flight; the run is recorded as failed and a later upload of the file converges.
    let cancel = Arc::new(AtomicBool::new(false));
    opts.cancel = Some(cancel.clone());
    let _cancel_on_drop = CancelOnDrop(cancel);
    let source = IngestSource { path: spooled.path.clone(), name: spooled.name.clone() };
    let archive = state.ops.as_ref().and_then(|o| o.archive.clone());
    let keep_dir = state.uploads.unarchived_dir.clone();
    let telemetry = state.telemetry.clone();
    // Unqueued: the ingest holds its call for minutes (`AppState::db_unqueued`).
    let (mut report, archived) = state
        .db_unqueued(move |c| {
            let mut opts = opts;
            for s in c.stores()? {
                if let Some(cur) = s.currency {
                    opts.context.store_currency.entry(s.id).or_insert(cur);
                }
            }
            let outcome = ingest(c, &source, &opts, &|_| {});
            telemetry.ingest_finished(outcome.as_ref().ok());
            let report = outcome.map_err(ingest_error)?;
            let archived = match (&archive, report.status) {
                (Some(archive), ReportStatus::Done) => {
                    let outcome = archive_upload(archive, c, &report, &source.path);
                    if outcome.is_err() {
                        keep_for_sync(keep_dir.as_deref(), &report, &source.path);
                    }
                    Some(outcome)
                }
                _ => None,
            };
            Ok((report, archived))
        })
        .await?;
    // The summary names the rejects file, never the server's path to it.
    report.rejects_file =
        report.rejects_file.as_deref().and_then(Path::file_name).map(PathBuf::from);
    tracing::info!(
        target: "preciso::audit",
        key = caller.who(),
        action = "upload",
        file = %report.file,
        status = report.status.as_str(),
        ledger_id = report.ledger_id,
        archived = ?archived.as_ref().map(|a| a.is_ok()),
        "upload ingested"
    );
    if let Some(Err(e)) = archived {
        tracing::warn!(error = %e, ledger_id = report.ledger_id, "the upload was ingested but not archived");
    }
    let status =
        if report.status == ReportStatus::Done { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(report)))
}

/// Sets the flag when the upload's request ends before its ingest does.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A file that is not offers is the client's problem (422), a failing database the server's.
fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::UnknownFormat { .. } | IngestError::NotOfferData { .. } => {
            ApiError::Unprocessable {
                message: format!("the upload is not a data file of offers: {e}"),
                details: Box::new(ErrorDetails {
                    reason: Some("not_offer_data".into()),
                    ..Default::default()
                }),
            }
        }
        IngestError::Store { source, .. } => source.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

/// Stores an ingested upload's raw file in the archive, as the drop-directory job does.
fn archive_upload(
    archive: &preciso_ops::archive::Archive,
    catalog: &dyn preciso_core::ports::Catalog,
    report: &IngestReport,
    path: &Path,
) -> Result<String, String> {
    let file = catalog
        .find_ingested(&report.sha256)
        .map_err(|e| e.to_string())?
        .ok_or("no completed ledger row for the upload")?;
    preciso_ops::archive::archive_file(archive, catalog, &file, path)
        .map(|(key, _)| key)
        .map_err(|e| e.to_string())
}

/// Copies an upload that could not be archived where `archive sync` looks for raw files.
/// Called inside the upload's blocking closure, off the async workers.
#[allow(clippy::disallowed_methods)]
fn keep_for_sync(dir: Option<&Path>, report: &IngestReport, path: &Path) {
    let Some(dir) = dir else { return };
    let target = dir.join(format!("{}-{}", report.ledger_id.unwrap_or(0), report.file));
    let kept = std::fs::create_dir_all(dir).and_then(|()| std::fs::copy(path, &target));
    if let Err(e) = kept {
        tracing::warn!(error = %e, "an unarchived upload could not be kept for archive sync");
    }
}

/// Multipart errors: a body over the limit is a 413, anything else malformed a 400.
fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge { limit };
    }
    ApiError::bad("body", format!("malformed multipart body: {}", e.body_text()))
}
