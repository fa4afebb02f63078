//! The real server binary as a child process, on an ephemeral port of 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use routeguide_testkit::ServerProcess;

/// Starts `route_guide_server` on the standard database with `extra` flags; panics if it fails.
pub fn start_server(extra: &[&str]) -> ServerProcess {
    start_server_with_db(&super::standard_db_path(), extra)
}

/// Starts `route_guide_server` on `db` with `extra` flags; panics if it fails.
pub fn start_server_with_db(db: &Path, extra: &[&str]) -> ServerProcess {
    start(db, "info", extra)
}

/// Starts `route_guide_server` on the standard database with `extra` flags and `RUST_LOG` set to
/// `log_level`; panics if it fails.
pub fn start_server_logging(log_level: &str, extra: &[&str]) -> ServerProcess {
    start(&super::standard_db_path(), log_level, extra)
}

fn start(db: &Path, log_level: &str, extra: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_server"));
    command
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env("RUST_LOG", log_level);
    ServerProcess::start(command, Duration::from_secs(60)).expect("the server starts")
}

/// Waits up to 10 s for the server to exit, and checks that it exited with code 0.
pub fn expect_clean_exit(server: &mut ServerProcess) {
    let status = server.wait_for_exit(Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}

/// A generated database of `features` features (seed 1), written once into cargo's scratch
/// folder for tests (`target/tmp`) and reused by later runs.
pub fn generated_db(features: usize) -> PathBuf {
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("generated-{features}-seed1.json"));
    // Tests of one binary run in parallel: one of them writes the file, the others wait for it.
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let partial = path.with_extension(format!("partial-{:?}", std::thread::current().id()));
        let file = std::io::BufWriter::new(std::fs::File::create(&partial).unwrap());
        routeguide_testkit::write_database(file, features, 1).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}
