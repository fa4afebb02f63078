//! The real server binary as a child process, on an ephemeral port of 127.0.0.1.

use std::path::Path;
use std::time::Duration;

pub use routeguide_testkit::ServerProcess;
use routeguide_testkit::standard_db;

/// Starts `route_guide_server` on the standard database with `extra` flags; panics if it fails.
pub fn start_server(extra: &[&str]) -> ServerProcess {
    start_server_with_db(&standard_db(), extra)
}

/// Starts `route_guide_server` on `db` with `extra` flags; panics if it fails.
pub fn start_server_with_db(db: &Path, extra: &[&str]) -> ServerProcess {
    start(db, "info", extra)
}

/// Starts `route_guide_server` on the standard database with `extra` flags and `RUST_LOG` set to
/// `log_level`; panics if it fails.
pub fn start_server_logging(log_level: &str, extra: &[&str]) -> ServerProcess {
    start(&standard_db(), log_level, extra)
}

/// The one place that names the binary: only a test crate knows where cargo built it, so this
/// cannot live in `routeguide_testkit` with the rest of the starting.
fn start(db: &Path, log_level: &str, extra: &[&str]) -> ServerProcess {
    let binary = Path::new(env!("CARGO_BIN_EXE_route_guide_server"));
    ServerProcess::start_binary(binary, db, log_level, extra).expect("the server starts")
}

/// Waits up to 10 s for the server to exit, and checks that it exited with code 0.
pub fn expect_clean_exit(server: &mut ServerProcess) {
    let status = server.wait_for_exit(Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}
