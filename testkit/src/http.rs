//! A plain HTTP/1.0 GET, enough to read the server's `/metrics`, `/healthz` and `/channelz`, and
//! Prometheus's query API, from tests and the benchmark without an HTTP client crate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long connecting, sending or reading may each take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP answer: its status code and its body as text.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    /// The status code (200, 503, ...).
    pub status: u16,
    /// The body, decoded as UTF-8 (lossily).
    pub body: String,
}

/// `GET path` from the HTTP server at `addr` (`HOST:PORT`), over HTTP/1.0 so that the server
/// closes the connection after the answer: the body is everything after the headers.
pub fn http_get(addr: &str, path: &str) -> Result<HttpAnswer, String> {
    let socket = addr
        .parse()
        .map_err(|e| format!("{addr} is not an IP address and port: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&socket, TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")
        .map_err(|e| format!("cannot send GET {path} to {addr}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("cannot read the answer to GET {path} from {addr}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path} from {addr}: no end of headers in {answer:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("GET {path} from {addr}: no status in {head:?}"))?;
    Ok(HttpAnswer {
        status,
        body: body.to_string(),
    })
}
