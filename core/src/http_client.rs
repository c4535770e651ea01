//! A small HTTP/1.1 client for control-plane calls (namerd's API, dtab stores, service
//! discovery backends): one request per connection, whole bodies, or a streamed body read
//! line by line (namerd's `watch` streams, long polls).
//!
//! These calls are few and long-lived, so a connection pool would buy nothing; the
//! routers' data path has its own pools.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A whole response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// A header's value as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    connect_timeout: Duration,
) -> Result<hyper::Response<Incoming>, String> {
    let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out after {connect_timeout:?}"))?
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(target)
        .header(http::header::HOST, addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| format!("a bad request to {addr}{target}: {e}"))?;
    tx.send_request(req)
        .await
        .map_err(|e| format!("{addr}{target}: {e}"))
}

/// Sends one request and reads the whole response, all within `timeout`.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<Response, String> {
    let call = async {
        let rsp = send(addr, method, target, headers, body, timeout).await?;
        let (parts, body) = rsp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("{addr}{target}: reading the body: {e}"))?
            .to_bytes();
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| format!("{addr}{target}: no answer within {timeout:?}"))?
}

/// A streamed response body, read a line at a time.
pub struct Lines {
    body: Incoming,
    buf: BytesMut,
}

impl Lines {
    /// The next line (without its `\n`), or `None` when the stream ends.
    pub async fn next_line(&mut self) -> Result<Option<String>, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line = self.buf.split_to(i + 1);
                return Ok(Some(String::from_utf8_lossy(&line[..i]).into_owned()));
            }
            match self.body.frame().await {
                None => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let rest = self.buf.split();
                    return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
                }
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// Sends a GET whose response is read as a stream of lines; the status and the lines.
pub async fn stream(
    addr: SocketAddr,
    target: &str,
    connect_timeout: Duration,
) -> Result<(u16, Lines), String> {
    let rsp = tokio::time::timeout(
        connect_timeout,
        send(
            addr,
            Method::GET,
            target,
            &[],
            Bytes::new(),
            connect_timeout,
        ),
    )
    .await
    .map_err(|_| format!("{addr}{target}: no answer within {connect_timeout:?}"))??;
    let status = rsp.status().as_u16();
    Ok((
        status,
        Lines {
            body: rsp.into_body(),
            buf: BytesMut::new(),
        },
    ))
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
