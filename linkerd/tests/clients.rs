//! The HTTP router's client side end to end: load balancers, failure accrual routing
//! around a dead endpoint, the connection pool's bounds and idle timeout, endpoint-set
//! updates under in-flight requests, and the client and service views in the admin
//! server (`/admin/metrics.json`, `/client_state.json`). Real linkerd, Python backends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use l5d_integration::{eventually, http_get, temp_dir, Linkerd, Process, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// linkerd with an io.l5d.fs namer over `disco` and one http router sending `/svc` to
/// it, with `router_extra` added to the router's keys.
fn linkerd(disco: &Path, router_extra: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nrouters:\n- protocol: http\n  dtab: /svc => /#/io.l5d.fs;\n  servers:\n  - port: 0\n{router_extra}",
        disco.display()
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn backend_of(l: &Linkerd) -> String {
    let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
    assert_eq!(status, 200, "{body}");
    json(&body)["backend"].as_str().unwrap().to_string()
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn write_disco(disco: &Path, ports: &[u16]) {
    let lines: String = ports.iter().map(|p| format!("127.0.0.1 {p}\n")).collect();
    std::fs::write(disco.join("web"), lines).unwrap();
}

#[test]
fn clients_and_services_have_metrics_and_client_state() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port()]);
    let l = linkerd(&disco, "");
    for _ in 0..3 {
        assert_eq!(backend_of(&l), "a");
    }
    let m = l.metrics();
    assert_eq!(m["rt/http/service/svc/web/requests"], 3, "{m}");
    assert_eq!(m["rt/http/service/svc/web/success"], 3);
    assert_eq!(m["rt/http/service/svc/web/pending"], 0.0);
    let client = "rt/http/client/#/io.l5d.fs/web";
    assert_eq!(m[format!("{client}/requests")], 3, "{m}");
    assert_eq!(m[format!("{client}/status/200")], 3);
    assert_eq!(m[format!("{client}/loadbalancer/size")], 1.0);
    assert_eq!(m[format!("{client}/loadbalancer/available")], 1.0);
    assert!(
        m[format!("{client}/connects")].as_u64().unwrap() >= 1,
        "{m}"
    );
    assert!(
        m.get(format!("{client}/request_latency_ms.p99")).is_some(),
        "{m}"
    );

    let (status, _, body) = http_get(l.admin, "/client_state.json", &[]);
    assert_eq!(status, 200);
    let state = json(&body);
    assert_eq!(state["/#/io.l5d.fs/web"]["state"], "bound", "{state}");
    assert_eq!(
        state["/#/io.l5d.fs/web"]["addresses"],
        serde_json::json!([a.addr.to_string()])
    );

    let (_, _, prom) = http_get(l.admin, "/admin/metrics/prometheus", &[]);
    assert!(
        prom.contains("rt:client:requests{rt=\"http\", client=\"#/io.l5d.fs/web\"}"),
        "{prom}"
    );
    assert!(
        prom.contains("rt:service:requests{rt=\"http\", service=\"svc/web\"}"),
        "{prom}"
    );
}

#[test]
fn a_dead_endpoint_is_routed_around_and_marked_dead() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port(), dead_port()]);
    let l = linkerd(&disco, "");
    for _ in 0..60 {
        assert_eq!(
            backend_of(&l),
            "a",
            "every request reaches the live endpoint"
        );
    }
    let m = l.metrics();
    let client = "rt/http/client/#/io.l5d.fs/web";
    assert_eq!(m[format!("{client}/loadbalancer/size")], 2.0, "{m}");
    assert_eq!(m[format!("{client}/loadbalancer/available")], 1.0, "{m}");
    assert!(
        m[format!("{client}/failure_accrual/removals")]
            .as_u64()
            .unwrap()
            >= 1,
        "{m}"
    );
    let requeues = m[format!("{client}/retries/requeues")].as_u64().unwrap();
    assert!((5..60).contains(&requeues), "{m}");
    assert_eq!(m["rt/http/service/svc/web/success"], 60);
}

#[test]
fn every_load_balancer_kind_serves_and_round_robin_alternates() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port(), b.addr.port()]);
    for kind in ["p2c", "ewma", "aperture", "heap", "roundRobin"] {
        let l = linkerd(
            &disco,
            &format!("  client:\n    loadBalancer:\n      kind: {kind}\n"),
        );
        let seen: Vec<String> = (0..40).map(|_| backend_of(&l)).collect();
        if kind == "roundRobin" {
            let to_a = seen.iter().filter(|s| *s == "a").count();
            assert_eq!(to_a, 20, "{kind}: {seen:?}");
            assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
        }
    }
}

/// Sends a request for `n` bytes on a raw socket and reads only the head and a little of
/// the body, leaving the rest in flight.
fn start_download(addr: SocketAddr, n: usize) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET /bytes/{n} HTTP/1.1\r\nHost: web\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
    }
    let mut first = [0u8; 16];
    r.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"0123456789abcdef");
    r
}

/// Reads the rest of a download started with [`start_download`]; returns the bytes read.
fn finish_download(mut r: BufReader<TcpStream>, n: usize) {
    let mut rest = vec![0u8; n - 16];
    r.read_exact(&mut rest).unwrap();
    assert!(rest
        .chunks(16)
        .all(|c| c == &b"0123456789abcdef"[..c.len()]));
}

#[test]
fn an_endpoint_removed_from_discovery_finishes_its_in_flight_request() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port()]);
    let l = linkerd(&disco, "");
    // 32 MiB: far more than the socket buffers on the way hold, so the response is
    // still streaming from a while the set changes.
    let n = 32 << 20;
    let download = start_download(l.addr, n);
    write_disco(&disco, &[b.addr.port()]);
    eventually("new requests to go to b", WAIT, || {
        (backend_of(&l) == "b").then_some(())
    });
    finish_download(download, n);
}

#[test]
fn the_connection_pool_bounds_connections_and_waiters_and_closes_idle_ones() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port()]);
    let l = linkerd(
        &disco,
        "  client:\n    hostConnectionPool:\n      maxSize: 1\n      maxWaiters: 0\n      idleTimeMs: 100\n",
    );
    let n = 32 << 20;
    let download = start_download(l.addr, n);
    // The one connection is busy and nobody may wait: linkerd sheds the request.
    let (status, headers, body) = http_get(l.addr, "/", &[("Host", "web")]);
    assert_eq!(status, 503, "{body}");
    assert!(headers.iter().any(|(k, _)| k == "l5d-err"), "{headers:?}");
    finish_download(download, n);
    eventually("the connection to be free again", WAIT, || {
        let (status, _, _) = http_get(l.addr, "/", &[("Host", "web")]);
        (status == 200).then_some(())
    });
    let client = "rt/http/client/#/io.l5d.fs/web";
    eventually("the idle connection to be closed", WAIT, || {
        let m = l.metrics();
        (m[format!("{client}/connections")] == 0.0).then_some(())
    });
    assert!(l.metrics()[format!("{client}/connects")].as_u64().unwrap() >= 1);
}

#[test]
fn several_routers_and_servers_serve_side_by_side_in_one_process() {
    let (a, b) = (PythonBackend::start("a"), PythonBackend::start("b"));
    let dir = temp_dir("clients-routers");
    let config = dir.join("linkerd.yaml");
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  label: one\n  dtab: /svc/* => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n  - port: 0\n- protocol: http\n  label: two\n  dtab: /svc/* => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n",
        a.addr.port(),
        b.addr.port()
    );
    std::fs::write(&config, yaml).unwrap();
    let mut process = Process::start(Path::new(BIN), &[config.to_str().unwrap()]);
    process.wait_for_stderr("linkerd is running", WAIT);
    let log = process.stderr_so_far();
    let servers = |label: &str| -> Vec<SocketAddr> {
        let marker = format!("serving router '{label}' (protocol http) on ");
        log.lines()
            .filter_map(|l| l.split_once(&marker))
            .map(|(_, addr)| addr.trim().parse().unwrap())
            .collect()
    };
    let (one, two) = (servers("one"), servers("two"));
    assert_eq!((one.len(), two.len()), (2, 1), "{log}");
    let admin = process.logged_addr("admin server listening on ");
    let backend = |addr: SocketAddr| {
        let (status, _, body) = http_get(addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "{body}");
        json(&body)["backend"].as_str().unwrap().to_string()
    };
    assert_eq!(backend(one[0]), "a");
    assert_eq!(backend(one[1]), "a");
    assert_eq!(backend(two[0]), "b");
    let (_, _, body) = http_get(admin, "/admin/metrics.json", &[]);
    let m = json(&body);
    for (label, addr) in [("one", one[0]), ("one", one[1]), ("two", two[0])] {
        let key = format!("rt/{label}/server/127.0.0.1/{}/requests", addr.port());
        assert_eq!(m[&key], 1, "{key}: {m}");
    }
    assert_eq!(m["rt/one/service/svc/web/requests"], 2);
    assert_eq!(m["rt/two/service/svc/web/requests"], 1);
}

#[test]
fn admin_shutdown_drains_requests_in_flight_then_exits() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port()]);
    let Linkerd {
        process,
        addr,
        admin,
    } = linkerd(&disco, "");
    let n = 32 << 20;
    let download = start_download(addr, n);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            &format!("http://{admin}/admin/shutdown"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    eventually("the server to stop accepting", WAIT, || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    // The request in flight still gets every byte.
    finish_download(download, n);
    let done = process.wait(WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("linkerd stopped"), "{}", done.stderr);
}

#[test]
fn a_service_with_no_endpoints_is_a_503_and_comes_back_when_one_appears() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[]);
    let l = linkerd(&disco, "");
    let (status, headers, body) = http_get(l.addr, "/", &[("Host", "web")]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no endpoints are available"), "{body}");
    assert!(headers.iter().any(|(k, _)| k == "l5d-err"), "{headers:?}");
    write_disco(&disco, &[a.addr.port()]);
    eventually("the new endpoint to take traffic", WAIT, || {
        let (status, _, _) = http_get(l.addr, "/", &[("Host", "web")]);
        (status == 200).then_some(())
    });
}

#[test]
fn sigterm_lets_accepted_requests_finish_and_refuses_new_ones() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port()]);
    let Linkerd { process, addr, .. } = linkerd(&disco, "");
    let n = 16 << 20;
    // Several requests in flight on their own connections, each partly read.
    let downloads: Vec<_> = (0..4).map(|_| start_download(addr, n)).collect();
    process.signal("TERM");
    eventually("the server to stop accepting", WAIT, || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    for d in downloads {
        finish_download(d, n);
    }
    let done = process.wait(WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
}

/// One request on a fresh connection: `Some(status)` if linkerd answered it (a whole
/// response must arrive), `None` if the connection was refused or closed before any byte
/// of a response (the request was not accepted).
fn one_request(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(WAIT)).unwrap();
    if s.write_all(b"GET /bytes/4096 HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return None;
    }
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) if got.is_empty() => return None,
        Err(_) if got.is_empty() => return None,
        Ok(_) => {}
        Err(e) => panic!("a response was cut short after {} bytes: {e}", got.len()),
    }
    let text = String::from_utf8_lossy(&got);
    let status: u16 = text[9..12].parse().unwrap();
    let body_at = text.find("\r\n\r\n").expect("a whole head") + 4;
    assert_eq!(got.len() - body_at, 4096, "a whole body");
    Some(status)
}

#[test]
fn sigterm_during_a_load_run_completes_every_accepted_request() {
    let a = PythonBackend::start("a");
    let disco = temp_dir("clients-disco");
    write_disco(&disco, &[a.addr.port()]);
    let Linkerd { process, addr, .. } = linkerd(&disco, "");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut refused) = (0, 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match one_request(addr) {
                        Some(status) => {
                            assert_eq!(status, 200);
                            ok += 1;
                        }
                        None => refused += 1,
                    }
                    if refused > 0 && TcpStream::connect(addr).is_err() {
                        break;
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    eventually("the load to be flowing", WAIT, || {
        let (_, _, body) = http_get(addr, "/", &[("Host", "web")]);
        (!body.is_empty()).then_some(())
    });
    process.signal("TERM");
    let done = process.wait(WAIT);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for w in workers {
        let (ok, _) = w.join().expect("no accepted request was cut short");
        answered += ok;
    }
    assert!(answered > 0);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
}
