//! `route_guide_server`: serves the RouteGuide gRPC service until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use routeguide::chat::{ChatBackend, ChatLimits, ChatScope};
use routeguide::server::{
    self, DEFAULT_ADDR, DEFAULT_DB_PATH, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_MESSAGE_BYTES,
    ServerConfig, ServerError,
};
use routeguide::tls::ServerTls;

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

    /// Where the shared chat board lives: `memory` (this process) or `redis://HOST:PORT[/DB]`,
    /// shared by every server pointed at that Redis and kept across their restarts (needs
    /// --chat-scope shared)
    #[arg(long, default_value_t = ChatBackend::Memory)]
    chat_backend: ChatBackend,

    /// Notes kept per location by RouteChat; the oldest is dropped beyond it
    #[arg(long, default_value_t = ChatLimits::default().history_per_location as u32, value_parser = clap::value_parser!(u32).range(1..))]
    chat_history: u32,

    /// Locations kept by RouteChat; the one created first is dropped, with its notes, beyond it
    #[arg(long, default_value_t = ChatLimits::default().locations as u32, value_parser = clap::value_parser!(u32).range(1..))]
    chat_locations: u32,

    /// Bytes of notes RouteChat keeps per board (the shared one, or each call's own); whole
    /// locations go first, oldest first, beyond it
    #[arg(long, default_value_t = ChatLimits::default().max_bytes as u64, value_parser = clap::value_parser!(u64).range(1..))]
    chat_bytes: u64,

    /// The largest request message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_message_bytes: u32,

    /// How many calls one connection may have open at once; more wait for a free slot
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_STREAMS, value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: u32,

    /// Serve TLS with this PEM certificate (chain); needs --tls-key
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Mutual TLS: require client certificates signed by this PEM CA; needs --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,

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
    let outcome = config(flags).and_then(|config| {
        server::termination_signal().and_then(|signal| server::run(&config, signal))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("route_guide_server: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config(flags: Flags) -> Result<ServerConfig, ServerError> {
    let tls = match (&flags.tls_cert, &flags.tls_key) {
        (Some(cert), Some(key)) => Some(
            ServerTls::from_files(cert, key, flags.tls_client_ca.as_deref())
                .map_err(ServerError::Tls)?,
        ),
        _ => None,
    };
    Ok(ServerConfig {
        addr: flags.addr,
        db_path: flags.db,
        threads: flags
            .threads
            .map_or_else(server::default_threads, usize::from),
        chat_scope: flags.chat_scope,
        chat_backend: flags.chat_backend,
        chat_limits: ChatLimits {
            history_per_location: flags.chat_history as usize,
            locations: flags.chat_locations as usize,
            max_bytes: usize::try_from(flags.chat_bytes).unwrap_or(usize::MAX),
        },
        max_message_bytes: flags.max_message_bytes as usize,
        max_concurrent_streams: flags.max_concurrent_streams,
        grace: Duration::from_secs_f64(flags.grace),
        tls,
    })
}
