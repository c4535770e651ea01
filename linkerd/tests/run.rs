//! `linkerd CONFIG`, run as the real binary: bad configs are refused with the key and line,
//! good ones start and stop cleanly on SIGTERM.

use std::path::Path;
use std::time::Duration;

use l5d_integration::{temp_dir, Process};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// Runs linkerd on `yaml` (through a file) and expects it to refuse it.
fn refused(yaml: &str) -> String {
    let dir = temp_dir("refused");
    let file = dir.join("linkerd.yaml");
    std::fs::write(&file, yaml).unwrap();
    let done = Process::start(Path::new(BIN), &[file.to_str().unwrap()]).wait(WAIT);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    done.stderr
}

#[test]
fn the_default_example_starts_and_stops_on_sigterm() {
    // From the repository root, as the README runs it: the fs namer's rootDir is relative.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut p = Process::start_in(&root, Path::new(BIN), &["examples/linkerd.yaml"]);
    p.wait_for_stderr("linkerd is running", WAIT);
    let so_far = p.stderr_so_far();
    assert!(
        so_far.contains("serving router 'http' (protocol http) on 127.0.0.1:4140"),
        "{so_far}"
    );
    assert!(p.is_running());
    // The name reaches the fs namer's file for `web`: nothing listens on its 8080 here
    // (or something does), either way the request was routed to 127.0.0.1:8080.
    let addr = "127.0.0.1:4140".parse().unwrap();
    let (status, headers, body) = l5d_integration::http_get(addr, "/", &[("Host", "web")]);
    if status == 502 {
        assert!(body.contains("127.0.0.1:8080"), "{body}");
        assert!(body.contains("#/io.l5d.fs/web"), "{body}");
    } else {
        assert!(
            !headers.iter().any(|(k, _)| k == "l5d-err"),
            "{status} {headers:?} {body}"
        );
    }
    p.signal("TERM");
    let done = p.wait(WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("linkerd is stopping"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_config_can_come_from_standard_input() {
    let yaml = "admin:\n  port: 0\nrouters:\n- protocol: http\n  baseDtab: /svc => /$/inet/127.0.0.1/8080\n  servers:\n  - port: 0\n";
    let mut p = Process::start_with_input(Path::new(BIN), &["-"], Some(yaml));
    p.wait_for_stderr("linkerd is running", WAIT);
    assert!(
        p.stderr_so_far().contains("baseDtab"),
        "the deprecated key is warned about: {}",
        p.stderr_so_far()
    );
    p.signal("INT");
    assert_eq!(p.wait(WAIT).status.code(), Some(0));
}

#[test]
fn an_unknown_key_is_refused_with_its_path_and_line() {
    let err = refused("routers:\n- protocol: http\n  identifier:\n    kind: io.l5d.path\n    segmnts: 2\n  servers:\n  - port: 4140\n");
    assert!(err.contains("routers[0].identifier"), "{err}");
    assert!(err.contains("segmnts"), "{err}");
    assert!(err.contains("line 5"), "{err}");
}

#[test]
fn a_malformed_dtab_is_refused_with_finagles_message_and_line() {
    let err = refused("routers:\n- protocol: http\n  dtab: |\n    /svc => /a;\n    /svc = /b;\n  servers:\n  - port: 4140\n");
    assert!(err.contains("routers[0].dtab"), "{err}");
    assert!(err.contains("'>' expected but ' ' found"), "{err}");
    assert!(err.contains("line 5"), "{err}");
}

#[test]
fn an_unknown_protocol_or_kind_is_refused() {
    let err = refused("routers:\n- protocol: gopher\n  servers:\n  - port: 4140\n");
    assert!(
        err.contains("gopher") && err.contains("http"),
        "names the kind and the known ones: {err}"
    );
    let err = refused(
        "namers:\n- kind: io.l5d.nope\nrouters:\n- protocol: http\n  servers:\n  - port: 4140\n",
    );
    assert!(
        err.contains("io.l5d.nope") && err.contains("io.l5d.fs"),
        "{err}"
    );
}

#[test]
fn a_removed_key_names_its_replacement() {
    let err = refused("routers:\n- protocol: http\n  timeoutMs: 100\n  servers:\n  - port: 4140\n");
    assert!(err.contains("timeoutMs"), "{err}");
    assert!(
        err.contains("requestAttemptTimeoutMs") || err.contains("totalTimeoutMs"),
        "{err}"
    );
}

#[test]
fn unreadable_and_malformed_files_are_refused() {
    let done = Process::start(Path::new(BIN), &["/nonexistent/linkerd.yaml"]).wait(WAIT);
    assert_eq!(done.status.code(), Some(1));
    assert!(
        done.stderr.contains("cannot read the config file"),
        "{}",
        done.stderr
    );
    let err = refused("routers: [\n  - protocol: http\n");
    assert!(
        err.contains("line"),
        "a YAML syntax error has a position: {err}"
    );
    refused("");
    refused("- just\n- a list\n");
    refused("\u{0}\u{1}garbage: [");
}

/// Every config under `examples/` loads, so the examples never rot: `linkerd*.yaml` with
/// linkerd's loader here, `namerd*.yaml` in namerd's tests, and nothing else lives there.
#[test]
fn every_example_config_loads() {
    let dir = format!("{}/../examples", env!("CARGO_MANIFEST_DIR"));
    let mut linkerd_configs = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() || !name.ends_with(".yaml") {
            // Data the examples use (an io.l5d.fs root, a dtab file).
            continue;
        }
        if name.starts_with("namerd") {
            continue;
        }
        let loaded = linkerd::run::load(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
        let (namers, skipped) = linkerd::run::build_namers(&loaded.config);
        assert!(skipped.is_empty(), "{name}: {skipped:?}");
        let ctx = l5d_core::config::BuildContext::new();
        for router in &loaded.config.routers {
            let built = router
                .interpreter
                .build(&l5d_core::config::InterpreterContext {
                    namers: &namers,
                    build: &ctx,
                });
            assert!(
                built.is_ok(),
                "{name}: router {}: {:?}",
                router.label,
                built.err()
            );
        }
        linkerd_configs += 1;
    }
    assert!(linkerd_configs >= 1);
}
