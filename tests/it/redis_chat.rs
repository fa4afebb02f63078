//! RouteChat shared across server replicas through a real Redis: notes cross replicas, every reply
//! is exactly the earlier notes at its location in Redis's order, history survives restarting
//! the replicas, the client's round-robin spreads chats over them, and a lost Redis fails
//! RouteChat with UNAVAILABLE (nothing else) until it returns.

use std::collections::HashSet;
use std::process::Command;
use std::thread;
use std::time::Duration;

use futures::executor::block_on;
use grpcio::RpcStatusCode;
use routeguide::proto::{self, RouteNote};
use routeguide::{CHAT_STORE_UNAVAILABLE, CallError, RouteGuideClient};
use routeguide::{ChatBackend, ChatLimits, ChatScope, Coordinates, RedisBoard, ServerConfig};
use routeguide_testkit::{eventually, standard_db};

use crate::common::process::{ServerProcess, expect_clean_exit, start_server_logging};
use crate::common::redis::{RedisProcess, start_redis};
use crate::common::{TestServer, assert_status, free_port, standard_store};

/// A replica sharing its chat through `redis`, keeping `history` notes per location.
fn replica(redis: &RedisProcess, history: usize) -> TestServer {
    replica_with(
        redis,
        ChatLimits {
            history_per_location: history,
            ..ChatLimits::default()
        },
    )
}

fn replica_with(redis: &RedisProcess, limits: ChatLimits) -> TestServer {
    let config = ServerConfig {
        chat_scope: ChatScope::Shared(ChatBackend::Redis(redis.url())),
        chat_limits: limits,
        ..ServerConfig::default()
    };
    TestServer::start_with(config, standard_store())
}

/// Two boards on `redis`, as two replicas hold them, to look into their mirrors.
fn two_boards(redis: &RedisProcess) -> (RedisBoard, RedisBoard) {
    let connect = || RedisBoard::connect(&redis.url(), ChatLimits::default()).unwrap();
    (connect(), connect())
}

/// Leaves `text` at `at` on `board`; the replies' messages.
fn post_on(board: &RedisBoard, at: Coordinates, text: &str) -> Vec<String> {
    let note = proto::route_note(at.to_point(), text);
    let replies = block_on(board.post(at, note)).unwrap();
    replies.iter().map(|n| n.message.clone()).collect()
}

/// Waits up to 5 s for `board`'s mirror to hold `expected` at `at`.
fn wait_for_mirror(board: &RedisBoard, at: Coordinates, expected: &[&str]) {
    let mirrored = || -> Vec<String> {
        let notes = board.mirrored(at);
        notes.iter().map(|n| n.message.clone()).collect()
    };
    eventually(
        "the mirror holds what was posted",
        Duration::from_secs(5),
        || {
            let now = mirrored();
            if now == expected { Ok(()) } else { Err(now) }
        },
    );
}

/// Posts `message` at `lat` until RouteChat answers again (up to 10 s), and returns the replies.
/// Only `UNAVAILABLE` is worth another try.
fn post_once_chat_is_back(client: &RouteGuideClient, lat: i32, message: &str) -> Vec<String> {
    eventually(
        "RouteChat answers again",
        Duration::from_secs(10),
        || match post(client, lat, message) {
            Err(e) if e.code() == RpcStatusCode::UNAVAILABLE => Err(e),
            Err(e) => panic!("RouteChat did not recover: {e}"),
            Ok(replies) => Ok(replies),
        },
    )
}

/// Posts probes at a location of their own until RouteChat answers again (up to 10 s).
fn wait_for_chat(client: &RouteGuideClient) {
    post_once_chat_is_back(client, -89, "probe");
}

/// A replica as a process of its own, logging at `log_level`.
fn replica_process(redis: &RedisProcess, log_level: &str) -> ServerProcess {
    let url = redis.url();
    let flags = ["--chat-scope", "shared", "--chat-backend", &url];
    start_server_logging(log_level, &flags)
}

/// Leaves `message` at latitude `lat` in a RouteChat call of its own; the replies' messages.
fn post(client: &RouteGuideClient, lat: i32, message: &str) -> Result<Vec<String>, CallError> {
    let note = proto::route_note(proto::point(lat, 0), message);
    client
        .route_chat(vec![note])
        .map(|reply| reply.map(|n: RouteNote| n.message))
        .collect()
}

#[test]
fn a_note_left_on_one_replica_reaches_a_chat_on_the_other() {
    let Some(redis) = start_redis("a_note_left_on_one_replica_reaches_a_chat_on_the_other") else {
        return;
    };
    let (first, second) = (replica(&redis, 1000), replica(&redis, 1000));
    let (a, b) = (first.client(), second.client());

    assert_eq!(post(&a, 7, "a1").unwrap(), Vec::<String>::new());
    assert_eq!(post(&a, 7, "a2").unwrap(), ["a1"]);
    assert_eq!(post(&b, 7, "b1").unwrap(), ["a1", "a2"]);
    assert_eq!(post(&a, 8, "elsewhere").unwrap(), Vec::<String>::new());
    assert_eq!(post(&a, 7, "a3").unwrap(), ["a1", "a2", "b1"]);
    assert_eq!(post(&b, 7, "b2").unwrap(), ["a1", "a2", "b1", "a3"]);

    // One call with several notes: each note's earlier notes, none of its own echoed.
    let notes = vec![
        proto::route_note(proto::point(9, 0), "x"),
        proto::route_note(proto::point(9, 0), "y"),
        proto::route_note(proto::point(7, 0), "z"),
    ];
    let replies: Vec<String> = b.route_chat(notes).map(|r| r.unwrap().message).collect();
    assert_eq!(replies, ["x", "a1", "a2", "b1", "a3", "b2"]);
}

#[test]
fn each_replica_hears_of_the_others_notes_by_subscription() {
    let Some(redis) = start_redis("each_replica_hears_of_the_others_notes_by_subscription") else {
        return;
    };
    let (a, b) = two_boards(&redis);
    let at = Coordinates::new(2, 0).unwrap();
    assert!(post_on(&b, at, "from b").is_empty());
    assert_eq!(post_on(&a, at, "from a"), ["from b"]);
    // b never asked Redis after its own post, yet its mirror catches up with a's note.
    wait_for_mirror(&b, at, &["from b", "from a"]);
    wait_for_mirror(&a, at, &["from b", "from a"]);
}

#[test]
fn the_history_bound_holds_across_replicas() {
    let Some(redis) = start_redis("the_history_bound_holds_across_replicas") else {
        return;
    };
    let (first, second) = (replica(&redis, 2), replica(&redis, 2));
    let (a, b) = (first.client(), second.client());
    for (i, client) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        post(client, 1, &format!("note {i}")).unwrap();
    }
    assert_eq!(post(&b, 1, "last").unwrap(), ["note 3", "note 4"]);
    assert_eq!(post(&a, 1, "after").unwrap(), ["note 4", "last"]);
}

#[test]
fn concurrent_chats_on_both_replicas_each_get_exactly_the_notes_before_theirs() {
    let Some(redis) =
        start_redis("concurrent_chats_on_both_replicas_each_get_exactly_the_notes_before_theirs")
    else {
        return;
    };
    let replicas = [replica(&redis, 1000), replica(&redis, 1000)];
    // 8 threads, 4 on each replica, each leaving 25 notes at one location, one call per note.
    let posts: Vec<(String, Vec<String>)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|worker| {
                let client = replicas[worker % 2].client();
                scope.spawn(move || {
                    (0..25)
                        .map(|i| {
                            let message = format!("worker {worker} note {i}");
                            let replies = post(&client, 3, &message).unwrap();
                            (message, replies)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });

    // The longest reply and its note give the order Redis kept: every note's reply must be
    // exactly the notes before it in that order.
    let (last, longest) = posts.iter().max_by_key(|(_, r)| r.len()).unwrap();
    let mut order = longest.clone();
    order.push(last.clone());
    assert_eq!(order.len(), 200, "every note is in the history once");
    assert_eq!(order.iter().collect::<HashSet<_>>().len(), 200);
    for (message, replies) in &posts {
        assert_eq!(
            &order[..replies.len()],
            replies.as_slice(),
            "the reply to {message:?}"
        );
        assert_eq!(&order[replies.len()], message, "{message:?}'s place");
    }
}

#[test]
fn history_survives_restarting_both_replicas() {
    let Some(redis) = start_redis("history_survives_restarting_both_replicas") else {
        return;
    };
    let mut a = replica_process(&redis, "info");
    let mut b = replica_process(&redis, "info");
    let on_a = RouteGuideClient::connect(&a.addr());
    let on_b = RouteGuideClient::connect(&b.addr());
    post(&on_a, 5, "before the restart, on A").unwrap();
    post(&on_b, 5, "before the restart, on B").unwrap();
    for replica in [&mut a, &mut b] {
        replica.terminate().unwrap();
        expect_clean_exit(replica);
    }

    let a = replica_process(&redis, "info");
    let b = replica_process(&redis, "info");
    assert_eq!(
        post(&RouteGuideClient::connect(&b.addr()), 5, "after, on B").unwrap(),
        ["before the restart, on A", "before the restart, on B"]
    );
    assert_eq!(
        post(&RouteGuideClient::connect(&a.addr()), 5, "after, on A").unwrap(),
        [
            "before the restart, on A",
            "before the restart, on B",
            "after, on B"
        ]
    );
}

#[test]
fn the_clients_round_robin_spreads_chats_over_both_replicas() {
    let Some(redis) = start_redis("the_clients_round_robin_spreads_chats_over_both_replicas")
    else {
        return;
    };
    // At debug level each replica logs one line per call it served.
    let mut replicas = [
        replica_process(&redis, "routeguide=debug"),
        replica_process(&redis, "routeguide=debug"),
    ];
    let both = format!("{},{}", replicas[0].addr(), replicas[1].addr());
    let client = RouteGuideClient::connect(&both);
    for i in 0..20 {
        let replies = post(&client, 4, &format!("note {i}")).unwrap();
        assert_eq!(replies.len(), i, "note {i} sees every earlier note");
    }
    let mut served = Vec::new();
    for replica in &mut replicas {
        replica.terminate().unwrap();
        let log = replica.log_until("bye", Duration::from_secs(10)).unwrap();
        expect_clean_exit(replica);
        served.push(log.iter().filter(|l| l.contains("RouteChat from")).count());
    }
    assert_eq!(served.iter().sum::<usize>(), 20, "{served:?}");
    assert!(served.iter().all(|&n| n > 0), "{served:?}");
}

#[test]
fn losing_redis_fails_route_chat_only_until_it_returns() {
    let Some(mut redis) = start_redis("losing_redis_fails_route_chat_only_until_it_returns") else {
        return;
    };
    let server = replica(&redis, 1000);
    let client = server.client();
    assert_eq!(post(&client, 6, "kept").unwrap(), Vec::<String>::new());

    redis.stop();
    // The message says so to a person, the status's details to a program.
    let error = assert_status(
        post(&client, 6, "while Redis is down"),
        RpcStatusCode::UNAVAILABLE,
        "RouteChat's shared notes are unavailable",
    );
    assert_eq!(
        error.reason(),
        Some(CHAT_STORE_UNAVAILABLE),
        "the status's details say the chat store is down: {error}"
    );
    assert!(
        error
            .to_string()
            .contains("answered, but cannot do this now"),
        "the client tells this from a server it cannot reach: {error}"
    );
    assert!(
        !error.message().contains(&redis.port().to_string()),
        "the client is not told where Redis is: {error}"
    );
    // The client program counts it as the server's answer (exit code 1), not as a server it
    // cannot reach (2).
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
        .args(["--addr", &server.addr, "route-chat"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("answered, but cannot do this now"),
        "{stderr}"
    );
    // Under --json, the reason is a field of the error object.
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
        .args(["--addr", &server.addr, "--json", "route-chat"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["error"]["status"], "UNAVAILABLE", "{stdout}");
    assert_eq!(line["error"]["reason"], CHAT_STORE_UNAVAILABLE, "{stdout}");
    // Everything else goes on.
    let feature = client
        .get_feature(proto::point(409_146_138, -746_188_906))
        .unwrap();
    assert!(!feature.name.is_empty());
    let world = proto::rectangle(
        proto::point(-900_000_000, -1_800_000_000),
        proto::point(900_000_000, 1_800_000_000),
    );
    assert_eq!(client.list_features(world).count(), 100);

    // Redis comes back empty (the test's Redis saves nothing): RouteChat works again by itself,
    // and answers what Redis now holds.
    redis.start_again().unwrap();
    let replies = post_once_chat_is_back(&client, 6, "after Redis returned");
    assert_eq!(replies, Vec::<String>::new());
    assert_eq!(post(&client, 6, "next").unwrap(), ["after Redis returned"]);
}

#[test]
fn after_redis_comes_back_empty_no_replica_answers_from_before() {
    let Some(mut redis) =
        start_redis("after_redis_comes_back_empty_no_replica_answers_from_before")
    else {
        return;
    };
    let (first, second) = (replica(&redis, 1000), replica(&redis, 1000));
    let (a, b) = (first.client(), second.client());
    post(&a, 11, "old 1").unwrap();
    assert_eq!(post(&a, 11, "old 2").unwrap(), ["old 1"]);
    assert_eq!(post(&b, 11, "old 3").unwrap(), ["old 1", "old 2"]);

    // Redis restarts empty: its note numbers start again from 1.
    redis.stop();
    redis.start_again().unwrap();
    wait_for_chat(&b);
    assert_eq!(post(&b, 11, "new 1").unwrap(), Vec::<String>::new());
    assert_eq!(post(&b, 11, "new 2").unwrap(), ["new 1"]);
    wait_for_chat(&a);
    assert_eq!(post(&a, 11, "new 3").unwrap(), ["new 1", "new 2"]);
    assert_eq!(post(&b, 11, "new 4").unwrap(), ["new 1", "new 2", "new 3"]);
}

#[test]
fn a_redis_that_forgot_the_script_gets_it_again_and_no_note_twice() {
    let Some(redis) = start_redis("a_redis_that_forgot_the_script_gets_it_again_and_no_note_twice")
    else {
        return;
    };
    let (a, _) = two_boards(&redis);
    let at = Coordinates::new(32, 0).unwrap();
    post_on(&a, at, "before");
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut connection)
        .unwrap();
    assert_eq!(post_on(&a, at, "after the flush"), ["before"]);
    assert_eq!(post_on(&a, at, "next"), ["before", "after the flush"]);
}

#[test]
fn after_flushall_no_replica_answers_from_before() {
    let Some(redis) = start_redis("after_flushall_no_replica_answers_from_before") else {
        return;
    };
    let (a, b) = two_boards(&redis);
    let x = Coordinates::new(30, 0).unwrap();
    let y = Coordinates::new(31, 0).unwrap();
    post_on(&a, x, "old 1");
    post_on(&a, x, "old 2");
    wait_for_mirror(&b, x, &["old 1", "old 2"]);

    // The board is wiped without a connection breaking; a, which started the first board,
    // starts the next one, and the note numbers start again from 1.
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("FLUSHALL").query::<()>(&mut connection).unwrap();
    assert!(post_on(&a, y, "elsewhere").is_empty());
    assert!(post_on(&a, x, "new 1").is_empty());
    assert_eq!(post_on(&b, x, "after"), ["new 1"]);
}

#[test]
fn replicas_keeping_fewer_notes_trim_what_every_replica_answers() {
    let Some(redis) = start_redis("replicas_keeping_fewer_notes_trim_what_every_replica_answers")
    else {
        return;
    };
    let (many, few) = (replica(&redis, 5), replica(&redis, 2));
    let (a, b) = (many.client(), few.client());
    for i in 1..=4 {
        post(&a, 12, &format!("a{i}")).unwrap();
    }
    // b keeps two notes per location: Redis is trimmed to b's note and the one before it.
    assert_eq!(post(&b, 12, "b1").unwrap(), ["a3", "a4"]);
    // a's mirror still holds a1..a4, but a answers only what Redis keeps.
    assert_eq!(post(&a, 12, "a5").unwrap(), ["a4", "b1"]);
}

#[test]
fn the_byte_budget_bounds_what_redis_keeps() {
    let Some(redis) = start_redis("the_byte_budget_bounds_what_redis_keeps") else {
        return;
    };
    // A note weighs its stored bytes plus 64: about 1,075 bytes for a 1,000-letter message, so
    // two fit in 2,500 bytes and three do not.
    let limits = ChatLimits {
        max_bytes: 2_500,
        ..ChatLimits::default()
    };
    let server = replica_with(&redis, limits);
    let client = server.client();
    let big = |tag: char| tag.to_string().repeat(1000);
    post(&client, 20, "small, elsewhere").unwrap();
    for tag in ['x', 'y', 'z'] {
        post(&client, 13, &big(tag)).unwrap();
    }
    // The older location went first, then the oldest note of this one.
    assert_eq!(post(&client, 13, &big('w')).unwrap(), [big('y'), big('z')]);
    assert_eq!(post(&client, 20, "again").unwrap(), Vec::<String>::new());

    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let bytes: u64 = redis::cmd("HGET")
        .arg("routeguide:chat:state")
        .arg("bytes")
        .query(&mut connection)
        .unwrap();
    assert!(bytes <= 2_500, "Redis keeps {bytes} bytes of notes");
}

#[test]
fn a_server_whose_redis_is_down_at_start_exits_with_a_clear_error() {
    // Needs no redis-server: nothing listens on this port.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args(["--addr", "127.0.0.1:0", "--chat-scope", "shared"])
        .args(["--chat-backend", &url])
        .arg("--db")
        .arg(standard_db())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot use Redis at {url} for RouteChat")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_redis_backend_needs_the_shared_scope_and_a_redis_address() {
    let run = |flags: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--chat-backend", "redis://127.0.0.1:1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("needs --chat-scope shared"), "{stderr}");

    let (code, stderr) = run(&["--chat-backend", "postgres://x"]);
    assert_eq!(code, Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("neither `memory` nor"), "{stderr}");
}
