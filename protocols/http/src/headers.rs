//! What linkerd does to the headers of every request and response it forwards, as
//! Linkerd 1 does: hop-by-hop headers are removed, `Via` grows by one hop, and requests
//! carry the routing decision in `l5d-dst-*`.

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, VIA};
use http::Version;
use l5d_core::naming::Path;

/// The logical name a request was routed by.
pub const L5D_DST_SERVICE: HeaderName = HeaderName::from_static("l5d-dst-service");
/// The bound client (id) a request was sent to.
pub const L5D_DST_CLIENT: HeaderName = HeaderName::from_static("l5d-dst-client");
/// The part of the name the namer did not consume, when there is one.
pub const L5D_DST_RESIDUAL: HeaderName = HeaderName::from_static("l5d-dst-residual");

/// The headers that describe one connection, not the message (Linkerd 1's list).
const HOP_BY_HOP: [&str; 6] = [
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes the hop-by-hop headers and every header that `Connection` lists.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let (keep_alive, listed) = connection_listed(headers);
    if keep_alive {
        headers.remove("keep-alive");
    }
    for h in listed.into_iter().flatten() {
        headers.remove(h);
    }
    headers.remove(CONNECTION);
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
}

/// Whether `Connection` lists `keep-alive`, and the other headers it names; the common
/// values (`keep-alive`, `close`) cost no allocation.
fn connection_listed(headers: &HeaderMap) -> (bool, Option<Vec<HeaderName>>) {
    let mut keep_alive = false;
    let mut listed = None;
    for value in headers.get_all(CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim) {
            if token.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            } else if token.is_empty() || token.eq_ignore_ascii_case("close") {
                continue;
            } else if let Ok(name) = HeaderName::try_from(token) {
                listed.get_or_insert_with(Vec::new).push(name);
            }
        }
    }
    (keep_alive, listed)
}

/// This hop's `Via` entry: `1.1 linkerd`, `1.0 linkerd`.
fn via_entry(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 | Version::HTTP_10 => "1.0 linkerd",
        Version::HTTP_2 => "2.0 linkerd",
        _ => "1.1 linkerd",
    }
}

/// Appends this hop to `Via` (one header, the earlier hops first).
pub fn append_via(headers: &mut HeaderMap, version: Version) {
    let entry = via_entry(version);
    let mut earlier = headers.get_all(VIA).iter().filter_map(|v| v.to_str().ok());
    let Some(first) = earlier.next() else {
        // The common case, a first hop, costs no allocation.
        headers.insert(VIA, HeaderValue::from_static(entry));
        return;
    };
    let mut joined = String::with_capacity(first.len() + entry.len() + 16);
    joined.push_str(first);
    for hop in earlier {
        joined.push_str(", ");
        joined.push_str(hop);
    }
    joined.push_str(", ");
    joined.push_str(entry);
    if let Ok(v) = HeaderValue::try_from(joined) {
        headers.insert(VIA, v);
    }
}

/// How many proxies a request has passed through, counting `Via` entries (the loop guard
/// behind `maxCallDepth`).
pub fn call_depth(headers: &HeaderMap) -> usize {
    headers
        .get_all(VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|hop| !hop.trim().is_empty())
        .count()
}

/// Records the routing decision on a request for the next hop and the service.
pub fn set_dst(headers: &mut HeaderMap, service: &Path, client: &Path, residual: &Path) {
    for (name, path) in [(L5D_DST_SERVICE, service), (L5D_DST_CLIENT, client)] {
        if let Ok(v) = HeaderValue::try_from(path.show()) {
            headers.insert(name, v);
        }
    }
    headers.remove(L5D_DST_RESIDUAL);
    if !residual.is_empty() {
        if let Ok(v) = HeaderValue::try_from(residual.show()) {
            headers.insert(L5D_DST_RESIDUAL, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::try_from(*k).unwrap(),
                HeaderValue::try_from(*v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("te", "trailers"),
            ("proxy-authorization", "x"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-kept"]);
    }

    #[test]
    fn via_grows_by_one_hop_and_counts_depth() {
        let mut h = HeaderMap::new();
        append_via(&mut h, Version::HTTP_11);
        assert_eq!(h.get(VIA).unwrap(), "1.1 linkerd");
        append_via(&mut h, Version::HTTP_10);
        assert_eq!(h.get(VIA).unwrap(), "1.1 linkerd, 1.0 linkerd");
        h.append(VIA, HeaderValue::from_static("1.1 other, 1.1 third"));
        assert_eq!(call_depth(&h), 4);
        append_via(&mut h, Version::HTTP_11);
        assert_eq!(h.get_all(VIA).iter().count(), 1, "merged into one header");
        assert_eq!(call_depth(&h), 5);
        assert_eq!(call_depth(&HeaderMap::new()), 0);
    }

    #[test]
    fn dst_headers_name_service_client_and_residual() {
        let p = |s| Path::read(s).unwrap();
        let mut h = headers(&[("l5d-dst-residual", "/stale")]);
        set_dst(
            &mut h,
            &p("/svc/users"),
            &p("/#/io.l5d.fs/users"),
            &Path::empty(),
        );
        assert_eq!(h.get(L5D_DST_SERVICE).unwrap(), "/svc/users");
        assert_eq!(h.get(L5D_DST_CLIENT).unwrap(), "/#/io.l5d.fs/users");
        assert!(
            h.get(L5D_DST_RESIDUAL).is_none(),
            "an empty residual is not sent"
        );
        set_dst(
            &mut h,
            &p("/svc/users"),
            &p("/$/inet/127.0.0.1/80"),
            &p("/v1"),
        );
        assert_eq!(h.get(L5D_DST_RESIDUAL).unwrap(), "/v1");
    }
}
