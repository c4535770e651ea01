//! Timeouts and admission control end to end: `service.totalTimeoutMs`,
//! `client.requestAttemptTimeoutMs`, a server's `timeoutMs`, deadlines carried in
//! `l5d-ctx-deadline`, and `maxConcurrentRequests`. Real linkerd; the hanging backend is
//! a socket that accepts and never answers (no real server can be told to hang).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use l5d_integration::{http_get, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// linkerd with one http router routing /svc/web to `backend`; `server_extra` is added to
/// the server's keys and `router_extra` to the router's.
fn linkerd(backend: SocketAddr, server_extra: &str, router_extra: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  dtab: /svc/web => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n{server_extra}{router_extra}",
        backend.port()
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

/// A backend that accepts connections and never answers; they stay open while it lives.
struct Hanging {
    addr: SocketAddr,
}

impl Hanging {
    fn start() -> Hanging {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            for s in listener.incoming().flatten() {
                held.push(s);
            }
        });
        Hanging { addr }
    }
}

fn timed_get(l: &Linkerd, headers: &[(&str, &str)]) -> (u16, String, Duration) {
    let start = Instant::now();
    let (status, hs, body) = http_get(l.addr, "/", &[&[("Host", "web")], headers].concat());
    let err = hs
        .iter()
        .find(|(k, _)| k == "l5d-err")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(status != 504 || !err.is_empty(), "{body}");
    (status, body, start.elapsed())
}

#[test]
fn a_hanging_backend_times_out_at_the_total_timeout_with_a_504() {
    let h = Hanging::start();
    let l = linkerd(h.addr, "", "  service:\n    totalTimeoutMs: 300\n");
    let (status, body, took) = timed_get(&l, &[]);
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("totalTimeoutMs"), "{body}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let m = l.metrics();
    assert_eq!(
        m["rt/http/service/svc/web/failures/com.twitter.finagle.GlobalRequestTimeoutException"], 1,
        "{m}"
    );
    assert_eq!(m["rt/http/service/svc/web/status/504"], 1);
}

#[test]
fn a_hanging_backend_times_out_at_the_attempt_timeout_with_a_504() {
    let h = Hanging::start();
    let l = linkerd(h.addr, "", "  client:\n    requestAttemptTimeoutMs: 200\n");
    let (status, body, took) = timed_get(&l, &[]);
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("requestAttemptTimeoutMs"), "{body}");
    assert!(took >= Duration::from_millis(200), "{took:?}");
}

#[test]
fn a_server_timeout_bounds_every_request() {
    let h = Hanging::start();
    let l = linkerd(h.addr, "    timeoutMs: 200\n", "");
    let (status, body, _) = timed_get(&l, &[]);
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("server timeoutMs"), "{body}");
}

#[test]
fn an_incoming_deadline_is_honoured_and_the_deadline_travels_on() {
    let h = Hanging::start();
    let l = linkerd(h.addr, "", "");
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let deadline = format!("{now_ns} {}", now_ns + 300_000_000);
    let (status, body, _) = timed_get(&l, &[("l5d-ctx-deadline", &deadline)]);
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("l5d-ctx-deadline"), "{body}");

    // With a total timeout, the backend is told the deadline.
    let a = PythonBackend::start("a");
    let l = linkerd(a.addr, "", "  service:\n    totalTimeoutMs: 20000\n");
    let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
    assert_eq!(status, 200, "{body}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    let forwarded = seen["headers"]["l5d-ctx-deadline"].as_str().unwrap();
    let (ts, dl) = forwarded.split_once(' ').unwrap();
    let (ts, dl): (u128, u128) = (ts.parse().unwrap(), dl.parse().unwrap());
    let budget = dl - ts;
    assert!(
        budget > 10_000_000_000 && budget <= 20_000_000_000,
        "{forwarded}"
    );
}

#[test]
fn beyond_max_concurrent_requests_requests_get_a_fast_503() {
    let h = Hanging::start();
    let l = linkerd(h.addr, "    maxConcurrentRequests: 2\n", "");
    // Two requests hang in flight (each on its own connection, never answered).
    let held: Vec<std::thread::JoinHandle<u16>> = (0..2)
        .map(|_| {
            let addr = l.addr;
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                std::io::Write::write_all(&mut s, b"GET / HTTP/1.1\r\nHost: web\r\n\r\n").unwrap();
                let mut buf = [0u8; 1];
                let _ = std::io::Read::read(&mut s, &mut buf);
                0
            })
        })
        .collect();
    l5d_integration::eventually("two requests in flight", WAIT, || {
        (l.metrics()["rt/http/service/svc/web/pending"] == 2.0).then_some(())
    });
    for _ in 0..20 {
        let (status, body, took) = timed_get(&l, &[]);
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("maxConcurrentRequests"), "{body}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
    let m = l.metrics();
    let key = format!("rt/http/server/127.0.0.1/{}/rejected", l.addr.port());
    assert_eq!(m[&key], 20, "{m}");
    drop(held);
}
