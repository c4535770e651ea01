//! Just enough of an HTTP/1.1 client for the fixed-rate load generator: it reads one
//! response at a time off a keep-alive connection (no pipelining), skipping the body by
//! whatever framing the response declares. It keeps bytes read past one response for the
//! next, so it never loses the connection's place. It does not decode bodies, follow
//! redirects, or accept anything but `HTTP/1.x` responses.

use std::io::{self, Read};

/// Bytes a response head may take before the reader gives up on it.
const MAX_HEAD: usize = 64 * 1024;
/// Bytes a chunk-size or trailer line may take.
const MAX_LINE: usize = 4 * 1024;

/// What the load generator needs from a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The server closes the connection after this response (`Connection: close`,
    /// HTTP/1.0, or a body delimited by the close); the caller must reconnect.
    pub close: bool,
}

/// The request line and headers for a body-less `GET` that keeps the connection open.
pub fn get_request(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

/// Reads one final response from `r`, its body included. `buf` holds bytes read from `r`
/// but not yet used: pass the same buffer for every response on one connection.
/// Interim (1xx) responses are skipped.
pub fn read_response(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Response> {
    loop {
        let head_len = loop {
            if let Some(i) = find(buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                return Err(invalid("response head longer than 64 KiB"));
            }
            fill(r, buf)?;
        };
        let head = parse_head(&buf[..head_len])?;
        buf.drain(..head_len);
        if head.status / 100 == 1 {
            continue;
        }
        let framing = if head.status == 204 || head.status == 304 {
            Framing::Empty
        } else {
            head.framing
        };
        match framing {
            Framing::Empty => {}
            Framing::Length(n) => skip(r, buf, n)?,
            Framing::Chunked => skip_chunked(r, buf)?,
            Framing::UntilClose => {
                buf.clear();
                let mut sink = [0u8; 4096];
                while r.read(&mut sink)? != 0 {}
            }
        }
        return Ok(Response {
            status: head.status,
            close: head.close || framing == Framing::UntilClose,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    close: bool,
    framing: Framing,
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let head = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(invalid(format!(
            "not an HTTP/1 status line: {status_line:?}"
        )));
    }
    let status = parts
        .next()
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("bad status code in {status_line:?}")))?;
    let mut close = version == "HTTP/1.0";
    let mut length = None;
    let mut chunked = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("header without a colon: {line:?}")))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse()
                .map_err(|_| invalid(format!("bad content-length {value:?}")))?;
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        }
    }
    // RFC 9112 section 6.3: chunked wins over a length.
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    };
    Ok(Head {
        status,
        close,
        framing,
    })
}

fn skip_chunked(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let line = read_line(r, buf)?;
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| invalid(format!("bad chunk size line {:?}", lossy(&line))))?;
        if size == 0 {
            // Trailers, then the empty line that ends the message.
            while !read_line(r, buf)?.is_empty() {}
            return Ok(());
        }
        skip(r, buf, size)?;
        if !read_line(r, buf)?.is_empty() {
            return Err(invalid("chunk data longer than its size"));
        }
    }
}

/// Takes the next CRLF-terminated line out of `buf`, without its CRLF.
fn read_line(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    loop {
        if let Some(i) = find(buf, b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_LINE {
            return Err(invalid("chunk line longer than 4 KiB"));
        }
        fill(r, buf)?;
    }
}

/// Discards the next `n` bytes, from `buf` first and then from `r`.
fn skip(r: &mut impl Read, buf: &mut Vec<u8>, mut n: usize) -> io::Result<()> {
    loop {
        let take = n.min(buf.len());
        buf.drain(..take);
        n -= take;
        if n == 0 {
            return Ok(());
        }
        fill(r, buf)?;
    }
}

fn fill(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = r.read(&mut chunk)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-response",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

#[cfg(test)]
mod tests;
