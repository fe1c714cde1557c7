//! Preciso operating itself (docs/OPERATIONS.md O1–O14, O24, O28): cron schedules with time
//! zones and a DST policy, a scheduler whose identity and overlap rules live in the database
//! (so replicas agree), runs with timeouts, retries and history, the built-in jobs (`jobs/`, one
//! module each, named and defaulted in `registry`), the status document, the raw-file archive,
//! portable backups and the process's metrics registry (`telemetry`). Time is injected
//! (`Clock`) so tests drive days in milliseconds.

pub mod archive;
pub mod backup;
pub mod clock;
pub mod cron;
pub mod forensic;
pub mod job;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod registry;
pub mod runner;
pub mod scheduler;
pub mod service;
pub mod status;
pub mod telemetry;

pub use clock::{Clock, FakeClock, StopSignal, SystemClock};
pub use cron::{Schedule, ScheduleError};
pub use job::{Job, JobContext, JobFailure, JobSpec, Misfire, Overlap, RetryPolicy};
pub use registry::{JobDefaults, JobKind};
pub use service::{Ops, OpsConfig, OpsError, Triggered};
pub use telemetry::Telemetry;
