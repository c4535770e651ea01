//! `namerd CONFIG`, run as the real binary.

use std::path::Path;
use std::time::Duration;

use l5d_integration::{temp_dir, Process};

const BIN: &str = env!("CARGO_BIN_EXE_namerd");
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_default_example_starts_and_stops_on_sigterm() {
    let example = format!("{}/../examples/namerd.yaml", env!("CARGO_MANIFEST_DIR"));
    // The example's ports, moved to free ones so that tests can run side by side.
    let text = std::fs::read_to_string(&example)
        .unwrap()
        .replace("port: 9991", "port: 0")
        .replace("port: 4100", "port: 0")
        .replace("port: 4180", "port: 0");
    let file = temp_dir("namerd-example").join("namerd.yaml");
    std::fs::write(&file, text).unwrap();
    let mut p = Process::start(Path::new(BIN), &[file.to_str().unwrap()]);
    p.wait_for_stderr("namerd is running", WAIT);
    let api = p.logged_addr("interface io.l5d.httpController listening on ");
    let (status, _, body) = l5d_integration::http_get(api, "/api/1/dtabs", &[]);
    assert_eq!((status, body.as_str()), (200, "[\"default\"]\n"));
    p.signal("TERM");
    let done = p.wait(WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
}

#[test]
fn a_bad_config_is_refused_with_its_path_and_line() {
    let dir = temp_dir("namerd-refused");
    let file = dir.join("namerd.yaml");
    std::fs::write(
        &file,
        "storage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: /svc => \ninterfaces: []\n",
    )
    .unwrap();
    let done = Process::start(Path::new(BIN), &[file.to_str().unwrap()]).wait(WAIT);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("storage.namespaces.default"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("line 4"), "{}", done.stderr);
    assert!(!done.stderr.contains("panicked"));
}

/// Every `examples/namerd*.yaml` loads with namerd's loader.
#[test]
fn every_namerd_example_config_loads() {
    let dir = format!("{}/../examples", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("namerd") {
            let loaded =
                namerd::run::load(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
            assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
            n += 1;
        }
    }
    assert!(n >= 1);
}

/// namerd's admin port answers `/admin/ping` and `/config.json`, and `POST /admin/shutdown`
/// stops it cleanly.
#[test]
fn the_admin_server_serves_ping_config_and_shutdown() {
    let dir = temp_dir("namerd-admin");
    let file = dir.join("namerd.yaml");
    let yaml = "admin:\n  port: 0\nstorage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: /svc => /$/inet/127.0.0.1/1\ninterfaces: []\n";
    std::fs::write(&file, yaml).unwrap();
    let mut p = Process::start(Path::new(BIN), &[file.to_str().unwrap()]);
    p.wait_for_stderr("namerd is running", WAIT);
    let admin = p.logged_addr("admin server listening on ").to_string();
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl(&[&format!("http://{admin}/admin/ping")]), "pong");
    let config: serde_json::Value =
        serde_json::from_str(&curl(&[&format!("http://{admin}/config.json")])).unwrap();
    assert_eq!(config["storage"]["kind"], "io.l5d.inMemory");
    assert_eq!(
        curl(&["-X", "POST", &format!("http://{admin}/admin/shutdown")]),
        "shutting down\n"
    );
    let done = p.wait(WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
}
