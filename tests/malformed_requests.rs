//! Requests that cannot be decoded: each method refuses them with an error status, and the server
//! goes on serving well-formed calls.

mod common;

use common::TestServer;
use common::raw::{GET_FEATURE, LIST_FEATURES, RECORD_ROUTE, ROUTE_CHAT, RawClient};
use grpcio::RpcStatusCode;
use protobuf::Message;
use routeguide::proto::{self, Feature};

/// Bytes that are not a valid encoding of any RouteGuide message: a truncated varint, a field
/// with an invalid wire type, and a length prefix far past the end of the message.
fn undecodable() -> Vec<Vec<u8>> {
    vec![
        vec![0x08, 0xff],
        vec![0x0f, 0x01],
        vec![0x12, 0xff, 0xff, 0xff, 0x0f, 0x01],
    ]
}

#[test]
fn undecodable_requests_are_refused_by_every_method() {
    let server = TestServer::start();
    let raw = RawClient::connect(&server.addr);
    for method in [&GET_FEATURE, &LIST_FEATURES, &RECORD_ROUTE, &ROUTE_CHAT] {
        for bytes in undecodable() {
            let outcome = raw.call(method, bytes.clone());
            let (code, _) = outcome.expect_err(&format!("{} accepted {bytes:?}", method.name));
            // The gRPC layer refuses unary and server-streaming requests (INTERNAL); the service
            // itself refuses streamed ones, naming the message (INVALID_ARGUMENT).
            assert!(
                [RpcStatusCode::INTERNAL, RpcStatusCode::INVALID_ARGUMENT].contains(&code),
                "{}: {code:?}",
                method.name
            );
        }
    }
    // Well-formed calls still work, raw or not.
    let valid = proto::point(409_146_138, -746_188_906)
        .write_to_bytes()
        .unwrap();
    let replies = raw.call(&GET_FEATURE, valid).unwrap();
    let feature = Feature::parse_from_bytes(&replies[0]).unwrap();
    assert!(feature.get_name().starts_with("Berkshire Valley"));
    assert!(server.client().get_feature(proto::point(0, 0)).is_ok());
}

#[test]
fn an_undecodable_streamed_message_is_named_in_the_status() {
    let server = TestServer::start();
    let raw = RawClient::connect(&server.addr);
    for (method, named) in [
        (&RECORD_ROUTE, "point 1 of the route"),
        (&ROUTE_CHAT, "note 1 of the chat"),
    ] {
        let (code, message) = raw.call(method, vec![0x08, 0xff]).unwrap_err();
        assert_eq!(code, RpcStatusCode::INVALID_ARGUMENT);
        assert!(
            message.starts_with(&format!("{named}: cannot be decoded")),
            "{message}"
        );
    }
}
