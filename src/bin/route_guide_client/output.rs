//! What the client prints: each thing worth telling is one [`Event`], shown as text for people or
//! as one JSON object per line (`--json`) for scripts. The interop suite and tests/it/client_cli.rs
//! read these lines, so their text and JSON shapes change only on purpose.

use std::io::{self, Write};

use routeguide::Degrees;
use routeguide::proto::{Feature, Point, Rectangle, RouteNote, RouteSummary};
use serde_json::{Value, json};

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

    /// The event for scripts, or `None` for what only helps people read the text (headings, the
    /// rectangle about to be searched).
    pub fn json(&self) -> Option<Value> {
        let value = match *self {
            Event::Heading(_) | Event::LookingBetween(_) => return None,
            Event::Feature(feature) => json!({"feature": feature_json(feature)}),
            Event::Visiting(point) => json!({"visiting": point_json(point)}),
            Event::Summary(summary) => json!({"summary": {
                "point_count": summary.point_count,
                "feature_count": summary.feature_count,
                "distance": summary.distance,
                "elapsed_time": summary.elapsed_time,
            }}),
            Event::Sending(note) => json!({"sending": note_json(note)}),
            Event::Received(note) => json!({"received": note_json(note)}),
        };
        Some(value)
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
                Some(value) => value.to_string(),
                None => return,
            }
        } else {
            event.text()
        };
        let _ = writeln!(io::stdout().lock(), "{line}");
    }
}

fn point_json(point: &Point) -> Value {
    json!({"latitude": point.latitude, "longitude": point.longitude})
}

fn feature_json(feature: &Feature) -> Value {
    json!({"name": feature.name, "location": point_json(&feature.location)})
}

fn note_json(note: &RouteNote) -> Value {
    json!({"location": point_json(&note.location), "message": note.message})
}

#[cfg(test)]
mod tests {
    use routeguide::proto;

    use super::*;

    fn json_line(event: Event<'_>) -> Option<String> {
        event.json().map(|value| value.to_string())
    }

    #[test]
    fn a_feature_reads_as_the_tutorial_prints_it() {
        let feature = proto::feature("Berkshire Valley", proto::point(409_146_138, -746_188_906));
        assert_eq!(
            Event::Feature(&feature).text(),
            "Feature called \"Berkshire Valley\" at 40.9146138, -74.6188906"
        );
        assert_eq!(
            json_line(Event::Feature(&feature)).as_deref(),
            Some(
                r#"{"feature":{"location":{"latitude":409146138,"longitude":-746188906},"name":"Berkshire Valley"}}"#
            )
        );
        let nameless = proto::feature("", proto::point(0, 0));
        assert_eq!(Event::Feature(&nameless).text(), "Found no feature at 0, 0");
    }

    #[test]
    fn a_summary_is_four_lines_of_text_or_one_json_object() {
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
            json_line(Event::Summary(&summary)).as_deref(),
            Some(
                r#"{"summary":{"distance":47,"elapsed_time":2,"feature_count":1,"point_count":4}}"#
            )
        );
    }

    #[test]
    fn notes_name_their_direction() {
        let note = proto::route_note(proto::point(1, 0), "hi");
        assert_eq!(
            Event::Sending(&note).text(),
            "Sending \"hi\" at 0.0000001, 0"
        );
        assert_eq!(
            json_line(Event::Received(&note)).as_deref(),
            Some(r#"{"received":{"location":{"latitude":1,"longitude":0},"message":"hi"}}"#)
        );
    }

    #[test]
    fn headings_and_rectangles_are_for_people_only() {
        let area = proto::rectangle(proto::point(0, 0), proto::point(1, 1));
        assert_eq!(json_line(Event::Heading("GetFeature")), None);
        assert_eq!(json_line(Event::LookingBetween(&area)), None);
        assert_eq!(
            Event::Heading("GetFeature").text(),
            "-------------- GetFeature --------------"
        );
    }
}
