//! Every example namerd config Linkerd 1.7.5 shipped loads with namerd's plugins.

use std::fs;
use std::path::PathBuf;

use l5d_core::config::load_namerd;

fn examples() -> Vec<(String, String)> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/linkerd1-examples/namerd"
    ));
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the Linkerd 1 examples must sit beside the repository at {}: {e}",
            dir.display()
        )
    });
    let mut files: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name.unwrap_or_default(), text)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 13,
        "expected the 13 namerd examples, found {}",
        files.len()
    );
    files
}

/// `etcd.yaml` uses the experimental `io.l5d.etcd` store without `experimental: true`.
/// Linkerd 1's namerd example test only parsed configs and its experimental check ran at
/// startup, so this example never started there either; here the check runs at load.
const NEEDS_EXPERIMENTAL: &str = "etcd.yaml";

#[test]
fn every_namerd_example_loads() {
    let reg = namerd::plugins::registry().expect("namerd's plugins register");
    for (name, text) in examples() {
        if name == NEEDS_EXPERIMENTAL {
            continue;
        }
        match load_namerd(&text, &reg) {
            Ok(loaded) => {
                assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
                assert!(!loaded.config.interfaces.is_empty(), "{name}");
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn the_etcd_example_needs_the_experimental_flag() {
    let reg = namerd::plugins::registry().expect("namerd's plugins register");
    let all = examples();
    let text = &all
        .iter()
        .find(|(n, _)| n == NEEDS_EXPERIMENTAL)
        .expect("etcd.yaml")
        .1;
    let e = load_namerd(text, &reg).expect_err("io.l5d.etcd is experimental");
    assert_eq!(
        e.to_string(),
        "storage: storage kind 'io.l5d.etcd' is experimental and must be enabled explicitly \
         with 'experimental: true' at line 4, column 3"
    );
    let enabled = text.replace(
        "kind: io.l5d.etcd",
        "kind: io.l5d.etcd\n  experimental: true",
    );
    assert!(load_namerd(&enabled, &reg).is_ok());
}

#[test]
fn namerd_examples_load_with_linkerd_1_meanings() {
    let reg = namerd::plugins::registry().expect("namerd's plugins register");
    let all = examples();
    let get = |name: &str| {
        let text = &all.iter().find(|(n, _)| n == name).expect(name).1;
        load_namerd(text, &reg)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .config
    };
    let c = get("minimal.yaml");
    assert_eq!(c.admin.port, 9991);
    assert_eq!(c.interfaces[0].addr().to_string(), "127.0.0.1:4180");
    let c = get("basic.yaml");
    let ports: Vec<u16> = c.interfaces.iter().map(|i| i.port).collect();
    assert_eq!(ports, [4100, 4180]);
    let c = get("k8s-mesh.yaml");
    let mounts: Vec<String> = c.namers.iter().map(|n| n.mount().show()).collect();
    assert_eq!(mounts, ["/#/ds", "/#/io.l5d.k8s"]);
    assert_eq!(
        c.namers[0].transformers[0].transformer.kind,
        "io.l5d.k8s.daemonset"
    );
    let c = get("mesh.yaml");
    assert_eq!(c.interfaces[1].port, 4321);
}
