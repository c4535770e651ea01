//! namerd's HTTP API (`io.l5d.httpController`) with curl, against the real binary: the
//! exact answers of Linkerd 1's docs, versioned updates (412 for a stale ETag, 409 for a
//! second create), bad input (400), and watch streams.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use l5d_integration::control::{free_port, Namerd};
use l5d_integration::{eventually, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_namerd");

/// curl's answer: status, headers, body.
fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    (status, head.to_string(), body.to_string())
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn namerd() -> (Namerd, String) {
    let disco = temp_dir("namerd-disco");
    std::fs::write(disco.join("default"), "127.0.0.1 9990\n").unwrap();
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nstorage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: /svc => /#/io.l5d.fs\ninterfaces:\n- kind: io.l5d.httpController\n  port: {}\n",
        disco.display(),
        free_port()
    );
    let n = Namerd::start(Path::new(BIN), &yaml);
    let base = format!("http://{}", n.http);
    (n, base)
}

#[test]
fn the_dtab_api_answers_as_linkerd_1s_docs_show() {
    let (n, base) = namerd();
    assert_eq!(curl(&[&format!("{base}/api/1/dtabs")]).2, "[\"default\"]\n");
    let (status, head, body) = curl(&[&format!("{base}/api/1/dtabs/default")]);
    assert_eq!(status, 200);
    assert_eq!(body, "[{\"prefix\":\"/svc\",\"dst\":\"/#/io.l5d.fs\"}]\n");
    assert_eq!(header(&head, "etag").as_deref(), Some("AAAAAAAAAAE="));
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("application/json")
    );
    let (_, head, body) = curl(&[
        "-H",
        "Accept: application/dtab",
        &format!("{base}/api/1/dtabs/default"),
    ]);
    assert_eq!(body, "/svc=>/#/io.l5d.fs\n");
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("application/dtab")
    );
    let (status, head, body) = curl(&["-I", &format!("{base}/api/1/dtabs/default")]);
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(header(&head, "etag").as_deref(), Some("AAAAAAAAAAE="));
    assert_eq!(curl(&[&format!("{base}/api/1/dtabs/nope")]).0, 404);

    // Create, conflict, update, stale update, upsert, delete.
    let ns = format!("{base}/api/1/dtabs/pandoracorn");
    let dtab = ["-H", "Content-Type: application/dtab"];
    let post = curl(&["-X", "POST", dtab[0], dtab[1], "-d", "/foo => /bar", &ns]);
    assert_eq!(post.0, 204, "{post:?}");
    assert_eq!(
        curl(&["-X", "POST", dtab[0], dtab[1], "-d", "/foo => /baz", &ns]).0,
        409
    );
    let (_, head, _) = curl(&[&ns]);
    let etag = header(&head, "etag").unwrap();
    let if_match = format!("If-Match: {etag}");
    let put = curl(&[
        "-X",
        "PUT",
        dtab[0],
        dtab[1],
        "-H",
        &if_match,
        "-d",
        "/bar => /bas",
        &ns,
    ]);
    assert_eq!(put.0, 204, "{put:?}");
    let stale = curl(&[
        "-X",
        "PUT",
        dtab[0],
        dtab[1],
        "-H",
        &if_match,
        "-d",
        "/lost => /update",
        &ns,
    ]);
    assert_eq!(stale.0, 412, "a concurrent edit is refused, not lost");
    assert_eq!(
        curl(&["-H", "Accept: application/dtab", &ns]).2,
        "/bar=>/bas\n"
    );
    let json = ["-H", "Content-Type: application/json"];
    let upsert = curl(&[
        "-X",
        "PUT",
        json[0],
        json[1],
        "-d",
        r#"[{"prefix":"/a","dst":"/b"}]"#,
        &format!("{base}/api/1/dtabs/fresh"),
    ]);
    assert_eq!(upsert.0, 204, "{upsert:?}");
    assert_eq!(
        curl(&[&format!("{base}/api/1/dtabs")]).2,
        "[\"default\",\"fresh\",\"pandoracorn\"]\n"
    );
    assert_eq!(curl(&["-X", "DELETE", &ns]).0, 204);
    assert_eq!(curl(&["-X", "DELETE", &ns]).0, 404);

    // Bad input: a dtab that does not parse, JSON that is not a dtab, no content type.
    let bad = curl(&[
        "-X",
        "PUT",
        dtab[0],
        dtab[1],
        "-d",
        "/foo => ",
        &format!("{base}/api/1/dtabs/default"),
    ]);
    assert_eq!(bad.0, 400);
    assert!(bad.2.starts_with("Invalid dtab"), "{}", bad.2);
    let bad = curl(&[
        "-X",
        "PUT",
        json[0],
        json[1],
        "-d",
        "[1,2]",
        &format!("{base}/api/1/dtabs/default"),
    ]);
    assert_eq!(bad.0, 400);
    assert!(
        bad.2.starts_with("The dtab contains invalid dentries"),
        "{}",
        bad.2
    );
    let bad = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: image/png",
        "-d",
        "x",
        &format!("{base}/api/1/dtabs/default"),
    ]);
    assert_eq!(bad.0, 400);
    assert_eq!(curl(&[&format!("{base}/api/1/nope")]).0, 404);
    let m = n.metrics();
    assert_eq!(m["namerd/http/status/412"], 1, "{m}");
    assert_eq!(m["namerd/http/status/409"], 1, "{m}");
}

#[test]
fn bind_addr_resolve_and_delegate_answer_linkerd_1s_shapes() {
    let (_n, base) = namerd();
    let addr = r#"{"type":"bound","addrs":[{"ip":"127.0.0.1","port":9990,"meta":{}}],"meta":{}}"#;
    let (status, _, body) = curl(&[&format!("{base}/api/1/bind/default?path=/svc/default")]);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"type":"leaf","bound":{{"addr":{addr},"id":"/#/io.l5d.fs/default","path":"/"}}}}"#
        ) + "\n"
    );
    let (_, _, body) = curl(&[&format!(
        "{base}/api/1/addr/default?path=/%23/io.l5d.fs/default"
    )]);
    assert_eq!(body, format!("{addr}\n"));
    let (_, _, body) = curl(&[&format!("{base}/api/1/resolve/default?path=/svc/default")]);
    assert_eq!(body, format!("{addr}\n"));
    let (_, _, body) = curl(&[&format!("{base}/api/1/resolve/default?path=/nowhere")]);
    assert_eq!(body, "{\"type\":\"neg\"}\n");
    let (status, _, body) = curl(&[&format!("{base}/api/1/delegate/default?path=/svc/default")]);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "delegate");
    assert_eq!(v["path"], "/svc/default");
    assert_eq!(
        v["delegate"]["dentry"],
        serde_json::json!({"prefix": "/svc", "dst": "/#/io.l5d.fs"})
    );
    assert_eq!(v["delegate"]["bound"]["id"], "/#/io.l5d.fs/default");
    // A request dtab goes after the stored one.
    let (_, _, body) = curl(&[
        "-G",
        "--data-urlencode",
        "path=/svc/default",
        "--data-urlencode",
        "dtab=/svc/default=>/$/inet/127.0.0.1/1",
        &format!("{base}/api/1/bind/default"),
    ]);
    assert!(body.contains("\"id\":\"/$/inet/127.0.0.1/1\""), "{body}");
    let (_, _, body) = curl(&[&format!("{base}/api/1/bound-names")]);
    assert!(body.contains("/#/io.l5d.fs/default"), "{body}");
    let (status, _, body) = curl(&[&format!("{base}/api/1/bind/default?path=not-a-path")]);
    assert_eq!(status, 400);
    assert!(body.starts_with("Invalid path"), "{body}");
}

#[test]
fn watches_stream_one_document_per_change() {
    let (n, base) = namerd();
    let out = temp_dir("namerd-watch").join("stream");
    let watcher = Command::new("curl")
        .args([
            "-sSN",
            "--max-time",
            "30",
            "-H",
            "Accept: application/dtab",
            "-o",
        ])
        .arg(&out)
        .arg(format!("{base}/api/1/dtabs/default?watch=1"))
        .spawn()
        .unwrap();
    eventually("the watch to start", Duration::from_secs(20), || {
        std::fs::read_to_string(&out).ok().filter(|s| !s.is_empty())
    });
    let put = |d: &str| {
        let (s, _, _) = curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/dtab",
            "-d",
            d,
            &format!("{base}/api/1/dtabs/default"),
        ]);
        assert_eq!(s, 204);
    };
    put("/svc => /#/io.l5d.fs/x");
    put("/svc => /#/io.l5d.fs/x");
    put("/svc => /#/io.l5d.fs/y");
    let text = eventually("three documents", Duration::from_secs(20), || {
        let t = std::fs::read_to_string(&out).ok()?;
        (t.lines().count() >= 3).then_some(t)
    });
    assert_eq!(
        text, "/svc=>/#/io.l5d.fs\n/svc=>/#/io.l5d.fs/x\n/svc=>/#/io.l5d.fs/y\n",
        "one line per change, the repeated PUT suppressed"
    );
    let mut watcher = watcher;
    let _ = watcher.kill();
    let _ = watcher.wait();
    drop(n);
}

/// Starts `curl -N` on a watch URL, writing the stream to a file; the file.
fn watch(url: &str) -> (std::process::Child, std::path::PathBuf) {
    let out = temp_dir("namerd-watch").join("stream");
    let child = Command::new("curl")
        .args(["-sSN", "--max-time", "30", "-o"])
        .arg(&out)
        .arg(url)
        .spawn()
        .unwrap();
    (child, out)
}

fn lines_of(file: &std::path::Path, n: usize) -> Vec<String> {
    eventually(&format!("{n} documents"), Duration::from_secs(20), || {
        let t = std::fs::read_to_string(file).ok()?;
        let lines: Vec<String> = t.lines().map(str::to_string).collect();
        (lines.len() >= n).then_some(lines)
    })
}

#[test]
fn resolve_and_bound_names_can_be_watched_too() {
    let (_n, base) = namerd();
    let (mut names, names_file) = watch(&format!("{base}/api/1/bound-names?watch=1"));
    let (mut resolved, resolved_file) = watch(&format!(
        "{base}/api/1/resolve/default?path=/svc/default&watch=1"
    ));
    let first = lines_of(&resolved_file, 1);
    assert!(first[0].contains("\"port\":9990"), "{first:?}");
    let (s, _, _) = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/dtab",
        "--data-binary",
        "/svc => /#/io.l5d.fs; /svc/default => /$/inet/127.0.0.1/1;",
        &format!("{base}/api/1/dtabs/default"),
    ]);
    assert_eq!(s, 204);
    let both = lines_of(&resolved_file, 2);
    assert!(both[1].contains("\"port\":1"), "{both:?}");
    let names_seen = lines_of(&names_file, 2);
    assert!(
        names_seen
            .iter()
            .any(|l| l.contains("/#/io.l5d.fs/default")),
        "{names_seen:?}"
    );
    for c in [&mut names, &mut resolved] {
        let _ = c.kill();
        let _ = c.wait();
    }
}
