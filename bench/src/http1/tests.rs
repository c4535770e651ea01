use std::io::{self, Read};

use super::*;

/// Yields its bytes `step` at a time, so every parse state meets a read boundary.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(self.bytes.len()).min(out.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Reads every response in `wire`, at each read size from one byte to all at once, and
/// checks each pass sees the same responses and consumes the wire exactly.
fn read_all(wire: &[u8]) -> io::Result<Vec<Response>> {
    let mut first: Option<Vec<Response>> = None;
    for step in [1, 2, 3, 7, 64, wire.len().max(1)] {
        let mut r = Trickle { bytes: wire, step };
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        while !(r.bytes.is_empty() && buf.is_empty()) {
            let response = read_response(&mut r, &mut buf)?;
            seen.push(response);
            if response.close {
                break;
            }
        }
        assert!(
            r.bytes.is_empty() && buf.is_empty(),
            "step {step} left bytes"
        );
        match &first {
            Some(f) => assert_eq!(f, &seen, "step {step}"),
            None => first = Some(seen),
        }
    }
    Ok(first.unwrap_or_default())
}

const fn ok(status: u16) -> Response {
    Response {
        status,
        close: false,
    }
}

#[test]
fn get_request_is_a_keep_alive_get() {
    assert_eq!(
        get_request("web", "/a?b"),
        b"GET /a?b HTTP/1.1\r\nHost: web\r\n\r\n"
    );
}

#[test]
fn reads_responses_by_each_framing() {
    let cases: &[(&str, &[u8], &[Response])] = &[
        (
            "content-length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            &[ok(200)],
        ),
        (
            "chunked with an extension and a trailer",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n",
            &[ok(200)],
        ),
        (
            "chunked wins over a length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\ntransfer-encoding: gzip, chunked\r\n\r\n\
              3\r\nabc\r\n0\r\n\r\n",
            &[ok(200)],
        ),
        (
            "two responses back to back keep their boundary",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhiHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            &[ok(200), ok(503)],
        ),
        (
            "204 and 304 have no body whatever they declare",
            b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            &[ok(204), ok(304)],
        ),
        (
            "interim 100 is skipped",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
            &[ok(200)],
        ),
        (
            "connection close",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
            &[Response {
                status: 200,
                close: true,
            }],
        ),
        (
            "body until close",
            b"HTTP/1.1 200 OK\r\n\r\nall of this until the end",
            &[Response {
                status: 200,
                close: true,
            }],
        ),
        (
            "HTTP/1.0 closes unless kept alive",
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n\
              HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            &[
                ok(200),
                Response {
                    status: 200,
                    close: true,
                },
            ],
        ),
    ];
    for (name, wire, want) in cases {
        let got = read_all(wire).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn refuses_malformed_responses() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "not HTTP",
            b"SSH-2.0-x\r\n\r\n",
            "not an HTTP/1 status line",
        ),
        ("short status", b"HTTP/1.1 20 OK\r\n\r\n", "bad status code"),
        (
            "header without colon",
            b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
            "header without a colon",
        ),
        (
            "bad length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "bad content-length",
        ),
        (
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "bad chunk size",
        ),
        (
            "chunk longer than its size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
            "chunk data longer",
        ),
    ];
    for (name, wire, want) in cases {
        let mut r = Trickle {
            bytes: wire,
            step: 3,
        };
        let err = read_response(&mut r, &mut Vec::new()).expect_err(name);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{name}");
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
}

#[test]
fn a_close_mid_response_is_an_unexpected_eof() {
    for wire in [
        &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ] {
        let mut r = Trickle {
            bytes: wire,
            step: 4,
        };
        let err = read_response(&mut r, &mut Vec::new()).expect_err("truncated");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
