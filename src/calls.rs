//! Each RouteGuide call from start to end, as the server observes it: counted in the metrics
//! (when the server has them), and logged once when it ends, with its peer, method, status,
//! duration and messages in and out: at `debug` level, or at `info` under the target
//! [`ACCESS_LOG_TARGET`] when the access log is on. What the RPCs answer is left to
//! [`crate::service`], which tells each [`Call`] what it received and sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grpcio::{RpcContext, RpcStatusCode};
use log::{Level, debug, log, log_enabled, warn};

use crate::metrics::{Method, Metrics};
use crate::status::status_name;

/// The target of the access log's records, which `RUST_LOG` can pick or silence on its own
/// (`RUST_LOG=info,routeguide::access=off`).
pub const ACCESS_LOG_TARGET: &str = "routeguide::access";

/// What the service needs to start observing calls: the metrics, if any, and whether each
/// finished call is logged at `info`. Cloned with the service.
#[derive(Clone, Default)]
pub(crate) struct Calls {
    metrics: Option<Arc<Metrics>>,
    access_log: bool,
}

impl Calls {
    pub(crate) fn new(metrics: Option<Arc<Metrics>>, access_log: bool) -> Self {
        Calls {
            metrics,
            access_log,
        }
    }

    /// A call of `method` has arrived on `ctx`.
    pub(crate) fn start(&self, ctx: &RpcContext, method: Method) -> Call {
        let level = if self.access_log {
            Level::Info
        } else {
            Level::Debug
        };
        // Asking for the peer allocates: only when the line will be logged.
        let peer = log_enabled!(target: ACCESS_LOG_TARGET, level).then(|| ctx.peer());
        if let Some(metrics) = &self.metrics {
            metrics.method(method).start();
        }
        Call {
            method,
            metrics: self.metrics.clone(),
            level,
            peer,
            started: Instant::now(),
            received: 0,
            sent: 0,
            ended: false,
        }
    }
}

/// One call in progress. It is ended by [`Call::end`] with what the handler's future came to;
/// dropped without that (the server stopped polling its future), it counts as cancelled.
pub(crate) struct Call {
    method: Method,
    metrics: Option<Arc<Metrics>>,
    /// The level its line is logged at.
    level: Level,
    peer: Option<String>,
    started: Instant,
    received: u64,
    sent: u64,
    ended: bool,
}

impl Call {
    /// The call has received (and decoded) a message.
    pub(crate) fn received(&mut self) {
        self.received += 1;
        if let Some(metrics) = &self.metrics {
            metrics.method(self.method).received();
        }
    }

    /// The call has handed a message to gRPC to send.
    pub(crate) fn sent(&mut self) {
        self.sent += 1;
        if let Some(metrics) = &self.metrics {
            metrics.method(self.method).sent();
        }
    }

    /// Ends the call with what its handler came to: the status code it sent, or the error that
    /// stopped it from sending one.
    pub(crate) fn end(mut self, outcome: Result<RpcStatusCode, grpcio::Error>) {
        self.ended = true;
        let elapsed = self.started.elapsed();
        let code = match &outcome {
            Ok(code) => *code,
            Err(e) => code_of(e),
        };
        if let Some(metrics) = &self.metrics {
            metrics
                .method(self.method)
                .finish(code, elapsed.as_secs_f64());
        }
        if let Err(e) = &outcome
            && !client_went_away(e)
        {
            let peer = self.peer.as_deref().unwrap_or("?");
            warn!(
                "{} from {peer}: failed after {elapsed:?}: {e}",
                self.method.name()
            );
        }
        // Checked first, so that a line that is not logged costs no formatting.
        if log_enabled!(target: ACCESS_LOG_TARGET, self.level) {
            self.log(code, &outcome, elapsed);
        }
    }

    /// The call's one line: at the access log's level, with its fields as key-values.
    fn log(
        &self,
        code: RpcStatusCode,
        outcome: &Result<RpcStatusCode, grpcio::Error>,
        elapsed: Duration,
    ) {
        let method = self.method.name();
        let peer = self.peer.as_deref().unwrap_or("?");
        let (received, sent) = (self.received, self.sent);
        let ending = match outcome {
            Ok(code) => status_name(*code).to_string(),
            Err(e) if client_went_away(e) => format!("client went away ({e})"),
            Err(e) => format!("failed ({e})"),
        };
        log!(
            target: ACCESS_LOG_TARGET,
            self.level,
            peer = peer,
            method = self.method.path(),
            status = status_name(code),
            code = i32::from(code),
            duration_ms = elapsed.as_secs_f64() * 1e3,
            messages_in = received,
            messages_out = sent;
            "{method} from {peer}: {ending} after {elapsed:?}, {received} in, {sent} out"
        );
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.ended {
            self.ended = true;
            if let Some(metrics) = &self.metrics {
                metrics.method(self.method).finish(
                    RpcStatusCode::CANCELLED,
                    self.started.elapsed().as_secs_f64(),
                );
            }
            debug!("{} dropped before it ended", self.method.name());
        }
    }
}

/// The status a call that ended in `error` has: the one in the error when there is one;
/// `CANCELLED` when the client cancelled, hung up or timed out (go-grpc-prometheus counts these
/// `Canceled` too); `UNKNOWN` for anything else.
fn code_of(error: &grpcio::Error) -> RpcStatusCode {
    match error {
        grpcio::Error::RpcFailure(status) | grpcio::Error::RpcFinished(Some(status)) => {
            status.code()
        }
        grpcio::Error::RemoteStopped | grpcio::Error::RpcFinished(None) => RpcStatusCode::CANCELLED,
        _ => RpcStatusCode::UNKNOWN,
    }
}

/// Whether an error only means that the client cancelled, hung up or ran out of time.
fn client_went_away(error: &grpcio::Error) -> bool {
    match error {
        grpcio::Error::RemoteStopped | grpcio::Error::RpcFinished(_) => true,
        grpcio::Error::RpcFailure(status) => matches!(
            status.code(),
            RpcStatusCode::CANCELLED | RpcStatusCode::DEADLINE_EXCEEDED
        ),
        _ => false,
    }
}
