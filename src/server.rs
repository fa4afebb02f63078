//! Running the service as a process: the gRPC environment and its completion-queue threads, the
//! listening port (written to a file on request, for whoever started the server on port 0), the
//! standard health service (`grpc.health.v1.Health`), and a graceful shutdown. [`run`] takes the
//! future that ends it, so the binary (SIGINT/SIGTERM, from [`termination_signal`]) and the tests
//! (a channel) drive the same code. The defaults of every setting are in
//! [`ServerConfig::default`].

use std::ffi::{CStr, OsString};
use std::fmt;
use std::fs;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use grpcio::{
    ChannelBuilder, CompressionAlgorithms, EnvBuilder, Environment, ResourceQuota, ServerBuilder,
    ServerCredentials,
};
use log::{info, warn};

use crate::admin::AdminServer;
use crate::calls::Calls;
use crate::chat::{Chat, ChatLimits, ChatScope, ChatSetupError};
use crate::health::HealthService;
use crate::metrics::Metrics;
use crate::proto::create_route_guide;
use crate::service::RouteGuideService;
use crate::store::{FeatureStore, LoadError};
use crate::tls::ServerTls;

/// The name health checks ask about, besides "" (the whole server).
pub const SERVICE_NAME: &str = "routeguide.RouteGuide";
/// The feature database served by default, relative to the working directory (the client draws its
/// random routes from it too).
pub const DEFAULT_DB_PATH: &str = "data/route_guide_db.json";
/// How long to wait for cancelled calls to wind up after the grace period.
const CANCEL_WAIT: Duration = Duration::from_secs(2);
/// New calls each completion-queue thread stands ready to take at once: each slot is a request
/// for a call held by the gRPC core, renewed as soon as a call arrives on it; calls beyond them
/// wait in the core. The number of slots made no measurable difference to the server's CPU per
/// call, so this is sized for bursts of new calls, not for speed.
const REQUEST_SLOTS_PER_THREAD: usize = 1024;
/// The channel argument of the vendored gRPC core's Rapid Reset limit (vendor/README.md); a core
/// without the patch ignores it.
const MAX_PENDING_RESETS_ARG: &CStr = c"grpc.http2.max_pending_reset_streams";

/// Everything that shapes a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `host:port` to listen on; port 0 picks a free port (see [`RouteGuideServer::port`]).
    pub addr: String,
    /// The JSON feature database.
    pub db_path: PathBuf,
    /// Completion-queue threads: the pool that runs every handler.
    pub threads: usize,
    /// Whose earlier notes RouteChat sends back: the same call's, or every client's, and then
    /// where they live (this process's memory, or Redis).
    pub chat_scope: ChatScope,
    /// What RouteChat keeps: notes per location, and locations.
    pub chat_limits: ChatLimits,
    /// The largest request message accepted; larger ones get `RESOURCE_EXHAUSTED`.
    pub max_message_bytes: usize,
    /// How many calls one connection may have open at once; more wait for a free slot.
    pub max_concurrent_streams: u32,
    /// How many of its calls one connection may reset before the server answered them and still
    /// have them held by the server; one more, and the server sends it
    /// `GOAWAY(ENHANCE_YOUR_CALM, "too_many_resets")` and closes it (HTTP/2 Rapid Reset,
    /// CVE-2023-44487; vendor/README.md). 0 turns the limit off.
    pub max_pending_resets: u32,
    /// The memory the gRPC transport may use across all connections (read buffers, flow-control
    /// windows, calls); near it the core shrinks windows, sends idle connections away and cancels
    /// calls rather than grow.
    pub max_memory_bytes: usize,
    /// TLS (and mutual TLS) settings; plaintext when `None`.
    pub tls: Option<ServerTls>,
    /// How long calls in flight may run on once shutdown begins before they are cancelled.
    pub grace: Duration,
    /// Where [`run`] writes the port it listens on (decimal, then a newline) once it listens, so
    /// that whoever started it with port 0 learns the port without reading its log.
    pub port_file: Option<PathBuf>,
    /// Where to serve `/metrics`, `/channelz` and `/healthz` over plain HTTP (`HOST:PORT`);
    /// nothing is counted or served when `None`.
    pub metrics_addr: Option<String>,
    /// Whether every finished call is logged at `info` (the access log), rather than `debug`.
    pub access_log: bool,
    /// How the server compresses the messages it sends (it takes compressed requests whatever
    /// this says).
    pub compression: Compression,
}

/// `--compression`: how the server compresses the messages it sends. Whichever it is, the server
/// accepts requests compressed with any algorithm the gRPC core knows and says so
/// (`grpc-accept-encoding`); a client that does not accept the server's choice gets its answers
/// uncompressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Messages go out as they are: the default, since RouteGuide's messages are a few dozen
    /// bytes, which compression would only make cost more.
    #[default]
    None,
    /// gzip (`grpc-encoding: gzip`), which every gRPC implementation accepts.
    Gzip,
    /// zlib's deflate (`grpc-encoding: deflate`).
    Deflate,
}

impl Compression {
    fn algorithm(self) -> CompressionAlgorithms {
        match self {
            Compression::None => CompressionAlgorithms::GRPC_COMPRESS_NONE,
            Compression::Gzip => CompressionAlgorithms::GRPC_COMPRESS_GZIP,
            Compression::Deflate => CompressionAlgorithms::GRPC_COMPRESS_DEFLATE,
        }
    }
}

/// The defaults, in this one place: `route_guide_server` shows them in `--help` and starts from
/// them, and tests start from them too.
impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            // Port 50051 on every interface, as in the tutorial.
            addr: "[::]:50051".to_string(),
            db_path: PathBuf::from(DEFAULT_DB_PATH),
            threads: default_threads(),
            chat_scope: ChatScope::default(),
            chat_limits: ChatLimits::default(),
            // gRPC's own default for a received message.
            max_message_bytes: 4 * 1024 * 1024,
            max_concurrent_streams: 1000,
            // hyper's default for the same defence (`max_pending_accept_reset_streams`).
            max_pending_resets: 20,
            // 32 clients uploading 1 MiB messages as fast as they can, with a 64 MiB quota,
            // were all answered in our runs (tests/measure/memory_quota.rs; README, "Reliability").
            max_memory_bytes: 256 << 20,
            tls: None,
            grace: Duration::from_secs(5),
            port_file: None,
            metrics_addr: None,
            access_log: false,
            compression: Compression::None,
        }
    }
}

/// gRPC takes its limits as `i32`; anything larger means "no practical limit".
fn clamp_to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// One completion-queue thread per CPU.
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// A started RouteGuide server. It owns the gRPC environment, so its threads live as long as it
/// does; dropping it stops the server at once, [`RouteGuideServer::shutdown`] does so gracefully.
pub struct RouteGuideServer {
    server: grpcio::Server,
    port: u16,
    health: HealthService,
    /// The HTTP server of `/metrics` (with `metrics_addr`); dropped after the gRPC server, so
    /// that the drain can be watched to its end.
    admin: Option<AdminServer>,
    // Declared after `server` so that it is dropped after it.
    _env: Arc<Environment>,
}

impl RouteGuideServer {
    /// Starts serving `store` on `config.addr` (the database path in `config` is not used: the
    /// caller has loaded the store already).
    pub fn start(config: &ServerConfig, store: Arc<FeatureStore>) -> Result<Self, ServerError> {
        let env = Arc::new(
            EnvBuilder::new()
                .cq_count(config.threads.max(1))
                .name_prefix("routeguide-cq")
                .build(),
        );
        let metrics = config
            .metrics_addr
            .as_ref()
            .map(|_| Arc::new(Metrics::new(&config.chat_scope)));
        if let Some(metrics) = &metrics {
            metrics.set_features(store.len());
        }
        let chat = Chat::start(&config.chat_scope, config.chat_limits, metrics.as_deref())
            .map_err(ServerError::Chat)?;
        let calls = Calls::new(metrics.clone(), config.access_log);
        let service = RouteGuideService::new(store, chat, calls);
        let limits = ChannelBuilder::new(Arc::clone(&env))
            .max_receive_message_len(clamp_to_i32(config.max_message_bytes))
            .max_concurrent_stream(clamp_to_i32(config.max_concurrent_streams as usize))
            .default_compression_algorithm(config.compression.algorithm())
            .raw_cfg_int(
                MAX_PENDING_RESETS_ARG.to_owned(),
                clamp_to_i32(config.max_pending_resets as usize),
            )
            .set_resource_quota(
                ResourceQuota::new(Some("routeguide-server"))
                    .resize_memory(config.max_memory_bytes),
            )
            .build_args();
        let health = HealthService::serving(&["", SERVICE_NAME]);
        let builder = ServerBuilder::new(Arc::clone(&env))
            .requests_slot_per_cq(REQUEST_SLOTS_PER_THREAD)
            .channel_args(limits)
            .register_service(create_route_guide(service))
            .register_service(health.service());
        let builder = crate::reflection::services()
            .into_iter()
            .fold(builder, ServerBuilder::register_service);
        let mut server = builder.build().map_err(ServerError::Grpc)?;
        let credentials = config
            .tls
            .as_ref()
            .map_or_else(ServerCredentials::insecure, ServerTls::credentials);
        let port = server
            .add_listening_port(config.addr.as_str(), credentials)
            .map_err(|_| ServerError::Bind(config.addr.clone()))?;
        // Bound before the gRPC server starts, so that an address in use stops the server before
        // it has served a call; /healthz says "serving" only once it does.
        let admin = match (&config.metrics_addr, metrics) {
            (Some(addr), Some(metrics)) => Some(
                AdminServer::start(addr, metrics)
                    .map_err(|e| ServerError::Metrics(addr.clone(), e))?,
            ),
            _ => None,
        };
        server.start();
        if let Some(admin) = &admin {
            admin.serving();
        }
        Ok(RouteGuideServer {
            server,
            port,
            health,
            admin,
            _env: env,
        })
    }

    /// The port the server listens on (the one picked when the address asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where `/metrics`, `/channelz` and `/healthz` are served, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::addr)
    }

    /// Reports NOT_SERVING to health checks, stops accepting calls, lets the calls in flight finish
    /// for up to `grace`, then cancels those still running. Returns whether every call finished
    /// within the grace period.
    pub fn shutdown(mut self, grace: Duration) -> bool {
        // Health watchers (load balancers, orchestrators) hear first, before anything stops.
        self.health.shutdown();
        if let Some(admin) = &self.admin {
            admin.shutting_down();
        }
        let all_done = self.server.shutdown();
        let (done_tx, done_rx) = mpsc::channel();
        // The future completes on a completion-queue thread; this one only waits for it.
        thread::spawn(move || {
            let _ = futures::executor::block_on(all_done);
            let _ = done_tx.send(());
        });
        if done_rx.recv_timeout(grace).is_ok() {
            return true;
        }
        warn!("calls still running after the {grace:?} grace period: cancelling them");
        self.server.cancel_all_calls();
        if done_rx.recv_timeout(CANCEL_WAIT).is_err() {
            warn!("calls still running {CANCEL_WAIT:?} after being cancelled");
        }
        false
    }
}

/// Loads the database, serves it until `shutdown` completes, then shuts down gracefully.
pub fn run(config: &ServerConfig, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    // A port file left by an earlier run goes first, so that nobody reads its port while this
    // server loads the database.
    if let Some(path) = &config.port_file {
        remove_port_file(path).map_err(|e| ServerError::PortFile(path.clone(), e))?;
    }
    let store = FeatureStore::load(&config.db_path).map_err(ServerError::Database)?;
    info!(
        "loaded {} features from {}",
        store.len(),
        config.db_path.display()
    );
    let server = RouteGuideServer::start(config, Arc::new(store))?;
    // Before the log line, so that a reader who sees the line finds the file too.
    if let Some(path) = &config.port_file {
        write_port_file(path, server.port()).map_err(|e| ServerError::PortFile(path.clone(), e))?;
    }
    info!(
        "RouteGuide listening on {} (port {}), {}, {} completion-queue threads, chat scope {}",
        config.addr,
        server.port(),
        match &config.tls {
            None => "plaintext",
            Some(tls) if tls.requires_client_certificates() => "mutual TLS",
            Some(_) => "TLS",
        },
        config.threads.max(1),
        config.chat_scope
    );
    if let Some(addr) = server.metrics_addr() {
        info!("metrics on http://{addr}/metrics (also /channelz, /healthz)");
    }
    futures::executor::block_on(shutdown);
    info!(
        "shutting down: calls in flight have {:?} to finish",
        config.grace
    );
    // The port means nothing once the server stops listening.
    if let Some(path) = &config.port_file
        && let Err(e) = remove_port_file(path)
    {
        warn!("cannot remove the port file {}: {e}", path.display());
    }
    if server.shutdown(config.grace) {
        info!("all calls finished; bye");
    }
    Ok(())
}

/// Removes the port file, if there is one.
fn remove_port_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `port`, in decimal and then a newline, to `path`: first to a temporary file beside it,
/// then renamed over it, so that a reader polling for the file finds the whole port or no file,
/// never a half-written one.
fn write_port_file(path: &Path, port: u16) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temp_name = OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = fs::write(&temp, format!("{port}\n")).and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// A future that completes when the process receives SIGINT or SIGTERM. A second signal, while
/// the graceful shutdown that the first began is still waiting for calls, ends the process at
/// once with the shell's code for a signal (128 + its number), as impatient users expect of
/// Ctrl-C pressed twice.
pub fn termination_signal() -> Result<impl Future<Output = ()>, ServerError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(ServerError::Signals)?;
    let (tx, rx) = futures::channel::oneshot::channel();
    thread::Builder::new()
        .name("routeguide-signals".into())
        .spawn(move || {
            let mut received = signals.forever();
            if let Some(signal) = received.next() {
                info!(
                    "received signal {signal}: shutting down gracefully (a second one stops now)"
                );
            }
            let _ = tx.send(());
            if let Some(signal) = received.next() {
                warn!("received signal {signal} again: stopping now, without waiting for calls");
                crate::logging::flush_logs();
                std::process::exit(128 + signal);
            }
        })
        .map_err(ServerError::Signals)?;
    Ok(async move {
        let _ = rx.await;
    })
}

/// Why a server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// The feature database could not be loaded.
    Database(LoadError),
    /// Nothing could listen on this address.
    Bind(String),
    /// gRPC could not build the server.
    Grpc(grpcio::Error),
    /// The watch for SIGINT and SIGTERM could not be set up.
    Signals(std::io::Error),
    /// A TLS file could not be used.
    Tls(crate::tls::TlsError),
    /// RouteChat could not be set up (its Redis backend, say).
    Chat(ChatSetupError),
    /// The port could not be written to this `--port-file`.
    PortFile(PathBuf, io::Error),
    /// The metrics' HTTP server could not listen on this address.
    Metrics(String, io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // These say it all themselves; their causes come next in the chain.
            ServerError::Database(e) => e.fmt(f),
            ServerError::Tls(e) => e.fmt(f),
            ServerError::Chat(e) => e.fmt(f),
            ServerError::Bind(addr) => write!(
                f,
                "cannot listen on {addr}: the address is in use or not valid here (use --addr HOST:PORT)"
            ),
            ServerError::Grpc(_) => f.write_str("cannot create the gRPC server"),
            ServerError::Signals(_) => f.write_str("cannot watch for SIGINT/SIGTERM"),
            ServerError::PortFile(path, _) => {
                write!(f, "cannot write the port to {}", path.display())
            }
            ServerError::Metrics(addr, _) => write!(
                f,
                "cannot serve metrics on {addr} (use --metrics-addr HOST:PORT, on a free port)"
            ),
        }
    }
}

/// Each variant says what could not be done; [`source`](std::error::Error::source) says why
/// ([`crate::describe`] prints both). A variant that only wraps another error of this crate is
/// transparent: it shows that error's message and passes on its cause.
impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Database(e) => e.source(),
            ServerError::Tls(e) => e.source(),
            ServerError::Chat(e) => e.source(),
            // gRPC's error names only the address again.
            ServerError::Bind(_) => None,
            ServerError::Grpc(e) => Some(e),
            ServerError::Signals(e) | ServerError::PortFile(_, e) | ServerError::Metrics(_, e) => {
                Some(e)
            }
        }
    }
}
