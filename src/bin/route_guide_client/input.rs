//! Points and notes read from standard input (`record-route --stdin`, `route-chat --stdin`), one
//! JSON object per line, as they are read: a script can feed a call line by line.

use std::io::{self, BufRead};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use routeguide::proto::{self, Point, RouteNote};
use serde::Deserialize;

use crate::CliError;

/// A point as a JSON line of standard input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonPoint {
    #[serde(default)]
    latitude: i32,
    #[serde(default)]
    longitude: i32,
}

impl JsonPoint {
    pub fn into_point(self) -> Point {
        proto::point(self.latitude, self.longitude)
    }
}

/// A note as a JSON line of standard input. A note without a location is sent as it is (the server
/// refuses it), which lets scripts probe the server's validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonNote {
    location: Option<JsonPoint>,
    #[serde(default)]
    message: String,
}

impl JsonNote {
    pub fn into_note(self) -> RouteNote {
        RouteNote {
            location: self.location.map(JsonPoint::into_point).into(),
            message: self.message,
            ..RouteNote::default()
        }
    }
}

/// Values parsed from standard input one JSON line at a time, as they are read. The first bad line
/// ends the iteration; its error is kept for [`InputError::check`].
pub struct JsonLines<T> {
    lines: io::Lines<io::BufReader<io::Stdin>>,
    line_number: usize,
    error: InputError,
    _value: PhantomData<fn() -> T>,
}

impl<T> JsonLines<T> {
    /// The values of standard input, and where the first problem with it will be found.
    pub fn stdin() -> (Self, InputError) {
        let error = InputError::default();
        let lines = JsonLines {
            // Not `stdin().lock()`: the lock cannot move to the thread that sends what is read.
            lines: io::BufReader::new(io::stdin()).lines(),
            line_number: 0,
            error: error.clone(),
            _value: PhantomData,
        };
        (lines, error)
    }
}

impl<T: for<'de> Deserialize<'de>> Iterator for JsonLines<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            self.line_number += 1;
            let problem = match self.lines.next()? {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => match serde_json::from_str(&line) {
                    Ok(value) => return Some(value),
                    Err(e) => e.to_string(),
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
