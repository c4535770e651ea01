//! The `io.l5d.serversets` and `io.l5d.zkLeader` namers against a real ZooKeeper 3.8
//! (Debian's package, started by the harness on a free loopback port; members written
//! with its own zkCli.sh): members joining and leaving move live traffic with no failed
//! request, and a ZooKeeper restart keeps routing and then follows new changes.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::ZooKeeper;
use l5d_integration::{eventually, http_get, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

fn backend_of(addr: std::net::SocketAddr) -> (u16, String) {
    let (status, _, body) = http_get(addr, "/", &[("Host", "web")]);
    let name = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["backend"].as_str().map(str::to_string))
        .unwrap_or(body);
    (status, name)
}

fn linkerd(zk: &ZooKeeper, kind: &str, dtab: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: {kind}\n  zkAddrs:\n  - host: 127.0.0.1\n    port: {}\nrouters:\n- protocol: http\n  dtab: '{dtab}'\n  servers:\n  - port: 0\n",
        zk.port
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

#[test]
fn serverset_members_move_traffic_and_survive_a_zookeeper_restart() {
    let mut zk = ZooKeeper::start();
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    let member_a = zk.add_member("/services/prod/web", a.addr);
    let l = linkerd(
        &zk,
        "io.l5d.serversets",
        "/svc/web => /#/io.l5d.serversets/services/prod/web;",
    );
    eventually("linkerd to find the serverset", WAIT, || {
        (backend_of(l.addr) == (200, "a".into())).then_some(())
    });
    let member_b = zk.add_member("/services/prod/web", b.addr);
    eventually("the new member to get traffic", WAIT, || {
        (0..10).any(|_| backend_of(l.addr).1 == "b").then_some(())
    });
    zk.delete(&member_a);
    eventually("the departed member to lose traffic", WAIT, || {
        (0..10)
            .all(|_| backend_of(l.addr) == (200, "b".into()))
            .then_some(())
    });

    zk.stop();
    for _ in 0..20 {
        assert_eq!(
            backend_of(l.addr),
            (200, "b".into()),
            "the last set while ZooKeeper is away"
        );
    }
    zk.restart();
    // Watches are set again on the new session: the next change is followed.
    let member_a = zk.add_member("/services/prod/web", a.addr);
    zk.delete(&member_b);
    eventually(
        "linkerd to follow ZooKeeper after its restart",
        WAIT,
        || {
            (0..10)
                .all(|_| backend_of(l.addr) == (200, "a".into()))
                .then_some(())
        },
    );
    // (The session usually outlives a quick restart and the client re-arms its watches;
    // when it does not, the namer makes a new session and sets them again.)
    let m = l.metrics();
    assert!(
        m["namer/io.l5d.serversets/updates"].as_u64().unwrap_or(0) >= 4,
        "{m}"
    );
    let _ = member_a;
}

#[test]
fn the_leader_is_the_lowest_member() {
    let zk = ZooKeeper::start();
    let a = PythonBackend::start("first");
    let b = PythonBackend::start("second");
    zk.ensure("/leaders/web");
    let first = zk.cli(&["create", "-s", "/leaders/web/member_", &a.addr.to_string()]);
    zk.cli(&["create", "-s", "/leaders/web/member_", &b.addr.to_string()]);
    let l = linkerd(
        &zk,
        "io.l5d.zkLeader",
        "/svc/web => /#/io.l5d.zkLeader/leaders/web;",
    );
    eventually("linkerd to find the leader", WAIT, || {
        (backend_of(l.addr) == (200, "first".into())).then_some(())
    });
    let first = first
        .lines()
        .find_map(|l| l.strip_prefix("Created "))
        .unwrap()
        .trim()
        .to_string();
    zk.delete(&first);
    eventually("the next member to lead", WAIT, || {
        (backend_of(l.addr) == (200, "second".into())).then_some(())
    });
}
