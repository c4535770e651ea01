//! linkerd following namerd: the `io.l5d.namerd.http` interpreter against the real namerd
//! binary, with curl (a peer nobody here wrote) changing dtabs through namerd's HTTP API,
//! Python backends behind linkerd, and the `io.l5d.fs` interpreter's watched dtab file.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::{binary_beside, free_port, Namerd};
use l5d_integration::{backend_of, eventually, temp_dir, Linkerd, Load, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

fn namerd_bin() -> std::path::PathBuf {
    binary_beside(Path::new(BIN), "namerd")
}

fn namerd_yaml(http_port: u16, dtab: &str) -> String {
    namerd_yaml_with(http_port, free_port(), dtab)
}

fn namerd_yaml_with(http_port: u16, thrift_port: u16, dtab: &str) -> String {
    format!(
        "admin:\n  port: 0\nstorage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: '{dtab}'\ninterfaces:\n- kind: io.l5d.httpController\n  port: {http_port}\n- kind: io.l5d.thriftNameInterpreter\n  port: {thrift_port}\n"
    )
}

/// The two ways linkerd follows namerd.
#[derive(Clone, Copy, Debug)]
enum Via {
    Http,
    Thrift,
}

fn linkerd_via(namerd: &Namerd, via: Via) -> Linkerd {
    let (kind, port) = match via {
        Via::Http => (
            "io.l5d.namerd.http\n    experimental: true",
            namerd.http.port(),
        ),
        Via::Thrift => (
            "io.l5d.namerd",
            namerd.thrift.expect("a thrift interface").port(),
        ),
    };
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  interpreter:\n    kind: {kind}\n    dst: /$/inet/127.0.0.1/{port}\n    namespace: default\n    retry:\n      baseSeconds: 1\n      maxSeconds: 1\n  servers:\n  - port: 0\n"
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

fn to(b: &PythonBackend) -> String {
    format!("/$/inet/127.0.0.1/{}", b.addr.port())
}

/// Changes namespace `default` with curl: a PUT with the dtab's current ETag.
fn put_dtab(namerd: &Namerd, dtab: &str) {
    let url = format!("http://{}/api/1/dtabs/default", namerd.http);
    let head = std::process::Command::new("curl")
        .args(["-sSI", &url])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).to_string();
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("no ETag in {head}"))
        .trim()
        .to_string();
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/dtab",
            "-H",
            &format!("If-Match: {etag}"),
            "--data-binary",
            dtab,
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204", "PUT {dtab}");
}

#[test]
fn a_dtab_change_moves_live_traffic_through_namerds_http_api() {
    canary_then_blue_green(Via::Http);
}

#[test]
fn a_dtab_change_moves_live_traffic_through_namerds_thriftmux_interface() {
    canary_then_blue_green(Via::Thrift);
}

/// A canary, then blue-green, through namerd: no request fails.
fn canary_then_blue_green(via: Via) {
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    let namerd = Namerd::start(
        &namerd_bin(),
        &namerd_yaml(free_port(), &format!("/svc => {};", to(&a))),
    );
    let l = linkerd_via(&namerd, via);
    eventually("linkerd to route through namerd", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    let load = Load::start(l.addr, "web");
    load.settles_on("a", 5);
    // A canary: a tenth of the traffic to b.
    put_dtab(
        &namerd,
        &format!("/svc => 9 * {} & 1 * {};", to(&a), to(&b)),
    );
    load.reaches("b");
    // Then blue-green: everything to b.
    put_dtab(&namerd, &format!("/svc => {};", to(&b)));
    load.settles_on("b", 20);
    let seen = load.finish_without_failures();
    assert!(seen.len() > 40, "{}", seen.len());
}

#[test]
fn linkerd_keeps_routing_while_namerd_is_down_and_follows_it_once_back() {
    for via in [Via::Http, Via::Thrift] {
        namerd_down_and_back(via);
    }
}

fn namerd_down_and_back(via: Via) {
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    let port = free_port();
    let yaml = namerd_yaml_with(port, free_port(), &format!("/svc => {};", to(&a)));
    let namerd = Namerd::start(&namerd_bin(), &yaml);
    let l = linkerd_via(&namerd, via);
    eventually("linkerd to route through namerd", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    namerd.process.signal("KILL");
    let _ = namerd.process.wait(WAIT);
    for _ in 0..20 {
        assert_eq!(
            backend_of(l.addr, "web"),
            (200, "a".into()),
            "served on the last state"
        );
    }
    let namerd = Namerd::start(&namerd_bin(), &yaml);
    assert_eq!(namerd.http.port(), port);
    put_dtab(&namerd, &format!("/svc => {};", to(&b)));
    eventually("linkerd to follow the restarted namerd", WAIT, || {
        (backend_of(l.addr, "web") == (200, "b".into())).then_some(())
    });
}

#[test]
fn the_fs_interpreter_follows_its_dtab_file() {
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    let dir = temp_dir("fs-interpreter");
    let file = dir.join("dtab");
    std::fs::write(&file, format!("/svc => {};\n", to(&a))).unwrap();
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  interpreter:\n    kind: io.l5d.fs\n    dtabFile: {}\n  servers:\n  - port: 0\n",
        file.display()
    );
    let l = Linkerd::start(Path::new(BIN), &yaml, "http");
    assert_eq!(backend_of(l.addr, "web"), (200, "a".into()));
    let load = Load::start(l.addr, "web");
    // A file that does not parse keeps the last dtab.
    std::fs::write(&file, "/svc => ;;; not a dtab").unwrap();
    std::fs::write(&file, format!("/svc => {};\n", to(&b))).unwrap();
    load.settles_on("b", 10);
    load.finish_without_failures();
}
