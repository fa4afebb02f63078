//! Requests that cannot be decoded, or decode to nonsense: each method answers them with an error
//! status or a correct result, never panics or hangs, and goes on serving well-formed calls.

use grpcio::RpcStatusCode;
use protobuf::Message;
use routeguide::SplitMix64;
use routeguide::proto::{self, Feature};

use crate::common::TestServer;
use crate::common::raw::{GET_FEATURE, LIST_FEATURES, RECORD_ROUTE, ROUTE_CHAT, RawClient};

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
    assert!(feature.name.starts_with("Berkshire Valley"));
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

/// Unknown fields nested as groups (start and end markers of field 15), `depth` deep.
fn nested_groups(depth: usize) -> Vec<u8> {
    let mut groups = vec![0x7b; depth];
    groups.extend(std::iter::repeat_n(0x7c, depth));
    groups
}

/// Where protobuf 3 reads differently from protobuf 2, which refused both of these: a known field
/// sent with another wire type is kept as an unknown field (as the C++ reference implementation
/// does), and unknown groups are skipped up to its recursion limit of 100 levels. Such a request
/// decodes to its defaults; deeper nesting is still refused before any handler runs.
#[test]
fn a_field_of_another_wire_type_and_shallow_groups_are_skipped_deep_groups_refused() {
    let server = TestServer::start();
    let raw = RawClient::connect(&server.addr);
    // Field 1 (latitude, a varint) sent length-delimited.
    let wrong_wire_type = vec![0x0a, 0x01, 0x02];
    for skipped in [wrong_wire_type, nested_groups(10)] {
        let replies = raw.call(&GET_FEATURE, skipped.clone()).unwrap();
        let feature = Feature::parse_from_bytes(&replies[0]).unwrap();
        assert_eq!(
            feature,
            proto::feature("", proto::point(0, 0)),
            "{skipped:?}"
        );
    }
    let (code, _) = raw.call(&GET_FEATURE, nested_groups(1_000)).unwrap_err();
    assert_eq!(code, RpcStatusCode::INTERNAL);
}

/// Payloads no well-behaved client sends, drawn at random around valid messages: random bytes,
/// truncated and bit-flipped valid messages, wrong wire types, huge length prefixes, and deeply
/// nested unknown fields and groups.
fn hostile_payload(rng: &mut SplitMix64, valid: &[Vec<u8>]) -> Vec<u8> {
    let base = &valid[rng.index(valid.len())];
    match rng.index(7) {
        0 => (0..rng.index(64)).map(|_| rng.next_u64() as u8).collect(),
        1 => base[..rng.index(base.len().max(1))].to_vec(),
        2 => {
            let mut flipped = base.clone();
            if !flipped.is_empty() {
                let at = rng.index(flipped.len());
                flipped[at] ^= 1 << rng.index(8);
            }
            flipped
        }
        3 => {
            // Field 1 or 2 with every wire type, including the reserved ones.
            let tag = ((1 + rng.index(2)) << 3 | rng.index(8)) as u8;
            vec![tag, 0x01, 0x02, 0x03]
        }
        4 => {
            // A length prefix far beyond the message.
            let mut huge = vec![0x12, 0xff, 0xff, 0xff, 0xff, 0x0f];
            huge.extend_from_slice(base);
            huge
        }
        5 => {
            // Unknown length-delimited fields nested inside each other.
            let mut nested = Vec::new();
            for _ in 0..rng.index(200) {
                let mut outer = vec![0x7a]; // field 15, length-delimited
                outer.extend(varint(nested.len() as u64));
                outer.extend(nested);
                nested = outer;
            }
            nested
        }
        // Unknown groups, within protobuf's recursion limit or far beyond it.
        _ => nested_groups(rng.index(5000)),
    }
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return bytes;
        }
        bytes.push(low | 0x80);
    }
}

#[test]
fn ten_thousand_hostile_payloads_per_method_leave_the_server_serving() {
    let server = TestServer::start();
    let raw = RawClient::connect(&server.addr);
    let client = server.client();
    let valid: Vec<Vec<u8>> = vec![
        proto::point(409_146_138, -746_188_906)
            .write_to_bytes()
            .unwrap(),
        proto::rectangle(proto::point(0, 0), proto::point(1, 1))
            .write_to_bytes()
            .unwrap(),
        proto::route_note(proto::point(0, 0), "hello")
            .write_to_bytes()
            .unwrap(),
    ];
    let mut rng = SplitMix64::seeded(2024);
    for method in [&GET_FEATURE, &LIST_FEATURES, &RECORD_ROUTE, &ROUTE_CHAT] {
        let mut refused = 0;
        for batch in 0..10 {
            for _ in 0..1_000 {
                // Either a decoded answer or a refusal: a hang would end in DEADLINE_EXCEEDED, a
                // panicked handler in CANCELLED or UNKNOWN, and both fail here.
                if let Err((code, message)) = raw.call(method, hostile_payload(&mut rng, &valid)) {
                    assert!(
                        [RpcStatusCode::INTERNAL, RpcStatusCode::INVALID_ARGUMENT].contains(&code),
                        "{}: {code:?} {message}",
                        method.name
                    );
                    refused += 1;
                }
            }
            let answer = client.get_feature(proto::point(409_146_138, -746_188_906));
            assert!(
                answer.is_ok(),
                "{} after batch {batch}: {answer:?}",
                method.name
            );
        }
        assert!(refused > 1_000, "{}: only {refused} refused", method.name);
    }
}
