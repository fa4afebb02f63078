//! Many short-lived connections, a quarter of them raw TCP that sends garbage and vanishes,
//! leave the server's threads, file descriptors and memory where they were.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use routeguide::RouteGuideClient;
use routeguide::proto;
use routeguide_testkit::{ServerProcess, eventually, standard_db};

use crate::{alone, start_server};

/// Waits until the server holds no client connection: its sockets are back to `own_sockets`, the
/// count from just after it started. It closes a connection on its own time after the client
/// hangs up, and until then that connection's descriptor (and whatever it holds) would count as
/// a leak or, in a baseline, hide one.
fn wait_for_every_connection_to_close(server: &ServerProcess, own_sockets: usize) {
    eventually(
        "the server closed every client connection",
        Duration::from_secs(10),
        || match server.open_sockets().unwrap() {
            now if now == own_sockets => Ok(()),
            now => Err(format!("{now} sockets open, {own_sockets} at the start")),
        },
    );
}

#[test]
fn a_thousand_short_connections_leave_no_threads_fds_or_memory_behind() {
    let _alone = alone();
    let server = start_server(&standard_db(), &[]);
    // No client has connected yet: these are the server's own sockets (the ones it listens on,
    // and the pair signal handling uses), none of them a connection.
    let own_sockets = server.open_sockets().unwrap();
    let addr = server.addr();
    let use_once = |n: usize| {
        if n % 4 == 3 {
            // Not even HTTP/2: a TCP connection that sends garbage and vanishes.
            let mut socket = TcpStream::connect(&addr).unwrap();
            let _ = socket.write_all(b"GET / HTTP/1.0\r\n\r\n");
        } else {
            let client = RouteGuideClient::connect_separately(&addr);
            let answer = client.get_feature(proto::point(0, 0));
            assert!(answer.is_ok(), "connection {n}: {answer:?}");
        }
    };
    // Warm up allocator pools and lazily started threads before measuring; the baseline is taken
    // once the warm-up connections are closed, so that they do not raise it.
    (0..100).for_each(use_once);
    wait_for_every_connection_to_close(&server, own_sockets);
    let (threads, fds, (rss, _)) = (
        server.threads().unwrap(),
        server.open_fds().unwrap(),
        server.memory().unwrap(),
    );

    (0..1_000).for_each(use_once);

    wait_for_every_connection_to_close(&server, own_sockets);
    let (threads_after, fds_after) = (server.threads().unwrap(), server.open_fds().unwrap());
    assert!(
        threads_after <= threads + 2,
        "threads {threads} -> {threads_after}"
    );
    assert!(fds_after <= fds + 8, "fds {fds} -> {fds_after}");
    let (rss_after, _) = server.memory().unwrap();
    let grown_mb = rss_after.saturating_sub(rss) as f64 / 1e6;
    assert!(grown_mb < 16.0, "resident memory grew by {grown_mb:.1} MB");
}
