//! How a failed call is reported: [`CallError`], which names the method, the gRPC status code and
//! what it means for the user, and [`Failure`], what one call keeps to build it. The calls
//! themselves live in the parent module and in [`super::call`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use grpcio::RpcStatusCode;

/// What a client needs to turn a grpcio error into a [`CallError`] for one method. Made before
/// the call starts, so that a call that cannot even start is reported like one that failed later.
pub(super) struct Failure {
    pub(super) method: &'static str,
    pub(super) addr: Arc<str>,
    pub(super) timeout: Duration,
}

impl Failure {
    pub(super) fn of(&self, error: grpcio::Error) -> CallError {
        CallError::from_grpc(self.method, &self.addr, self.timeout, error)
    }

    /// A failure on this side, before anything reached the server.
    pub(super) fn local(&self, message: String) -> CallError {
        CallError {
            method: self.method,
            addr: self.addr.to_string(),
            timeout: self.timeout,
            code: RpcStatusCode::INTERNAL,
            message,
            reason: None,
        }
    }
}

/// A call that failed: the method, the gRPC status code and the server's message, shown with what
/// the code means for the user.
#[derive(Clone, Debug)]
pub struct CallError {
    method: &'static str,
    addr: String,
    timeout: Duration,
    code: RpcStatusCode,
    message: String,
    /// Why the server says the call failed, from the status's details (see
    /// [`crate::CHAT_STORE_UNAVAILABLE`]).
    reason: Option<String>,
}

impl CallError {
    fn from_grpc(
        method: &'static str,
        addr: &str,
        timeout: Duration,
        error: grpcio::Error,
    ) -> Self {
        let (code, message, reason) = match error {
            grpcio::Error::RpcFailure(status) => (
                status.code(),
                status.message().to_string(),
                crate::status::reason(&status),
            ),
            grpcio::Error::RemoteStopped => (
                RpcStatusCode::CANCELLED,
                "the server ended the call".to_string(),
                None,
            ),
            other => (RpcStatusCode::INTERNAL, other.to_string(), None),
        };
        CallError {
            method,
            addr: addr.to_string(),
            timeout,
            code,
            message,
            reason,
        }
    }

    /// The gRPC status code.
    pub fn code(&self) -> RpcStatusCode {
        self.code
    }

    /// The status message, as the server (or the gRPC library) wrote it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reason the server gave in the status's details, such as
    /// [`crate::CHAT_STORE_UNAVAILABLE`]; `None` when it gave none.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The RPC that failed, by its proto name.
    pub fn method(&self) -> &'static str {
        self.method
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = self.method;
        match self.code {
            RpcStatusCode::DEADLINE_EXCEEDED => write!(
                f,
                "{method}: no answer within the {:?} deadline (DEADLINE_EXCEEDED); is the server \
                 overloaded? A longer --timeout gives it more time",
                self.timeout
            )?,
            RpcStatusCode::UNAVAILABLE
                if self.reason() == Some(crate::status::CHAT_STORE_UNAVAILABLE) =>
            {
                write!(
                    f,
                    "{method}: the server at {} answered, but cannot do this now (UNAVAILABLE); try again later",
                    self.addr
                )?
            }
            RpcStatusCode::UNAVAILABLE => write!(
                f,
                "{method}: cannot reach a RouteGuide server at {} (UNAVAILABLE); is it running, and do client and server agree on TLS?",
                self.addr
            )?,
            RpcStatusCode::INVALID_ARGUMENT => write!(
                f,
                "{method}: the server refused the request (INVALID_ARGUMENT)"
            )?,
            code => write!(f, "{method} failed ({code:?})")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// No [`source`](std::error::Error::source): the status code and the server's message are the
/// whole story, and grpcio's error holds nothing more.
impl std::error::Error for CallError {}
