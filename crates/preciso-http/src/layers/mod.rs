//! Cross-cutting request handling: observation (request id, access log, metrics), security
//! headers, authentication and rate limiting, and the response cache.

pub mod auth;
pub mod cache;
pub mod deadline;
pub mod observe;
pub mod ratelimit;
pub mod shared;
