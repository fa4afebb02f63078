//! The server's plain-HTTP side (`--metrics-addr`), for what speaks HTTP rather than gRPC:
//!
//! * `/metrics`: every metric of [`crate::metrics`], in Prometheus's text format;
//! * `/channelz`: the gRPC core's channelz data (its servers, their sockets, the channels this
//!   process opened) as JSON, for debugging connections;
//! * `/healthz`: `200` while the server serves, `503` from the moment a graceful shutdown begins,
//!   so that a plain HTTP health checker stops sending traffic while calls drain.
//!
//! It runs on threads of its own (`routeguide-admin`), never on a completion-queue thread, with
//! `tiny_http`: a few requests at a time, so that a client that stops reading a long `/channelz`
//! holds one thread, not the health checker's answers; a scrape (gathering a few hundred series)
//! never waits on anything the RPCs hold.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use log::{debug, warn};
use serde_json::value::RawValue;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::metrics::{CONTENT_TYPE, Metrics};

/// The most sockets of one server that `/channelz` lists.
const MAX_SOCKETS: usize = 1000;
/// Requests answered at once.
const THREADS: usize = 4;

/// The HTTP server of `/metrics`, `/channelz` and `/healthz`; stopped when dropped.
pub(crate) struct AdminServer {
    http: Arc<Server>,
    serving: Arc<AtomicBool>,
    addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl AdminServer {
    /// Listens on `addr` (`HOST:PORT`; port 0 picks a free one) and serves `metrics` from
    /// threads of its own; `/healthz` answers 503 until [`AdminServer::serving`].
    pub(crate) fn start(addr: &str, metrics: Arc<Metrics>) -> io::Result<Self> {
        let http = Server::http(addr).map_err(io::Error::other)?;
        let bound = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("not an IP address"))?;
        let http = Arc::new(http);
        let serving = Arc::new(AtomicBool::new(false));
        let site = Arc::new(Site {
            metrics,
            serving: Arc::clone(&serving),
        });
        let mut admin = AdminServer {
            http,
            serving,
            addr: bound,
            threads: Vec::with_capacity(THREADS),
        };
        for _ in 0..THREADS {
            let (requests, site) = (Arc::clone(&admin.http), Arc::clone(&site));
            // A failed spawn drops `admin`, which stops the threads already started.
            admin.threads.push(
                thread::Builder::new()
                    .name("routeguide-admin".into())
                    .spawn(move || {
                        for request in requests.incoming_requests() {
                            site.answer(request);
                        }
                    })?,
            );
        }
        Ok(admin)
    }

    /// From now on `/healthz` answers 200: the gRPC server serves.
    pub(crate) fn serving(&self) {
        self.serving.store(true, Ordering::SeqCst);
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on `/healthz` answers 503: the server is shutting down.
    pub(crate) fn shutting_down(&self) {
        self.serving.store(false, Ordering::SeqCst);
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        // Each call wakes one thread waiting for a request.
        for _ in &self.threads {
            self.http.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// What the admin thread answers from.
struct Site {
    metrics: Arc<Metrics>,
    serving: Arc<AtomicBool>,
}

impl Site {
    /// Answers one request; a client that hung up before the answer is only logged.
    fn answer(&self, request: Request) {
        let response = if !matches!(request.method(), Method::Get | Method::Head) {
            text(405, "only GET and HEAD are served here\n")
        } else {
            // The path without its query (Prometheus sends none; a browser might).
            let path = request.url().split('?').next().unwrap_or("");
            match path {
                "/metrics" => Response::from_data(self.metrics.render())
                    .with_header(header("Content-Type", CONTENT_TYPE)),
                "/healthz" if self.serving.load(Ordering::SeqCst) => text(200, "serving\n"),
                "/healthz" => text(503, "shutting down\n"),
                "/channelz" => Response::from_data(channelz().into_bytes())
                    .with_header(header("Content-Type", "application/json")),
                _ => text(404, "not found: try /metrics, /channelz or /healthz\n"),
            }
        };
        let url = request.url().to_string();
        if let Err(e) = request.respond(response) {
            debug!("admin: could not answer {url}: {e}");
        }
    }
}

fn text(status: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// The gRPC core's channelz data as one JSON object: `servers` (every gRPC server of this
/// process, as the core describes it), `server_sockets` (by server ID, the sockets of each:
/// listening and connected), and `top_channels` (the channels this process opened itself).
/// Each part is the core's own JSON, passed on as it is; `null` where the core gave none.
fn channelz() -> String {
    let servers = grpcio::channelz::get_servers(0, raw);
    let sockets: serde_json::Map<String, serde_json::Value> = server_ids(servers.as_deref())
        .into_iter()
        .map(|id| {
            let sockets = grpcio::channelz::get_server_sockets(id, 0, MAX_SOCKETS, raw);
            let value = sockets
                .and_then(|json| serde_json::from_str(json.get()).ok())
                .unwrap_or(serde_json::Value::Null);
            (id.to_string(), value)
        })
        .collect();
    let top_channels = grpcio::channelz::get_top_channels(0, raw);
    let answer = serde_json::json!({
        "servers": servers,
        "server_sockets": sockets,
        "top_channels": top_channels,
    });
    let mut text = answer.to_string();
    text.push('\n');
    text
}

/// The core's JSON, checked to be JSON, or `None` (an empty answer, or one that does not parse,
/// which is logged).
fn raw(json: &str) -> Option<Box<RawValue>> {
    if json.is_empty() {
        return None;
    }
    RawValue::from_string(json.to_string())
        .inspect_err(|e| warn!("channelz: the gRPC core's answer is not JSON: {e}"))
        .ok()
}

/// The IDs of the servers in the core's answer to "get servers"
/// (`{"server": [{"ref": {"serverId": "1"}, ...}]}`; IDs are strings, as protobuf's JSON writes
/// 64-bit integers).
fn server_ids(servers: Option<&RawValue>) -> Vec<u64> {
    let Some(servers) = servers else {
        return Vec::new();
    };
    let parsed: serde_json::Value = serde_json::from_str(servers.get()).unwrap_or_default();
    parsed["server"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|server| {
            let id = &server["ref"]["serverId"];
            id.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| id.as_u64())
        })
        .collect()
}
