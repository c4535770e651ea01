//! The `io.l5d.marathon` namer against a stand-in for Marathon's API
//! (`integration/marathon/stub.py`: Marathon cannot be installed here, so this is a mock,
//! and says so): apps' tasks are polled every `ttlMs`; tasks changing move traffic, failing
//! health checks are left out with `useHealthCheck`, and a removed app stops routing.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::free_port;
use l5d_integration::{backend_of, eventually, Linkerd, Process, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

fn set_tasks(port: u16, app: &str, tasks: serde_json::Value) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT", "--data-binary"])
        .arg(tasks.to_string())
        .arg(format!("http://127.0.0.1:{port}/stub/apps{app}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn task(b: &PythonBackend, alive: bool) -> serde_json::Value {
    serde_json::json!({"host": "127.0.0.1", "ports": [b.addr.port()], "healthCheckResults": [{"alive": alive}]})
}

#[test]
fn marathon_tasks_are_followed_and_unhealthy_ones_left_out() {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integration/marathon/stub.py");
    let mut stub = Process::start(
        Path::new("python3"),
        &[script.to_str().unwrap(), &port.to_string()],
    );
    stub.logged_addr("listening on ");
    let a = PythonBackend::start("a");
    let b = PythonBackend::start("b");
    set_tasks(
        port,
        "/prod/web",
        serde_json::json!([task(&a, true), task(&b, false)]),
    );
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.marathon\n  experimental: true\n  host: 127.0.0.1\n  port: {port}\n  ttlMs: 100\n  jitterMs: 10\n  useHealthCheck: true\nrouters:\n- protocol: http\n  dtab: /svc/web => /#/io.l5d.marathon/prod/web;\n  servers:\n  - port: 0\n"
    );
    let l = Linkerd::start(Path::new(BIN), &yaml, "http");
    eventually("linkerd to find the app", WAIT, || {
        (backend_of(l.addr, "web") == (200, "a".into())).then_some(())
    });
    for _ in 0..10 {
        assert_eq!(
            backend_of(l.addr, "web"),
            (200, "a".into()),
            "b's health check fails"
        );
    }
    set_tasks(port, "/prod/web", serde_json::json!([task(&b, true)]));
    eventually("traffic to follow the tasks", WAIT, || {
        (0..5)
            .all(|_| backend_of(l.addr, "web") == (200, "b".into()))
            .then_some(())
    });
    let out = std::process::Command::new("curl")
        .args(["-sS", "-f", "-X", "DELETE"])
        .arg(format!("http://127.0.0.1:{port}/stub/apps/prod/web"))
        .output()
        .unwrap();
    assert!(out.status.success());
    eventually("a removed app to stop routing", WAIT, || {
        (backend_of(l.addr, "web").0 == 502).then_some(())
    });
}
