//! Points and notes read from standard input (`record-route --stdin`, `route-chat --stdin`), one
//! message a line in the proto3 JSON mapping (as `--json` prints them, and as grpcurl reads
//! them), each sent as it is read: a script can feed a call line by line.

use std::io::{self, BufRead};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use protobuf::MessageFull;
use serde::de::IgnoredAny;

use crate::CliError;

/// Messages parsed from standard input one line at a time, as they are read. Blank lines are
/// skipped. The first bad line ends the iteration; its error is kept for [`InputError::check`].
///
/// A note without a location is sent as it is (the server refuses it), which lets scripts probe
/// the server's validation.
pub struct JsonLines<M> {
    lines: io::Lines<io::BufReader<io::Stdin>>,
    line_number: usize,
    error: InputError,
    _message: PhantomData<fn() -> M>,
}

impl<M> JsonLines<M> {
    /// The messages of standard input, and where the first problem with it will be found.
    pub fn stdin() -> (Self, InputError) {
        let error = InputError::default();
        let lines = JsonLines {
            // Not `stdin().lock()`: the lock cannot move to the thread that sends what is read.
            lines: io::BufReader::new(io::stdin()).lines(),
            line_number: 0,
            error: error.clone(),
            _message: PhantomData,
        };
        (lines, error)
    }
}

impl<M: MessageFull> Iterator for JsonLines<M> {
    type Item = M;

    fn next(&mut self) -> Option<M> {
        loop {
            self.line_number += 1;
            let problem = match self.lines.next()? {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => match parse_line(&line) {
                    Ok(message) => return Some(message),
                    Err(problem) => problem,
                },
                Err(e) => e.to_string(),
            };
            self.error.set(format!(
                "standard input, line {}: {problem}",
                self.line_number
            ));
            return None;
        }
    }
}

/// One line as a message, read by protobuf-json-mapping's parser: proto field names and
/// lowerCamelCase JSON names alike, int32 as a number or a string, a field left out at its
/// default, an unknown field refused. Two forms the proto3 JSON specification allows are refused
/// by this parser: `null` for a field (leave the field out instead) and exponent notation for an
/// integer (`1e3`).
fn parse_line<M: MessageFull>(line: &str) -> Result<M, String> {
    // The mapping's parser stops at the message's closing brace and ignores what follows, so
    // `{"latitude": 1} {"latitude": 2}` would silently send one point: serde_json first checks
    // that the line is exactly one JSON value.
    serde_json::from_str::<IgnoredAny>(line).map_err(|e| format!("not one JSON value: {e}"))?;
    protobuf_json_mapping::parse_from_str(line).map_err(|e| {
        let name = M::descriptor().name().to_string();
        format!("not a {name} in proto3 JSON: {e}")
    })
}

/// The first problem found in standard input, shared between the thread that reads it and the
/// one that reports it.
#[derive(Clone, Default)]
pub struct InputError(Arc<Mutex<Option<String>>>);

impl InputError {
    fn set(&self, problem: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(problem);
        }
    }

    /// Fails with the problem found in standard input, if any. Called once the call is over, so
    /// that a bad line is reported even though the call itself went well with the lines before it.
    pub fn check(&self) -> Result<(), CliError> {
        match self.0.lock().ok().and_then(|mut slot| slot.take()) {
            Some(problem) => Err(CliError::Input(problem)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use routeguide::proto::{self, Point, RouteNote};

    use super::*;

    #[test]
    fn a_point_may_give_int32_as_numbers_or_strings() {
        assert_eq!(
            parse_line::<Point>(r#"{"latitude": 1000, "longitude": -2000}"#),
            Ok(proto::point(1000, -2000))
        );
        assert_eq!(
            parse_line::<Point>(r#"{"latitude": "1000", "longitude": "-2000"}"#),
            Ok(proto::point(1000, -2000))
        );
        assert_eq!(parse_line::<Point>("{}"), Ok(proto::point(0, 0)));
    }

    #[test]
    fn a_note_takes_a_nested_point_or_none_at_all() {
        assert_eq!(
            parse_line::<RouteNote>(r#"{"location": {"latitude": 1}, "message": "hi"}"#),
            Ok(proto::route_note(proto::point(1, 0), "hi"))
        );
        // Sent as it is, for the server to refuse.
        let unplaced = parse_line::<RouteNote>(r#"{"message": "hi"}"#);
        assert_eq!(unplaced.map(|n| n.location.is_some()), Ok(false));
    }

    #[test]
    fn unknown_fields_and_values_outside_int32_are_refused() {
        for bad in [
            r#"{"lat": 1}"#,
            r#"{"latitude": 3000000000}"#,
            r#"{"latitude": 1.5}"#,
            r#"{"latitude": "north"}"#,
            // Allowed by the specification, not by this parser: the README says so.
            r#"{"latitude": null}"#,
            r#"{"latitude": 1e3}"#,
            r#"[1, 2]"#,
        ] {
            assert!(parse_line::<Point>(bad).is_err(), "{bad}");
        }
        let problem = parse_line::<Point>(r#"{"lat": 1}"#).unwrap_err();
        assert!(
            problem.starts_with("not a Point in proto3 JSON"),
            "{problem}"
        );
        assert!(problem.contains("lat"), "{problem}");
    }

    #[test]
    fn a_line_is_exactly_one_json_value() {
        // Why parse_line asks serde_json first: the mapping alone takes the first object.
        assert!(
            protobuf_json_mapping::parse_from_str::<Point>(r#"{"latitude": 1} trailing"#).is_ok()
        );
        for bad in [
            r#"{"latitude": 1} {"latitude": 2}"#,
            r#"{"latitude": 1} trailing"#,
            "not json",
        ] {
            assert!(parse_line::<Point>(bad).is_err(), "{bad}");
        }
    }
}
