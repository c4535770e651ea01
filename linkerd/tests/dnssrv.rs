//! The `io.l5d.dnssrv` namer against a real DNS server (dnsmasq, started by the harness on
//! a free loopback port): SRV records name the instances; changed records move traffic
//! with no failed request (the server's restart in between is ridden out on the last
//! set); a name without records falls through to the dtab's alternative.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::Dnsmasq;
use l5d_integration::{eventually, http_get, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);
const NAME: &str = "_http._tcp.web.l5d.test";

fn backend_of(addr: std::net::SocketAddr) -> (u16, String) {
    let (status, _, body) = http_get(addr, "/", &[("Host", "web")]);
    let name = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["backend"].as_str().map(str::to_string))
        .unwrap_or(body);
    (status, name)
}

#[test]
fn srv_records_name_the_instances_and_changes_move_traffic() {
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    let fallback = PythonBackend::start("fallback");
    let mut dns = Dnsmasq::start(&[(NAME, "localhost", a.addr.port())]);
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.dnssrv\n  experimental: true\n  refreshIntervalSeconds: 1\n  dnsHosts:\n  - 127.0.0.1:{}\nrouters:\n- protocol: http\n  dtab: |\n    /svc/web => /#/io.l5d.dnssrv/{NAME};\n    /svc/other => /#/io.l5d.dnssrv/_http._tcp.nope.l5d.test | /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n",
        dns.port,
        fallback.addr.port()
    );
    let l = Linkerd::start(Path::new(BIN), &yaml, "http");
    eventually("linkerd to find the SRV records", WAIT, || {
        (backend_of(l.addr) == (200, "a".into())).then_some(())
    });
    // Both instances: traffic reaches the new one.
    dns.serve(&[
        (NAME, "localhost", a.addr.port()),
        (NAME, "localhost", b.addr.port()),
    ]);
    eventually("the new record to get traffic", WAIT, || {
        (0..10).any(|_| backend_of(l.addr).1 == "b").then_some(())
    });
    dns.serve(&[(NAME, "localhost", b.addr.port())]);
    eventually("the removed record to lose traffic", WAIT, || {
        (0..10)
            .all(|_| backend_of(l.addr) == (200, "b".into()))
            .then_some(())
    });
    // No records for a name: Neg, so the alternative serves.
    let (status, _, body) = http_get(l.addr, "/", &[("Host", "other")]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"fallback\""), "{body}");
}
