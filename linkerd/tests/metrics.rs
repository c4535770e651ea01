//! linkerd's metrics pages, run as the real binary and read with curl.

use std::path::Path;
use std::process::Command;

use l5d_integration::Linkerd;

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");

/// A running linkerd with one http router, its admin server on an ephemeral port.
fn start() -> Linkerd {
    let yaml = "admin:\n  ip: 127.0.0.1\n  port: 0\nrouters:\n- protocol: http\n  dtab: /svc => /$/inet/127.1/1\n  servers:\n  - port: 0\n";
    Linkerd::start(Path::new(BIN), yaml, "http")
}

/// Runs curl on `url` and returns the status code, the content type and the body.
fn curl(url: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "-"])
        .args(["-w", "\n%{content_type}\n%{http_code}", url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (rest, code) = text.rsplit_once('\n').expect("a status line");
    let (body, ctype) = rest.rsplit_once('\n').expect("a content type line");
    (
        code.parse().expect("a status code"),
        ctype.to_string(),
        body.to_string(),
    )
}

#[test]
fn admin_serves_metrics_json_and_prometheus_text() {
    let l = start();
    let (status, ctype, body) = curl(&format!("http://{}/admin/metrics.json", l.admin));
    assert_eq!(status, 200, "{body}");
    assert_eq!(ctype, "application/json");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(v.is_object(), "{body}");

    let (status, ctype, body) = curl(&format!(
        "http://{}/admin/metrics.json?q=no/such/thing",
        l.admin
    ));
    assert_eq!(status, 404, "{body}");
    assert_eq!(ctype, "application/json");

    let (status, ctype, body) = curl(&format!("http://{}/admin/metrics/prometheus", l.admin));
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/plain"), "{ctype}");
}
