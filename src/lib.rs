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
//! Serve it with [`serve`] (or [`RouteGuideServer::start`] to keep the server in hand), call it
//! with [`RouteGuideClient`], in the tutorial's two styles: sync (each call blocks until its
//! answer) and future (each call starts at once, its answer is collected later). The messages are
//! in [`proto`].
//!
//! A client against a server on port 50051, in both styles for each RPC:
//!
//! ```no_run
//! use futures::StreamExt;
//! use routeguide::RouteGuideClient;
//! use routeguide::proto;
//!
//! let client = RouteGuideClient::connect("localhost:50051");
//!
//! // GetFeature. Sync: blocks until the answer is here.
//! let feature = client.get_feature(proto::point(409_146_138, -746_188_906))?;
//! println!("{}", feature.name);
//! // Future: starts now; the answer is collected later.
//! let pending = client.get_feature_future(proto::point(0, 0));
//! assert!(pending.wait()?.name.is_empty());
//!
//! // ListFeatures: an iterator (sync) or a stream (future) of features, as they arrive.
//! let area = proto::rectangle(proto::point(400_000_000, -750_000_000), proto::point(420_000_000, -730_000_000));
//! for feature in client.list_features(area.clone()) {
//!     println!("{}", feature?.name);
//! }
//! let count = futures::executor::block_on(client.list_features_stream(area).count());
//!
//! // RecordRoute: any iterator of points, taken lazily (it may sleep between points).
//! let route = (1..=4).map(|step| proto::point(step * 1000, step * 1000));
//! let summary = client.record_route(route.clone())?;
//! assert_eq!(summary.distance, 47);
//! let summary = client.record_route_future(route).wait()?;
//!
//! // RouteChat: notes go out while replies come in.
//! let notes = vec![
//!     proto::route_note(proto::point(0, 0), "First message"),
//!     proto::route_note(proto::point(0, 0), "Second message"),
//! ];
//! for reply in client.route_chat(notes) {
//!     println!("earlier note: {}", reply?.message);
//! }
//! # Ok::<(), routeguide::CallError>(())
//! ```
//!
//! The crate is laid out one concern per module; the modules are private and this page
//! re-exports what users need. Its two programs (`route_guide_server`, `route_guide_client`, in
//! `src/bin/`) own their command lines and call into it. The load generator (`route_guide_bench`)
//! and the tests' process helpers are workspace members of their own (`bench/`, `testkit/`).
//!
//! * `proto`: the code generated from `proto/route_guide.proto`, and small constructors.
//! * `geo`: E7 coordinates, their validation, rectangles and the haversine distance.
//! * `store`: the feature database: loading, validating and querying it.
//! * `spatial`: the k-d tree that finds the features inside a rectangle.
//! * `route`: how RecordRoute sums up a route.
//! * `chat`: RouteChat's notes, per call or shared (in memory or in Redis), with bounded history.
//! * `status`: reasons for an error, carried in a status's details (gRPC's richer error model).
//! * `service`: the four RPCs' semantics, and the mapping of bad input to gRPC statuses.
//! * `health`: the standard health service, and its switch to NOT_SERVING at shutdown.
//! * `reflection`: gRPC server reflection, from the descriptors compiled in.
//! * `calls`: each call as the server observes it: counted in the metrics, logged when it ends.
//! * `metrics`: the Prometheus metrics: the gRPC series, the chat's, Redis's, the process's.
//! * `admin`: the plain-HTTP side (`/metrics`, `/channelz`, `/healthz`), on a thread of its own.
//! * `server`: running the service: threads, port, signals and graceful shutdown.
//! * `tls`: TLS and mutual TLS settings from PEM files.
//! * `client`: the sync and future calling styles, and how a failed call is reported.
//! * `random`: a small seedable generator for random routes and test data.
//! * `logging`: where log records go, as text or as JSON lines.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod admin;
mod calls;
mod chat;
mod client;
mod geo;
mod health;
mod logging;
mod metrics;
mod position_map;
pub mod proto;
mod random;
mod reflection;
mod route;
mod server;
mod service;
mod spatial;
mod status;
mod store;
mod tls;

pub use calls::ACCESS_LOG_TARGET;
pub use chat::{
    ChatBackend, ChatLimits, ChatScope, ChatSetupError, ChatUnavailable, RedisBoard,
    RedisSetupError,
};
pub use client::{
    CallError, ClientOptions, DEFAULT_TIMEOUT, Pending, ReplyStream, RouteGuideClient,
};
pub use geo::{
    Bounds, CoordinateError, Coordinates, Degrees, EARTH_RADIUS_M, MAX_LATITUDE_E7,
    MAX_LONGITUDE_E7, degrees_to_e7, distance_m,
};
pub use logging::{LogFormat, flush_logs, init_logging, init_logging_as};
pub use random::SplitMix64;
pub use server::{
    Compression, DEFAULT_DB_PATH, RouteGuideServer, SERVICE_NAME, ServerConfig, ServerError,
    default_threads, run as serve, termination_signal,
};
pub use status::{CHAT_STORE_UNAVAILABLE, ERROR_DOMAIN, status_name};
pub use store::{FeatureStore, LoadError};
pub use tls::{ClientTls, ServerTls, TlsError};

/// `error` followed by each cause behind it (its [`source`](std::error::Error::source) chain),
/// joined by ": ", as the programs print a failure. Each error of this crate says what went wrong
/// at its own level and leaves the why to its cause. Some errors of other crates also show their
/// cause in their own message; a cause whose message the text already ends with is not repeated.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let message = e.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::path::Path;

    use super::*;

    #[test]
    fn an_error_says_its_own_level_and_its_cause_comes_through_source() {
        let Err(error) = FeatureStore::load(Path::new("no/such/db.json")) else {
            panic!("a missing database loads");
        };
        assert_eq!(
            error.to_string(),
            "cannot read feature database no/such/db.json"
        );
        let cause = error.source().expect("the I/O error behind it");
        assert!(
            cause.downcast_ref::<std::io::Error>().is_some(),
            "{cause:?}"
        );
        assert_eq!(describe(&error), format!("{error}: {cause}"));
    }

    #[test]
    fn a_cause_already_shown_is_not_repeated() {
        /// An error that shows its cause in its own message and returns it too.
        #[derive(Debug)]
        struct Loud(std::io::Error);
        impl std::fmt::Display for Loud {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "could not: {}", self.0)
            }
        }
        impl Error for Loud {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let loud = Loud(std::io::Error::other("refused"));
        assert_eq!(describe(&loud), "could not: refused");
    }
}
