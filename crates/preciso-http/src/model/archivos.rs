//! The ingest ledger as `GET /api/archivos` pages it (an upload answers with the pipeline's own
//! `IngestReport`).

use preciso_core::domain::IngestFile;
use serde::Serialize;
use utoipa::ToSchema;

/// A page of the ingest ledger, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<IngestFile>,
    pub page: u32,
    pub limit: u32,
}
