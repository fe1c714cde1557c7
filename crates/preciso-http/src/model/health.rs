//! Probe answers (`application/health+json`, after draft-inadarei-api-health-check).

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Pass,
    Warn,
    Fail,
}

/// Liveness.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub version: String,
    pub uptime_secs: u64,
}

/// One readiness check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    pub status: HealthStatus,
    /// What went wrong (admin keys only; null otherwise).
    pub output: Option<String>,
}

/// Readiness: the overall status and each check (`database:responseTime`,
/// `archive:responseTime`, `redis:responseTime`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    pub status: HealthStatus,
    pub version: String,
    pub checks: BTreeMap<String, Vec<Check>>,
}
