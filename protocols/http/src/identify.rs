//! HTTP identifiers: how a request becomes a logical name (`dstPrefix` followed by what the
//! identifier reads), and the per-request dtab carried in `l5d-ctx-dtab` and `l5d-dtab`.
//!
//! Each kind follows Linkerd 1's identifier of the same name (`router/http/*Identifier`),
//! including its corner cases: a missing header leaves the request unidentified, HTTP/1.0
//! requests have no host in `io.l5d.methodAndHost`, and the request path appended by
//! `httpUriInDst` is read with Finagle's path syntax, so a path Finagle cannot read leaves
//! the request unidentified too. Identifiers see the request head only.
//!
//! Before any identifier reads it, a proxy request (absolute-form target, `GET
//! http://web:8080/p`, as a client configured with an HTTP proxy sends) becomes an
//! ordinary one, as Linkerd 1's `ProxyRewriteFilter` does and RFC 7230 section 5.4 asks
//! of a proxy: `Host` is replaced by the target's authority and the target by its path and
//! query, so identifiers name it by its authority and the backend gets an origin-form
//! request.

use http::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Method, Uri, Version};
use l5d_core::config::{Configured, IdentifierConfig};
use l5d_core::identifier::{Dst, Identifier, Unidentified};
use l5d_core::naming::{Dtab, Path};
use percent_encoding::percent_decode_str;

use crate::config::{
    HeaderIdentifier, HttpHeaderToken, MethodAndHost as MethodAndHostConfig, PathIdentifier,
    StaticIdentifier,
};

/// The header some clients send to a proxy in place of `Connection`; it is the proxy's.
pub const PROXY_CONNECTION: &str = "proxy-connection";

/// The header a client sets to override routing for one request.
pub const L5D_DTAB: &str = "l5d-dtab";
/// The header that carries the request's dtab from hop to hop.
pub const L5D_CTX_DTAB: &str = "l5d-ctx-dtab";

/// Reads the part of a request's name that follows `dstPrefix`.
pub trait NameReader: Send + Sync {
    /// The name, or why the request has none; may rewrite the request (`consume`).
    fn read(&self, req: &mut Parts) -> Result<Path, Unidentified>;
}

/// `io.l5d.header.token` (the default, on `Host`): the header's value as one path element.
pub struct HeaderToken {
    header: HeaderName,
}

impl HeaderToken {
    /// Reads `header`.
    pub fn new(header: HeaderName) -> HeaderToken {
        HeaderToken { header }
    }
}

fn header_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a [u8], Unidentified> {
    match headers.get(name) {
        None => Err(Unidentified(format!("{name} header is absent"))),
        Some(v) if v.is_empty() => Err(Unidentified(format!("{name} header is empty"))),
        Some(v) => Ok(v.as_bytes()),
    }
}

impl NameReader for HeaderToken {
    fn read(&self, req: &mut Parts) -> Result<Path, Unidentified> {
        let value = header_value(&req.headers, &self.header)?;
        Ok(Path::from_elems([value]))
    }
}

/// `io.l5d.header`: the header's value read as a path (`l5d-name: /users/v2`).
pub struct HeaderPath {
    header: HeaderName,
}

impl HeaderPath {
    /// Reads `header`.
    pub fn new(header: HeaderName) -> HeaderPath {
        HeaderPath { header }
    }
}

impl NameReader for HeaderPath {
    fn read(&self, req: &mut Parts) -> Result<Path, Unidentified> {
        let value = header_value(&req.headers, &self.header)?;
        let text = std::str::from_utf8(value)
            .map_err(|_| Unidentified(format!("{} header is not UTF-8", self.header)))?;
        Path::read(text)
            .map_err(|e| Unidentified(format!("{} header is not a path: {e}", self.header)))
    }
}

/// `io.l5d.methodAndHost`: `/1.1/<METHOD>/<host>` (`/1.0/<METHOD>` for HTTP/1.0), then
/// the request path with `httpUriInDst`.
pub struct MethodAndHost {
    uri_in_dst: bool,
}

impl MethodAndHost {
    /// With `uri_in_dst`, the request path is appended.
    pub fn new(uri_in_dst: bool) -> MethodAndHost {
        MethodAndHost { uri_in_dst }
    }
}

/// The request's host: the `Host` header, or the authority of an absolute-form URI.
fn host(req: &Parts) -> Option<String> {
    let from_header = req
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty());
    from_header
        .map(str::to_string)
        .or_else(|| req.uri.authority().map(|a| a.as_str().to_string()))
}

impl NameReader for MethodAndHost {
    fn read(&self, req: &mut Parts) -> Result<Path, Unidentified> {
        let mut name = match req.version {
            Version::HTTP_10 | Version::HTTP_09 => Path::from_elems(["1.0", req.method.as_str()]),
            _ => {
                let host = host(req)
                    .ok_or_else(|| Unidentified("HTTP/1.1 request missing hostname".into()))?;
                // Host names are case-insensitive; Linkerd 1 names them in lower case.
                Path::from_elems(["1.1", req.method.as_str(), &host.to_ascii_lowercase()])
            }
        };
        if self.uri_in_dst {
            let path = percent_decode_str(req.uri.path()).decode_utf8_lossy();
            let suffix = Path::read(&path)
                .map_err(|e| Unidentified(format!("request path is not a name: {e}")))?;
            name = name.concat(&suffix);
        }
        Ok(name)
    }
}

/// `io.l5d.path`: the first `segments` segments of the request path; with `consume`, they
/// are removed from the request forwarded.
pub struct PathSegments {
    segments: usize,
    consume: bool,
}

impl PathSegments {
    /// Takes `segments` segments (at least one), removing them when `consume` is set.
    pub fn new(segments: usize, consume: bool) -> PathSegments {
        PathSegments {
            segments: segments.max(1),
            consume,
        }
    }
}

impl NameReader for PathSegments {
    fn read(&self, req: &mut Parts) -> Result<Path, Unidentified> {
        let path = req.uri.path().to_string();
        // As Java's split does, trailing empty segments do not count.
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        if segs.len() < self.segments {
            return Err(Unidentified("not enough segments in path".into()));
        }
        let taken: Vec<String> = segs[..self.segments]
            .iter()
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let name = Path::try_from_elems(&taken)
            .ok_or_else(|| Unidentified("empty segment in path".into()))?;
        if self.consume {
            let rest = &segs[self.segments..];
            let mut new_path = if rest.is_empty() {
                "/".to_string()
            } else {
                format!("/{}", rest.join("/"))
            };
            if !rest.is_empty() && path.ends_with('/') {
                new_path.push('/');
            }
            // Unlike Linkerd 1, which could drop it, the query string is kept.
            let new_uri = match req.uri.query() {
                Some(q) => format!("{new_path}?{q}"),
                None => new_path,
            };
            let mut parts = req.uri.clone().into_parts();
            parts.path_and_query = Some(
                new_uri
                    .parse()
                    .map_err(|e| Unidentified(format!("rewriting the path: {e}")))?,
            );
            req.uri = Uri::from_parts(parts)
                .map_err(|e| Unidentified(format!("rewriting the path: {e}")))?;
        }
        Ok(name)
    }
}

/// `io.l5d.static`: the same name for every request.
pub struct StaticName {
    path: Path,
}

impl StaticName {
    /// Always `path`.
    pub fn new(path: Path) -> StaticName {
        StaticName { path }
    }
}

impl NameReader for StaticName {
    fn read(&self, _: &mut Parts) -> Result<Path, Unidentified> {
        Ok(self.path.clone())
    }
}

/// Builds the reader a router's `identifier` config names.
pub fn build(cfg: &Configured<dyn IdentifierConfig>) -> Result<Box<dyn NameReader>, String> {
    let c = &cfg.config;
    let header = |name: &str| {
        HeaderName::try_from(name).map_err(|e| format!("invalid header name {name:?}: {e}"))
    };
    if let Some(h) = c.downcast_ref::<HttpHeaderToken>() {
        return Ok(Box::new(HeaderToken::new(header(&h.header)?)));
    }
    if let Some(m) = c.downcast_ref::<MethodAndHostConfig>() {
        return Ok(Box::new(MethodAndHost::new(m.http_uri_in_dst)));
    }
    if let Some(p) = c.downcast_ref::<PathIdentifier>() {
        return Ok(Box::new(PathSegments::new(p.segments as usize, p.consume)));
    }
    if let Some(s) = c.downcast_ref::<StaticIdentifier>() {
        return Ok(Box::new(StaticName::new(s.path.clone())));
    }
    if let Some(h) = c.downcast_ref::<HeaderIdentifier>() {
        return Ok(Box::new(HeaderPath::new(header(&h.header)?)));
    }
    Err(format!(
        "identifier {} is not implemented in this build",
        cfg.kind
    ))
}

/// A request's own dtab: every `l5d-ctx-dtab` value, then every `l5d-dtab` value, each
/// parsed on its own and appended in order, so the client's `l5d-dtab` wins.
pub fn local_dtab(headers: &HeaderMap) -> Result<Dtab, String> {
    let mut dtab = Dtab::empty();
    for name in [L5D_CTX_DTAB, L5D_DTAB] {
        for value in headers.get_all(name) {
            let text = value
                .to_str()
                .map_err(|_| format!("{name} header is not text"))?;
            let d = Dtab::read(text).map_err(|e| format!("Invalid {name} header: {e}"))?;
            dtab = dtab.concat(&d);
        }
    }
    Ok(dtab)
}

/// Prepares a request's dtab headers for the next hop: `l5d-dtab` is the client's and
/// stops here; the whole local dtab travels on in `l5d-ctx-dtab`.
pub fn forward_dtab(headers: &mut HeaderMap, local: &Dtab) -> Result<(), String> {
    headers.remove(L5D_DTAB);
    headers.remove(L5D_CTX_DTAB);
    if !local.is_empty() {
        let value =
            HeaderValue::try_from(local.show()).map_err(|e| format!("l5d-ctx-dtab: {e}"))?;
        headers.insert(L5D_CTX_DTAB, value);
    }
    Ok(())
}

/// Turns a proxy request (absolute-form target) into an origin-form one: RFC 7230 section
/// 5.4 has a proxy ignore the `Host` a client sent and use the target's host and port;
/// userinfo is no part of it. `Proxy-Connection` is dropped, as Linkerd 1 drops it.
/// `CONNECT` (authority-form) is left alone: tunnels are not supported.
pub fn rewrite_absolute_form(req: &mut Parts) -> Result<(), Unidentified> {
    if req.method == Method::CONNECT {
        return Ok(());
    }
    let Some(authority) = req.uri.authority() else {
        return Ok(());
    };
    let host = match authority.port() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_string(),
    };
    let host = HeaderValue::try_from(host)
        .map_err(|e| Unidentified(format!("request target's authority: {e}")))?;
    let target = req
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    req.headers.insert(HOST, host);
    req.headers.remove(PROXY_CONNECTION);
    req.uri = Uri::from(target);
    Ok(())
}

/// Linkerd 1's HTTP identification: the request's local dtab, then each configured reader
/// in order until one names the request; a proxy request is first made an origin-form one
/// ([`rewrite_absolute_form`]).
pub struct HttpIdentifier {
    dst_prefix: Path,
    base_dtab: Dtab,
    readers: Vec<Box<dyn NameReader>>,
}

impl HttpIdentifier {
    /// Identifies with `readers` in order, naming requests under `dst_prefix` and binding
    /// them with `base_dtab` followed by their own.
    pub fn new(
        dst_prefix: Path,
        base_dtab: Dtab,
        readers: Vec<Box<dyn NameReader>>,
    ) -> HttpIdentifier {
        HttpIdentifier {
            dst_prefix,
            base_dtab,
            readers,
        }
    }
}

impl Identifier<Parts> for HttpIdentifier {
    fn identify(&self, req: &mut Parts) -> Result<Dst, Unidentified> {
        let local_dtab = local_dtab(&req.headers).map_err(Unidentified)?;
        rewrite_absolute_form(req)?;
        let mut reasons = Vec::new();
        for reader in &self.readers {
            match reader.read(req) {
                Ok(name) => {
                    return Ok(Dst {
                        path: self.dst_prefix.concat(&name),
                        base_dtab: self.base_dtab.clone(),
                        local_dtab,
                    })
                }
                Err(Unidentified(why)) => reasons.push(why),
            }
        }
        Err(Unidentified(reasons.join("; ")))
    }
}

#[cfg(test)]
mod tests;
