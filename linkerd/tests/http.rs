//! The HTTP router end to end: the real linkerd binary between real clients (curl, a raw
//! socket) and real backends (Python's HTTP server).

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use l5d_integration::{eventually, http_get, temp_dir, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// Starts linkerd with one http router (label `http`, server on an ephemeral port) with
/// `router_extra` added to the router's keys (YAML, indented two spaces), and `top` added at
/// the top level.
fn linkerd(top: &str, router_extra: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\n{top}routers:\n- protocol: http\n  servers:\n  - port: 0\n{router_extra}"
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

fn inet(b: &PythonBackend) -> String {
    format!("/$/inet/127.0.0.1/{}", b.addr.port())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// curl through linkerd; returns (status, response headers as text, body).
fn curl(l: &Linkerd, path: &str, headers: &[&str]) -> (u16, String, String) {
    curl_with(l, path, headers, &[])
}

/// curl through linkerd with `extra` arguments (a later `--max-time` wins).
fn curl_with(l: &Linkerd, path: &str, headers: &[&str], extra: &[&str]) -> (u16, String, String) {
    let dir = temp_dir("curl");
    let head = dir.join("head");
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-D",
        head.to_str().unwrap(),
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .args(extra)
        .arg(format!("http://{}{path}", l.addr))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').expect("a status");
    let head = std::fs::read_to_string(head).unwrap_or_default();
    (
        code.parse().unwrap(),
        head.to_ascii_lowercase(),
        body.to_string(),
    )
}

#[test]
fn requests_are_routed_by_host_and_the_backend_sees_the_routing() {
    let a = PythonBackend::start("a");
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    let (status, head, body) = curl(&l, "/users/42?x=1", &["Host: web"]);
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("via: 1.1 linkerd"), "{head}");
    let seen = json(&body);
    assert_eq!(seen["backend"], "a");
    assert_eq!(seen["path"], "/users/42?x=1");
    assert_eq!(seen["headers"]["l5d-dst-service"], "/svc/web");
    assert_eq!(seen["headers"]["l5d-dst-client"], inet(&a));
    assert_eq!(seen["headers"]["via"], "1.1 linkerd");
    assert_eq!(seen["headers"]["host"], "web");
    assert!(seen["headers"].get("l5d-dst-residual").is_none());
}

#[test]
fn l5d_dtab_overrides_one_request_only_and_travels_as_ctx() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    let override_dtab = format!("/svc/web => {}", inet(&b));
    let (_, _, body) = curl(
        &l,
        "/",
        &["Host: web", &format!("l5d-dtab: {override_dtab}")],
    );
    let seen = json(&body);
    assert_eq!(seen["backend"], "b");
    assert!(
        seen["headers"].get("l5d-dtab").is_none(),
        "the client's header stops here"
    );
    assert_eq!(
        seen["headers"]["l5d-ctx-dtab"],
        format!("/svc/web=>{}", inet(&b))
    );
    let (_, _, body) = curl(&l, "/", &["Host: web"]);
    assert_eq!(
        json(&body)["backend"],
        "a",
        "the next request uses the base dtab again"
    );
    let (status, head, _) = curl(&l, "/", &["Host: web", "l5d-dtab: /svc/web => "]);
    assert_eq!(status, 400);
    assert!(head.contains("l5d-err: invalid+l5d-dtab"), "{head}");
}

#[test]
fn unroutable_and_unidentified_requests_get_linkerds_errors_and_serving_goes_on() {
    let a = PythonBackend::start("a");
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    let (status, head, body) = curl(&l, "/", &["Host: nope"]);
    assert_eq!(status, 502);
    assert!(head.contains("l5d-err: unable+to+route+request"), "{head}");
    assert!(
        body.starts_with("Unable to route request!\n\nservice name: /svc/nope\n"),
        "{body}"
    );
    assert!(body.contains("  /svc/nope (neg)"), "{body}");
    let (status, head, _) = curl(&l, "/", &["Host:"]);
    assert_eq!(status, 400);
    assert!(head.contains("l5d-err: host+header+is+absent"), "{head}");
    assert_eq!(curl(&l, "/", &["Host: web"]).0, 200);
}

#[test]
fn a_dead_backend_is_a_502_naming_the_endpoint() {
    let l = linkerd("", "  dtab: /svc/web => /$/inet/127.0.0.1/1;\n");
    let (status, head, body) = curl(&l, "/", &["Host: web"]);
    assert_eq!(status, 502);
    assert!(head.contains("l5d-err:"), "{head}");
    assert!(body.contains("127.0.0.1:1"), "{body}");
}

#[test]
fn weighted_unions_split_traffic_by_weight() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd(
        "",
        &format!(
            "  dtab: /svc/web => 0.9 * {} & 0.1 * {};\n",
            inet(&a),
            inet(&b)
        ),
    );
    let mut to_b = 0;
    for _ in 0..1000 {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "{body}");
        if json(&body)["backend"] == "b" {
            to_b += 1;
        }
    }
    // 100 expected; the bounds are five standard deviations wide.
    assert!((53..=147).contains(&to_b), "{to_b} of 1000 went to b");
}

#[test]
fn an_fs_namer_edit_moves_traffic_without_a_restart_or_a_failed_request() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let disco = temp_dir("http-disco");
    std::fs::write(disco.join("web"), format!("127.0.0.1 {}\n", a.addr.port())).unwrap();
    let l = linkerd(
        &format!(
            "namers:\n- kind: io.l5d.fs\n  rootDir: {}\n",
            disco.display()
        ),
        "  dtab: /svc => /#/io.l5d.fs;\n",
    );
    let backend = || {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "a request failed during the move: {body}");
        json(&body)["backend"].as_str().unwrap().to_string()
    };
    assert_eq!(backend(), "a");
    std::fs::write(disco.join("web"), format!("127.0.0.1 {}\n", b.addr.port())).unwrap();
    eventually("traffic to move to b", WAIT, || {
        (backend() == "b").then_some(())
    });
    assert_eq!(backend(), "b");
}

#[test]
fn malformed_and_oversized_requests_are_refused_and_serving_goes_on() {
    let a = PythonBackend::start("a");
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    let raw = |bytes: &[u8]| {
        let mut s = std::net::TcpStream::connect(l.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(bytes).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).to_string()
    };
    let garbage = raw(b"NOT HTTP AT ALL\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: web\r\nX-Big: {}\r\n\r\n",
        "x".repeat(64 * 1024)
    );
    let answer = raw(huge.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(http_get(l.addr, "/", &[("Host", "web")]).0, 200);
}

#[test]
fn large_bodies_stream_through_intact_both_ways() {
    let a = PythonBackend::start("a");
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    let dir = temp_dir("http-large");
    let upload = dir.join("upload");
    std::fs::write(&upload, vec![b'u'; 5 << 20]).unwrap();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "60",
            "-H",
            "Host: web",
            "--data-binary",
        ])
        .arg(format!("@{}", upload.display()))
        .arg(format!("http://{}/upload", l.addr))
        .output()
        .unwrap();
    let seen = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(seen["body_len"], 5 << 20, "the backend got every byte");
    assert_eq!(seen["method"], "POST");
    let download = dir.join("download");
    let status = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-H", "Host: web", "-o"])
        .arg(&download)
        .arg(format!("http://{}/bytes/{}", l.addr, 5 << 20))
        .status()
        .unwrap();
    assert!(status.success());
    let got = std::fs::read(&download).unwrap();
    assert_eq!(got.len(), 5 << 20);
    assert!(
        got.chunks(16).all(|c| c == &b"0123456789abcdef"[..c.len()]),
        "the bytes arrive in order"
    );
}

#[test]
fn server_metrics_count_requests_by_outcome_in_linkerd_names() {
    let a = PythonBackend::start("a");
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    assert_eq!(http_get(l.addr, "/", &[("Host", "web")]).0, 200);
    assert_eq!(http_get(l.addr, "/", &[("Host", "web")]).0, 200);
    assert_eq!(http_get(l.addr, "/", &[("Host", "nope")]).0, 502);
    let (status, _, body) = http_get(l.admin, "/admin/metrics.json", &[]);
    assert_eq!(status, 200);
    let m = json(&body);
    let key = |name: &str| format!("rt/http/server/127.0.0.1/{}/{name}", l.addr.port());
    assert_eq!(m[key("requests")], 3, "{body}");
    assert_eq!(m[key("success")], 2);
    assert_eq!(m[key("failures")], 1);
    assert_eq!(m[key("status/200")], 2);
    assert_eq!(m[key("status/2XX")], 2);
    assert_eq!(m[key("status/502")], 1);
    assert!(m.get(key("connections")).is_some(), "{body}");
    let (_, _, prom) = http_get(l.admin, "/admin/metrics/prometheus", &[]);
    assert!(prom.contains("rt:server:requests{"), "{prom}");
}

#[test]
fn servers_add_forwarded_and_timestamp_headers_when_configured() {
    let a = PythonBackend::start("a");
    // The keys below are indented under the server (`- port: 0`).
    let l = linkerd(
        "",
        &format!(
            "    addForwardedHeader:\n      by: {{kind: \"ip:port\"}}\n      for: {{kind: ip}}\n    timestampHeader: x-request-start\n  dtab: /svc/web => {};\n",
            inet(&a)
        ),
    );
    let (status, _, body) = curl(&l, "/", &["Host: web"]);
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    assert_eq!(
        seen["headers"]["forwarded"],
        format!("by=\"127.0.0.1:{}\";for=127.0.0.1;host=web", l.addr.port())
    );
    let ms: u64 = seen["headers"]["x-request-start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 1_600_000_000_000);
}

/// curl uploading `len` bytes through linkerd; returns (status, response headers, body).
fn upload(l: &Linkerd, len: usize) -> (u16, String, String) {
    let file = temp_dir("http-upload").join("upload");
    std::fs::write(&file, vec![b'u'; len]).unwrap();
    let data = format!("@{}", file.display());
    curl_with(
        l,
        "/upload",
        &["Host: web"],
        &["--max-time", "60", "--data-binary", &data],
    )
}

#[test]
fn with_streaming_off_messages_over_5_mib_are_refused_and_smaller_ones_pass_whole() {
    let a = PythonBackend::start("a");
    let l = linkerd(
        "",
        &format!(
            "  streamingEnabled: false\n  dtab: /svc/web => {};\n",
            inet(&a)
        ),
    );
    let (status, _, body) = upload(&l, 1 << 20);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["body_len"], 1 << 20);
    let (status, head, body) = upload(&l, (5 << 20) + 1);
    assert_eq!(status, 413, "{body}");
    assert!(head.contains("l5d-err:"), "{head}");
    let (status, _, body) = http_get(l.addr, &format!("/bytes/{}", 1 << 20), &[("Host", "web")]);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 1 << 20);
    let (status, _, body) = http_get(l.addr, &format!("/bytes/{}", 6 << 20), &[("Host", "web")]);
    assert_eq!(status, 502, "{}", &body[..body.len().min(200)]);
    assert!(body.contains("response body"), "{body}");
    // And serving goes on.
    assert_eq!(http_get(l.addr, "/", &[("Host", "web")]).0, 200);
}

#[test]
fn requests_carry_trace_context_and_a_request_id() {
    let a = PythonBackend::start("a");
    let l = linkerd("", &format!("  dtab: /svc/web => {};\n", inet(&a)));
    let (status, _, body) = curl(&l, "/", &["Host: web"]);
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    let reqid = seen["headers"]["l5d-reqid"].as_str().unwrap().to_string();
    assert_eq!(reqid.len(), 16, "{reqid}");
    assert!(reqid.bytes().all(|b| b.is_ascii_hexdigit()));
    let trace = seen["headers"]["l5d-ctx-trace"]
        .as_str()
        .unwrap()
        .to_string();
    // A request that carries that context continues the same trace.
    let (_, _, body) = curl(&l, "/", &["Host: web", &format!("l5d-ctx-trace: {trace}")]);
    let seen = json(&body);
    assert_eq!(seen["headers"]["l5d-reqid"], reqid.as_str());
    assert_ne!(
        seen["headers"]["l5d-ctx-trace"],
        trace.as_str(),
        "a new span"
    );
}

#[test]
fn a_server_with_clear_context_ignores_l5d_headers_from_clients() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let l = linkerd(
        "",
        &format!(
            "    clearContext: true\n  dtab: /svc/web => {};\n",
            inet(&a)
        ),
    );
    let (status, _, body) = curl(
        &l,
        "/",
        &[
            "Host: web",
            &format!("l5d-dtab: /svc/web => {}", inet(&b)),
            "l5d-ctx-secret: forged",
        ],
    );
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    assert_eq!(seen["backend"], "a", "the client's dtab was dropped");
    assert!(seen["headers"].get("l5d-ctx-secret").is_none());
}

#[test]
fn with_the_zipkin_propagator_trace_context_travels_in_b3_headers() {
    let a = PythonBackend::start("a");
    let l = linkerd(
        "",
        &format!(
            "  tracePropagator:\n    kind: io.l5d.zipkin\n  dtab: /svc/web => {};\n",
            inet(&a)
        ),
    );
    let (status, _, body) = curl(
        &l,
        "/",
        &[
            "Host: web",
            "x-b3-traceid: 00000000000000aa",
            "x-b3-spanid: 00000000000000bb",
        ],
    );
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    assert_eq!(seen["headers"]["x-b3-traceid"], "00000000000000aa");
    assert_eq!(seen["headers"]["x-b3-parentspanid"], "00000000000000bb");
    assert!(seen["headers"].get("l5d-ctx-trace").is_none(), "{seen}");
}
