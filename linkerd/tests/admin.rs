//! linkerd's admin server, run as the real binary and spoken to with curl.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use l5d_integration::{temp_dir, Process};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// A running linkerd with an fs namer and a router labelled `plain`, its admin server on
/// an ephemeral port.
struct Linkerd {
    process: Process,
    admin: String,
}

fn start() -> Linkerd {
    let dir = temp_dir("admin");
    let disco = dir.join("disco");
    std::fs::create_dir(&disco).unwrap();
    std::fs::write(disco.join("cat"), "127.0.0.1 8888\n").unwrap();
    let config = dir.join("linkerd.yaml");
    let yaml = format!(
        "admin:\n  ip: 127.0.0.1\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nrouters:\n- protocol: http\n  label: plain\n  dtab: /svc => /#/io.l5d.fs\n  servers:\n  - port: 0\n",
        disco.display()
    );
    std::fs::write(&config, yaml).unwrap();
    let mut process = Process::start(Path::new(BIN), &[config.to_str().unwrap()]);
    process.wait_for_stderr("linkerd is running", WAIT);
    let admin = process
        .logged_addr("admin server listening on ")
        .to_string();
    Linkerd { process, admin }
}

/// Runs curl and returns the status code and body.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').expect("a status line");
    (code.parse().expect("a status code"), body.to_string())
}

impl Linkerd {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let mut args = vec!["-G".to_string(), self.url(path)];
        for (k, v) in params {
            args.push("--data-urlencode".into());
            args.push(format!("{k}={v}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        curl(&args)
    }

    fn post_json(&self, path: &str, content_type: &str, body: &str) -> (u16, String) {
        curl(&[
            "-X",
            "POST",
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            body,
            &self.url(path),
        ])
    }
}

#[test]
fn ping_answers_pong_and_unknown_pages_404() {
    let l = start();
    assert_eq!(l.get("/admin/ping", &[]), (200, "pong".into()));
    assert_eq!(l.get("/nope", &[]).0, 404);
    let (status, index) = l.get("/admin", &[]);
    assert_eq!(status, 200);
    assert!(
        index.contains("/delegator.json") && index.contains("/admin/ping"),
        "{index}"
    );
}

#[test]
fn delegator_json_explains_with_the_routers_namers() {
    let l = start();
    let (status, body) = l.get(
        "/delegator.json",
        &[
            ("namespace", "plain"),
            ("path", "/svc/cat"),
            ("dtab", "/svc => /#/io.l5d.fs"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        concat!(
            r#"{"type":"delegate","path":"/svc/cat","delegate":{"type":"leaf","path":"/#/io.l5d.fs/cat","#,
            r#""dentry":{"prefix":"/svc","dst":"/#/io.l5d.fs"},"bound":{"addr":{"type":"bound","#,
            r#""addrs":[{"ip":"127.0.0.1","port":8888,"meta":{}}],"meta":{}},"id":"/#/io.l5d.fs/cat","path":"/"}}}"#
        )
    );
    // The same request as the admin UI sends it.
    let posted = l.post_json(
        "/delegator.json",
        "application/json",
        r#"{"namespace":"plain","dtab":"/svc => /#/io.l5d.fs","path":"/svc/cat"}"#,
    );
    assert_eq!(posted, (200, body));
    // With no namespace only the system namers exist, so the fs name is neg.
    let (_, sys) = l.get(
        "/delegator.json",
        &[("path", "/svc/cat"), ("dtab", "/svc => /#/io.l5d.fs")],
    );
    assert!(
        sys.contains(r#""type":"neg","path":"/#/io.l5d.fs/cat""#),
        "{sys}"
    );
}

#[test]
fn delegator_json_refuses_bad_requests_like_linkerd() {
    let l = start();
    let (s, b) = l.get(
        "/delegator.json",
        &[("namespace", "plain"), ("path", "invalid-param")],
    );
    assert_eq!(
        (s, b.as_str()),
        (
            400,
            "Invalid path: '/' expected but 'i' found at '[i]nvalid-param'"
        )
    );
    let (s, b) = l.get("/delegator.json", &[("path", "/a"), ("dtab", "/a=>")]);
    assert_eq!(s, 400);
    assert!(b.starts_with("Invalid dtab: "), "{b}");
    let (s, b) = l.post_json(
        "/delegator.json",
        "application/json;charset=utf-8",
        r#"{"dtab":"","path":"/a"}"#,
    );
    assert_eq!(s, 415, "{b}");
    let (s, b) = l.post_json(
        "/delegator.json",
        "application/json",
        r#"{"namespace":"plain"}"#,
    );
    assert_eq!(
        (s, b.as_str()),
        (
            400,
            r#"Malformed delegation request: {"namespace":"plain"}"#
        )
    );
    assert_eq!(
        l.get("/delegator.json", &[("namespace", "nope"), ("path", "/a")])
            .0,
        404
    );
    assert_eq!(curl(&["-X", "PUT", &l.url("/delegator.json")]).0, 405);
}

#[test]
fn config_json_is_the_config_as_written() {
    let l = start();
    let (status, body) = l.get("/config.json", &[]);
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["routers"][0]["label"], "plain");
    assert_eq!(json["namers"][0]["kind"], "io.l5d.fs");
}

#[test]
fn admin_shutdown_stops_linkerd_cleanly() {
    let l = start();
    assert_eq!(l.get("/admin/shutdown", &[]).0, 405, "only POST shuts down");
    assert!(l.process.stderr_so_far().contains("linkerd is running"));
    let (status, _) = curl(&["-X", "POST", &l.url("/admin/shutdown")]);
    assert_eq!(status, 200);
    let done = l.process.wait(WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("linkerd is stopping"));
}
