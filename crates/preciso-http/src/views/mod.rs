//! Documents rendered for people rather than programs: the data-quality report as a
//! self-contained page and as CSV. The web UI's pages will live here too.

pub mod quality;
