//! How the client library reports failures: deadlines, servers that are down, and the status code
//! and message of each error.

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures::executor::{block_on, block_on_stream};
use grpcio::RpcStatusCode;
use routeguide::proto;
use routeguide::{CallError, ClientOptions, RouteGuideClient};

use crate::common;
use crate::common::{TestServer, assert_status};

fn unused_addr() -> String {
    format!("127.0.0.1:{}", common::free_port())
}

/// `outcome` with its answer, if any, as text: the calling styles answer with different types,
/// and this gives their outcomes one type to be checked alike.
fn answer_as_text<T: std::fmt::Debug>(outcome: Result<T, CallError>) -> Result<String, CallError> {
    outcome.map(|answer| format!("{answer:?}"))
}

#[test]
fn a_route_slower_than_the_deadline_ends_with_deadline_exceeded() {
    let server = TestServer::start();
    let client = server.client().with_timeout(Duration::from_millis(300));
    let slow_route = (0..3).map(|i| {
        thread::sleep(Duration::from_millis(400));
        proto::point(i, i)
    });
    let error = assert_status(
        client.record_route(slow_route),
        RpcStatusCode::DEADLINE_EXCEEDED,
        "",
    );
    assert_eq!(error.method(), "RecordRoute");
    let shown = error.to_string();
    assert!(shown.contains("300ms deadline"), "{shown}");
    // The same client with its usual deadline still works.
    assert!(server.client().get_feature(proto::point(0, 0)).is_ok());
}

#[test]
fn a_server_that_is_down_is_unavailable_in_every_style() {
    let addr = unused_addr();
    let client = RouteGuideClient::connect(&addr).with_timeout(Duration::from_secs(5));
    let outcomes = [
        answer_as_text(client.get_feature(proto::point(0, 0))),
        answer_as_text(client.get_feature_future(proto::point(0, 0)).wait()),
        answer_as_text(
            client
                .list_features(proto::rectangle(proto::point(0, 0), proto::point(1, 1)))
                .next()
                .unwrap(),
        ),
        answer_as_text(client.record_route(vec![proto::point(0, 0)])),
        answer_as_text(
            client
                .route_chat(vec![proto::route_note(proto::point(0, 0), "hello?")])
                .next()
                .unwrap(),
        ),
        answer_as_text(client.record_route_future(vec![proto::point(0, 0)]).wait()),
        answer_as_text(
            client
                .record_route_stream(futures::stream::iter(vec![proto::point(0, 0)]))
                .wait(),
        ),
        answer_as_text(
            block_on_stream(
                client
                    .list_features_stream(proto::rectangle(proto::point(0, 0), proto::point(1, 1))),
            )
            .next()
            .unwrap(),
        ),
        answer_as_text(
            block_on_stream(client.route_chat_stream(futures::stream::iter(vec![
                proto::route_note(proto::point(0, 0), "hello?"),
            ])))
            .next()
            .unwrap(),
        ),
    ];
    for outcome in outcomes {
        let error = assert_status(outcome, RpcStatusCode::UNAVAILABLE, "");
        let shown = error.to_string();
        assert!(
            shown.contains(&addr) && shown.contains("is it running"),
            "{shown}"
        );
    }
}

#[test]
fn invalid_arguments_say_that_the_server_refused_the_request() {
    let server = TestServer::start();
    let error = assert_status(
        server.client().get_feature(proto::point(i32::MAX, 0)),
        RpcStatusCode::INVALID_ARGUMENT,
        "point: latitude 2147483647",
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with("GetFeature: the server refused the request (INVALID_ARGUMENT)"),
        "{shown}"
    );
    assert!(shown.contains("point: latitude 2147483647"), "{shown}");
}

#[test]
fn a_client_on_the_minimal_stack_still_ends_calls_at_their_deadline() {
    // A listener that accepts connections and never answers: only the client's own deadline can
    // end a call to it (gRPC's minimal stack drops that check unless it is asked for).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    // Every connection is held open, unanswered, until the test process ends.
    thread::spawn(move || {
        let mut held = Vec::new();
        for connection in silent.incoming() {
            held.push(connection);
        }
    });
    let client = RouteGuideClient::connect_with(&addr, &ClientOptions::load_generator())
        .with_timeout(Duration::from_millis(300));
    let (answered, answer) = mpsc::channel();
    thread::spawn(move || answered.send(client.get_feature(proto::point(0, 0))));
    let outcome = answer
        .recv_timeout(Duration::from_secs(10))
        .expect("a call past its 300 ms deadline was still waiting after 10 s");
    assert_status(outcome, RpcStatusCode::DEADLINE_EXCEEDED, "");
}

#[test]
fn a_task_on_the_grpc_thread_makes_calls_and_returns_its_output() {
    let server = TestServer::start();
    let client = server.client();
    let calling = client.clone();
    let (ran_on, names) = block_on(client.run_on_grpc_thread(async move {
        // Where the task's first steps, before any call, ran.
        let ran_on = thread::current().id();
        let mut names = Vec::new();
        for point in [proto::point(409_146_138, -746_188_906), proto::point(0, 0)] {
            names.push(calling.get_feature_future(point).await?.name.to_string());
        }
        Ok::<_, CallError>((ran_on, names))
    }))
    .expect("gRPC dropped the task")
    .unwrap();
    assert_ne!(
        ran_on,
        thread::current().id(),
        "the task began on the caller's thread"
    );
    assert_eq!(
        names,
        [
            "Berkshire Valley Management Area Trail, Jefferson, NJ, USA",
            ""
        ]
    );
}
