//! What the integration tests share: a real RouteGuide server started through the library on an
//! ephemeral port of 127.0.0.1, the standard database, and the standard database read
//! independently of the store (so that expectations do not share the store's mistakes).

pub mod process;
pub mod prometheus;
pub mod raw;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use grpcio::RpcStatusCode;
use routeguide::FeatureStore;
use routeguide::{CallError, RouteGuideClient};
use routeguide::{ChatBackend, ChatLimits, ChatScope};
use routeguide::{RouteGuideServer, ServerConfig};
use routeguide_testkit::standard_db;

/// A server running for the length of a test; it stops when dropped.
pub struct TestServer {
    server: Option<RouteGuideServer>,
    pub addr: String,
}

impl TestServer {
    /// The standard 100 features, RouteChat in the default (per-call) scope.
    pub fn start() -> Self {
        TestServer::start_with(ServerConfig::default(), standard_store())
    }

    /// The standard features with RouteChat shared between calls.
    pub fn start_shared_chat(history: usize) -> Self {
        let config = ServerConfig {
            chat_scope: ChatScope::Shared(ChatBackend::Memory),
            chat_limits: ChatLimits {
                history_per_location: history,
                ..ChatLimits::default()
            },
            ..ServerConfig::default()
        };
        TestServer::start_with(config, standard_store())
    }

    /// `config` with its address replaced by 127.0.0.1:0, serving `store`.
    pub fn start_with(config: ServerConfig, store: Arc<FeatureStore>) -> Self {
        let config = ServerConfig {
            addr: "127.0.0.1:0".to_string(),
            threads: config.threads.min(2),
            ..config
        };
        let server = RouteGuideServer::start(&config, store).expect("the test server starts");
        let addr = format!("127.0.0.1:{}", server.port());
        TestServer {
            server: Some(server),
            addr,
        }
    }

    pub fn client(&self) -> RouteGuideClient {
        RouteGuideClient::connect(&self.addr)
    }

    /// Stops the server, giving calls in flight `grace` to finish.
    pub fn shutdown(mut self, grace: Duration) -> bool {
        self.server.take().expect("running").shutdown(grace)
    }
}

/// A port of 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    routeguide_testkit::free_port().expect("a free port")
}

pub fn standard_store() -> Arc<FeatureStore> {
    Arc::new(FeatureStore::load(&standard_db()).expect("the standard database loads"))
}

/// One entry of the standard database, read straight from the JSON file.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub latitude: i32,
    pub longitude: i32,
}

/// The standard database as plain entries, in file order.
pub fn standard_entries() -> Vec<Entry> {
    let text = std::fs::read_to_string(standard_db()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|e| Entry {
            name: e["name"].as_str().unwrap().to_string(),
            latitude: e["location"]["latitude"].as_i64().unwrap() as i32,
            longitude: e["location"]["longitude"].as_i64().unwrap() as i32,
        })
        .collect()
}

/// Asserts that a call failed with `code` and a status message containing `fragment` ("" for any
/// message), and returns the error for further checks. Failures point at the caller's line.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    outcome: Result<T, CallError>,
    code: RpcStatusCode,
    fragment: &str,
) -> CallError {
    let error = match outcome {
        Ok(value) => panic!("expected {code:?} ({fragment:?}), got an answer: {value:?}"),
        Err(error) => error,
    };
    assert_eq!(error.code(), code, "{error}");
    assert!(
        error.message().contains(fragment),
        "expected {fragment:?} in the message: {error}"
    );
    error
}
