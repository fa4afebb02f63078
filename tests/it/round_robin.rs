//! A client given several addresses spreads its calls over the servers round-robin, and keeps
//! working on the others when one of them stops.

use std::sync::Arc;
use std::time::Duration;

use routeguide::Coordinates;
use routeguide::FeatureStore;
use routeguide::RouteGuideClient;
use routeguide::ServerConfig;
use routeguide::proto;
use routeguide_testkit::eventually;

use crate::common::TestServer;

/// Where each server tells itself apart: the standard database has nothing at (0, 0), this one
/// has "second server" there.
fn second_store() -> Arc<FeatureStore> {
    let origin = Coordinates::new(0, 0).unwrap();
    Arc::new(FeatureStore::new([("second server".to_string(), origin)]))
}

fn names_of_answers(client: &RouteGuideClient, calls: usize) -> Vec<String> {
    (0..calls)
        .map(|_| client.get_feature(proto::point(0, 0)).unwrap().name)
        .collect()
}

#[test]
fn calls_are_spread_over_every_server_and_survive_one_stopping() {
    let first = TestServer::start();
    let second = TestServer::start_with(ServerConfig::default(), second_store());
    let client = RouteGuideClient::connect(&format!("{},{}", first.addr, second.addr));

    let names = names_of_answers(&client, 20);
    let from_second = names.iter().filter(|n| *n == "second server").count();
    assert!(from_second > 0 && from_second < 20, "{names:?}");

    assert!(second.shutdown(Duration::from_secs(1)));
    // Once the client has heard the second server go away (a call or two may still be sent
    // there and fail), every call succeeds on the first.
    let mut in_a_row = 0;
    eventually(
        "20 calls in a row answered by the first server",
        Duration::from_secs(10),
        || {
            match client.get_feature(proto::point(0, 0)) {
                Ok(feature) => {
                    assert_eq!(feature.name, "", "answered by the stopped server");
                    in_a_row += 1;
                }
                Err(e) => {
                    in_a_row = 0;
                    return Err(e.to_string());
                }
            }
            if in_a_row < 20 {
                Err(format!("{in_a_row} in a row"))
            } else {
                Ok(())
            }
        },
    );
}

#[test]
fn a_list_naming_host_names_is_resolved() {
    let first = TestServer::start();
    let second = TestServer::start_with(ServerConfig::default(), second_store());
    let port = |addr: &str| addr.rsplit(':').next().unwrap().to_string();
    let addrs = format!(
        "localhost:{},localhost:{}",
        port(&first.addr),
        port(&second.addr)
    );
    let client = RouteGuideClient::connect(&addrs);
    let names = names_of_answers(&client, 20);
    assert!(
        names.iter().any(|n| n.is_empty()) && names.iter().any(|n| !n.is_empty()),
        "{names:?}"
    );
}
