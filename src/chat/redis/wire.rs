//! What the board and Redis say to each other, apart from the script's own text (`post.lua`):
//! the names of the board's keys and channel, the script's answer ([`Posted`]), and the two
//! forms a note takes in Redis: kept in a location's list (`NUMBER:BYTES`) and published
//! (`EPOCH:NUMBER:PREVIOUS:BYTES`), where BYTES is the `RouteNote`'s protobuf encoding. Sending
//! and following are left to the poster and the follower.

use std::sync::Arc;

use protobuf::Message;
use redis::{RedisError, RedisResult, Value};

use super::mirror::Kept;
use crate::geo::Coordinates;
use crate::proto::RouteNote;

/// The names the board uses in Redis.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    pub(super) state: String,
    pub(super) locations: String,
    /// Published notes; Redis channels ignore the database, so the name carries its number.
    pub(super) channel: String,
}

impl Keys {
    pub(super) fn new(database: i64) -> Self {
        Keys {
            state: "routeguide:chat:state".to_string(),
            locations: "routeguide:chat:locations".to_string(),
            channel: format!("routeguide:chat:notes:db{database}"),
        }
    }

    /// The list of the notes kept at `at`.
    pub(super) fn location(at: Coordinates) -> String {
        format!("routeguide:chat:at:{},{}", at.latitude(), at.longitude())
    }
}

/// What the script answered for one post.
pub(super) struct Posted {
    pub(super) number: u64,
    /// Whether `after` continues the notes the post said it held (or replaces them).
    pub(super) continues: bool,
    pub(super) epoch: String,
    /// How many notes Redis kept at the location before this one.
    pub(super) kept_before: usize,
    pub(super) after: Vec<Kept>,
}

/// Reads the post script's answer: `{number, continues, epoch, kept before, NUMBER:BYTES...}`.
pub(super) fn parse_answer(answer: Value) -> RedisResult<Posted> {
    let malformed = |what: &str| {
        RedisError::from((
            redis::ErrorKind::Parse,
            "the RouteChat post script answered",
            what.to_string(),
        ))
    };
    let Value::Array(items) = answer else {
        return Err(malformed("something other than a list"));
    };
    let mut items = items.into_iter();
    let (
        Some(Value::Int(number)),
        Some(Value::Int(continues)),
        Some(Value::BulkString(epoch)),
        Some(Value::Int(kept_before)),
    ) = (items.next(), items.next(), items.next(), items.next())
    else {
        return Err(malformed("no note number and epoch"));
    };
    let after = items
        .map(|item| match item {
            Value::BulkString(bytes) => parse_kept(&bytes).ok_or_else(|| malformed("a bad note")),
            _ => Err(malformed("a note that is not a string")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Posted {
        number: u64::try_from(number).unwrap_or(0),
        continues: continues == 1,
        epoch: String::from_utf8_lossy(&epoch).into_owned(),
        kept_before: usize::try_from(kept_before).unwrap_or(0),
        after,
    })
}

/// Splits `FIELD:` from the front of `bytes`.
fn split_field(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let field = std::str::from_utf8(&bytes[..colon]).ok()?;
    Some((field, &bytes[colon + 1..]))
}

/// Splits `NUMBER:` from the front of `bytes`.
fn split_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (number, rest) = split_field(bytes)?;
    Some((number.parse().ok()?, rest))
}

/// A note as kept in a location's list: `NUMBER:BYTES`.
fn parse_kept(bytes: &[u8]) -> Option<Kept> {
    let (number, note) = split_number(bytes)?;
    let note = RouteNote::parse_from_bytes(note).ok()?;
    Some(Kept {
        number,
        note: Arc::new(note),
    })
}

/// A published note: `EPOCH:NUMBER:PREVIOUS:BYTES`, as the epoch, the number of the note before
/// it at its location (0: none), and the note.
pub(super) fn parse_published(message: &[u8]) -> Option<(&str, u64, Kept)> {
    let (epoch, rest) = split_field(message)?;
    let (number, rest) = split_number(rest)?;
    let (previous, bytes) = split_number(rest)?;
    let note = RouteNote::parse_from_bytes(bytes).ok()?;
    let kept = Kept {
        number,
        note: Arc::new(note),
    };
    Some((epoch, previous, kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;

    #[test]
    fn a_kept_note_is_its_number_then_its_bytes() {
        let note = proto::route_note(proto::point(1, 2), "a:b");
        let mut bytes = b"42:".to_vec();
        bytes.extend(note.write_to_bytes().unwrap());
        let kept = parse_kept(&bytes).unwrap();
        assert_eq!(kept.number, 42);
        assert_eq!(*kept.note, note);
        assert!(parse_kept(b"x:").is_none());
        assert!(parse_kept(b"no colon").is_none());
    }

    #[test]
    fn a_published_note_is_epoch_number_previous_then_bytes() {
        let note = proto::route_note(proto::point(1, 2), "x");
        let mut bytes = b"00ab:7:3:".to_vec();
        bytes.extend(note.write_to_bytes().unwrap());
        let (epoch, previous, kept) = parse_published(&bytes).unwrap();
        assert_eq!((epoch, previous, kept.number), ("00ab", 3, 7));
        assert_eq!(*kept.note, note);
        assert!(parse_published(b"00ab:7:").is_none());
    }
}
