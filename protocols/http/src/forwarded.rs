//! What a server does to the headers of every request when configured to, as Linkerd 1
//! does: remove the `l5d-*` context (`clearContext`), add RFC 7239's `Forwarded`
//! (`addForwardedHeader`) and a timestamp (`timestampHeader`).
//!
//! `Forwarded: by=<label>;for=<label>[;host=<Host>][;proto=<scheme>]`: `by` names linkerd's
//! side of the connection and `for` the client's, each by its labeler: the address
//! (`ip`, `ip:port`), an obfuscated random identifier made per connection or per request
//! (`_` and six letters or digits, like `_6Oq8jJ`), the router's label, or a fixed one.
//! `host` is the request's `Host` and `proto` the scheme of an absolute request URI.

use std::fmt::Write;
use std::net::SocketAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, FORWARDED, HOST};
use http::Uri;
use l5d_core::balance::Rng;

use crate::config::{AddForwardedHeader, Labeler};

/// What a server adds to every request it receives.
#[derive(Debug, Clone, Default)]
pub struct Additions {
    /// `addForwardedHeader`.
    pub forwarded: Option<AddForwardedHeader>,
    /// `timestampHeader`.
    pub timestamp: Option<HeaderName>,
    /// The router's label (for the `router` labeler).
    pub router: String,
    /// `clearContext`: remove every `l5d-*` header a request arrives with (a server facing
    /// clients that must not steer routing or forge context).
    pub clear_context: bool,
}

/// An RFC 7239 obfuscated identifier: `_` and six random letters or digits.
fn obfuscated(rng: &Rng) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut s = String::with_capacity(7);
    s.push('_');
    for _ in 0..6 {
        s.push(char::from(CHARS[rng.below(CHARS.len())]));
    }
    s
}

/// A node name: a token as is, anything else (`:` of a port, IPv6) quoted.
fn node(addr: SocketAddr, with_port: bool) -> String {
    match (addr, with_port) {
        (SocketAddr::V4(a), false) => a.ip().to_string(),
        (SocketAddr::V4(a), true) => format!("\"{a}\""),
        (SocketAddr::V6(a), false) => format!("\"[{}]\"", a.ip()),
        (SocketAddr::V6(a), true) => format!("\"{a}\""),
    }
}

/// A value as RFC 7239 allows it: a token, or a quoted string.
fn value(v: &str) -> String {
    let token = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The labels of one connection: fixed ones are made once, random-per-request ones on
/// each request.
pub struct ConnectionLabels {
    by: Option<String>,
    for_: Option<String>,
}

impl Additions {
    /// The labels for a connection from `peer` accepted on `local`.
    pub fn connection(&self, local: SocketAddr, peer: SocketAddr, rng: &Rng) -> ConnectionLabels {
        let label = |l: &Labeler, addr: SocketAddr| match l {
            Labeler::Ip => Some(node(addr, false)),
            Labeler::IpPort => Some(node(addr, true)),
            Labeler::ConnectionRandom => Some(obfuscated(rng)),
            Labeler::RequestRandom => None,
            Labeler::Router => Some(value(&self.router)),
            Labeler::Static(s) => Some(s.clone()),
        };
        match &self.forwarded {
            Some(f) => ConnectionLabels {
                by: label(&f.by, local),
                for_: label(&f.for_, peer),
            },
            None => ConnectionLabels {
                by: None,
                for_: None,
            },
        }
    }

    /// Adds the configured headers to a request received on a connection labelled `conn`.
    pub fn apply(&self, headers: &mut HeaderMap, uri: &Uri, conn: &ConnectionLabels, rng: &Rng) {
        if self.clear_context {
            let l5d: Vec<HeaderName> = headers
                .keys()
                .filter(|k| k.as_str().starts_with("l5d-"))
                .cloned()
                .collect();
            for k in l5d {
                headers.remove(k);
            }
        }
        if self.forwarded.is_some() {
            let by = conn.by.clone().unwrap_or_else(|| obfuscated(rng));
            let for_ = conn.for_.clone().unwrap_or_else(|| obfuscated(rng));
            let mut v = format!("by={by};for={for_}");
            if let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) {
                let _ = write!(v, ";host={}", value(host));
            }
            if let Some(scheme) = uri.scheme_str() {
                let _ = write!(v, ";proto={}", value(scheme));
            }
            if let Ok(v) = HeaderValue::try_from(v) {
                headers.append(FORWARDED, v);
            }
        }
        if let Some(name) = &self.timestamp {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            if let Ok(v) = HeaderValue::try_from(ms.to_string()) {
                headers.insert(name.clone(), v);
            }
        }
    }

    /// Whether there is anything to add.
    pub fn is_empty(&self) -> bool {
        self.forwarded.is_none() && self.timestamp.is_none() && !self.clear_context
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn additions(by: Labeler, for_: Labeler) -> Additions {
        Additions {
            forwarded: Some(AddForwardedHeader { by, for_ }),
            timestamp: None,
            router: "out".into(),
            clear_context: false,
        }
    }

    fn forwarded(a: &Additions, uri: &str, host: Option<&str>) -> String {
        let rng = Rng::seeded(5);
        let local: SocketAddr = "127.0.0.1:4140".parse().unwrap();
        let peer: SocketAddr = "[::1]:5555".parse().unwrap();
        let conn = a.connection(local, peer, &rng);
        let mut h = HeaderMap::new();
        if let Some(host) = host {
            h.insert(HOST, HeaderValue::from_str(host).unwrap());
        }
        a.apply(&mut h, &uri.parse().unwrap(), &conn, &rng);
        h.get(FORWARDED).unwrap().to_str().unwrap().to_string()
    }

    #[test]
    fn addresses_are_quoted_where_rfc_7239_requires() {
        let a = additions(Labeler::IpPort, Labeler::Ip);
        assert_eq!(
            forwarded(&a, "/x", Some("web:8080")),
            "by=\"127.0.0.1:4140\";for=\"[::1]\";host=\"web:8080\""
        );
        let a = additions(Labeler::Ip, Labeler::IpPort);
        assert_eq!(
            forwarded(&a, "http://web/x", Some("web")),
            "by=127.0.0.1;for=\"[::1]:5555\";host=web;proto=http"
        );
    }

    #[test]
    fn random_labels_are_obfuscated_identifiers() {
        let a = additions(Labeler::RequestRandom, Labeler::ConnectionRandom);
        let v = forwarded(&a, "/", None);
        let (by, for_) = v.split_once(';').unwrap();
        for label in [
            by.strip_prefix("by=").unwrap(),
            for_.strip_prefix("for=").unwrap(),
        ] {
            assert_eq!(label.len(), 7, "{v}");
            assert!(label.starts_with('_'), "{v}");
            assert!(label[1..].bytes().all(|b| b.is_ascii_alphanumeric()), "{v}");
        }
        let a = additions(Labeler::Router, Labeler::Static("_edge".into()));
        assert_eq!(forwarded(&a, "/", None), "by=out;for=_edge");
    }

    #[test]
    fn clear_context_removes_every_l5d_header() {
        let a = Additions {
            clear_context: true,
            ..Additions::default()
        };
        let rng = Rng::seeded(1);
        let any: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let conn = a.connection(any, any, &rng);
        let mut h = HeaderMap::new();
        for k in ["l5d-dtab", "l5d-ctx-trace", "l5d-ctx-foo", "x-kept"] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static("1"));
        }
        a.apply(&mut h, &"/".parse().unwrap(), &conn, &rng);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-kept"]);
    }

    #[test]
    fn a_timestamp_header_carries_milliseconds() {
        let a = Additions {
            timestamp: Some(HeaderName::from_static("x-request-start")),
            ..Additions::default()
        };
        let rng = Rng::seeded(1);
        let any: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let conn = a.connection(any, any, &rng);
        let mut h = HeaderMap::new();
        a.apply(&mut h, &"/".parse().unwrap(), &conn, &rng);
        let ms: u128 = h["x-request-start"].to_str().unwrap().parse().unwrap();
        assert!(ms > 1_600_000_000_000, "{ms}");
        assert!(h.get(FORWARDED).is_none());
    }
}
