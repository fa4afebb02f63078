//! Tests that measure what the server process spends (CPU time, memory, threads, file
//! descriptors) while it is used in some way. They run in a test binary of their own, one at a
//! time (see [`alone`]), so that no other test's load lands in their figures. Every server here is
//! the real `route_guide_server` binary on an ephemeral port.

mod cancellation;
mod churn;
mod memory_quota;
mod rapid_reset;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use routeguide_testkit::ServerProcess;

/// Features in the large generated database.
const BIG_FEATURES: usize = 1_000_000;

/// Held by each test for its whole length, so that the tests of this binary run one at a time.
fn alone() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    // A test that failed while holding it does not make the others fail too.
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The generated 1,000,000-feature database, shared with the other tests through cargo's scratch
/// folder.
fn big_db() -> PathBuf {
    routeguide_testkit::generated_db(Path::new(env!("CARGO_TARGET_TMPDIR")), BIG_FEATURES)
        .expect("the generated database is written")
}

/// `route_guide_server` on `db` with `extra` flags; panics if it does not start. (Only a test
/// crate knows where cargo built the binary, hence this wrapper in each test binary.)
fn start_server(db: &Path, extra: &[&str]) -> ServerProcess {
    let binary = Path::new(env!("CARGO_BIN_EXE_route_guide_server"));
    ServerProcess::start_binary(binary, db, "info", extra).expect("the server starts")
}
