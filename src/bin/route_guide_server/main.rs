//! `route_guide_server`: serves the RouteGuide gRPC service until SIGINT or SIGTERM.
//!
//! This program owns only its command line; running the server is [`routeguide::serve`]'s job.
//! Every default lives in one place, `ServerConfig::default()` (src/server.rs): each flag reads
//! its default from [`defaults`], so `--help` shows what the library would use. A new flag is
//! therefore a field of `ServerConfig` and its value in `ServerConfig::default()`, then here one
//! field of [`Flags`] (its default read from `defaults()`) and one line in [`config`]. Flags have
//! the type of their field where they can, so that line is a plain move.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use routeguide::{ChatBackend, ChatLimits, ChatScope};
use routeguide::{Compression, ServerConfig, ServerError};
use routeguide::{LogFormat, ServerTls};

/// Serves the RouteGuide gRPC service (GetFeature, ListFeatures, RecordRoute, RouteChat) from a
/// JSON feature database. Stops gracefully on SIGINT (Ctrl-C) or SIGTERM; a second signal stops it
/// at once. Every flag can also be set by the environment variable shown with it (a flag wins
/// over its variable). RUST_LOG=debug logs every call.
#[derive(Parser)]
#[command(name = "route_guide_server", version, after_help = EXAMPLES)]
struct Flags {
    /// Address to listen on, HOST:PORT (`[::]` is every interface; port 0 picks a free port)
    #[arg(long, env = "ROUTEGUIDE_ADDR", default_value_t = defaults().addr.clone())]
    addr: String,

    /// JSON feature database: an array of {"location": {"latitude", "longitude"}, "name"} in E7
    /// units (degrees x 10^7)
    #[arg(long, env = "ROUTEGUIDE_DB", default_value_os_t = defaults().db_path.clone())]
    db: PathBuf,

    /// Completion-queue threads, the pool that runs every handler [default: number of CPUs]
    // No `default_value_t` here: the default depends on the machine, and --help says which.
    #[arg(long, env = "ROUTEGUIDE_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Whose earlier notes RouteChat sends back: `stream` (only those of the same call, as in
    /// the tutorial) or `shared` (those of every client)
    #[arg(long, env = "ROUTEGUIDE_CHAT_SCOPE", value_enum, default_value_t = Scope::of(&defaults().chat_scope))]
    chat_scope: Scope,

    /// Where the shared chat board lives: `memory` (this process) or `redis://HOST:PORT[/DB]`,
    /// shared by every server pointed at that Redis and kept across their restarts (needs
    /// --chat-scope shared)
    // Taken as text and parsed in `main`: clap would echo a value it cannot parse, password and
    // all, where this program's own message hides it.
    #[arg(long, env = "ROUTEGUIDE_CHAT_BACKEND", hide_env_values = true, default_value_t = ChatBackend::default().to_string())]
    chat_backend: String,

    /// Notes kept per location by RouteChat; the oldest is dropped beyond it
    #[arg(long, env = "ROUTEGUIDE_CHAT_HISTORY", default_value_t = defaults().chat_limits.history_per_location, value_parser = at_least_one)]
    chat_history: usize,

    /// Locations kept by RouteChat; the one created first is dropped, with its notes, beyond it
    #[arg(long, env = "ROUTEGUIDE_CHAT_LOCATIONS", default_value_t = defaults().chat_limits.locations, value_parser = at_least_one)]
    chat_locations: usize,

    /// Bytes of notes RouteChat keeps per board (the shared one, or each call's own); whole
    /// locations go first, oldest first, beyond it
    #[arg(long, env = "ROUTEGUIDE_CHAT_BYTES", default_value_t = defaults().chat_limits.max_bytes, value_parser = at_least_one)]
    chat_bytes: usize,

    /// The largest request message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED
    #[arg(long, env = "ROUTEGUIDE_MAX_MESSAGE_BYTES", default_value_t = defaults().max_message_bytes, value_parser = at_least_one)]
    max_message_bytes: usize,

    /// How many calls one connection may have open at once; more wait for a free slot
    #[arg(long, env = "ROUTEGUIDE_MAX_CONCURRENT_STREAMS", default_value_t = defaults().max_concurrent_streams, value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: u32,

    /// Calls one connection may reset before they were answered, still held by the server, before
    /// the server sends it GOAWAY(ENHANCE_YOUR_CALM) and closes it (HTTP/2 Rapid Reset); 0: no limit
    #[arg(long, env = "ROUTEGUIDE_MAX_PENDING_RESETS", default_value_t = defaults().max_pending_resets)]
    max_pending_resets: u32,

    /// Memory the gRPC transport may use across all connections, in bytes; near it, it shrinks
    /// flow-control windows, sends idle connections away and cancels calls
    #[arg(long, env = "ROUTEGUIDE_MAX_MEMORY_BYTES", default_value_t = defaults().max_memory_bytes, value_parser = at_least_one)]
    max_memory_bytes: usize,

    /// How the messages the server sends are compressed; requests may come compressed either way
    #[arg(long, env = "ROUTEGUIDE_COMPRESSION", value_enum, default_value_t = Encoding::of(defaults().compression))]
    compression: Encoding,

    /// Serve TLS with this PEM certificate (chain); needs --tls-key
    #[arg(long, env = "ROUTEGUIDE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, env = "ROUTEGUIDE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Mutual TLS: require client certificates signed by this PEM CA; needs --tls-cert
    #[arg(long, env = "ROUTEGUIDE_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,

    /// Seconds that calls in flight may run on after SIGINT/SIGTERM before they are cancelled
    #[arg(long, env = "ROUTEGUIDE_GRACE", default_value_t = defaults().grace.as_secs_f64(), value_parser = non_negative_secs)]
    grace: f64,

    /// Once listening, write the port (decimal, then a newline) to this file, replacing it in one
    /// step: how a program that started the server with port 0 learns the port
    #[arg(long, env = "ROUTEGUIDE_PORT_FILE")]
    port_file: Option<PathBuf>,

    /// Serve Prometheus metrics (/metrics), gRPC's channelz (/channelz) and a health check
    /// (/healthz: 200, or 503 once shutdown begins) over plain HTTP on HOST:PORT [default: off]
    #[arg(long, env = "ROUTEGUIDE_METRICS_ADDR", value_name = "HOST:PORT")]
    metrics_addr: Option<String>,

    /// How log lines are written: `text`, or `json` (one object per line, for log shippers)
    #[arg(long, env = "ROUTEGUIDE_LOG_FORMAT", value_enum, default_value_t = Format::Text)]
    log_format: Format,

    /// Log every finished call at info level (peer, method, status, duration, messages in and
    /// out), not only at debug
    // As a variable: 1, true, yes or on (0, false, no, off: not).
    #[arg(long, env = "ROUTEGUIDE_ACCESS_LOG", value_parser = clap::builder::BoolishValueParser::new())]
    access_log: bool,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

const EXAMPLES: &str = "\
Examples:
  route_guide_server                                  the 100 standard features on port 50051
  route_guide_server --addr 127.0.0.1:0 --port-file /tmp/port    a free port, written to a file
  route_guide_server --chat-scope shared --chat-backend redis://127.0.0.1:6379
  ROUTEGUIDE_ADDR=[::]:8080 ROUTEGUIDE_DB=/data/db.json route_guide_server
  route_guide_server --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem
  route_guide_server --metrics-addr 127.0.0.1:9464 --access-log --log-format json";

/// `--compression`: the library's [`Compression`], as clap reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Encoding {
    None,
    Gzip,
    Deflate,
}

impl Encoding {
    fn of(compression: Compression) -> Self {
        match compression {
            Compression::None => Encoding::None,
            Compression::Gzip => Encoding::Gzip,
            Compression::Deflate => Encoding::Deflate,
        }
    }

    fn compression(self) -> Compression {
        match self {
            Encoding::None => Compression::None,
            Encoding::Gzip => Compression::Gzip,
            Encoding::Deflate => Compression::Deflate,
        }
    }
}

/// `--chat-scope`: the library's [`ChatScope`] without its backend, which `--chat-backend` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Scope {
    Stream,
    Shared,
}

impl Scope {
    fn of(scope: &ChatScope) -> Self {
        match scope {
            ChatScope::Stream => Scope::Stream,
            ChatScope::Shared(_) => Scope::Shared,
        }
    }
}

/// `--chat-scope` and `--chat-backend` as one [`ChatScope`]: a backend holds shared notes only.
fn chat_scope(scope: Scope, backend: ChatBackend) -> Result<ChatScope, FlagError> {
    match (scope, backend) {
        (Scope::Shared, backend) => Ok(ChatScope::Shared(backend)),
        (Scope::Stream, ChatBackend::Memory) => Ok(ChatScope::Stream),
        (Scope::Stream, ChatBackend::Redis(_)) => Err(FlagError(
            "a Redis chat backend holds the notes every client shares: it needs --chat-scope \
             shared (or ROUTEGUIDE_CHAT_SCOPE=shared)",
        )),
    }
}

/// Flags that parse one by one but do not go together.
#[derive(Debug)]
struct FlagError(&'static str);

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for FlagError {}

/// The library's defaults, which every flag shows and starts from.
fn defaults() -> &'static ServerConfig {
    static DEFAULTS: LazyLock<ServerConfig> = LazyLock::new(ServerConfig::default);
    &DEFAULTS
}

/// A count of 1 or more, as the library's `usize` limits take it.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("`{text}` is not a whole number of 1 or more")),
    }
}

/// Seconds, 0 or more, and few enough for a `Duration` (which would panic on more).
fn non_negative_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if Duration::try_from_secs_f64(secs).is_ok() => Ok(secs),
        _ => Err(format!("`{text}` is not a number of seconds (0 or more)")),
    }
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let backend = flags
        .chat_backend
        .parse::<ChatBackend>()
        .unwrap_or_else(|problem| {
            Flags::command()
                .error(
                    clap::error::ErrorKind::ValueValidation,
                    format!("invalid value for '--chat-backend <CHAT_BACKEND>': {problem}"),
                )
                .exit()
        });
    let format = match flags.log_format {
        Format::Text => LogFormat::Text,
        Format::Json => LogFormat::Json,
    };
    routeguide::init_logging_as("info", format);
    let outcome = config(flags, backend).and_then(|config| {
        routeguide::termination_signal()
            .and_then(|signal| routeguide::serve(&config, signal))
            .map_err(Into::into)
    });
    routeguide::flush_logs();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("route_guide_server: error: {}", routeguide::describe(&*e));
            ExitCode::FAILURE
        }
    }
}

/// The flags as a [`ServerConfig`]: one line per field. No `..ServerConfig::default()` at the
/// end, so that a new field the flags forget is a compile error here.
fn config(flags: Flags, backend: ChatBackend) -> Result<ServerConfig, Box<dyn std::error::Error>> {
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
            .map_or_else(routeguide::default_threads, usize::from),
        chat_scope: chat_scope(flags.chat_scope, backend)?,
        chat_limits: ChatLimits {
            history_per_location: flags.chat_history,
            locations: flags.chat_locations,
            max_bytes: flags.chat_bytes,
        },
        max_message_bytes: flags.max_message_bytes,
        max_concurrent_streams: flags.max_concurrent_streams,
        max_pending_resets: flags.max_pending_resets,
        max_memory_bytes: flags.max_memory_bytes,
        grace: Duration::from_secs_f64(flags.grace),
        tls,
        port_file: flags.port_file,
        metrics_addr: flags.metrics_addr,
        access_log: flags.access_log,
        compression: flags.compression.compression(),
    })
}
