//! The `io.l5d.consul` namer against a real Consul agent (Debian's consul 1.8, started by
//! the harness on free loopback ports): registrations and deregistrations move live
//! traffic with no failed request, a service with no instances falls through to the
//! dtab's alternative, a Consul restart neither stops routing nor leaves a stale set, and
//! the Linkerd 1 walkthrough's sidecar pair works as documented.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::Consul;
use l5d_integration::{backend_of, eventually, http_get, Linkerd, Load, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

fn linkerd(consul: &Consul, dtab: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.consul\n  host: 127.0.0.1\n  port: {}\nrouters:\n- protocol: http\n  dtab: '{dtab}'\n  servers:\n  - port: 0\n",
        consul.port
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

#[test]
fn registrations_move_live_traffic_with_no_failed_request() {
    let consul = Consul::start();
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    consul.register("web-a", "web", a.addr, &[]);
    let l = linkerd(&consul, "/svc => /#/io.l5d.consul/dc1;");
    eventually("linkerd to find web in consul", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    let load = Load::start(l.addr, "web");
    consul.register("web-b", "web", b.addr, &[]);
    load.reaches("b");
    consul.deregister("web-a");
    load.settles_on("b", 20);
    load.finish_without_failures();
    let m = l.metrics();
    assert!(
        m["namer/io.l5d.consul/updates"].as_u64().unwrap_or(0) >= 3,
        "{m}"
    );
}

#[test]
fn a_service_with_no_instances_falls_through_to_the_alternative() {
    let consul = Consul::start();
    let fallback = PythonBackend::start("fallback");
    let a = PythonBackend::start("a");
    let dtab = format!(
        "/svc => /#/io.l5d.consul/dc1 | /$/inet/127.0.0.1/{};",
        fallback.addr.port()
    );
    let l = linkerd(&consul, &dtab);
    assert_eq!(backend_of(l.addr, "web"), (200, "fallback".into()));
    consul.register("web-a", "web", a.addr, &[]);
    eventually("consul's instance to take over", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    consul.deregister("web-a");
    eventually("the fallback to take over again", WAIT, || {
        (backend_of(l.addr, "web") == (200, "fallback".into())).then_some(())
    });
}

#[test]
fn a_consul_restart_keeps_routing_and_then_follows_consul() {
    let mut consul = Consul::start();
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    consul.register("web-a", "web", a.addr, &[]);
    let l = linkerd(&consul, "/svc => /#/io.l5d.consul/dc1;");
    eventually("linkerd to find web in consul", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    consul.stop();
    for _ in 0..20 {
        assert_eq!(
            backend_of(l.addr, "web"),
            (200, "a".into()),
            "the last set while consul is away"
        );
    }
    // The restarted agent knows nothing until instances register again: linkerd follows
    // what it says now, not what it said before.
    consul.restart();
    consul.register("web-b", "web", b.addr, &[]);
    eventually("linkerd to follow the restarted consul", WAIT, || {
        (backend_of(l.addr, "web") == (200, "b".into())).then_some(())
    });
    for _ in 0..10 {
        assert_eq!(
            backend_of(l.addr, "web"),
            (200, "b".into()),
            "never the stale a"
        );
    }
}

/// Linkerd 1's Consul walkthrough: an outgoing router names requests by method and host
/// and finds the service's instances in Consul, which are its hosts' incoming routers;
/// the incoming router hands the request to the local app.
#[test]
fn the_walkthrough_sidecar_pair_routes_through_consul() {
    let consul = Consul::start();
    let app = PythonBackend::start("my-service-app");
    let incoming_yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  label: incoming\n  dtab: /svc => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n",
        app.addr.port()
    );
    let incoming = Linkerd::start(Path::new(BIN), &incoming_yaml, "incoming");
    consul.register("my-service-1", "my-service", incoming.addr, &[]);
    let outgoing_yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.consul\n  host: 127.0.0.1\n  port: {}\nrouters:\n- protocol: http\n  label: outgoing\n  dstPrefix: /http\n  identifier:\n    kind: io.l5d.methodAndHost\n  dtab: /http/1.1/* => /#/io.l5d.consul/dc1;\n  servers:\n  - port: 0\n",
        consul.port
    );
    let outgoing = Linkerd::start(Path::new(BIN), &outgoing_yaml, "outgoing");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "-H", "Host: my-service"])
        .arg(format!("http://{}/some/rest/service", outgoing.addr))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(v["backend"], "my-service-app");
    assert_eq!(v["path"], "/some/rest/service");
    let m = outgoing.metrics();
    assert_eq!(
        m["rt/outgoing/service/http/1.1/GET/my-service/requests"], 1,
        "{m}"
    );
}

/// Tags in names, the agent's own datacenter, health checks and setHost.
#[test]
fn tags_local_datacenter_health_and_set_host() {
    let consul = Consul::start();
    let canary = PythonBackend::start("canary");
    let primary = PythonBackend::start("primary");
    let sick = PythonBackend::start("sick");
    consul.register("web-canary", "web", canary.addr, &["canary"]);
    consul.register("web-primary", "web", primary.addr, &["primary"]);
    consul.register_json(&serde_json::json!({
        "ID": "web-sick", "Name": "web", "Tags": ["canary"],
        "Address": "127.0.0.1", "Port": sick.addr.port(),
        "Check": {"TTL": "600s", "Status": "critical"},
    }));
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.consul\n  host: 127.0.0.1\n  port: {}\n  includeTag: true\n  useHealthCheck: true\n  setHost: true\nrouters:\n- protocol: http\n  dtab: /svc => /#/io.l5d.consul/.local/canary;\n  servers:\n  - port: 0\n",
        consul.port
    );
    let l = Linkerd::start(Path::new(BIN), &yaml, "http");
    for _ in 0..20 {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // Only the healthy canary: not the primary (another tag), not the sick canary.
        assert_eq!(v["backend"], "canary", "{v}");
        let host = v["headers"]["Host"]
            .as_str()
            .or(v["headers"]["host"].as_str());
        assert_eq!(host, Some("canary.web.service.dc1.consul"), "{v}");
    }
}

/// `bindingCache.idleTtlSecs`: a name nobody asks for any more is forgotten, with its
/// client, its metrics and its Consul watch.
#[test]
fn idle_bindings_are_forgotten_with_their_watches() {
    let consul = Consul::start();
    let a = PythonBackend::start("a");
    consul.register("web-a", "web", a.addr, &[]);
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.consul\n  host: 127.0.0.1\n  port: {}\nrouters:\n- protocol: http\n  bindingCache:\n    idleTtlSecs: 1\n  dtab: /svc => /#/io.l5d.consul/dc1;\n  servers:\n  - port: 0\n",
        consul.port
    );
    let l = Linkerd::start(Path::new(BIN), &yaml, "http");
    assert_eq!(backend_of(l.addr, "web"), (200, "a".into()));
    let state = |l: &Linkerd| http_get(l.admin, "/namer_state/io.l5d.consul.json", &[]).2;
    assert!(state(&l).contains("dc1/web"));
    eventually("the idle name to be forgotten", WAIT, || {
        let m = l.metrics();
        let gone = m
            .get("rt/http/client/#/io.l5d.consul/dc1/web/requests")
            .is_none();
        (gone && !state(&l).contains("dc1/web")).then_some(())
    });
    // Asked for again, it is bound anew.
    assert_eq!(backend_of(l.addr, "web"), (200, "a".into()));
}
