//! `route_guide_server`: serves the RouteGuide gRPC service until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use routeguide::chat::{ChatScope, DEFAULT_HISTORY_PER_LOCATION};
use routeguide::server::{self, DEFAULT_ADDR, DEFAULT_DB_PATH, ServerConfig};

/// Serves the RouteGuide gRPC service (GetFeature, ListFeatures, RecordRoute, RouteChat) from a
/// JSON feature database. Stops gracefully on SIGINT (Ctrl-C) or SIGTERM. RUST_LOG=debug logs every
/// call.
#[derive(Parser)]
#[command(version)]
struct Flags {
    /// Address to listen on, HOST:PORT ("[::]" is every interface; port 0 picks a free port)
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: String,

    /// JSON feature database: an array of {"location": {"latitude", "longitude"}, "name"} in E7
    /// units (degrees x 10^7)
    #[arg(long, default_value = DEFAULT_DB_PATH)]
    db: PathBuf,

    /// Completion-queue threads, the pool that runs every handler [default: number of CPUs]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Whose earlier notes RouteChat sends back: `stream` (only those of the same call, as in
    /// the tutorial) or `shared` (those of every client)
    #[arg(long, value_enum, default_value_t = ChatScope::Stream)]
    chat_scope: ChatScope,

    /// Notes kept per location by RouteChat; the oldest is dropped beyond it
    #[arg(long, default_value_t = DEFAULT_HISTORY_PER_LOCATION as u32, value_parser = clap::value_parser!(u32).range(1..))]
    chat_history: u32,

    /// Seconds that calls in flight may run on after SIGINT/SIGTERM before they are cancelled
    #[arg(long, default_value_t = 5.0, value_parser = non_negative_secs)]
    grace: f64,
}

fn non_negative_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(secs),
        _ => Err(format!("`{text}` is not a number of seconds (0 or more)")),
    }
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    routeguide::init_logging("info");
    let config = ServerConfig {
        addr: flags.addr,
        db_path: flags.db,
        threads: flags
            .threads
            .map_or_else(server::default_threads, usize::from),
        chat_scope: flags.chat_scope,
        chat_history: flags.chat_history as usize,
        grace: Duration::from_secs_f64(flags.grace),
    };
    let outcome = server::termination_signal().and_then(|signal| server::run(&config, signal));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("route_guide_server: error: {e}");
            ExitCode::FAILURE
        }
    }
}
