//! Many short-lived connections, a quarter of them raw TCP that sends garbage and vanishes,
//! leave the server's threads, file descriptors and memory where they were.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use routeguide::RouteGuideClient;
use routeguide::proto;
use routeguide_testkit::eventually;

use crate::{alone, standard_db, start_server};

#[test]
fn a_thousand_short_connections_leave_no_threads_fds_or_memory_behind() {
    let _alone = alone();
    let server = start_server(&standard_db(), &[]);
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
    // Warm up allocator pools and lazily started threads before measuring. (A warm-up connection
    // the server has not yet seen close only raises the baseline by one.)
    (0..100).for_each(use_once);
    let (threads, fds, (rss, _)) = (
        server.threads().unwrap(),
        server.open_fds().unwrap(),
        server.memory().unwrap(),
    );

    (0..1_000).for_each(use_once);

    // The server notices the last hang-ups on its own time.
    let (threads_after, fds_after) = eventually(
        "threads and file descriptors back near where they were",
        Duration::from_secs(10),
        || {
            let now = (server.threads().unwrap(), server.open_fds().unwrap());
            if now.0 <= threads + 2 && now.1 <= fds + 8 {
                Ok(now)
            } else {
                Err(format!(
                    "threads {threads} -> {}, fds {fds} -> {}",
                    now.0, now.1
                ))
            }
        },
    );
    assert!(threads_after <= threads + 2);
    assert!(fds_after <= fds + 8);
    let (rss_after, _) = server.memory().unwrap();
    let grown_mb = rss_after.saturating_sub(rss) as f64 / 1e6;
    assert!(grown_mb < 16.0, "resident memory grew by {grown_mb:.1} MB");
}
