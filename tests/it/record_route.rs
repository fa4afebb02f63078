//! RecordRoute against a real server: counts, the once-truncated distance, elapsed time, empty and
//! invalid routes, and the three ways of sending a route (iterator, iterator in the background,
//! stream).

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use grpcio::RpcStatusCode;
use routeguide::proto::{self, Point};

use crate::common::{TestServer, assert_status, standard_entries};

fn reference_route() -> Vec<Point> {
    [1000, 2000, 3000, 4000]
        .into_iter()
        .map(|step| proto::point(step, step))
        .collect()
}

#[test]
fn the_reference_route_is_47_metres_long() {
    let server = TestServer::start();
    let summary = server.client().record_route(reference_route()).unwrap();
    assert_eq!(summary.point_count, 4);
    assert_eq!(summary.feature_count, 0);
    assert_eq!(summary.distance, 47);
    assert_eq!(summary.elapsed_time, 0);
}

#[test]
fn every_database_entry_counts_as_a_feature_named_or_not() {
    let server = TestServer::start();
    let entries = standard_entries();
    assert!(entries.iter().any(|e| e.name.is_empty()));
    let route: Vec<Point> = entries
        .iter()
        .map(|e| proto::point(e.latitude, e.longitude))
        .chain([proto::point(0, 0)])
        .collect();
    let summary = server.client().record_route(route).unwrap();
    assert_eq!(summary.point_count, 101);
    assert_eq!(summary.feature_count, 100);
    assert!(summary.distance > 0);
}

#[test]
fn an_empty_route_is_all_zeros() {
    let server = TestServer::start();
    let summary = server.client().record_route(Vec::new()).unwrap();
    assert_eq!(summary, proto::RouteSummary::new());
}

#[test]
fn the_three_ways_of_sending_agree() {
    let server = TestServer::start();
    let client = server.client();
    let sync = client.record_route(reference_route()).unwrap();
    let future = client
        .record_route_future(reference_route())
        .wait()
        .unwrap();
    let stream = client
        .record_route_stream(futures::stream::iter(reference_route()))
        .wait()
        .unwrap();
    assert_eq!(sync, future);
    assert_eq!(sync, stream);
}

#[test]
fn elapsed_time_counts_whole_seconds_from_start_to_end_of_stream() {
    let server = TestServer::start();
    let slow_route = reference_route().into_iter().enumerate().map(|(i, p)| {
        if i == 2 {
            thread::sleep(Duration::from_millis(1_100));
        }
        p
    });
    let summary = server.client().record_route(slow_route).unwrap();
    assert_eq!(summary.distance, 47);
    // At least the pause; truncated, so only a very slow machine would see 2.
    assert!((1..=2).contains(&summary.elapsed_time), "{summary:?}");
}

#[test]
fn the_future_style_returns_before_the_route_is_produced() {
    let server = TestServer::start();
    let (points_tx, points_rx) = mpsc::channel::<Point>();
    // The route exists only as the test produces it, point by point.
    let pending = server.client().record_route_future(points_rx);
    for point in reference_route() {
        points_tx.send(point).unwrap();
    }
    drop(points_tx);
    let summary = pending.wait().unwrap();
    assert_eq!(summary.point_count, 4);
    assert_eq!(summary.distance, 47);
}

#[test]
fn an_invalid_point_ends_the_call_with_invalid_argument_naming_it() {
    let server = TestServer::start();
    let client = server.client();
    let route = vec![
        proto::point(0, 0),
        proto::point(-900_000_001, 0),
        proto::point(1, 1),
    ];
    let error = assert_status(
        client.record_route(route),
        RpcStatusCode::INVALID_ARGUMENT,
        "point 2 of the route",
    );
    assert!(error.message().contains("latitude -900000001"), "{error}");
    assert_eq!(client.record_route(reference_route()).unwrap().distance, 47);
}

#[test]
fn a_stream_that_never_ends_still_gets_its_answer() {
    use futures::StreamExt;
    let server = TestServer::start();
    let client = server.client();
    // The server refuses the first point; the rest of the stream never comes.
    let refused =
        futures::stream::iter(vec![proto::point(i32::MAX, 0)]).chain(futures::stream::pending());
    let refused = client.record_route_stream(refused).wait();
    assert_status(
        refused,
        RpcStatusCode::INVALID_ARGUMENT,
        "point 1 of the route",
    );
    // Nothing wrong, but nothing ends it either: the deadline does.
    let endless = futures::stream::iter(reference_route()).chain(futures::stream::pending());
    let endless = client
        .with_timeout(Duration::from_millis(300))
        .record_route_stream(endless)
        .wait();
    assert_status(endless, RpcStatusCode::DEADLINE_EXCEEDED, "");
}
