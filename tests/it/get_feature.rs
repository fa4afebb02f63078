//! GetFeature against a real server: known and unknown points, both calling styles, and bad input.

use grpcio::RpcStatusCode;
use routeguide::proto;

use crate::common::{TestServer, assert_status, standard_entries};

#[test]
fn a_known_point_returns_its_feature() {
    let server = TestServer::start();
    let feature = server
        .client()
        .get_feature(proto::point(409_146_138, -746_188_906))
        .unwrap();
    assert_eq!(
        feature.name,
        "Berkshire Valley Management Area Trail, Jefferson, NJ, USA"
    );
    assert_eq!(*feature.location, proto::point(409_146_138, -746_188_906));
}

#[test]
fn every_named_entry_is_found_in_both_styles() {
    let server = TestServer::start();
    let client = server.client();
    for entry in standard_entries().iter().filter(|e| !e.name.is_empty()) {
        let at = proto::point(entry.latitude, entry.longitude);
        let sync = client.get_feature(at.clone()).unwrap();
        let future = client.get_feature_future(at).wait().unwrap();
        assert_eq!(sync.name, entry.name);
        assert_eq!(sync, future);
    }
}

#[test]
fn an_unknown_point_keeps_its_location() {
    let server = TestServer::start();
    let feature = server.client().get_feature(proto::point(1, -2)).unwrap();
    assert_eq!(feature.name, "");
    assert!(
        feature.location.is_some(),
        "the location is set, not left out"
    );
    assert_eq!(*feature.location, proto::point(1, -2));
}

#[test]
fn the_origin_is_an_unknown_point_with_its_location_set() {
    let server = TestServer::start();
    let feature = server.client().get_feature(proto::point(0, 0)).unwrap();
    assert_eq!(feature.name, "");
    assert!(feature.location.is_some());
}

#[test]
fn coordinate_limits_are_inclusive() {
    let server = TestServer::start();
    let client = server.client();
    for (lat, lon) in [(900_000_000, 1_800_000_000), (-900_000_000, -1_800_000_000)] {
        let feature = client.get_feature(proto::point(lat, lon)).unwrap();
        assert_eq!(*feature.location, proto::point(lat, lon));
    }
}

#[test]
fn out_of_range_coordinates_are_invalid_arguments_naming_the_field() {
    let server = TestServer::start();
    let client = server.client();
    assert_status(
        client.get_feature(proto::point(900_000_001, 0)),
        RpcStatusCode::INVALID_ARGUMENT,
        "latitude 900000001",
    );

    let bad_longitude = client
        .get_feature_future(proto::point(0, -1_800_000_001))
        .wait();
    assert_status(
        bad_longitude,
        RpcStatusCode::INVALID_ARGUMENT,
        "longitude -1800000001",
    );

    // The server goes on answering.
    assert!(client.get_feature(proto::point(0, 0)).is_ok());
}
