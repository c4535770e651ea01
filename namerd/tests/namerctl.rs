//! `namerctl` against the real namerd: list, get with its version, create, update with the
//! version an edit was made from (a stale one refused, nothing lost), delete.

use std::path::Path;
use std::process::Command;

use l5d_integration::control::{free_port, Namerd};
use l5d_integration::temp_dir;

const NAMERD: &str = env!("CARGO_BIN_EXE_namerd");
const NAMERCTL: &str = env!("CARGO_BIN_EXE_namerctl");

fn namerctl(base: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(NAMERCTL)
        .arg("--base-url")
        .arg(base)
        .args(args)
        .output()
        .expect("run namerctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn namerctl_manages_dtabs_and_refuses_a_stale_update() {
    let yaml = format!(
        "admin:\n  port: 0\nstorage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: /svc => /#/io.l5d.fs\ninterfaces:\n- kind: io.l5d.httpController\n  port: {}\n",
        free_port()
    );
    let n = Namerd::start(Path::new(NAMERD), &yaml);
    let base = format!("http://{}", n.http);
    let dir = temp_dir("namerctl");

    assert_eq!(namerctl(&base, &["dtab", "list"]).1, "default\n");
    let (ok, out, _) = namerctl(&base, &["dtab", "get", "default"]);
    assert!(ok);
    assert_eq!(out, "# version AAAAAAAAAAE=\n/svc => /#/io.l5d.fs;\n");

    let file = dir.join("canary");
    std::fs::write(&file, "/svc => /#/io.l5d.fs/a;\n").unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(
        namerctl(&base, &["dtab", "create", "canary", f]).1,
        "Created canary\n"
    );
    let (ok, _, err) = namerctl(&base, &["dtab", "create", "canary", f]);
    assert!(!ok);
    assert!(err.contains("exists already"), "{err}");

    // Two operators get the same version and edit it; the second edit is refused.
    let (_, got, _) = namerctl(&base, &["dtab", "get", "default"]);
    let first = dir.join("first");
    std::fs::write(&first, got.replace("/#/io.l5d.fs;", "/#/io.l5d.fs/one;")).unwrap();
    let second = dir.join("second");
    std::fs::write(&second, got.replace("/#/io.l5d.fs;", "/#/io.l5d.fs/two;")).unwrap();
    let (ok, out, err) = namerctl(
        &base,
        &["dtab", "update", "default", first.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "Updated default\n");
    let (ok, _, err) = namerctl(
        &base,
        &["dtab", "update", "default", second.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(err.contains("changed since the version"), "{err}");
    let (_, out, _) = namerctl(&base, &["dtab", "get", "default"]);
    assert!(out.ends_with("/svc => /#/io.l5d.fs/one;\n"), "{out}");

    // A file that is not a dtab is refused before anything is sent.
    let bad = dir.join("bad");
    std::fs::write(&bad, "/svc => ;;;").unwrap();
    let (ok, _, err) = namerctl(&base, &["dtab", "update", "default", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("not a valid dtab"), "{err}");

    assert_eq!(
        namerctl(&base, &["dtab", "delete", "canary"]).1,
        "Deleted canary\n"
    );
    let (ok, _, err) = namerctl(&base, &["dtab", "get", "canary"]);
    assert!(!ok);
    assert!(err.contains("no such namespace"), "{err}");
}
