//! The real server binary as a child process, on an ephemeral port of 127.0.0.1.

use std::process::Command;
use std::time::Duration;

pub use routeguide::bench::process::ServerProcess;

/// Starts `route_guide_server` on the standard database with `extra` flags; panics if it fails.
pub fn start_server(extra: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_server"));
    command
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(super::standard_db_path())
        .args(extra)
        .env("RUST_LOG", "info");
    ServerProcess::start(command, Duration::from_secs(30)).expect("the server starts")
}
