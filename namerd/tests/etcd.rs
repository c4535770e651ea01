//! namerd's `io.l5d.etcd` storage against a real etcd 3.4 (Debian's etcd-server, started
//! by the harness on loopback): dtabs outlive namerd, concurrent edits are refused by
//! etcd's compare-and-set, and an etcd restart neither loses a dtab nor wedges namerd.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use l5d_integration::control::{free_port, Etcd, Namerd};
use l5d_integration::eventually;

const BIN: &str = env!("CARGO_BIN_EXE_namerd");
const WAIT: Duration = Duration::from_secs(30);

fn namerd(etcd: &Etcd, port: u16) -> Namerd {
    let yaml = format!(
        "admin:\n  port: 0\nstorage:\n  kind: io.l5d.etcd\n  experimental: true\n  host: 127.0.0.1\n  port: {}\n  pathPrefix: /namerd/dtabs\ninterfaces:\n- kind: io.l5d.httpController\n  port: {port}\n",
        etcd.port
    );
    Namerd::start(Path::new(BIN), &yaml)
}

/// (status, ETag, body) of a curl call.
fn curl(args: &[&str]) -> (u16, Option<String>, String) {
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
        .unwrap_or(0);
    let etag = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("etag").then(|| v.trim().to_string())
    });
    (status, etag, body.to_string())
}

fn dtab_of(base: &str) -> (u16, Option<String>, String) {
    curl(&[
        "-H",
        "Accept: application/dtab",
        &format!("{base}/api/1/dtabs/default"),
    ])
}

fn put(base: &str, dtab: &str, etag: Option<&str>) -> u16 {
    let mut args = vec![
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/dtab",
        "-d",
        dtab,
    ];
    let if_match = etag.map(|e| format!("If-Match: {e}"));
    if let Some(h) = &if_match {
        args.extend(["-H", h]);
    }
    let url = format!("{base}/api/1/dtabs/default");
    args.push(&url);
    curl(&args).0
}

#[test]
fn dtabs_in_etcd_survive_restarts_and_concurrent_edits_are_refused() {
    let mut etcd = Etcd::start();
    let port = free_port();
    let n = namerd(&etcd, port);
    let base = format!("http://{}", n.http);
    let created = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/dtab",
        "-d",
        "/svc => /#/io.l5d.fs",
        &format!("{base}/api/1/dtabs/default"),
    ]);
    assert_eq!(created.0, 204, "{created:?}");
    let (status, etag, body) = dtab_of(&base);
    assert_eq!((status, body.as_str()), (200, "/svc=>/#/io.l5d.fs\n"));
    let etag = etag.expect("an ETag");

    // Two operators edit from the same version: one wins, the other is refused.
    assert_eq!(put(&base, "/svc => /#/io.l5d.fs/first", Some(&etag)), 204);
    assert_eq!(put(&base, "/svc => /#/io.l5d.fs/second", Some(&etag)), 412);
    assert_eq!(dtab_of(&base).2, "/svc=>/#/io.l5d.fs/first\n");

    // The dtab outlives namerd.
    drop(n);
    let n = namerd(&etcd, port);
    let base = format!("http://{}", n.http);
    let (status, etag, body) = eventually("namerd to read etcd", WAIT, || {
        let r = dtab_of(&base);
        (r.0 == 200).then_some(r)
    });
    assert_eq!((status, body.as_str()), (200, "/svc=>/#/io.l5d.fs/first\n"));

    // etcd goes away: namerd answers with what it knew.
    etcd.stop();
    assert_eq!(dtab_of(&base).2, "/svc=>/#/io.l5d.fs/first\n");
    assert_eq!(
        put(&base, "/svc => /lost", etag.as_deref()),
        500,
        "no store, no write"
    );

    // etcd is back: writes work and a change made behind namerd's back is followed.
    etcd.restart();
    eventually("namerd to write to etcd again", WAIT, || {
        (put(&base, "/svc => /#/io.l5d.fs/third", None) == 204).then_some(())
    });
    let direct = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "PUT",
            "--data-urlencode",
            "value=/svc=>/#/io.l5d.fs/fourth",
        ])
        .arg(format!(
            "http://{}/v2/keys/namerd/dtabs/default",
            etcd.addr()
        ))
        .output()
        .unwrap();
    assert!(direct.status.success());
    eventually("namerd to follow etcd", WAIT, || {
        (dtab_of(&base).2 == "/svc=>/#/io.l5d.fs/fourth\n").then_some(())
    });
}
