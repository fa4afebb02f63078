//! RouteChat against a real server: the tutorial's notes, replies while the stream is open, the
//! per-call and shared scopes, the history bound, and notes without a location.

use std::sync::mpsc;
use std::time::Duration;

use futures::executor::block_on_stream;
use grpcio::RpcStatusCode;
use routeguide::CallError;
use routeguide::proto::{self, RouteNote};

use crate::common::{TestServer, assert_status};

fn note(message: &str, lat: i32, lon: i32) -> RouteNote {
    proto::route_note(proto::point(lat, lon), message)
}

fn tutorial_notes() -> Vec<RouteNote> {
    vec![
        note("First message", 0, 0),
        note("Second message", 0, 1),
        note("Third message", 1, 0),
        note("Fourth message", 0, 0),
        note("Fifth message", 1, 0),
    ]
}

fn messages(replies: impl IntoIterator<Item = Result<RouteNote, CallError>>) -> Vec<String> {
    replies.into_iter().map(|r| r.unwrap().message).collect()
}

#[test]
fn the_tutorial_notes_get_back_first_and_third_in_both_styles() {
    let server = TestServer::start();
    let client = server.client();
    let sync = messages(client.route_chat(tutorial_notes()));
    let future = messages(block_on_stream(
        client.route_chat_stream(futures::stream::iter(tutorial_notes())),
    ));
    assert_eq!(sync, ["First message", "Third message"]);
    assert_eq!(future, sync, "and each call has its own history");
}

#[test]
fn replies_arrive_while_the_client_is_still_sending() {
    let server = TestServer::start();
    let (notes_tx, notes_rx) = mpsc::channel::<RouteNote>();
    let mut replies = server.client().route_chat(notes_rx);
    notes_tx.send(note("one", 5, 5)).unwrap();
    notes_tx.send(note("two", 5, 5)).unwrap();
    // The stream is still open: this reply must come now, not at the end.
    assert_eq!(replies.next().unwrap().unwrap().message, "one");
    notes_tx.send(note("three", 5, 5)).unwrap();
    assert_eq!(replies.next().unwrap().unwrap().message, "one");
    assert_eq!(replies.next().unwrap().unwrap().message, "two");
    drop(notes_tx);
    assert!(replies.next().is_none());
}

#[test]
fn in_shared_scope_clients_see_each_others_notes_but_not_their_own_echo() {
    let server = TestServer::start_shared_chat(1000);
    let client = server.client();
    let first = messages(client.route_chat(vec![note("from A", 7, 7)]));
    assert!(first.is_empty(), "no echo of one's own note");
    let second = messages(client.route_chat(vec![note("from B", 7, 7), note("B again", 8, 8)]));
    assert_eq!(second, ["from A"]);
    let third = messages(client.route_chat(vec![note("from C", 7, 7)]));
    assert_eq!(third, ["from A", "from B"]);
}

#[test]
fn shared_history_keeps_only_the_newest_notes_per_location() {
    let server = TestServer::start_shared_chat(2);
    let client = server.client();
    for text in ["a", "b", "c"] {
        client.route_chat(vec![note(text, 3, 3)]).for_each(|r| {
            r.unwrap();
        });
    }
    let replies = messages(client.route_chat(vec![note("d", 3, 3)]));
    assert_eq!(replies, ["b", "c"]);
}

#[test]
fn a_note_without_a_location_is_an_invalid_argument() {
    let server = TestServer::start();
    let client = server.client();
    let nowhere = RouteNote {
        message: "lost".into(),
        ..RouteNote::default()
    };
    let replies: Vec<_> = client
        .route_chat(vec![note("fine", 0, 0), note("fine again", 0, 0), nowhere])
        .collect();
    // grpcio's client reports an error status as soon as it arrives, so the reply to the second
    // note, sent just before, may or may not be yielded first; nothing comes after the error.
    let (last, before) = replies.split_last().unwrap();
    assert!(before.len() <= 1, "{replies:?}");
    for reply in before {
        assert_eq!(reply.as_ref().unwrap().message, "fine");
    }
    assert_status(
        last.clone(),
        RpcStatusCode::INVALID_ARGUMENT,
        "note 3 of the chat: location is missing",
    );
    // Other chats go on.
    assert_eq!(messages(client.route_chat(tutorial_notes())).len(), 2);
}

#[test]
fn a_note_outside_the_map_is_an_invalid_argument() {
    let server = TestServer::start();
    let reply = server
        .client()
        .route_chat(vec![note("far", 0, 1_800_000_001)])
        .next()
        .unwrap();
    assert_status(
        reply,
        RpcStatusCode::INVALID_ARGUMENT,
        "note 1 of the chat: location: longitude",
    );
}

#[test]
fn a_chat_that_outlives_its_deadline_ends_with_deadline_exceeded() {
    let server = TestServer::start();
    let (notes_tx, notes_rx) = mpsc::channel::<RouteNote>();
    let client = server.client().with_timeout(Duration::from_millis(300));
    let mut replies = client.route_chat(notes_rx);
    notes_tx.send(note("waiting", 1, 1)).unwrap();
    let error = assert_status(
        replies.next().unwrap(),
        RpcStatusCode::DEADLINE_EXCEEDED,
        "",
    );
    assert!(error.to_string().contains("deadline"), "{error}");
}
