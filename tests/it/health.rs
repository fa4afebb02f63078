//! The standard health service (`grpc.health.v1.Health`): SERVING for the server and for
//! RouteGuide, NOT_FOUND for anything else, and NOT_SERVING as soon as a graceful shutdown begins.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::executor::block_on;
use grpcio::{CallOption, ChannelBuilder, EnvBuilder, RpcStatusCode};
use routeguide::proto::health::health_check_response::ServingStatus;
use routeguide::proto::health::{HealthCheckRequest, HealthClient};

use crate::common;
use crate::common::TestServer;
use crate::common::process::start_server;

fn health_client(addr: &str) -> HealthClient {
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    HealthClient::new(ChannelBuilder::new(env).connect(addr))
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_string(),
        ..Default::default()
    }
}

#[test]
fn the_server_and_routeguide_are_serving_and_others_unknown() {
    let server = TestServer::start();
    let health = health_client(&server.addr);
    for service in ["", "routeguide.RouteGuide"] {
        let answer = health.check(&request(service)).unwrap();
        assert_eq!(answer.status, ServingStatus::SERVING.into(), "{service:?}");
    }
    match health.check(&request("routeguide.Nothing")) {
        Err(grpcio::Error::RpcFailure(status)) => {
            assert_eq!(status.code(), RpcStatusCode::NOT_FOUND)
        }
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
}

#[test]
fn watchers_hear_not_serving_as_soon_as_shutdown_begins() {
    let mut server = start_server(&["--grace", "3"]);
    let health = health_client(&server.addr());
    let option = CallOption::default().timeout(Duration::from_secs(20));
    let mut updates = health.watch_opt(&request(""), option).unwrap();
    let first = block_on(updates.next()).unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::SERVING.into());

    server.terminate().unwrap();
    // The open watch keeps the server in its grace period, so this arrives while it still runs.
    let next = block_on(updates.next()).unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NOT_SERVING.into());
    common::process::expect_clean_exit(&mut server);
}

#[test]
fn a_watch_of_an_unknown_service_hears_service_unknown_then_not_serving_at_shutdown() {
    let server = TestServer::start();
    let health = health_client(&server.addr);
    let option = CallOption::default().timeout(Duration::from_secs(20));
    let mut updates = health
        .watch_opt(&request("routeguide.Nothing"), option)
        .unwrap();
    let first = block_on(updates.next()).unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::SERVICE_UNKNOWN.into());

    // The open watch holds the server in its grace period; the shutdown waits in a thread.
    let stopping = std::thread::spawn(move || server.shutdown(Duration::from_secs(1)));
    let next = block_on(updates.next()).unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NOT_SERVING.into());
    drop(updates);
    stopping.join().unwrap();
}
