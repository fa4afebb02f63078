//! A gRPC client written from the frames up (HTTP/2, RFC 9113; HPACK, RFC 7541), for tests that
//! send what no well-behaved client library can be made to send: resets in a flood, header blocks
//! over the limit, a message whose flags say it is compressed when the call declared no encoding.
//! It writes header blocks as literals only and reads frames as they come; what it reads of a
//! header block is [`Frame::grpc_status`].

use std::io::{self, Read, Write};
use std::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame type DATA (RFC 9113, section 6.1).
pub const DATA: u8 = 0x0;
/// Frame type HEADERS (6.2).
pub const HEADERS: u8 = 0x1;
/// Frame type RST_STREAM (6.4).
pub const RST_STREAM: u8 = 0x3;
/// Frame type SETTINGS (6.5).
pub const SETTINGS: u8 = 0x4;
/// Frame type PING (6.7).
pub const PING: u8 = 0x6;
/// Frame type GOAWAY (6.8).
pub const GOAWAY: u8 = 0x7;
/// Frame type CONTINUATION (6.10).
pub const CONTINUATION: u8 = 0x9;
/// Flag END_STREAM of DATA and HEADERS.
pub const END_STREAM: u8 = 0x1;
/// Flag ACK of SETTINGS and PING.
pub const ACK: u8 = 0x1;
/// Flag END_HEADERS of HEADERS and CONTINUATION.
pub const END_HEADERS: u8 = 0x4;
/// Error code CANCEL (section 7).
pub const CANCEL: u32 = 0x8;
/// Error code ENHANCE_YOUR_CALM (section 7).
pub const ENHANCE_YOUR_CALM: u32 = 0xb;
/// The largest frame payload a peer must accept before SETTINGS say otherwise.
pub const MAX_FRAME: usize = 16_384;

/// One frame of `kind` with `flags` on `stream`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend([kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// SETTINGS with the ACK flag: the answer to the server's SETTINGS.
pub fn settings_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

/// One gRPC message as a DATA frame carries it: the compressed flag, the length, the bytes.
pub fn grpc_message(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(compressed)];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// An HPACK integer (RFC 7541, section 5.1) with an `n`-bit prefix, `first` holding the bits
/// above it.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// An HPACK string literal, without Huffman coding.
fn hpack_str(out: &mut Vec<u8>, s: &[u8]) {
    hpack_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// The header block of a call to RouteGuide's `method`, with `extra` headers after the usual
/// ones; every field is a literal "without indexing", so the block means the same whatever came
/// before it.
pub fn request_headers(method: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http (static table)
    let indexed_name = |block: &mut Vec<u8>, index: usize, value: &[u8]| {
        hpack_int(block, 0x00, 4, index);
        hpack_str(block, value);
    };
    let path = format!("/routeguide.RouteGuide/{method}");
    indexed_name(&mut block, 4, path.as_bytes()); // :path
    indexed_name(&mut block, 1, b"localhost"); // :authority
    indexed_name(&mut block, 31, b"application/grpc"); // content-type
    for (name, value) in [("te", b"trailers".as_slice())].iter().chain(extra) {
        block.push(0x00);
        hpack_str(&mut block, name.as_bytes());
        hpack_str(&mut block, value);
    }
    block
}

/// A frame as read: its type, flags, stream and payload.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The frame type: [`DATA`], [`HEADERS`], ...
    pub kind: u8,
    /// The flags: [`END_STREAM`], [`END_HEADERS`], ...
    pub flags: u8,
    /// The stream, 0 for the connection.
    pub stream: u32,
    /// What follows the 9-byte frame header.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The `grpc-status` in this frame's header block, when the server wrote it as a literal (as
    /// the gRPC core does the first time a connection carries that status; later it may refer to
    /// its dynamic table instead, so a test reads it on a fresh connection).
    pub fn grpc_status(&self) -> Option<u32> {
        const NAME: &[u8] = b"grpc-status";
        let at = self
            .payload
            .windows(NAME.len())
            .position(|window| window == NAME)?;
        let rest = &self.payload[at + NAME.len()..];
        // A value literal without Huffman coding: its length, then its digits.
        let (&len, digits) = rest.split_first()?;
        if len & 0x80 != 0 {
            return None;
        }
        std::str::from_utf8(digits.get(..usize::from(len))?)
            .ok()?
            .parse()
            .ok()
    }
}

/// The next frame; `Ok(None)` once the server closed the connection, `Err` after the read timeout.
pub fn read_frame(socket: &mut TcpStream) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 9];
    match socket.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0; len];
    socket.read_exact(&mut payload)?;
    Ok(Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }))
}

/// A connection to `addr` that has sent the client preface and its (empty) SETTINGS.
pub fn connect(addr: &str) -> TcpStream {
    let mut socket = TcpStream::connect(addr).expect("connects");
    socket.set_nodelay(true).unwrap();
    socket.write_all(PREFACE).unwrap();
    socket.write_all(&frame(SETTINGS, 0, 0, &[])).unwrap();
    socket
}

/// Reads frames until `done` says one is what the test waits for (`what`, for the panic if the
/// server falls silent), acknowledging the server's SETTINGS on the way; a GOAWAY fails the test.
pub fn read_until(socket: &mut TcpStream, what: &str, mut done: impl FnMut(&Frame) -> bool) {
    loop {
        let frame = read_frame(socket)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("the server did not send {what}"));
        assert_ne!(
            frame.kind, GOAWAY,
            "the server sent GOAWAY, waiting for {what}"
        );
        if frame.kind == SETTINGS && frame.flags & ACK == 0 {
            socket.write_all(&settings_ack()).unwrap();
        }
        if done(&frame) {
            return;
        }
    }
}
