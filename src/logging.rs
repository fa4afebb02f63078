//! Where the programs' log records go, and in which form: standard error, through `env_logger`
//! (`RUST_LOG` picks what is shown), as text for people or as one JSON object per line for log
//! shippers ([`LogFormat`]); the gRPC core's own logs join them. What is logged is left to each
//! module; the access log's records (see [`crate::calls`]) carry their fields as structured
//! key-values, which the JSON form writes as fields of their own.

use std::io::Write;

use log::kv::{self, VisitSource};

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
/// warnings and errors always, its chatter (`grpc epoll fd: 5`) only at debug level.
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
