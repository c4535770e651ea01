//! The `io.l5d.serversets` and `io.l5d.zkLeader` namers against a real ZooKeeper 3.8
//! (Debian's package, started by the harness on a free loopback port; members written
//! with its own zkCli.sh): members joining and leaving move live traffic with no failed
//! request, and a ZooKeeper restart keeps routing and then follows new changes.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::ZooKeeper;
use l5d_integration::{backend_of, eventually, Linkerd, Load, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

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
        "/svc/web => /#/io.l5d.serversets/services/prod/web; /svc/web-http => /#/io.l5d.serversets/services/prod/web:http;",
    );
    eventually("linkerd to find the serverset", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    // A named additional endpoint (`:http`) is a name of its own.
    assert_eq!(backend_of(l.addr, "web-http"), (200, "a".into()));
    let load = Load::start(l.addr, "web");
    let member_b = zk.add_member("/services/prod/web", b.addr);
    load.reaches("b");
    zk.delete(&member_a);
    load.settles_on("b", 20);
    load.finish_without_failures();

    zk.stop();
    for _ in 0..20 {
        assert_eq!(
            backend_of(l.addr, "web"),
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
                .all(|_| backend_of(l.addr, "web") == (200, "a".into()))
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
        (backend_of(l.addr, "web") == (200, "first".into())).then_some(())
    });
    let first = first
        .lines()
        .find_map(|l| l.strip_prefix("Created "))
        .unwrap()
        .trim()
        .to_string();
    zk.delete(&first);
    eventually("the next member to lead", WAIT, || {
        (backend_of(l.addr, "web") == (200, "second".into())).then_some(())
    });
}
