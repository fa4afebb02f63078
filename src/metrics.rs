//! The server's Prometheus metrics: what is counted, under which names, and the text that
//! `/metrics` answers. Serving them over HTTP is [`crate::admin`]'s job; counting each call is
//! [`crate::calls`]'s, through the handles kept here.
//!
//! The gRPC series have the names and labels of go-grpc-prometheus (`grpc_server_started_total`,
//! `grpc_server_handled_total`, ...; labels `grpc_service`, `grpc_method`, `grpc_type`,
//! `grpc_code`), so that a standard gRPC dashboard works unchanged. Every label set a call can
//! use is resolved once, when the server starts ([`MethodMetrics`]), so a call costs a handful
//! of atomic increments and one histogram observation: no label is looked up, hashed or
//! allocated while serving. The series of this server are prefixed `routeguide_`, the process's
//! (CPU, memory, threads, file descriptors) `process_`, as Prometheus's own clients name them.

use grpcio::RpcStatusCode;
use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::chat::{ChatBackend, ChatScope};
use crate::server::SERVICE_NAME;
use crate::status::{CODES, code_index, go_code_name};

/// The upper bounds of the call-duration histogram, in seconds: from 100 us, where a GetFeature
/// answers, to 10 s, where a long stream ends. (go-grpc-prometheus's default starts at 5 ms, too
/// coarse for a p99 of this server's unary calls.)
const CALL_SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The upper bounds of the Redis post histogram, in seconds: a round trip to a Redis nearby takes
/// a few hundred microseconds; a post times out after 2 s.
const REDIS_SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The four RouteGuide methods, as the metrics and the access log name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    GetFeature,
    ListFeatures,
    RecordRoute,
    RouteChat,
}

impl Method {
    const ALL: [Method; 4] = [
        Method::GetFeature,
        Method::ListFeatures,
        Method::RecordRoute,
        Method::RouteChat,
    ];

    /// The method's name in the proto (`GetFeature`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::GetFeature => "GetFeature",
            Method::ListFeatures => "ListFeatures",
            Method::RecordRoute => "RecordRoute",
            Method::RouteChat => "RouteChat",
        }
    }

    /// The full name of the method, as gRPC puts it on the wire.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Method::GetFeature => "/routeguide.RouteGuide/GetFeature",
            Method::ListFeatures => "/routeguide.RouteGuide/ListFeatures",
            Method::RecordRoute => "/routeguide.RouteGuide/RecordRoute",
            Method::RouteChat => "/routeguide.RouteGuide/RouteChat",
        }
    }

    /// The kind of RPC, as `grpc_type` spells it.
    fn kind(self) -> &'static str {
        match self {
            Method::GetFeature => "unary",
            Method::ListFeatures => "server_stream",
            Method::RecordRoute => "client_stream",
            Method::RouteChat => "bidi_stream",
        }
    }
}

/// The counters of one method, each with its labels resolved.
pub(crate) struct MethodMetrics {
    started: IntCounter,
    /// One per status code, in the order of [`CODES`].
    handled: Vec<IntCounter>,
    received: IntCounter,
    sent: IntCounter,
    handling: Histogram,
    in_flight: IntGauge,
}

impl MethodMetrics {
    /// A call has started.
    pub(crate) fn start(&self) {
        self.started.inc();
        self.in_flight.inc();
    }

    /// The call has received one message from its client.
    pub(crate) fn received(&self) {
        self.received.inc();
    }

    /// The call has sent one message to its client.
    pub(crate) fn sent(&self) {
        self.sent.inc();
    }

    /// The call has ended with `code` after `seconds`.
    pub(crate) fn finish(&self, code: RpcStatusCode, seconds: f64) {
        self.handled[code_index(code)].inc();
        self.handling.observe(seconds);
        self.in_flight.dec();
    }
}

/// What the chat boards of this server hold, together: the shared board, or every open call's
/// own. Each board adds what it gains and takes away what it loses, so the sum is always that of
/// the boards alive. Cloning it clones handles to the same gauges.
#[derive(Clone)]
pub(crate) struct ChatGauges {
    pub(crate) locations: IntGauge,
    pub(crate) notes: IntGauge,
    pub(crate) bytes: IntGauge,
}

/// The Redis chat backend's posts: whether Redis answers, and what each post came to.
#[derive(Clone)]
pub(crate) struct RedisMetrics {
    /// 1 while the last attempt to reach Redis succeeded, 0 after one failed.
    pub(crate) up: IntGauge,
    pub(crate) stored: IntCounter,
    pub(crate) refused: IntCounter,
    pub(crate) unreachable: IntCounter,
    /// From the post reaching the posting thread to Redis's answer.
    pub(crate) post_seconds: Histogram,
}

/// Every metric of one server, and the registry that gathers them for `/metrics`.
pub(crate) struct Metrics {
    registry: Registry,
    /// In the order of [`Method::ALL`].
    methods: Vec<MethodMetrics>,
    features: IntGauge,
    chat: ChatGauges,
    redis: Option<RedisMetrics>,
}

impl Metrics {
    /// Every metric of a server whose chat is in `scope`, at zero, and the process's own.
    pub(crate) fn new(scope: &ChatScope) -> Self {
        let registry = Registry::new();
        let methods = method_metrics(&registry);
        let features = register(
            &registry,
            IntGauge::new(
                "routeguide_features_loaded",
                "Features in the database this server serves.",
            ),
        );
        let chat = chat_gauges(&registry, scope);
        let redis = matches!(scope, ChatScope::Shared(ChatBackend::Redis(_)))
            .then(|| redis_metrics(&registry));
        // The process collector reads /proc/self when scraped; where it cannot (not Linux), the
        // process series are missing, and the rest is served all the same.
        let _ = registry.register(Box::new(ProcessCollector::for_self()));
        Metrics {
            registry,
            methods,
            features,
            chat,
            redis,
        }
    }

    /// The counters of `method`.
    pub(crate) fn method(&self, method: Method) -> &MethodMetrics {
        &self.methods[method as usize]
    }

    /// Records how many features the server serves.
    pub(crate) fn set_features(&self, count: usize) {
        self.features.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The gauges of the chat boards.
    pub(crate) fn chat(&self) -> &ChatGauges {
        &self.chat
    }

    /// The Redis backend's metrics, when the chat is in Redis.
    pub(crate) fn redis(&self) -> Option<&RedisMetrics> {
        self.redis.as_ref()
    }

    /// Every metric now, in Prometheus's text format (version 0.0.4).
    pub(crate) fn render(&self) -> Vec<u8> {
        let mut text = Vec::new();
        // Writing to a vector fails only on a metric the encoder cannot express, which none of
        // ours is: whatever was written is served.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut text);
        text
    }
}

/// The content type of [`Metrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The gRPC series of go-grpc-prometheus and our calls in flight, with every label set of every
/// method resolved.
fn method_metrics(registry: &Registry) -> Vec<MethodMetrics> {
    const LABELS: &[&str] = &["grpc_service", "grpc_method", "grpc_type"];
    let counter = |name: &str, help: &str, labels: &[&str]| {
        register(registry, IntCounterVec::new(Opts::new(name, help), labels))
    };
    let started = counter(
        "grpc_server_started_total",
        "Total number of RPCs started on the server.",
        LABELS,
    );
    let handled = counter(
        "grpc_server_handled_total",
        "Total number of RPCs completed on the server, regardless of success or failure.",
        &["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
    );
    let received = counter(
        "grpc_server_msg_received_total",
        "Total number of RPC stream messages received on the server.",
        LABELS,
    );
    let sent = counter(
        "grpc_server_msg_sent_total",
        "Total number of gRPC stream messages sent by the server.",
        LABELS,
    );
    let handling = register(
        registry,
        HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            )
            .buckets(CALL_SECONDS_BUCKETS.to_vec()),
            LABELS,
        ),
    );
    let in_flight = register(
        registry,
        IntGaugeVec::new(
            Opts::new(
                "routeguide_calls_in_flight",
                "RPCs started on the server and not yet completed.",
            ),
            LABELS,
        ),
    );
    Method::ALL
        .iter()
        .map(|&method| {
            let labels = [SERVICE_NAME, method.name(), method.kind()];
            MethodMetrics {
                started: started.with_label_values(&labels),
                handled: CODES
                    .iter()
                    .map(|&(code, ..)| {
                        handled.with_label_values(&[
                            labels[0],
                            labels[1],
                            labels[2],
                            go_code_name(code),
                        ])
                    })
                    .collect(),
                received: received.with_label_values(&labels),
                sent: sent.with_label_values(&labels),
                handling: handling.with_label_values(&labels),
                in_flight: in_flight.with_label_values(&labels),
            }
        })
        .collect()
}

/// The chat board's gauges, labelled with the scope and backend the server runs.
fn chat_gauges(registry: &Registry, scope: &ChatScope) -> ChatGauges {
    let (scope, backend) = match scope {
        ChatScope::Stream => ("stream", "memory"),
        ChatScope::Shared(ChatBackend::Memory) => ("shared", "memory"),
        ChatScope::Shared(ChatBackend::Redis(_)) => ("shared", "redis"),
    };
    let gauge = |name: &str, help: &str| {
        register(
            registry,
            IntGaugeVec::new(Opts::new(name, help), &["scope", "backend"]),
        )
        .with_label_values(&[scope, backend])
    };
    ChatGauges {
        locations: gauge(
            "routeguide_chat_locations",
            "Locations with notes on RouteChat's boards in this process (with Redis: this replica's copy).",
        ),
        notes: gauge(
            "routeguide_chat_notes",
            "Notes on RouteChat's boards in this process (with Redis: this replica's copy).",
        ),
        bytes: gauge(
            "routeguide_chat_bytes",
            "Bytes of notes on RouteChat's boards in this process, as --chat-bytes counts them (with Redis: this replica's copy).",
        ),
    }
}

/// The Redis backend's series.
fn redis_metrics(registry: &Registry) -> RedisMetrics {
    let up = register(
        registry,
        IntGauge::new(
            "routeguide_chat_redis_up",
            "1 if the last attempt to reach RouteChat's Redis succeeded, 0 if it failed.",
        ),
    );
    up.set(1);
    let posts = register(
        registry,
        IntCounterVec::new(
            Opts::new(
                "routeguide_chat_redis_posts_total",
                "RouteChat notes posted to Redis, by outcome: stored, refused by Redis, or Redis unreachable.",
            ),
            &["outcome"],
        ),
    );
    let post_seconds = register(
        registry,
        Histogram::with_opts(
            HistogramOpts::new(
                "routeguide_chat_redis_post_seconds",
                "Time from a RouteChat note reaching the posting thread to Redis's answer.",
            )
            .buckets(REDIS_SECONDS_BUCKETS.to_vec()),
        ),
    );
    RedisMetrics {
        up,
        stored: posts.with_label_values(&["stored"]),
        refused: posts.with_label_values(&["refused"]),
        unreachable: posts.with_label_values(&["unreachable"]),
        post_seconds,
    }
}

/// Registers `metric`, built by the constructor of a fixed name and help, and returns it. The
/// names and labels here are constants, all different: a failure would be a mistake in this file,
/// which every test that serves metrics would show at once.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("the metric's name and labels are valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_call_is_counted_under_its_method_and_code() {
        let metrics = Metrics::new(&ChatScope::Stream);
        let get = metrics.method(Method::GetFeature);
        get.start();
        get.received();
        get.sent();
        get.finish(RpcStatusCode::NOT_FOUND, 0.000_2);
        let text = String::from_utf8(metrics.render()).unwrap();
        let labels =
            r#"grpc_method="GetFeature",grpc_service="routeguide.RouteGuide",grpc_type="unary""#;
        for line in [
            format!("grpc_server_started_total{{{labels}}} 1"),
            format!(r#"grpc_server_handled_total{{grpc_code="NotFound",{labels}}} 1"#),
            format!(r#"grpc_server_handled_total{{grpc_code="OK",{labels}}} 0"#),
            format!("grpc_server_msg_received_total{{{labels}}} 1"),
            format!("grpc_server_msg_sent_total{{{labels}}} 1"),
            format!(r#"grpc_server_handling_seconds_bucket{{{labels},le="0.00025"}} 1"#),
            format!(r#"grpc_server_handling_seconds_bucket{{{labels},le="0.0001"}} 0"#),
            format!("routeguide_calls_in_flight{{{labels}}} 0"),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
    }
}
