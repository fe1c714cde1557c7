//! Integration tests of the `preciso` package, in one test binary: the CLI end to end
//! (`cli`) and the REST API served on a random port against a real SQLite catalog (`api`).

mod api;
mod cli;
