//! What the client prints: each thing worth telling is one [`Event`], shown as text for people or,
//! under `--json`, for scripts: then each response message is one line of its proto3 JSON mapping,
//! what grpcurl prints for the same call, and nothing else is printed. The interop suite and
//! tests/it/client_cli.rs read these lines, so their text and JSON shapes change only on purpose.
//!
//! A failure is told by [`Output::fail`]: a line of text on standard error, or under `--json`
//! one `{"error": {...}}` object on standard output, after the responses that came before it.

use std::io::{self, Write};

use protobuf::MessageDyn;
use routeguide::proto::{Feature, Point, Rectangle, RouteNote, RouteSummary};
use routeguide::{Degrees, status_name};
use serde_json::Value;

use crate::CliError;

/// Something the session has to tell.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A section of the tour begins, named for its RPC.
    Heading(&'a str),
    /// GetFeature's answer, or one of ListFeatures' replies.
    Feature(&'a Feature),
    /// ListFeatures is about to ask for this rectangle.
    LookingBetween(&'a Rectangle),
    /// RecordRoute sends this point.
    Visiting(&'a Point),
    /// RecordRoute's answer.
    Summary(&'a RouteSummary),
    /// RouteChat sends this note.
    Sending(&'a RouteNote),
    /// RouteChat received this note.
    Received(&'a RouteNote),
}

impl Event<'_> {
    /// The event for people: one line, or several for a summary.
    pub fn text(&self) -> String {
        match *self {
            Event::Heading(rpc) => format!("-------------- {rpc} --------------"),
            Event::Feature(feature) => {
                let at = Degrees(&feature.location);
                if feature.name.is_empty() {
                    format!("Found no feature at {at}")
                } else {
                    format!("Feature called \"{}\" at {at}", feature.name)
                }
            }
            Event::LookingBetween(rectangle) => format!(
                "Looking for features between {} and {}",
                Degrees(&rectangle.lo),
                Degrees(&rectangle.hi)
            ),
            Event::Visiting(point) => format!("Visiting point {}", Degrees(point)),
            Event::Summary(summary) => format!(
                "Finished trip with {} points\nPassed {} features\nTravelled {} metres\n\
                 It took {} seconds",
                summary.point_count, summary.feature_count, summary.distance, summary.elapsed_time
            ),
            Event::Sending(note) => format!(
                "Sending \"{}\" at {}",
                note.message,
                Degrees(&note.location)
            ),
            Event::Received(note) => format!(
                "Received \"{}\" at {}",
                note.message,
                Degrees(&note.location)
            ),
        }
    }

    /// The event for scripts: the proto3 JSON of the response it carries, or `None` for what
    /// only helps people read the text (headings, the rectangle about to be searched) and for the
    /// requests sent (a script knows what it sent; grpcurl does not print them either).
    pub fn json(&self) -> Option<String> {
        let response: &dyn MessageDyn = match *self {
            Event::Heading(_)
            | Event::LookingBetween(_)
            | Event::Visiting(_)
            | Event::Sending(_) => {
                return None;
            }
            Event::Feature(feature) => feature,
            Event::Summary(summary) => summary,
            Event::Received(note) => note,
        };
        Some(proto3_json(response))
    }
}

/// Where events go: standard output, as text or as JSON lines.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Prints `event` in the chosen form, in one write, so that lines printed by the thread that
    /// sends and the one that receives never mix. A closed pipe (`| head`) is not worth a panic:
    /// the rest of the output is dropped.
    pub fn emit(self, event: Event<'_>) {
        let line = if self.json {
            match event.json() {
                Some(line) => line,
                None => return,
            }
        } else {
            event.text()
        };
        let _ = writeln!(io::stdout().lock(), "{line}");
    }

    /// Tells why the run failed: under `--json`, one `{"error": {...}}` line on standard output,
    /// where a script already reads the responses, and nothing on standard error; otherwise a
    /// line of text on standard error.
    pub fn fail(self, error: &CliError) {
        if self.json {
            let _ = writeln!(io::stdout().lock(), "{}", error_json(error));
        } else {
            eprintln!("route_guide_client: {}", routeguide::describe(error));
        }
    }
}

/// The `--json` line of a failure. A failed call gives the status as gRPC defines it (`code`,
/// its number; `status`, its name), the status message as the server wrote it, the RPC, and the
/// `reason` from the status's details when there is one; a failure on this side (standard input,
/// database, TLS files) has only a `message`. Spaced as the mapping spaces the responses, so
/// that every line of the output reads alike.
fn error_json(error: &CliError) -> String {
    let fields: Vec<(&str, Value)> = match error {
        CliError::Call(call) => {
            let mut fields = vec![
                ("code", i32::from(call.code()).into()),
                ("status", status_name(call.code()).into()),
                ("message", call.message().into()),
                ("rpc", call.method().into()),
            ];
            if let Some(reason) = call.reason() {
                fields.push(("reason", reason.into()));
            }
            fields
        }
        local => vec![("message", routeguide::describe(local).into())],
    };
    // Each value is a number or a string, which `Value`'s Display writes as JSON (escaped).
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\": {value}"))
        .collect();
    format!("{{\"error\": {{{}}}}}", body.join(", "))
}

/// `message` in the proto3 JSON mapping with protobuf-json-mapping's default options, as grpcurl
/// prints it by default: lowerCamelCase names, fields at their default value left out, int32 as
/// numbers. The mapping writes it on one line, `{"name": "...", "location": {...}}`.
fn proto3_json(message: &dyn MessageDyn) -> String {
    // The printer fails only on `Any` (not implemented) and on malformed well-known types
    // (Timestamp, Duration, Struct). route_guide.proto's messages hold none of them, so no value
    // a server sends can make it fail: a failure here is a change to the proto, caught by the
    // tests below.
    protobuf_json_mapping::print_to_string(message)
        .expect("route_guide.proto's messages have a proto3 JSON form")
}

#[cfg(test)]
mod tests {
    use routeguide::proto;

    use super::*;

    #[test]
    fn a_feature_reads_as_the_tutorial_prints_it_or_as_grpcurl_does() {
        let feature = proto::feature("Berkshire Valley", proto::point(409_146_138, -746_188_906));
        assert_eq!(
            Event::Feature(&feature).text(),
            "Feature called \"Berkshire Valley\" at 40.9146138, -74.6188906"
        );
        assert_eq!(
            Event::Feature(&feature).json().as_deref(),
            Some(
                r#"{"name": "Berkshire Valley", "location": {"latitude": 409146138, "longitude": -746188906}}"#
            )
        );
    }

    #[test]
    fn an_unnamed_feature_at_zero_keeps_only_its_location_in_json() {
        // Proto3 JSON leaves out fields at their default: the empty name, the zero coordinates.
        // The location itself is set, so it stays, as an empty object.
        let nameless = proto::feature("", proto::point(0, 0));
        assert_eq!(Event::Feature(&nameless).text(), "Found no feature at 0, 0");
        assert_eq!(
            Event::Feature(&nameless).json().as_deref(),
            Some(r#"{"location": {}}"#)
        );
    }

    #[test]
    fn a_summary_is_four_lines_of_text_or_one_json_object_with_camel_case_names() {
        let summary = RouteSummary {
            point_count: 4,
            feature_count: 1,
            distance: 47,
            elapsed_time: 2,
            ..RouteSummary::default()
        };
        assert_eq!(
            Event::Summary(&summary).text(),
            "Finished trip with 4 points\nPassed 1 features\nTravelled 47 metres\nIt took 2 seconds"
        );
        assert_eq!(
            Event::Summary(&summary).json().as_deref(),
            Some(r#"{"pointCount": 4, "featureCount": 1, "distance": 47, "elapsedTime": 2}"#)
        );
    }

    #[test]
    fn a_received_note_is_json_and_a_sent_one_is_text_only() {
        let note = proto::route_note(proto::point(1, 0), "hi");
        assert_eq!(
            Event::Sending(&note).text(),
            "Sending \"hi\" at 0.0000001, 0"
        );
        assert_eq!(Event::Sending(&note).json(), None);
        assert_eq!(
            Event::Received(&note).json().as_deref(),
            Some(r#"{"location": {"latitude": 1}, "message": "hi"}"#)
        );
    }

    #[test]
    fn the_json_of_each_response_parses_back_to_the_same_message() {
        let feature = proto::feature("a \"quoted\" name", proto::point(-1, 2));
        let line = Event::Feature(&feature).json().unwrap();
        assert_eq!(
            protobuf_json_mapping::parse_from_str::<Feature>(&line).unwrap(),
            feature
        );
        let note = proto::route_note(proto::point(3, -4), "n\u{e9}e\n");
        let line = Event::Received(&note).json().unwrap();
        assert_eq!(
            protobuf_json_mapping::parse_from_str::<RouteNote>(&line).unwrap(),
            note
        );
    }

    #[test]
    fn a_local_failure_is_an_error_object_with_only_its_message() {
        let error = CliError::Input("standard input, line 2: \"x\" is not a Point".to_string());
        assert_eq!(
            error_json(&error),
            r#"{"error": {"message": "standard input, line 2: \"x\" is not a Point"}}"#
        );
    }

    #[test]
    fn headings_rectangles_and_requests_are_for_people_only() {
        let area = proto::rectangle(proto::point(0, 0), proto::point(1, 1));
        let point = proto::point(1, 1);
        assert_eq!(Event::Heading("GetFeature").json(), None);
        assert_eq!(Event::LookingBetween(&area).json(), None);
        assert_eq!(Event::Visiting(&point).json(), None);
        assert_eq!(
            Event::Heading("GetFeature").text(),
            "-------------- GetFeature --------------"
        );
    }
}
