//! HTTP identifiers end to end: the real linkerd binary names each request with the
//! router's `identifier` (one kind, or a list tried in order) under `dstPrefix`, and the
//! dtab sends distinct names to distinct backends (Python's HTTP server, which echoes what
//! it received). Each test proves both where a request went and what the backend saw.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use l5d_integration::{http_get, Linkerd, PythonBackend};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// Starts linkerd from the whole config `yaml` and waits for its one router to serve.
fn start(yaml: &str) -> Linkerd {
    Linkerd::start(Path::new(BIN), yaml, "http")
}

/// Starts linkerd with one http router (server on an ephemeral port) whose keys are
/// `router_extra` (YAML, indented two spaces).
fn linkerd(router_extra: &str) -> Linkerd {
    start(&format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  servers:\n  - port: 0\n{router_extra}"
    ))
}

fn inet(b: &PythonBackend) -> String {
    format!("/$/inet/127.0.0.1/{}", b.addr.port())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// One request through linkerd that must succeed; returns what the backend echoed.
fn seen(l: &Linkerd, path: &str, headers: &[(&str, &str)]) -> Value {
    let (status, _, body) = http_get(l.addr, path, headers);
    assert_eq!(status, 200, "{path} {headers:?}: {body}");
    json(&body)
}

/// Asserts the echo came from `backend` and was routed by `service`.
fn assert_routed(seen: &Value, backend: &str, service: &str) {
    assert_eq!(seen["backend"], backend, "{seen}");
    assert_eq!(seen["headers"]["l5d-dst-service"], service, "{seen}");
}

/// Sends `head` (a whole request head, CRLFs included) on a fresh connection and returns
/// the whole answer; for requests `http_get` cannot make (HTTP/1.0).
fn raw(addr: SocketAddr, head: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

/// The JSON body of a raw answer, which must be a 200 (in the client's version).
fn raw_seen(answer: &str) -> Value {
    assert_eq!(answer.get(8..13), Some(" 200 "), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    json(body)
}

#[test]
fn header_token_names_requests_by_one_header_value() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let dtab = format!(
        "  dtab: /svc/web => {}; /svc/api => {};\n",
        inet(&a),
        inet(&b)
    );
    // The default: Host.
    let l = linkerd(&dtab);
    assert_routed(&seen(&l, "/x", &[("Host", "web")]), "a", "/svc/web");
    assert_routed(&seen(&l, "/x", &[("Host", "api")]), "b", "/svc/api");
    // Another header; Host no longer matters.
    let l = linkerd(&format!(
        "{dtab}  identifier:\n    kind: io.l5d.header.token\n    header: x-service\n"
    ));
    let s = seen(&l, "/x", &[("Host", "web"), ("x-service", "api")]);
    assert_routed(&s, "b", "/svc/api");
    assert_eq!(s["headers"]["host"], "web", "Host is forwarded untouched");
    assert_eq!(s["path"], "/x");
}

#[test]
fn header_identifier_reads_a_path_from_l5d_name() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd(&format!(
        "  dtab: /svc/users => {}; /svc/users/v2 => {};\n  identifier:\n    kind: io.l5d.header\n",
        inet(&a),
        inet(&b)
    ));
    let s = seen(&l, "/u/1", &[("Host", "web"), ("l5d-name", "/users/v1")]);
    assert_routed(&s, "a", "/svc/users/v1");
    assert_eq!(s["path"], "/u/1");
    let s = seen(&l, "/u/1", &[("Host", "web"), ("l5d-name", "/users/v2")]);
    assert_routed(&s, "b", "/svc/users/v2");
}

#[test]
fn method_and_host_names_version_method_and_lowercased_host() {
    let (a, b, c) = (
        PythonBackend::start("a"),
        PythonBackend::start("b"),
        PythonBackend::start("c"),
    );
    let l = linkerd(&format!(
        "  dtab: /svc/1.1/GET => {}; /svc/1.1/POST => {}; /svc/1.0/GET => {};\n  identifier:\n    kind: io.l5d.methodAndHost\n",
        inet(&a),
        inet(&b),
        inet(&c)
    ));
    let s = seen(&l, "/users/42", &[("Host", "Web")]);
    assert_routed(&s, "a", "/svc/1.1/GET/web");
    assert_eq!(s["path"], "/users/42");
    let answer = raw(
        l.addr,
        "POST /users HTTP/1.1\r\nHost: web\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    let s = raw_seen(&answer);
    assert_routed(&s, "b", "/svc/1.1/POST/web");
    assert_eq!(s["body_len"], 2);
    // HTTP/1.0 names no host, even when the request has one.
    let s = raw_seen(&raw(l.addr, "GET /users/42 HTTP/1.0\r\nHost: web\r\n\r\n"));
    assert_routed(&s, "c", "/svc/1.0/GET");
    assert_eq!(s["path"], "/users/42");
    let s = raw_seen(&raw(l.addr, "GET /users/42 HTTP/1.0\r\n\r\n"));
    assert_routed(&s, "c", "/svc/1.0/GET");
}

#[test]
fn method_and_host_with_http_uri_in_dst_appends_the_request_path() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd(&format!(
        "  dtab: /svc/1.1/GET/web => {}; /svc/1.1/GET/web/users => {}; /svc/1.0/GET/users => {};\n  identifier:\n    kind: io.l5d.methodAndHost\n    httpUriInDst: true\n",
        inet(&a),
        inet(&b),
        inet(&a)
    ));
    let s = seen(&l, "/users/42?x=1", &[("Host", "web")]);
    assert_routed(&s, "b", "/svc/1.1/GET/web/users/42");
    assert_eq!(s["path"], "/users/42?x=1", "the path is forwarded whole");
    assert_eq!(s["headers"]["l5d-dst-residual"], "/42");
    let s = seen(&l, "/index.html", &[("Host", "web")]);
    assert_routed(&s, "a", "/svc/1.1/GET/web/index.html");
    let s = raw_seen(&raw(l.addr, "GET /users/42 HTTP/1.0\r\n\r\n"));
    assert_routed(&s, "a", "/svc/1.0/GET/users/42");
}

#[test]
fn path_identifier_names_by_leading_segments_and_consume_removes_them() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let dtab = format!(
        "  dtab: /svc/api => {}; /svc/api/v2 => {};\n",
        inet(&a),
        inet(&b)
    );
    let l = linkerd(&format!(
        "{dtab}  identifier:\n    kind: io.l5d.path\n    segments: 2\n    consume: true\n"
    ));
    let s = seen(&l, "/api/v2/users/42?x=1", &[("Host", "web")]);
    assert_routed(&s, "b", "/svc/api/v2");
    assert_eq!(s["path"], "/users/42?x=1", "the two segments are consumed");
    let s = seen(&l, "/api/v1/", &[("Host", "web")]);
    assert_routed(&s, "a", "/svc/api/v1");
    assert_eq!(s["path"], "/", "nothing is left but the root");
    // Without consume the backend sees the whole path (one segment, the default).
    let l = linkerd(&format!("{dtab}  identifier:\n    kind: io.l5d.path\n"));
    let s = seen(&l, "/api/v2/users", &[("Host", "web")]);
    assert_routed(&s, "a", "/svc/api");
    assert_eq!(s["path"], "/api/v2/users");
}

#[test]
fn static_identifier_names_every_request_the_same() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd(&format!(
        "  dtab: /svc/web => {}; /svc/fixed/name => {};\n  identifier:\n    kind: io.l5d.static\n    path: /fixed/name\n",
        inet(&a),
        inet(&b)
    ));
    assert_routed(&seen(&l, "/", &[("Host", "web")]), "b", "/svc/fixed/name");
    assert_routed(&seen(&l, "/other", &[]), "b", "/svc/fixed/name");
    let s = raw_seen(&raw(l.addr, "GET /x HTTP/1.0\r\n\r\n"));
    assert_routed(&s, "b", "/svc/fixed/name");
}

#[test]
fn dst_prefix_replaces_svc_in_every_name() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd(&format!(
        "  dstPrefix: /http/ext\n  dtab: /svc/web => {}; /http/ext/web => {};\n",
        inet(&a),
        inet(&b)
    ));
    assert_routed(&seen(&l, "/", &[("Host", "web")]), "b", "/http/ext/web");
    let (status, head, _) = http_get(l.addr, "/", &[("Host", "nope")]);
    assert_eq!(
        status, 502,
        "/http/ext/nope is not routed by /svc: {head:?}"
    );
    // The prefix applies to every kind, methodAndHost too.
    let l = linkerd(&format!(
        "  dstPrefix: /http\n  dtab: /http/1.1/GET/web => {};\n  identifier:\n    kind: io.l5d.methodAndHost\n",
        inet(&a)
    ));
    assert_routed(&seen(&l, "/", &[("Host", "web")]), "a", "/http/1.1/GET/web");
}

#[test]
fn a_list_of_identifiers_uses_the_first_that_names_the_request() {
    let (a, b, c) = (
        PythonBackend::start("a"),
        PythonBackend::start("b"),
        PythonBackend::start("c"),
    );
    let l = linkerd(&format!(
        "  dtab: /svc/web => {}; /svc/users => {}; /svc/api/v1 => {};\n  identifier:\n  - kind: io.l5d.header\n  - kind: io.l5d.path\n    segments: 2\n    consume: true\n  - kind: io.l5d.header.token\n",
        inet(&a),
        inet(&b),
        inet(&c)
    ));
    // All three could name it: the first wins, and the second does not consume.
    let s = seen(&l, "/api/v1/x", &[("Host", "web"), ("l5d-name", "/users")]);
    assert_routed(&s, "b", "/svc/users");
    assert_eq!(s["path"], "/api/v1/x");
    // No l5d-name: the path names it, and consumes.
    let s = seen(&l, "/api/v1/x", &[("Host", "web")]);
    assert_routed(&s, "c", "/svc/api/v1");
    assert_eq!(s["path"], "/x");
    // One segment only: Host names it, with the path untouched.
    let s = seen(&l, "/x", &[("Host", "web")]);
    assert_routed(&s, "a", "/svc/web");
    assert_eq!(s["path"], "/x");
}

#[test]
fn a_request_no_identifier_names_is_a_400_with_l5d_err_and_serving_goes_on() {
    let a = PythonBackend::start("a");
    let l = linkerd(&format!(
        "  dtab: /svc/api/v1 => {}; /svc/web => {};\n  identifier:\n  - kind: io.l5d.path\n    segments: 2\n  - kind: io.l5d.header\n",
        inet(&a),
        inet(&a)
    ));
    for _ in 0..3 {
        let (status, head, body) = http_get(l.addr, "/x", &[("Host", "web")]);
        assert_eq!(status, 400, "{body}");
        let err = head
            .iter()
            .find(|(k, _)| k == "l5d-err")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no l5d-err in {head:?}"));
        assert!(!err.is_empty());
        assert!(
            body.contains("segments"),
            "every identifier's reason: {body}"
        );
        assert!(
            body.contains("l5d-name"),
            "every identifier's reason: {body}"
        );
        // Serving goes on after a 400.
        assert_routed(&seen(&l, "/api/v1/x", &[]), "a", "/svc/api/v1");
        assert_routed(&seen(&l, "/x", &[("l5d-name", "/web")]), "a", "/svc/web");
    }
}

/// curl with `proxy` as its HTTP proxy, so that it sends `url` in absolute form; returns
/// (status, body).
fn curl_via_proxy(proxy: SocketAddr, url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}", "-x"])
        .arg(format!("http://{proxy}"))
        .arg(url)
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("no status: {text} {}", String::from_utf8_lossy(&out.stderr)));
    (code.parse().unwrap(), body.to_string())
}

#[test]
fn as_an_http_proxy_absolute_form_requests_are_named_by_their_authority() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let (pa, pb) = (a.addr.port(), b.addr.port());
    // The proxy.yaml dtab, with the names `web` and `api` standing in for DNS.
    let l = linkerd(&format!(
        "  dtab: |\n    /ph => /$/io.buoyant.rinet ;\n    /svc => /ph/80 ;\n    /svc => /$/io.buoyant.porthostPfx/ph ;\n    /ph/{pa}/web => {} ;\n    /ph/{pb}/api => {} ;\n",
        inet(&a),
        inet(&b)
    ));
    let (status, body) = curl_via_proxy(l.addr, &format!("http://web:{pa}/users/42?x=1"));
    assert_eq!(status, 200, "{body}");
    let s = json(&body);
    assert_routed(&s, "a", &format!("/svc/web:{pa}"));
    assert_eq!(s["path"], "/users/42?x=1", "forwarded in origin form");
    assert_eq!(s["headers"]["host"], format!("web:{pa}"));
    assert!(
        s["headers"].get("proxy-connection").is_none(),
        "curl's Proxy-Connection is for the proxy: {s}"
    );
    let (status, body) = curl_via_proxy(l.addr, &format!("http://api:{pb}/"));
    assert_eq!(status, 200, "{body}");
    assert_routed(&json(&body), "b", &format!("/svc/api:{pb}"));
    // RFC 7230 section 5.4: the request target's authority wins over a Host header.
    let answer = raw(
        l.addr,
        &format!("GET http://web:{pa}/p HTTP/1.1\r\nHost: api:{pb}\r\nConnection: close\r\n\r\n"),
    );
    let s = raw_seen(&answer);
    assert_routed(&s, "a", &format!("/svc/web:{pa}"));
    assert_eq!(s["path"], "/p");
    assert_eq!(s["headers"]["host"], format!("web:{pa}"));
}

#[test]
fn the_proxy_example_forwards_to_the_host_and_port_of_the_url() {
    let a = PythonBackend::start("a");
    let pa = a.addr.port();
    let example = format!("{}/../examples/proxy.yaml", env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(example).unwrap();
    assert!(yaml.contains("  - port: 4140\n"), "{yaml}");
    // The example as it is, on ephemeral ports; an IP literal needs no DNS.
    let l = start(&format!(
        "admin:\n  port: 0\n{}",
        yaml.replace("  - port: 4140\n", "  - port: 0\n    ip: 127.0.0.1\n")
    ));
    let (status, body) = curl_via_proxy(l.addr, &format!("http://127.0.0.1:{pa}/hello"));
    assert_eq!(status, 200, "{body}");
    let s = json(&body);
    assert_routed(&s, "a", &format!("/svc/127.0.0.1:{pa}"));
    assert_eq!(s["path"], "/hello");
    assert_eq!(
        s["headers"]["l5d-dst-client"],
        format!("/$/io.buoyant.rinet/{pa}/127.0.0.1")
    );
}
