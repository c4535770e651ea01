//! The `io.l5d.k8s` namer. Once, against a real kube-apiserver v1.20.2 built from
//! Debian's kubernetes source package (`integration/k8s/build.sh`, about 10 minutes, too
//! long for CI) behind `kubectl proxy`: that run (ignored by default; run it with
//! `KUBE_APISERVER=<path> cargo test -p linkerd --test k8s -- --ignored`) also records
//! the API's answers into `integration/k8s/recorded.json`. In CI, against a server that
//! replays those recorded answers (`integration/k8s/replay.py`: a mock, said so).
//!
//! The apiserver refuses loopback endpoint addresses, so these tests check what linkerd
//! resolves (`/client_state.json`) rather than sending traffic to the endpoints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use l5d_integration::control::{free_port, KubeApi};
use l5d_integration::{eventually, http_get, Linkerd, Process};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../integration/k8s/recorded.json")
}

fn linkerd(api_port: u16) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.k8s\n  host: 127.0.0.1\n  port: {api_port}\nrouters:\n- protocol: http\n  dtab: /svc => /#/io.l5d.k8s/prod/http;\n  client:\n    connectTimeoutMs: 100\n  servers:\n  - port: 0\n"
    );
    Linkerd::start(Path::new(BIN), &yaml, "http")
}

/// The addresses linkerd's client for `web` holds, once a request has bound it.
fn addresses(l: &Linkerd) -> Option<Vec<String>> {
    let (_, _, body) = http_get(l.admin, "/client_state.json", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let mut a: Vec<String> = v["/#/io.l5d.k8s/prod/http/web"]["addresses"]
        .as_array()?
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    a.sort();
    Some(a)
}

/// Sends a request for `web`, so that linkerd binds it; its status.
fn request(l: &Linkerd) -> u16 {
    http_get(l.addr, "/", &[("Host", "web")]).0
}

fn endpoints(ips: &[&str], version: Option<&str>) -> serde_json::Value {
    let mut meta = serde_json::json!({"name": "web"});
    if let Some(v) = version {
        meta["resourceVersion"] = v.into();
    }
    serde_json::json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
        "subsets": [{
            "addresses": ips.iter().map(|ip| serde_json::json!({"ip": ip, "nodeName": "n1"})).collect::<Vec<_>>(),
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "admin", "port": 9990}],
        }],
    })
}

#[test]
#[ignore = "needs a kube-apiserver built from Debian's kubernetes source (KUBE_APISERVER=...)"]
fn k8s_namer_against_a_real_apiserver() {
    let apiserver = std::env::var("KUBE_APISERVER").expect("KUBE_APISERVER");
    let k8s = KubeApi::start(Path::new(&apiserver));
    k8s.send(
        "POST",
        "/api/v1/namespaces",
        &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
    );
    let object_path = "/api/v1/namespaces/prod/endpoints/web";
    let watch_path = "/api/v1/watch/namespaces/prod/endpoints/web";
    let created = k8s.send(
        "POST",
        "/api/v1/namespaces/prod/endpoints",
        &endpoints(&["10.1.0.1", "10.1.0.2"], None),
    );
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let rv0 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // Record what the API says, as linkerd reads it.
    let get = |path: &str| {
        let (status, _, body) = http_get(
            std::net::SocketAddr::from(([127, 0, 0, 1], k8s.port)),
            path,
            &[("Host", "127.0.0.1")],
        );
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        )
    };
    let state0 = get(object_path).1;
    let watch_file = l5d_integration::temp_dir("k8s-watch").join("events");
    let mut watcher = std::process::Command::new("curl")
        .args(["-sSN", "--max-time", "60", "-o"])
        .arg(&watch_file)
        .arg(format!(
            "http://127.0.0.1:{}{watch_path}?resourceVersion={rv0}",
            k8s.port
        ))
        .spawn()
        .unwrap();

    let l = linkerd(k8s.port);
    request(&l);
    eventually("linkerd to resolve web's endpoints", WAIT, || {
        (addresses(&l)? == ["10.1.0.1:8080", "10.1.0.2:8080"]).then_some(())
    });
    let updated = k8s.send("PUT", object_path, &endpoints(&["10.1.0.1"], Some(&rv0)));
    assert!(updated.contains("10.1.0.1"), "{updated}");
    eventually("linkerd to follow the update", WAIT, || {
        (addresses(&l)? == ["10.1.0.1:8080"]).then_some(())
    });
    let state1 = get(object_path).1;
    k8s.send("DELETE", object_path, &serde_json::json!({}));
    let (status, not_found) = get(object_path);
    assert_eq!(status, 404);
    eventually("a deleted service to stop routing", WAIT, || {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        (status == 502 && body.contains("/svc/web")).then_some(())
    });
    let events: Vec<serde_json::Value> = eventually("the watch to see both changes", WAIT, || {
        let text = std::fs::read_to_string(&watch_file).ok()?;
        let events: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (events.len() >= 2).then_some(events)
    });
    let _ = watcher.kill();
    let _ = watcher.wait();
    if std::env::var_os("L5D_RECORD").is_some() {
        let recording = serde_json::json!({
            "recorded_from": "kube-apiserver v1.20.2 (Debian kubernetes 1.20.5+really1.20.2-1.1+deb12u1, built from source) behind kubectl proxy",
            "object_path": object_path,
            "watch_path": watch_path,
            "states": [state0, state1, null],
            "not_found": not_found,
            "events": events,
        });
        std::fs::write(
            recorded(),
            serde_json::to_string_pretty(&recording).unwrap() + "\n",
        )
        .unwrap();
    }
}

#[test]
fn k8s_namer_against_recorded_apiserver_responses() {
    // A mock: responses recorded from the real apiserver run above, replayed.
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integration/k8s/replay.py");
    let mut replay = Process::start(
        Path::new("python3"),
        &[
            script.to_str().unwrap(),
            recorded().to_str().unwrap(),
            &port.to_string(),
        ],
    );
    replay.logged_addr("listening on ");
    let next = || {
        let out = std::process::Command::new("curl")
            .args(["-sS", "-f", "-X", "POST"])
            .arg(format!("http://127.0.0.1:{port}/replay/next"))
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    let l = linkerd(port);
    request(&l);
    eventually("linkerd to resolve web's endpoints", WAIT, || {
        (addresses(&l)? == ["10.1.0.1:8080", "10.1.0.2:8080"]).then_some(())
    });
    // A watch refused as too old (410) is answered with a fresh read: nothing is lost.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-f", "-X", "POST"])
        .arg(format!("http://127.0.0.1:{port}/replay/gone"))
        .output()
        .unwrap();
    assert!(out.status.success());
    eventually("the namer to read again after 410", WAIT, || {
        let m = l.metrics();
        (m["namer/io.l5d.k8s/watch_restarts"].as_u64() >= Some(1)).then_some(())
    });
    assert_eq!(addresses(&l).unwrap(), ["10.1.0.1:8080", "10.1.0.2:8080"]);
    let (status, _, body) = http_get(l.admin, "/namer_state/io.l5d.k8s.json", &[]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"prod/web\"") && body.contains("10.1.0.2"),
        "{body}"
    );
    next();
    eventually("linkerd to follow the recorded update", WAIT, || {
        (addresses(&l)? == ["10.1.0.1:8080"]).then_some(())
    });
    next();
    eventually("a deleted service to stop routing", WAIT, || {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        (status == 502 && body.contains("/svc/web")).then_some(())
    });
    let m = l.metrics();
    assert!(
        m["namer/io.l5d.k8s/updates"].as_u64().unwrap_or(0) >= 2,
        "{m}"
    );
}

#[test]
fn k8s_ns_takes_its_namespace_from_the_environment() {
    // The same recorded answers (a mock, as above), through io.l5d.k8s.ns.
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integration/k8s/replay.py");
    let mut replay = Process::start(
        Path::new("python3"),
        &[
            script.to_str().unwrap(),
            recorded().to_str().unwrap(),
            &port.to_string(),
        ],
    );
    replay.logged_addr("listening on ");
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.k8s.ns\n  envVar: L5D_TEST_NAMESPACE\n  host: 127.0.0.1\n  port: {port}\nrouters:\n- protocol: http\n  dtab: /svc => /#/io.l5d.k8s.ns/http;\n  client:\n    connectTimeoutMs: 100\n  servers:\n  - port: 0\n"
    );
    let l = Linkerd::start_with_env(
        Path::new(BIN),
        &yaml,
        "http",
        "http",
        &[("L5D_TEST_NAMESPACE", "prod")],
    );
    request(&l);
    eventually(
        "linkerd to resolve web in the environment's namespace",
        WAIT,
        || {
            let (_, _, body) = http_get(l.admin, "/client_state.json", &[]);
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let n = v["/#/io.l5d.k8s.ns/http/web"]["addresses"]
                .as_array()?
                .len();
            (n == 2).then_some(())
        },
    );
}
