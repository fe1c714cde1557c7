//! Integration tests of the `preciso` package, in one test binary: the CLI end to end
//! (`cli`), the REST API served on a random port against a real SQLite catalog (`api`), and
//! the scheduler inside a real server process killed with SIGKILL (`ops`), and the server's
//! defences seen from a raw socket: timeouts, connection cap, failed keys, proxies (`limits`).

mod api;
mod cli;
mod limits;
mod ops;
mod ui;
