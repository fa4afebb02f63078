//! Starting the processes the benchmarks measure: `route_guide_server` and the Python peer, each
//! pinned to a CPU with `taskset` when one is given. Redis is started by the testkit's
//! `RedisProcess`; what is measured on them is `suite.rs`'s and `soak.rs`'s.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use routeguide_testkit::ServerProcess;

use crate::suite::SuiteConfig;

/// The suite's `route_guide_server` on `db`, with the suite's CPU and completion-queue threads.
pub(crate) fn start_server(config: &SuiteConfig, db: &Path) -> Result<ServerProcess, String> {
    let threads = config.server_threads.to_string();
    start_pinned_server(
        &config.server_binary,
        config.server_cpu,
        db,
        &["--threads", &threads],
    )
}

/// `route_guide_server` on `db` and an ephemeral port, pinned to `cpu` when given.
pub(crate) fn start_pinned_server(
    binary: &Path,
    cpu: Option<usize>,
    db: &Path,
    extra: &[&str],
) -> Result<ServerProcess, String> {
    let mut command = pinned(cpu, binary);
    command
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env("RUST_LOG", "info");
    ServerProcess::start(command, Duration::from_secs(120))
}

/// The interop suite's Python server (`python script`) on `db`, pinned to `cpu` when given.
pub(crate) fn start_python_peer(
    cpu: Option<usize>,
    (python, script): (&Path, &Path),
    db: &Path,
) -> Result<ServerProcess, String> {
    let mut command = pinned(cpu, python);
    command.arg(script).arg("--db").arg(db);
    ServerProcess::start(command, Duration::from_secs(60))
}

/// `program` under `taskset`, pinned to `cpu` when there is one.
fn pinned(cpu: Option<usize>, program: &Path) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}
