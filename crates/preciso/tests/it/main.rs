//! Integration tests of the `preciso` package, in one test binary: the CLI end to end
//! (`cli`), the REST API served on a random port against a real SQLite catalog (`api`), and
//! the scheduler inside a real server process killed with SIGKILL (`ops`).

mod api;
mod cli;
mod ops;
