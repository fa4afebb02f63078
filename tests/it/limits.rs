//! The server's limits: the largest request message, and how many calls one connection may have
//! open at once.

use std::sync::mpsc;
use std::time::Duration;

use grpcio::RpcStatusCode;
use routeguide::ServerConfig;
use routeguide::proto::{self, RouteNote};

use crate::common::{TestServer, assert_status, standard_store};

#[test]
fn a_request_larger_than_the_limit_is_resource_exhausted() {
    let config = ServerConfig {
        max_message_bytes: 1024,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, standard_store());
    let client = server.client();
    let big = proto::route_note(proto::point(0, 0), "x".repeat(2048));
    assert_status(
        client.route_chat(vec![big]).next().unwrap(),
        RpcStatusCode::RESOURCE_EXHAUSTED,
        "larger than max",
    );
    // Messages within the limit, on the same connection, still go through.
    let small = vec![
        proto::route_note(proto::point(0, 0), "x".repeat(500)),
        proto::route_note(proto::point(0, 0), "again"),
    ];
    assert_eq!(client.route_chat(small).count(), 1);
}

#[test]
fn calls_beyond_the_concurrent_stream_limit_wait_for_a_free_slot() {
    let config = ServerConfig {
        max_concurrent_streams: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, standard_store());
    let client = server.client();
    // Two chats hold both slots of the connection open.
    let (first_tx, first_rx) = mpsc::channel::<RouteNote>();
    let (second_tx, second_rx) = mpsc::channel::<RouteNote>();
    let mut first = client.route_chat(first_rx);
    let _second = client.route_chat(second_rx);
    for notes in [&first_tx, &second_tx] {
        notes
            .send(proto::route_note(proto::point(9, 9), "a"))
            .unwrap();
        notes
            .send(proto::route_note(proto::point(9, 9), "b"))
            .unwrap();
    }
    assert_eq!(first.next().unwrap().unwrap().message, "a");

    let hurried = client.with_timeout(Duration::from_millis(500));
    assert_status(
        hurried.get_feature(proto::point(0, 0)),
        RpcStatusCode::DEADLINE_EXCEEDED,
        "",
    );

    drop(first_tx); // the first chat ends and frees its slot
    assert!(first.all(|reply| reply.is_ok()));
    assert!(client.get_feature(proto::point(0, 0)).is_ok());
    drop(second_tx);
}
