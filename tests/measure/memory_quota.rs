//! `--max-memory-bytes` bounds what the gRPC transport holds across all connections: many clients
//! uploading large RecordRoute messages as fast as they can, with a Rapid Reset flood beside them,
//! leave the server's memory within the quota.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use futures::executor::block_on;
use futures::{SinkExt, stream};
use grpcio::{CallOption, ChannelBuilder, Client, EnvBuilder, WriteFlags};
use routeguide::{RouteGuideClient, proto};
use routeguide_testkit::raw::RECORD_ROUTE;
use routeguide_testkit::{ServerProcess, standard_db};

use crate::rapid_reset::rapid_reset;
use crate::{alone, start_server};

/// Uploaders at once, each on a connection of its own.
const UPLOADERS: usize = 32;
/// Messages each uploader sends.
const MESSAGES: usize = 32;
/// Bytes of each message: a Point with an unknown field this large, which the server decodes and
/// drops. The server's limit on a received message is 4 MiB.
const MESSAGE_BYTES: usize = 1 << 20;

/// A Point at (0, 0) carrying `size` bytes in field 15, which Point does not have.
fn point_with_padding(size: usize) -> Vec<u8> {
    let mut message = vec![(15 << 3) | 2]; // field 15, length-delimited
    let mut len = size;
    while len >= 0x80 {
        message.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    message.push(len as u8);
    message.resize(message.len() + size, b'x');
    message
}

/// One RecordRoute call that sends `MESSAGES` large messages as fast as flow control lets it;
/// returns whether the server answered it (near its quota, it cancels calls rather than grow).
fn upload(addr: &str) -> bool {
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    let channel = ChannelBuilder::new(env)
        .use_local_subchannel_pool(true)
        .max_send_message_len(8 << 20)
        .connect(addr);
    let client = Client::new(channel);
    let option = CallOption::default().timeout(Duration::from_secs(60));
    let (mut sink, reply) = client
        .client_streaming(&RECORD_ROUTE, option)
        .expect("the call starts");
    let message = point_with_padding(MESSAGE_BYTES);
    block_on(async move {
        let mut messages =
            stream::iter((0..MESSAGES).map(|_| Ok((message.clone(), WriteFlags::default()))));
        // A sink that failed must not be polled again (grpcio panics), so no close after a
        // failed send.
        let sent = match sink.send_all(&mut messages).await {
            Ok(()) => sink.close().await.is_ok(),
            Err(_) => false,
        };
        reply.await.is_ok() && sent
    })
}

/// The server's peak resident memory above what it held before, in MB, and how many uploads
/// it answered, under `UPLOADERS` uploads at once and, beside them, a Rapid Reset flood.
fn peak_growth_under_load(server: &ServerProcess) -> (f64, usize) {
    let addr = server.addr();
    // Warm up allocator pools and threads with one upload.
    assert!(upload(&addr), "a lone upload is answered");
    let (rss, _) = server.memory().unwrap();
    let uploaders: Vec<_> = (0..UPLOADERS)
        .map(|_| {
            let addr = addr.clone();
            thread::spawn(move || upload(&addr))
        })
        .collect();
    let flood = rapid_reset(&addr);
    assert!(flood.goaway.is_some(), "the flood was sent away");
    let answered = uploaders
        .into_iter()
        .map(|u| u.join().unwrap())
        .filter(|&ok| ok)
        .count();
    let (_, peak) = server.memory().unwrap();
    (peak.saturating_sub(rss) as f64 / 1e6, answered)
}

#[test]
fn many_fast_uploaders_and_a_reset_flood_stay_within_the_memory_quota() {
    let _alone = alone();
    const QUOTA_MB: f64 = 64.0 * 1.048_576;
    // What is not the transport's (the decoded message in hand on each thread, allocator slack).
    const OTHER_MB: f64 = 16.0;

    let bounded = start_server(&standard_db(), &["--max-memory-bytes", "67108864"]);
    let (grown, answered) = peak_growth_under_load(&bounded);
    // It still serves.
    let client = RouteGuideClient::connect(&bounded.addr());
    assert!(client.get_feature(proto::point(0, 0)).is_ok());
    // The same load with a quota far above it, to show that the load needs the quota.
    let unbounded = start_server(&standard_db(), &["--max-memory-bytes", "4294967296"]);
    let (grown_unbounded, answered_unbounded) = peak_growth_under_load(&unbounded);
    eprintln!(
        "{UPLOADERS} uploads of {MESSAGES} x {MESSAGE_BYTES} B and a reset flood: quota 64 MiB: \
         peak +{grown:.1} MB, {answered} answered; quota 4 GiB: peak +{grown_unbounded:.1} MB, \
         {answered_unbounded} answered"
    );

    assert!(
        grown_unbounded > QUOTA_MB + OTHER_MB,
        "without the quota the load takes only +{grown_unbounded:.1} MB: it does not test it"
    );
    assert!(
        grown < QUOTA_MB + OTHER_MB,
        "with a 64 MiB quota the server's peak memory grew by {grown:.1} MB"
    );
    assert!(answered > 0, "no upload was answered under the quota");
}
