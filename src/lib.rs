//! # routeguide
//!
//! The RouteGuide service of the gRPC tutorials, in Rust on the gRPC C core (through `grpcio`):
//! a map of named places that clients query with all four kinds of RPC.
//!
//! | RPC | kind | what it answers |
//! |---|---|---|
//! | `GetFeature` | unary | the feature at a point |
//! | `ListFeatures` | server streaming | the features inside a rectangle |
//! | `RecordRoute` | client streaming | a summary of a route sent point by point |
//! | `RouteChat` | bidirectional | the notes left earlier where each note is left |
//!
//! The crate is laid out one concern per module; the three binaries (`route_guide_server`,
//! `route_guide_client`, `route_guide_bench`) own their command lines (flags, sessions, output) and
//! call into it for everything they share.
//!
//! * [`proto`]: the code generated from `proto/route_guide.proto`, and small constructors.
//! * [`geo`]: E7 coordinates, their validation, rectangles and the haversine distance.
//! * [`store`]: the feature database: loading, validating and querying it.
//! * [`spatial`]: the k-d tree that finds the features inside a rectangle.
//! * [`route`]: how RecordRoute sums up a route.
//! * [`chat`]: RouteChat's notes, per call or shared, with bounded history.
//! * [`service`]: the four RPCs' semantics, and the mapping of bad input to gRPC statuses.
//! * [`reflection`]: gRPC server reflection, from the descriptors compiled in.
//! * [`server`]: running the service: threads, port, signals and graceful shutdown.
//! * [`tls`]: TLS and mutual TLS settings from PEM files.
//! * [`client`]: the sync and future calling styles.
//! * [`random`]: a small seedable generator for random routes and test data.
//! * [`bench`]: database generator, load scenarios and the `make bench` suite.

pub mod bench;
pub mod chat;
pub mod client;
pub mod geo;
pub mod proto;
pub mod random;
pub mod reflection;
pub mod route;
pub mod server;
pub mod service;
pub mod spatial;
pub mod store;
pub mod tls;

/// Sends `log` records to standard error through `env_logger` (`RUST_LOG` chooses what is shown;
/// `default_level` applies when it is unset), and gRPC core's own logs along with them: its
/// warnings and errors always, its chatter (`grpc epoll fd: 5`) only at debug level.
pub fn init_logging(default_level: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .format_timestamp_millis()
        .init();
    // grpcio sets gRPC core's verbosity from the maximum level at the time of the call.
    let ours = log::max_level();
    let core = if ours >= log::LevelFilter::Debug {
        ours
    } else {
        ours.min(log::LevelFilter::Warn)
    };
    log::set_max_level(core);
    grpcio::redirect_log();
    log::set_max_level(ours);
}
