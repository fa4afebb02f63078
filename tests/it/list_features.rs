//! ListFeatures against a real server: database order, inclusive bounds, swapped corners, both
//! calling styles, cancellation and bad rectangles.

use futures::executor::block_on_stream;
use grpcio::RpcStatusCode;
use routeguide::proto::{self, Feature, Rectangle};

use crate::common::{Entry, TestServer, assert_status, standard_entries};

fn rectangle(lo: (i32, i32), hi: (i32, i32)) -> Rectangle {
    proto::rectangle(proto::point(lo.0, lo.1), proto::point(hi.0, hi.1))
}

/// The entries inside the rectangle, by a plain scan of the file in order.
fn expected_inside(lo: (i32, i32), hi: (i32, i32)) -> Vec<Entry> {
    let (lat_min, lat_max) = (lo.0.min(hi.0), lo.0.max(hi.0));
    let (lon_min, lon_max) = (lo.1.min(hi.1), lo.1.max(hi.1));
    standard_entries()
        .into_iter()
        .filter(|e| {
            (lat_min..=lat_max).contains(&e.latitude) && (lon_min..=lon_max).contains(&e.longitude)
        })
        .collect()
}

fn as_entries(features: Vec<Feature>) -> Vec<Entry> {
    features
        .into_iter()
        .map(|f| Entry {
            name: f.name,
            latitude: f.location.latitude,
            longitude: f.location.longitude,
        })
        .collect()
}

const TUTORIAL_LO: (i32, i32) = (400_000_000, -750_000_000);
const TUTORIAL_HI: (i32, i32) = (420_000_000, -730_000_000);

#[test]
fn the_tutorial_rectangle_gives_the_features_inside_in_database_order() {
    let server = TestServer::start();
    let features: Vec<Feature> = server
        .client()
        .list_features(rectangle(TUTORIAL_LO, TUTORIAL_HI))
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = expected_inside(TUTORIAL_LO, TUTORIAL_HI);
    assert!(!expected.is_empty());
    assert_eq!(as_entries(features), expected);
}

#[test]
fn a_rectangle_holding_part_of_the_database_gives_it_in_database_order() {
    let server = TestServer::start();
    // Cuts through the standard features: some inside, most outside.
    let (lo, hi) = ((405_000_000, -745_000_000), (412_000_000, -740_000_000));
    let expected = expected_inside(lo, hi);
    assert!(
        expected.len() > 3 && expected.len() < 50,
        "{}",
        expected.len()
    );
    let features: Vec<Feature> = server
        .client()
        .list_features(rectangle(lo, hi))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(as_entries(features), expected);
}

#[test]
fn the_whole_world_gives_every_feature_named_or_not() {
    let server = TestServer::start();
    let everywhere = rectangle((-900_000_000, -1_800_000_000), (900_000_000, 1_800_000_000));
    let features: Vec<Feature> = server
        .client()
        .list_features(everywhere)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(features.len(), 100);
    assert_eq!(as_entries(features), standard_entries());
}

#[test]
fn swapped_corners_give_the_same_features_in_both_styles() {
    let server = TestServer::start();
    let client = server.client();
    let expected = expected_inside(TUTORIAL_LO, TUTORIAL_HI);
    let corners = [
        (TUTORIAL_HI, TUTORIAL_LO),
        (
            (TUTORIAL_LO.0, TUTORIAL_HI.1),
            (TUTORIAL_HI.0, TUTORIAL_LO.1),
        ),
    ];
    for (lo, hi) in corners {
        let sync: Vec<Feature> = client
            .list_features(rectangle(lo, hi))
            .collect::<Result<_, _>>()
            .unwrap();
        let future: Vec<Feature> = block_on_stream(client.list_features_stream(rectangle(lo, hi)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(as_entries(sync.clone()), expected);
        assert_eq!(sync, future);
    }
}

#[test]
fn bounds_are_inclusive() {
    let server = TestServer::start();
    let entry = standard_entries()
        .into_iter()
        .find(|e| !e.name.is_empty())
        .unwrap();
    let at = (entry.latitude, entry.longitude);
    let features: Vec<Feature> = server
        .client()
        .list_features(rectangle(at, at))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(as_entries(features), expected_inside(at, at));
    assert!(expected_inside(at, at).contains(&entry));
}

#[test]
fn an_empty_area_gives_an_empty_stream() {
    let server = TestServer::start();
    let mut features = server.client().list_features(rectangle((0, 0), (10, 10)));
    assert!(features.next().is_none());
}

#[test]
fn a_rectangle_without_a_corner_is_an_invalid_argument() {
    let server = TestServer::start();
    let client = server.client();
    let no_hi = Rectangle {
        lo: Some(proto::point(0, 0)).into(),
        ..Rectangle::default()
    };
    let no_lo = Rectangle {
        hi: Some(proto::point(0, 0)).into(),
        ..Rectangle::default()
    };
    for (rect, missing) in [(no_hi, "hi is missing"), (no_lo, "lo is missing")] {
        let answer = client.list_features(rect).next().unwrap();
        assert_status(answer, RpcStatusCode::INVALID_ARGUMENT, missing);
    }
    let out_of_range = rectangle((0, 0), (0, 1_800_000_001));
    assert_status(
        client.list_features(out_of_range).next().unwrap(),
        RpcStatusCode::INVALID_ARGUMENT,
        "rectangle.hi: longitude",
    );
}

#[test]
fn a_client_that_stops_reading_early_leaves_the_server_serving() {
    let server = TestServer::start();
    let client = server.client();
    for _ in 0..20 {
        let mut features = client.list_features(rectangle(TUTORIAL_LO, TUTORIAL_HI));
        assert!(features.next().unwrap().is_ok());
        drop(features); // cancels the call, if the server has not finished it yet
    }
    assert_eq!(
        client
            .list_features(rectangle(TUTORIAL_LO, TUTORIAL_HI))
            .count(),
        expected_inside(TUTORIAL_LO, TUTORIAL_HI).len()
    );
}
