//! The responses linkerd itself sends when it cannot route or forward a request, in one
//! place (Linkerd 1's `ErrorResponder`): a status, the message URL-encoded in `l5d-err`,
//! and the message as a plain-text body.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use l5d_core::identifier::Dst;
use l5d_core::naming::Dtab;

/// The header that marks a response as linkerd's own error, carrying its message.
pub const L5D_ERR: &str = "l5d-err";

/// Why linkerd answered a request itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No identifier could name the request, or its `l5d-dtab` did not parse.
    BadRequest(String),
    /// The request has passed through more proxies than `maxCallDepth` allows.
    CallDepth(usize),
    /// The name bound to nothing (`~`, an empty address set, a failed namer).
    NoRoute(String),
    /// The name is bound but its address set is empty (503, as the HTTP router issue
    /// specifies; Linkerd 1 answered 502).
    NoEndpoints(String),
    /// The request provably never reached a server (every connect failed, or the
    /// connection closed before it was written): safe to retry, which `l5d-retryable`
    /// tells the client.
    Unsent(String),
    /// Every endpoint tried refused the connection (after requeues): the request never
    /// reached a server (502, with `l5d-retryable`).
    Refused(String),
    /// Connecting to or talking with the chosen endpoint failed.
    Backend(String),
    /// The request ran out of time (binding, an attempt, or the total budget).
    Timeout(String),
    /// linkerd is shedding load (`maxConcurrentRequests`).
    Overloaded(String),
    /// A request body larger than linkerd buffers (`streamingEnabled: false`).
    TooLarge(String),
}

impl RouteError {
    /// The status Linkerd 1 answers with; timeouts answer 504, as the resilience issue
    /// specifies.
    pub fn status(&self) -> StatusCode {
        match self {
            RouteError::BadRequest(_) | RouteError::CallDepth(_) => StatusCode::BAD_REQUEST,
            RouteError::NoRoute(_)
            | RouteError::Backend(_)
            | RouteError::Unsent(_)
            | RouteError::Refused(_) => StatusCode::BAD_GATEWAY,
            RouteError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            RouteError::Overloaded(_) | RouteError::NoEndpoints(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            RouteError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The message.
    pub fn message(&self) -> String {
        match self {
            RouteError::CallDepth(max) => {
                format!("Maximum number of calls ({max}) has been exceeded. Please check for proxy loops.")
            }
            RouteError::BadRequest(m)
            | RouteError::NoRoute(m)
            | RouteError::NoEndpoints(m)
            | RouteError::Backend(m)
            | RouteError::Unsent(m)
            | RouteError::Refused(m)
            | RouteError::Timeout(m)
            | RouteError::Overloaded(m)
            | RouteError::TooLarge(m) => m.clone(),
        }
    }
}

fn dtab_lines(d: &Dtab) -> String {
    d.dentries()
        .iter()
        .map(|e| format!("  {} => {}", e.prefix, e.dst))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Linkerd 1's "no brokers" message: the name, what each branch of its delegation came to,
/// and the dtabs involved.
pub fn no_route_message(dst: &Dst, interpreter_dtab: &Dtab, resolutions: &[String]) -> String {
    let resolutions: Vec<String> = resolutions.iter().map(|r| format!("  {r}")).collect();
    format!(
        "Unable to route request!\n\nservice name: {}\nresolutions considered:\n{}\ndtab:\n{}\nbase dtab:\n{}\noverride dtab:\n{}\n",
        dst.path,
        resolutions.join("\n"),
        dtab_lines(interpreter_dtab),
        dtab_lines(&dst.base_dtab),
        dtab_lines(&dst.local_dtab),
    )
}

/// Java's `URLEncoder.encode(s, "ISO-8859-1")`, which Linkerd 1 used for `l5d-err`: letters,
/// digits and `.-*_` stay, a space becomes `+`, other Latin-1 characters become `%XX`, and
/// characters outside Latin-1 become `%3F` (`?`).
pub fn url_encode_latin1(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '*' | '_' => out.push(c),
            ' ' => out.push('+'),
            c if (c as u32) <= 0xff => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push_str("%3F"),
        }
    }
    out
}

fn truncate(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The response for `err`: `l5d-err` holds the encoded message within `max_header_bytes`
/// (`maxHeadersKB`), the body the message within `max_body_bytes` (`maxErrResponseKB`).
pub fn respond(
    err: &RouteError,
    max_header_bytes: usize,
    max_body_bytes: usize,
) -> Response<Bytes> {
    let message = err.message();
    let encoded = url_encode_latin1(&message);
    let header = truncate(&encoded, max_header_bytes);
    let mut rsp = Response::new(Bytes::copy_from_slice(
        truncate(&message, max_body_bytes).as_bytes(),
    ));
    *rsp.status_mut() = err.status();
    rsp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::try_from(header) {
        rsp.headers_mut().insert(L5D_ERR, v);
    }
    if let RouteError::Unsent(_) | RouteError::Refused(_) = err {
        rsp.headers_mut().insert(
            crate::classify::L5D_RETRYABLE,
            HeaderValue::from_static("true"),
        );
    }
    rsp
}

#[cfg(test)]
mod tests {
    use l5d_core::naming::Path;

    use super::*;

    #[test]
    fn l5d_err_is_encoded_like_javas_url_encoder() {
        assert_eq!(
            url_encode_latin1("Unable to route request!\n"),
            "Unable+to+route+request%21%0A"
        );
        assert_eq!(
            url_encode_latin1("a.b-c*d_e /x=>/y"),
            "a.b-c*d_e+%2Fx%3D%3E%2Fy"
        );
        assert_eq!(url_encode_latin1("é€"), "%E9%3F");
    }

    #[test]
    fn statuses_follow_the_error_kind() {
        let cases = [
            (RouteError::BadRequest("x".into()), 400),
            (RouteError::CallDepth(3), 400),
            (RouteError::NoRoute("x".into()), 502),
            (RouteError::Backend("x".into()), 502),
            (RouteError::Timeout("x".into()), 504),
            (RouteError::Overloaded("x".into()), 503),
            (RouteError::TooLarge("x".into()), 413),
            (RouteError::NoEndpoints("x".into()), 503),
            (RouteError::Unsent("x".into()), 502),
        ];
        for (err, status) in cases {
            let rsp = respond(&err, 8192, 5 << 20);
            assert_eq!(rsp.status().as_u16(), status, "{err:?}");
            assert!(rsp.headers().contains_key(L5D_ERR));
            assert_eq!(rsp.headers()[CONTENT_TYPE], "text/plain;charset=UTF-8");
        }
        assert_eq!(
            RouteError::CallDepth(10).message(),
            "Maximum number of calls (10) has been exceeded. Please check for proxy loops."
        );
    }

    #[test]
    fn long_messages_are_truncated_to_the_limits() {
        let rsp = respond(&RouteError::NoRoute("é".repeat(100)), 10, 11);
        assert_eq!(rsp.headers()[L5D_ERR].len(), 10);
        assert_eq!(rsp.body().len(), 10, "never splits a character");
    }

    #[test]
    fn no_route_message_matches_linkerd_1() {
        let mut dst = Dst::new(
            Path::read("/svc/x").unwrap(),
            Dtab::read("/svc=>/#/io.l5d.fs").unwrap(),
        );
        dst.local_dtab = Dtab::read("/svc/x=>/$/nil").unwrap();
        let msg = no_route_message(&dst, &Dtab::empty(), &["/#/io.l5d.fs/x (neg)".into()]);
        assert_eq!(
            msg,
            "Unable to route request!\n\nservice name: /svc/x\nresolutions considered:\n  /#/io.l5d.fs/x (neg)\ndtab:\n\nbase dtab:\n  /svc => /#/io.l5d.fs\noverride dtab:\n  /svc/x => /$/nil\n"
        );
    }
}
