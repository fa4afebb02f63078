//! Why a call failed, as a type rather than a sentence: gRPC's richer error model. A status may
//! carry, besides its code and message, details (the `grpc-status-details-bin` trailer): a
//! serialized `google.rpc.Status` whose `details` hold a `google.rpc.ErrorInfo` naming the
//! reason. RouteGuide's reasons are the constants below, in the [`ERROR_DOMAIN`] `routeguide`; a
//! program tests them, and may reword its messages freely.
//!
//! It also names the status codes, in gRPC's spelling and in Go's ([`CODES`]), for the access
//! log, the metrics and the load generator.
//!
//! This module only builds and reads such statuses. Which failure gets which code and reason is
//! the service's choice ([`crate::service`]); what a reason means to the user, the client's
//! ([`crate::client`]).

use grpcio::{RpcStatus, RpcStatusCode};
use protobuf::Message;
use protobuf::well_known_types::any::Any;

use crate::proto::rpc_error_details::ErrorInfo;
use crate::proto::rpc_status::Status;

/// The `domain` of every `google.rpc.ErrorInfo` RouteGuide puts in a status's details
/// (`grpc-status-details-bin`): its reasons, such as [`CHAT_STORE_UNAVAILABLE`], mean what they
/// say only within it.
pub const ERROR_DOMAIN: &str = "routeguide";

/// RouteChat's shared store (Redis) could not take a note, though the server itself answered
/// (with `UNAVAILABLE`): trying again later may succeed, and the rest of the service works on.
/// Without this reason, `UNAVAILABLE` means the server could not be reached at all.
pub const CHAT_STORE_UNAVAILABLE: &str = "CHAT_STORE_UNAVAILABLE";

/// Every gRPC status code, in the order of its number (0 to 16), with its two spellings: the
/// canonical name (`INVALID_ARGUMENT`), as gRPC's documents, grpcurl, the access log and the
/// load generator write it, and Go's `codes.Code` name (`InvalidArgument`, and `Canceled` with
/// one L), which go-grpc-prometheus puts in its `grpc_code` label and dashboards filter on.
#[rustfmt::skip]
pub(crate) const CODES: [(RpcStatusCode, &str, &str); 17] = [
    (RpcStatusCode::OK,                  "OK",                  "OK"),
    (RpcStatusCode::CANCELLED,           "CANCELLED",           "Canceled"),
    (RpcStatusCode::UNKNOWN,             "UNKNOWN",             "Unknown"),
    (RpcStatusCode::INVALID_ARGUMENT,    "INVALID_ARGUMENT",    "InvalidArgument"),
    (RpcStatusCode::DEADLINE_EXCEEDED,   "DEADLINE_EXCEEDED",   "DeadlineExceeded"),
    (RpcStatusCode::NOT_FOUND,           "NOT_FOUND",           "NotFound"),
    (RpcStatusCode::ALREADY_EXISTS,      "ALREADY_EXISTS",      "AlreadyExists"),
    (RpcStatusCode::PERMISSION_DENIED,   "PERMISSION_DENIED",   "PermissionDenied"),
    (RpcStatusCode::RESOURCE_EXHAUSTED,  "RESOURCE_EXHAUSTED",  "ResourceExhausted"),
    (RpcStatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION", "FailedPrecondition"),
    (RpcStatusCode::ABORTED,             "ABORTED",             "Aborted"),
    (RpcStatusCode::OUT_OF_RANGE,        "OUT_OF_RANGE",        "OutOfRange"),
    (RpcStatusCode::UNIMPLEMENTED,       "UNIMPLEMENTED",       "Unimplemented"),
    (RpcStatusCode::INTERNAL,            "INTERNAL",            "Internal"),
    (RpcStatusCode::UNAVAILABLE,         "UNAVAILABLE",         "Unavailable"),
    (RpcStatusCode::DATA_LOSS,           "DATA_LOSS",           "DataLoss"),
    (RpcStatusCode::UNAUTHENTICATED,     "UNAUTHENTICATED",     "Unauthenticated"),
];

/// The position of `code` in [`CODES`]; a number outside gRPC's (which no status of ours
/// carries, and a peer should not send) counts as `UNKNOWN`.
pub(crate) fn code_index(code: RpcStatusCode) -> usize {
    usize::try_from(i32::from(code))
        .ok()
        .filter(|&i| i < CODES.len())
        .unwrap_or(2)
}

/// A status code's canonical name (`OK`, `INVALID_ARGUMENT`), as gRPC's documents and grpcurl
/// write it; `UNKNOWN` for a number outside gRPC's.
pub fn status_name(code: RpcStatusCode) -> &'static str {
    CODES[code_index(code)].1
}

/// A status code as Go names it (`OK`, `Canceled`, `InvalidArgument`): the `grpc_code` label of
/// the metrics.
pub(crate) fn go_code_name(code: RpcStatusCode) -> &'static str {
    CODES[code_index(code)].2
}

/// A status with `code` and `message` whose details name `reason` (one of this module's
/// constants). Should the details fail to serialize, the status goes without them: the code and
/// message still say what happened.
pub(crate) fn with_reason(code: RpcStatusCode, message: String, reason: &str) -> RpcStatus {
    let info = ErrorInfo {
        reason: reason.to_string(),
        domain: ERROR_DOMAIN.to_string(),
        ..ErrorInfo::default()
    };
    let details = Any::pack(&info).and_then(|info| {
        // The rich error model repeats the call's own code and message in its Status.
        let status = Status {
            code: code.into(),
            message: message.clone(),
            details: vec![info],
            ..Status::default()
        };
        status.write_to_bytes()
    });
    match details {
        Ok(details) => RpcStatus::with_details(code, message, details),
        Err(_) => RpcStatus::with_message(code, message),
    }
}

/// The reason a received status names, when its details hold a `google.rpc.Status` with an
/// [`ErrorInfo`] of RouteGuide's [`ERROR_DOMAIN`]; `None` for no details, details that cannot be
/// decoded, or a reason of another domain (a proxy's, say).
pub(crate) fn reason(status: &RpcStatus) -> Option<String> {
    if status.details().is_empty() {
        return None;
    }
    let status = Status::parse_from_bytes(status.details()).ok()?;
    status
        .details
        .iter()
        .filter_map(|detail| detail.unpack::<ErrorInfo>().ok().flatten())
        .find(|info| info.domain == ERROR_DOMAIN)
        .map(|info| info.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with(details: &[Any]) -> RpcStatus {
        let status = Status {
            details: details.to_vec(),
            ..Status::default()
        };
        let bytes = status.write_to_bytes().unwrap();
        RpcStatus::with_details(RpcStatusCode::UNAVAILABLE, String::new(), bytes)
    }

    fn error_info(domain: &str) -> ErrorInfo {
        ErrorInfo {
            reason: CHAT_STORE_UNAVAILABLE.to_string(),
            domain: domain.to_string(),
            ..ErrorInfo::default()
        }
    }

    #[test]
    fn codes_are_in_the_order_of_their_numbers_with_both_names() {
        for (i, &(code, _, _)) in CODES.iter().enumerate() {
            assert_eq!(code_index(code), i);
        }
        let invalid = RpcStatusCode::INVALID_ARGUMENT;
        assert_eq!(status_name(invalid), "INVALID_ARGUMENT");
        assert_eq!(go_code_name(invalid), "InvalidArgument");
        assert_eq!(status_name(RpcStatusCode::CANCELLED), "CANCELLED");
        assert_eq!(go_code_name(RpcStatusCode::CANCELLED), "Canceled");
        let beyond = RpcStatusCode::from(99);
        assert_eq!(status_name(beyond), "UNKNOWN");
        assert_eq!(go_code_name(beyond), "Unknown");
        // grpcio's Debug output (`14-UNAVAILABLE`) is not a contract, but a good witness.
        for number in 0..=16 {
            let code = RpcStatusCode::from(number);
            assert_eq!(
                format!("{code:?}"),
                format!("{number}-{}", status_name(code))
            );
        }
    }

    #[test]
    fn a_reason_sent_is_the_reason_read() {
        let sent = with_reason(
            RpcStatusCode::UNAVAILABLE,
            "the chat store cannot be reached".to_string(),
            CHAT_STORE_UNAVAILABLE,
        );
        assert_eq!(sent.code(), RpcStatusCode::UNAVAILABLE);
        assert_eq!(sent.message(), "the chat store cannot be reached");
        assert_eq!(reason(&sent).as_deref(), Some(CHAT_STORE_UNAVAILABLE));

        // The details repeat the code and message, as the rich error model asks.
        let details = Status::parse_from_bytes(sent.details()).unwrap();
        assert_eq!(details.code, i32::from(RpcStatusCode::UNAVAILABLE));
        assert_eq!(details.message, "the chat store cannot be reached");
    }

    #[test]
    fn a_status_without_details_has_no_reason() {
        let plain = RpcStatus::with_message(RpcStatusCode::UNAVAILABLE, "down".to_string());
        assert_eq!(reason(&plain), None);
    }

    #[test]
    fn details_that_cannot_be_decoded_have_no_reason() {
        // A field tag with wire type 7, which does not exist.
        let garbage = vec![0x0f, 0xff, 0xff];
        let status = RpcStatus::with_details(RpcStatusCode::UNAVAILABLE, String::new(), garbage);
        assert_eq!(reason(&status), None);

        // An Any that says it holds an ErrorInfo, but holds bytes that are not one.
        let broken = Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".to_string(),
            value: vec![0x0f, 0xff],
            ..Any::default()
        };
        assert_eq!(reason(&status_with(&[broken])), None);
    }

    #[test]
    fn only_an_error_info_of_our_domain_gives_a_reason() {
        let theirs = Any::pack(&error_info("proxy.example.com")).unwrap();
        let other_type = Any::pack(&Status::new()).unwrap();
        assert_eq!(reason(&status_with(&[theirs.clone(), other_type])), None);

        let ours = Any::pack(&error_info(ERROR_DOMAIN)).unwrap();
        assert_eq!(
            reason(&status_with(&[theirs, ours])).as_deref(),
            Some(CHAT_STORE_UNAVAILABLE),
            "found after a detail of another domain"
        );
    }
}
