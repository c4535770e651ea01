//! The `io.l5d.dnssrv` namer against a real DNS server (dnsmasq, started by the harness on
//! a free loopback port): SRV records name the instances; changed records move traffic
//! with no failed request (the server's restart in between is ridden out on the last
//! set); a name without records falls through to the dtab's alternative.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::Dnsmasq;
use l5d_integration::{backend_of, eventually, http_get, Linkerd, Load, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);
const NAME: &str = "_http._tcp.web.l5d.test";

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
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    // Both instances: traffic reaches the new one; then only it. The server's restarts
    // in between are ridden out on the last set.
    let load = Load::start(l.addr, "web");
    dns.serve(&[
        (NAME, "localhost", a.addr.port()),
        (NAME, "localhost", b.addr.port()),
    ]);
    load.reaches("b");
    dns.serve(&[(NAME, "localhost", b.addr.port())]);
    load.settles_on("b", 20);
    load.finish_without_failures();
    // No records for a name: Neg, so the alternative serves.
    let (status, _, body) = http_get(l.addr, "/", &[("Host", "other")]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"fallback\""), "{body}");
}
