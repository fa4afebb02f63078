//! Where the programs' log records go, and in which form: standard error, through `env_logger`
//! (`RUST_LOG` picks what is shown), as text for people or as one JSON object per line for log
//! shippers ([`LogFormat`]); the gRPC core's own logs join them. What is logged is left to each
//! module; the access log's records (see [`crate::calls`]) carry their fields as structured
//! key-values, which the JSON form writes as fields of their own.
//!
//! Records are logged from completion-queue threads too (the access log, one line per call), and
//! those must never wait for a slow standard error (a pipe that a container runtime drains late):
//! a record goes into a bounded queue, and a thread of its own writes it out. A record that finds
//! the queue full is dropped and counted, and the count is logged once the queue moves again.
//! [`flush_logs`] waits for the queue to empty, for the programs' last words.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::Duration;

use log::kv::{self, VisitSource};

/// Records waiting for the writer thread at most.
const QUEUED_RECORDS: usize = 8192;
/// How long [`flush_logs`] waits for the writer thread.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// What the writer thread is given.
enum Queued {
    /// A formatted record, newline included.
    Record(Vec<u8>),
    /// Say so on this channel once everything before it is written.
    Flush(SyncSender<()>),
}

/// The writer thread's queue, once logging is set up.
static QUEUE: OnceLock<SyncSender<Queued>> = OnceLock::new();
/// Records dropped because the queue was full.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Where `env_logger` writes each record: into the queue, never waiting.
struct QueuedStderr(SyncSender<Queued>);

impl Write for QueuedStderr {
    fn write(&mut self, record: &[u8]) -> io::Result<usize> {
        match self.0.try_send(Queued::Record(record.to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
            // The writer thread is gone (it never ends while the program runs): write directly.
            Err(TrySendError::Disconnected(_)) => io::stderr().write_all(record)?,
        }
        Ok(record.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread: writes each queued record to standard error, and says how many were
/// dropped when some were.
fn write_out(queue: Receiver<Queued>) {
    let mut reported = 0;
    for item in queue {
        let mut stderr = io::stderr().lock();
        let dropped = DROPPED.load(Ordering::Relaxed);
        if dropped > reported {
            let _ = writeln!(
                stderr,
                "routeguide: {} log records dropped: standard error did not keep up",
                dropped - reported
            );
            reported = dropped;
        }
        match item {
            Queued::Record(record) => {
                let _ = stderr.write_all(&record);
            }
            Queued::Flush(done) => {
                let _ = stderr.flush();
                let _ = done.send(());
            }
        }
    }
}

/// Waits (up to two seconds) until every record logged so far is written to standard error; the
/// programs call it before they exit. Does nothing before logging is set up.
pub fn flush_logs() {
    if let Some(queue) = QUEUE.get() {
        let (done, written) = mpsc::sync_channel(1);
        if queue.send(Queued::Flush(done)).is_ok() {
            let _ = written.recv_timeout(FLUSH_WAIT);
        }
    }
}

/// How each log record is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text: time, level, target and message.
    #[default]
    Text,
    /// One JSON object per line: `time` (RFC 3339, UTC), `level`, `target`, `message`, and each
    /// of the record's key-values as a field of its own (the access log's `peer`, `method`,
    /// `status`, `code`, `duration_ms`, `messages_in`, `messages_out`).
    Json,
}

/// Sends `log` records to standard error through `env_logger` (`RUST_LOG` chooses what is shown;
/// `default_level` applies when it is unset), and gRPC core's own logs along with them: its
/// warnings and errors always, its chatter (`grpc epoll fd: 5`) only at debug level. Records are
/// written by a thread of their own (see the module's documentation; [`flush_logs`] before exit).
pub fn init_logging(default_level: &str) {
    init_logging_as(default_level, LogFormat::Text);
}

/// [`init_logging`], writing each record in `format`.
pub fn init_logging_as(default_level: &str, format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    match format {
        // The access log's message already says what its key-values do.
        LogFormat::Text => builder
            .format_timestamp_millis()
            .format_key_values(|_, _| Ok(())),
        LogFormat::Json => builder.format(|buf, record| {
            let mut line = serde_json::Map::new();
            line.insert("time".into(), buf.timestamp_millis().to_string().into());
            line.insert("level".into(), record.level().as_str().into());
            line.insert("target".into(), record.target().into());
            line.insert("message".into(), record.args().to_string().into());
            let _ = record.key_values().visit(&mut Fields(&mut line));
            writeln!(buf, "{}", serde_json::Value::Object(line))
        }),
    };
    let (queue, queued) = mpsc::sync_channel(QUEUED_RECORDS);
    let writer = thread::Builder::new()
        .name("routeguide-log".into())
        .spawn(move || write_out(queued));
    if writer.is_ok() && QUEUE.set(queue.clone()).is_ok() {
        builder.target(env_logger::Target::Pipe(Box::new(QueuedStderr(queue))));
    }
    builder.init();
    // grpcio sets gRPC core's verbosity from the maximum level at the time of the call.
    let ours = log::max_level();
    let core = if ours >= log::LevelFilter::Debug {
        ours
    } else {
        ours.min(log::LevelFilter::Warn)
    };
    log::set_max_level(core);
    grpcio::redirect_log();
    log::set_max_level(ours);
}

/// Copies a record's key-values into a JSON object: numbers as numbers, the rest as strings.
struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let json = if let Some(n) = value.to_u64() {
            n.into()
        } else if let Some(n) = value.to_i64() {
            n.into()
        } else if let Some(n) = value.to_f64() {
            n.into()
        } else if let Some(b) = value.to_bool() {
            b.into()
        } else {
            value.to_string().into()
        };
        self.0.insert(key.as_str().to_string(), json);
        Ok(())
    }
}
