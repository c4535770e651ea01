//! Retries end to end: response classifiers decide which failures may be retried, retry
//! budgets bound the extra load, and `l5d-success-class` reports the classification.
//! Real linkerd; Python backends, one of which answers 500 to everything.

use std::path::Path;
use std::time::Duration;

use l5d_integration::{http_get, temp_dir, Linkerd, Process, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// linkerd over an fs namer whose `web` lists the instances on `ports`, with
/// `router_keys` (YAML, indented two spaces) added to its one http router.
fn linkerd_over(ports: &[u16], router_keys: &str) -> Linkerd {
    let disco = temp_dir("retries-disco");
    let lines: String = ports.iter().map(|p| format!("127.0.0.1 {p}\n")).collect();
    std::fs::write(disco.join("web"), lines).unwrap();
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nrouters:\n- protocol: http\n  dtab: /svc => /#/io.l5d.fs;\n{router_keys}  servers:\n  - port: 0\n",
        disco.display()
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

/// linkerd over `backends`, with failure accrual off (so the failing backend keeps its
/// share) and `service` as the router's service keys.
fn linkerd(backends: &[&PythonBackend], service: &str) -> Linkerd {
    let ports: Vec<u16> = backends.iter().map(|b| b.addr.port()).collect();
    linkerd_over(
        &ports,
        &format!("  client:\n    failureAccrual:\n      kind: none\n  service:\n{service}"),
    )
}

fn count(m: &serde_json::Value, key: &str) -> u64 {
    m[key].as_u64().unwrap_or(0)
}

#[test]
fn retryable_failures_are_retried_and_the_client_sees_only_successes() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let bad = PythonBackend::answering("bad", 500);
    let l = linkerd(
        &[&a, &b, &bad],
        "    responseClassifier:\n      kind: io.l5d.http.retryableRead5XX\n",
    );
    for _ in 0..150 {
        let (status, headers, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "{body}");
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "l5d-success-class" && v == "1.0"),
            "{headers:?}"
        );
    }
    let m = l.metrics();
    let retries = count(&m, "rt/http/service/svc/web/retries/total");
    // A third of the attempts hit the failing backend: about 75 retries are expected.
    assert!(retries >= 20, "{m}");
    assert_eq!(count(&m, "rt/http/service/svc/web/success"), 150);
    assert_eq!(count(&m, "rt/http/service/svc/web/failures"), 0);
    assert!(
        count(&m, "rt/http/client/#/io.l5d.fs/web/failures") >= retries,
        "{m}"
    );
}

#[test]
fn the_retry_budget_caps_retries_at_its_percentage() {
    let a = PythonBackend::start("a");
    let bad = PythonBackend::answering("bad", 500);
    let l = linkerd(
        &[&a, &bad],
        "    responseClassifier:\n      kind: io.l5d.http.retryableRead5XX\n    retries:\n      budget:\n        minRetriesPerSec: 0\n        percentCanRetry: 0.1\n        ttlSecs: 60\n",
    );
    let requests = 200;
    let mut failed = 0;
    for _ in 0..requests {
        let (status, _, _) = http_get(l.addr, "/", &[("Host", "web")]);
        if status == 500 {
            failed += 1;
        } else {
            assert_eq!(status, 200);
        }
    }
    let m = l.metrics();
    let retries = count(&m, "rt/http/service/svc/web/retries/total");
    assert!(retries <= requests / 10, "at most 10% extra: {retries}");
    assert!(retries >= 1, "{m}");
    assert!(
        count(&m, "rt/http/service/svc/web/retries/budget_exhausted") >= 1,
        "{m}"
    );
    assert!(
        failed >= 1,
        "with the budget spent, failures reach the client"
    );
}

#[test]
fn non_read_requests_are_not_retried_by_the_read_classifier() {
    let bad = PythonBackend::answering("bad", 500);
    let l = linkerd(
        &[&bad],
        "    responseClassifier:\n      kind: io.l5d.http.retryableRead5XX\n",
    );
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-X",
            "POST",
            "-H",
            "Host: web",
            "-d",
            "x",
        ])
        .arg(format!("http://{}/", l.addr))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 500"), "{head}");
    assert!(head.contains("l5d-success-class: 0.0"), "{head}");
    let m = l.metrics();
    assert_eq!(count(&m, "rt/http/service/svc/web/retries/total"), 0, "{m}");
    assert_eq!(count(&m, "rt/http/service/svc/web/failures"), 1, "{m}");
}

#[test]
fn a_killed_backend_is_routed_around_ejected_and_readmitted_when_it_returns() {
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    let port = b.addr.port();
    let l = linkerd_over(
        &[a.addr.port(), port],
        "  client:\n    failureAccrual:\n      kind: io.l5d.consecutiveFailures\n      failures: 2\n      backoff:\n        kind: constant\n        ms: 200\n",
    );
    let backend = || {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "no request may fail: {body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["backend"]
            .as_str()
            .unwrap()
            .to_string()
    };
    l5d_integration::eventually("both backends to serve", WAIT, || {
        let seen: Vec<String> = (0..10).map(|_| backend()).collect();
        (seen.iter().any(|s| s == "a") && seen.iter().any(|s| s == "b")).then_some(())
    });
    b.process.signal("KILL");
    drop(b);
    for _ in 0..50 {
        assert_eq!(backend(), "a");
    }
    let client = "rt/http/client/#/io.l5d.fs/web";
    let m = l.metrics();
    assert!(
        count(&m, &format!("{client}/failure_accrual/removals")) >= 1,
        "{m}"
    );
    let _back = PythonBackend::on_port("b", port);
    l5d_integration::eventually("b to be readmitted", WAIT, || {
        (0..10).any(|_| backend() == "b").then_some(())
    });
    let m = l.metrics();
    assert!(
        count(&m, &format!("{client}/failure_accrual/revivals")) >= 1,
        "{m}"
    );
}

/// A peer that accepts connections and resets each at once (SO_LINGER 0): a host whose
/// process is wedged or whose port is taken over.
struct Resetter {
    _process: Process,
    port: u16,
}

impl Resetter {
    fn start() -> Resetter {
        const SCRIPT: &str = r#"
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
print("listening on %d" % s.getsockname()[1], file=sys.stderr, flush=True)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
"#;
        let mut process = Process::start(Path::new("python3"), &["-c", SCRIPT]);
        process.wait_for_stderr("listening on ", WAIT);
        let port = process
            .stderr_so_far()
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .and_then(|p| p.trim().parse().ok())
            .expect("the resetter logs its port");
        Resetter {
            _process: process,
            port,
        }
    }
}

#[test]
fn a_backend_that_resets_connections_is_retried_around_and_ejected() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let resetter = Resetter::start();
    let l = linkerd_over(
        &[a.addr.port(), b.addr.port(), resetter.port],
        "  service:\n    responseClassifier:\n      kind: io.l5d.http.retryableRead5XX\n  client:\n    failureAccrual:\n      kind: io.l5d.consecutiveFailures\n      failures: 3\n      backoff:\n        kind: constant\n        ms: 60000\n",
    );
    let requests = 100;
    for _ in 0..requests {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "no request may fail: {body}");
    }
    let m = l.metrics();
    let client = "rt/http/client/#/io.l5d.fs/web";
    // Each request was answered once: the successes the client saw are the requests.
    assert_eq!(count(&m, &format!("{client}/status/200")), requests, "{m}");
    assert_eq!(count(&m, "rt/http/service/svc/web/success"), requests);
    assert!(
        count(&m, &format!("{client}/failure_accrual/removals")) >= 1,
        "{m}"
    );
    assert_eq!(m[format!("{client}/loadbalancer/available")], 2.0, "{m}");
}
