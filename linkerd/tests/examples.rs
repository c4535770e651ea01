//! Every example config Linkerd 1.7.5 shipped loads with the full plugin registry (Linkerd
//! 1's `ExamplesTest`), and no mutation of one makes the loader panic.
//!
//! Linkerd 1 skipped files whose first line is `#notest` (`k8s-servicemesh.yaml`,
//! `marathon-leader.yaml`) because building them needs a live Kubernetes node or
//! ZooKeeper. Loading needs neither, so they are loaded here too; they will be skipped
//! only when this test also builds the configs.

use std::fs;
use std::path::PathBuf;

use l5d_core::config::{load_linkerd, LinkerdConfig, Registry};

fn examples_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/linkerd1-examples/linkerd"
    ))
}

fn examples() -> Vec<(String, String)> {
    let dir = examples_dir();
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
        files.len() >= 39,
        "expected the 39 Linkerd 1 examples, found {}",
        files.len()
    );
    files
}

fn registry() -> Registry {
    linkerd::plugins::registry().expect("the built-in plugins register without conflicts")
}

fn load(name: &str, text: &str, reg: &Registry) -> LinkerdConfig {
    match load_linkerd(text, reg) {
        Ok(loaded) => {
            assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
            loaded.config
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn every_linkerd_example_loads() {
    let reg = registry();
    let mut notest = Vec::new();
    for (name, text) in examples() {
        if text.starts_with("#notest") {
            notest.push(name.clone());
        }
        let config = load(&name, &text, &reg);
        assert!(!config.routers.is_empty(), "{name}");
    }
    assert_eq!(notest, ["k8s-servicemesh.yaml", "marathon-leader.yaml"]);
}

#[test]
fn examples_load_with_linkerd_1_meanings() {
    let reg = registry();
    let all = examples();
    let get = |name: &str| {
        let text = &all.iter().find(|(n, _)| n == name).expect(name).1;
        load(name, text, &reg)
    };

    let c = get("rewriting.yaml");
    let mounts: Vec<String> = c.namers.iter().map(|n| n.mount().show()).collect();
    assert_eq!(mounts, ["/#/io.l5d.fs", "/#/apiToSrv"]);

    let c = get("thriftmux.yaml");
    assert_eq!(c.routers[0].servers[0].port, 4400);
    assert!(c.routers[0].experimental);

    let c = get("h2.yaml");
    let id = &c.routers[0].identifiers[0];
    let token = id
        .config
        .downcast_ref::<l5d_http::config::H2HeaderToken>()
        .expect("an h2 header token identifier");
    assert_eq!(token.header, ":authority");
    assert_eq!(c.routers[0].servers[0].port, 4142);

    let c = get("static_namer.yaml");
    assert_eq!(c.admin.port, 9990);
    assert_eq!(c.routers[0].label, "http");
    assert_eq!(c.routers[0].dtab.show(), "/svc/*=>/$/inet/localhost/8080");

    let c = get("admin.yaml");
    let labels: Vec<&str> = c.routers.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["linkerd-admin", "namerd-admin", "http"]);
    assert_eq!(c.routers[2].interpreter.interpreter.kind, "io.l5d.namerd");

    let c = get("thrift.yaml");
    assert_eq!(c.routers[0].protocol, "thrift");
    assert_eq!(c.source["routers"][0]["thriftMethodInDst"], true);
}

#[test]
fn every_plugin_family_has_its_linkerd_1_kinds() {
    let reg = registry();
    let protocols: Vec<&str> = reg.protocols().collect();
    assert_eq!(protocols, ["h2", "http", "mux", "thrift", "thriftmux"]);
    assert_eq!(reg.namers().kinds().count(), 13);
    assert_eq!(reg.interpreters().kinds().count(), 8);
    assert_eq!(reg.transformers().kinds().count(), 7);
    assert_eq!(reg.telemeters().kinds().count(), 6);
}

/// A small deterministic generator (xorshift), so that a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SNIPPETS: &[&str] = &[
    ":",
    "-",
    " ",
    "\n",
    "{",
    "}",
    "[",
    "]",
    "'",
    "\"",
    "kind: x",
    "&a",
    "*a",
    "!t",
    "|",
    "#",
    "0",
    "-1",
    "99999",
    "~",
    "/",
    "=>",
    "experimental: true",
    "\t",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..1 + rng.below(4) {
        if lines.is_empty() {
            break;
        }
        let i = rng.below(lines.len());
        match rng.below(5) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let dup = lines[i].clone();
                lines.insert(i, dup);
            }
            2 => lines[i] = format!("  {}", lines[i]),
            3 => {
                let line = &lines[i];
                let at = line
                    .char_indices()
                    .map(|(j, _)| j)
                    .nth(rng.below(line.len() + 1));
                let at = at.unwrap_or(line.len());
                let snippet = SNIPPETS[rng.below(SNIPPETS.len())];
                lines[i] = format!("{}{snippet}{}", &line[..at], &line[at..]);
            }
            _ => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
        }
    }
    lines.join("\n")
}

#[test]
fn mutated_examples_never_panic() {
    let reg = registry();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut errors = 0;
    for (_, text) in examples() {
        for _ in 0..60 {
            if load_linkerd(&mutate(&text, &mut rng), &reg).is_err() {
                errors += 1;
            }
        }
    }
    // Most mutations break something; that they were refused, not panicked on, is the point.
    assert!(errors > 0);
}
