//! Compressed messages: requests compressed by the client, answers compressed by the server
//! (`--compression`), and the checks the server makes of every message it receives whether or not
//! the call is compressed (the receive limit, a message that claims a compression the call did not
//! declare). The vendored gRPC core runs a message through its compression filter only on calls
//! that use compression (vendor/README.md), so both kinds of call are tested here.

use std::io::Write;
use std::sync::Arc;

use grpcio::{CompressionAlgorithms, RpcStatusCode};
use protobuf::Message;
use routeguide::proto::{self, Feature, Rectangle, RouteSummary};
use routeguide::{Compression, Coordinates, FeatureStore, ServerConfig};
use routeguide_testkit::h2::{self, DATA, END_HEADERS, END_STREAM, Frame, HEADERS};

use crate::common::raw::{GET_FEATURE, LIST_FEATURES, RECORD_ROUTE, ROUTE_CHAT, RawClient};
use crate::common::{TestServer, standard_store};

/// A point of the standard database, and its feature's name.
const KNOWN: (i32, i32, &str) = (
    409_146_138,
    -746_188_906,
    "Berkshire Valley Management Area Trail, Jefferson, NJ, USA",
);

/// A rectangle over the whole world.
fn world() -> Rectangle {
    proto::rectangle(
        proto::point(-900_000_000, -1_800_000_000),
        proto::point(900_000_000, 1_800_000_000),
    )
}

#[test]
fn compressed_requests_are_answered_on_all_four_methods() {
    let server = TestServer::start();
    let known = proto::point(KNOWN.0, KNOWN.1).write_to_bytes().unwrap();
    for algorithm in [
        CompressionAlgorithms::GRPC_COMPRESS_GZIP,
        CompressionAlgorithms::GRPC_COMPRESS_DEFLATE,
    ] {
        let client = RawClient::connect_compressing(&server.addr, algorithm);

        let reply = client.call(&GET_FEATURE, known.clone()).unwrap();
        assert_eq!(Feature::parse_from_bytes(&reply[0]).unwrap().name, KNOWN.2);

        let features = client
            .call(&LIST_FEATURES, world().write_to_bytes().unwrap())
            .unwrap();
        assert_eq!(features.len(), 100, "{algorithm:?}");

        let summary = client.call(&RECORD_ROUTE, known.clone()).unwrap();
        let summary = RouteSummary::parse_from_bytes(&summary[0]).unwrap();
        assert_eq!((summary.point_count, summary.feature_count), (1, 1));

        // A note at a location with no earlier note: the call ends with nothing sent back.
        let note = proto::route_note(proto::point(1, 1), "hello").write_to_bytes();
        assert_eq!(client.call(&ROUTE_CHAT, note.unwrap()).unwrap().len(), 0);
    }
}

#[test]
fn a_compressed_request_over_the_limit_once_inflated_is_resource_exhausted() {
    let config = ServerConfig {
        max_message_bytes: 1024,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, standard_store());
    let client =
        RawClient::connect_compressing(&server.addr, CompressionAlgorithms::GRPC_COMPRESS_GZIP);
    // 4 KiB of one letter: a few dozen bytes on the wire, four times the limit once inflated.
    let big = proto::route_note(proto::point(0, 0), "x".repeat(4096)).write_to_bytes();
    let (code, message) = client.call(&ROUTE_CHAT, big.unwrap()).unwrap_err();
    assert_eq!(code, RpcStatusCode::RESOURCE_EXHAUSTED);
    assert!(message.contains("larger than max"), "{message}");
    // The same note within the limit goes through on the same connection.
    let small = proto::route_note(proto::point(0, 0), "x".repeat(900)).write_to_bytes();
    assert!(client.call(&ROUTE_CHAT, small.unwrap()).is_ok());
}

/// One call of `method` with `message` (its compressed flag set as `flagged`) on a fresh HTTP/2
/// connection: the frames the server sent on the call's stream.
fn call_from_the_frames_up(addr: &str, method: &str, message: &[u8], flagged: bool) -> Vec<Frame> {
    let mut socket = h2::connect(addr);
    let headers = h2::request_headers(method, &[("grpc-accept-encoding", b"identity,gzip")]);
    socket
        .write_all(&h2::frame(HEADERS, END_HEADERS, 1, &headers))
        .unwrap();
    let body = h2::grpc_message(flagged, message);
    socket
        .write_all(&h2::frame(DATA, END_STREAM, 1, &body))
        .unwrap();
    let mut frames = Vec::new();
    h2::read_until(&mut socket, "the end of the call", |frame| {
        let last = frame.stream == 1 && frame.kind == HEADERS && frame.flags & END_STREAM != 0;
        if frame.stream == 1 {
            frames.push(frame.clone());
        }
        last
    });
    frames
}

#[test]
fn a_message_flagged_compressed_on_a_call_without_an_encoding_is_internal() {
    let server = TestServer::start();
    let point = proto::point(KNOWN.0, KNOWN.1).write_to_bytes().unwrap();
    for method in ["GetFeature", "RecordRoute"] {
        let frames = call_from_the_frames_up(&server.addr, method, &point, true);
        let status = frames.last().and_then(Frame::grpc_status);
        assert_eq!(
            status,
            Some(i32::from(RpcStatusCode::INTERNAL) as u32),
            "{method}"
        );
        assert!(frames.iter().all(|f| f.kind != DATA), "{method} answered");
        // Unflagged, the same message is answered.
        let frames = call_from_the_frames_up(&server.addr, method, &point, false);
        assert_eq!(frames.last().and_then(Frame::grpc_status), Some(0));
    }
}

/// The messages of a ListFeatures call of the whole world, as the server framed them: each one's
/// compressed flag and bytes.
fn listed_messages(addr: &str) -> Vec<(u8, Vec<u8>)> {
    let frames = call_from_the_frames_up(
        addr,
        "ListFeatures",
        &world().write_to_bytes().unwrap(),
        false,
    );
    assert_eq!(frames.last().and_then(Frame::grpc_status), Some(0));
    let mut data: Vec<u8> = frames
        .iter()
        .filter(|f| f.kind == DATA)
        .flat_map(|f| f.payload.clone())
        .collect();
    let mut messages = Vec::new();
    while !data.is_empty() {
        let len = u32::from_be_bytes(data[1..5].try_into().unwrap()) as usize;
        messages.push((data[0], data[5..5 + len].to_vec()));
        data.drain(..5 + len);
    }
    messages
}

/// Ten features whose names are long enough to compress (gzip sends a message as it is when
/// compressing would not make it smaller, as it would not for the standard features).
fn long_named_store() -> Arc<FeatureStore> {
    Arc::new(FeatureStore::new((1..=10).map(|i| {
        let name = format!("{i}: {}", "Appalachian Trail, ".repeat(20));
        (
            name,
            Coordinates::new(i * 1_000_000, i * 1_000_000).unwrap(),
        )
    })))
}

#[test]
fn the_server_compresses_what_it_sends_as_compression_says() {
    let plain = TestServer::start_with(ServerConfig::default(), long_named_store());
    let messages = listed_messages(&plain.addr);
    assert_eq!(messages.len(), 10);
    assert!(messages.iter().all(|(flag, _)| *flag == 0));

    let config = ServerConfig {
        compression: Compression::Gzip,
        ..ServerConfig::default()
    };
    let gzip = TestServer::start_with(config, long_named_store());
    let messages = listed_messages(&gzip.addr);
    assert_eq!(messages.len(), 10);
    for (flag, bytes) in &messages {
        assert_eq!(*flag, 1, "a message went out uncompressed");
        assert_eq!(bytes[..2], [0x1f, 0x8b], "not gzip");
        assert!(
            bytes.len() < 100,
            "{} bytes: barely compressed",
            bytes.len()
        );
    }
    // A client library inflates them to the same features.
    let features = gzip
        .client()
        .list_features(world())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let expected: Vec<_> = (0..10).map(|i| long_named_store().feature(i)).collect();
    assert_eq!(features, expected);
}
