//! Loading configs through a registry of test plugins: defaults, and every kind of error
//! with its key path and line.

// The test plugins' fields exist to be decoded, not read.
#![allow(dead_code)]

use std::sync::Arc;

use serde::Deserialize;

use super::*;
use crate::binding::{Name, Namer, SharedNamer};
use crate::naming::{NameTree, Path};
use crate::var::Activity;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestRouter {
    // camelCase would spell it `...Kb`.
    #[serde(rename = "streamAfterContentLengthKB")]
    stream_after_content_length_kb: Option<u32>,
}
impl ProtocolRouterConfig for TestRouter {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestServer {
    max_call_depth: Option<u32>,
}
impl ProtocolServerConfig for TestServer {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PathIdentifier {
    #[serde(default)]
    segments: Option<u32>,
    #[serde(default)]
    consume: bool,
}
impl Kind for PathIdentifier {
    const KIND: &'static str = "io.l5d.path";
}
impl IdentifierConfig for PathIdentifier {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HeaderToken {
    header: Option<String>,
}
impl Kind for HeaderToken {
    const KIND: &'static str = "io.l5d.header.token";
}
impl IdentifierConfig for HeaderToken {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct NonRetryable {}
impl Kind for NonRetryable {
    const KIND: &'static str = "io.l5d.http.nonRetryable5XX";
}
impl ClassifierConfig for NonRetryable {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestNamer {
    root_dir: String,
}
impl Kind for TestNamer {
    const KIND: &'static str = "io.l5d.test";
}

struct NoNames;
impl Namer for NoNames {
    fn lookup(&self, _: &Path) -> Activity<NameTree<Name>> {
        crate::var::Var::constant(crate::var::State::Ok(NameTree::Neg))
    }
}

impl NamerConfig for TestNamer {
    fn build(&self, _: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        Ok(Arc::new(NoNames))
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Exp {}
impl Kind for Exp {
    const KIND: &'static str = "io.l5d.exp";
    const EXPERIMENTAL: bool = true;
}
impl NamerConfig for Exp {}
impl TelemeterConfig for Exp {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Prom {
    path: Option<String>,
}
impl Kind for Prom {
    const KIND: &'static str = "io.l5d.prometheus";
}
impl TelemeterConfig for Prom {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct InMemory {
    #[serde(default)]
    namespaces: std::collections::BTreeMap<String, DtabValue>,
}
impl Kind for InMemory {
    const KIND: &'static str = "io.l5d.inMemory";
}
impl StorageConfig for InMemory {}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct HttpController {}
impl Kind for HttpController {
    const KIND: &'static str = "io.l5d.httpController";
}
impl InterfaceConfig for HttpController {
    fn default_port(&self) -> u16 {
        4180
    }
}

fn registry() -> Registry {
    let mut reg = Registry::new();
    let mut http = Protocol::new("http", 4140);
    http.set_router::<TestRouter>().set_server::<TestServer>();
    http.add_identifier::<HeaderToken>().unwrap();
    http.add_identifier::<PathIdentifier>().unwrap();
    http.set_default_identifier("io.l5d.header.token");
    http.add_classifier::<NonRetryable>().unwrap();
    http.set_default_classifier("io.l5d.http.nonRetryable5XX");
    reg.add_protocol(http).unwrap();
    let mut tmux = Protocol::new("thriftmux", 4144);
    tmux.set_experimental();
    reg.add_protocol(tmux).unwrap();
    reg.add_namer::<TestNamer>().unwrap();
    reg.add_namer::<Exp>().unwrap();
    reg.add_telemeter::<Exp>().unwrap();
    reg.add_telemeter::<Prom>().unwrap();
    reg.add_storage::<InMemory>().unwrap();
    reg.add_interface::<HttpController>().unwrap();
    reg
}

fn load(text: &str) -> Result<Loaded<LinkerdConfig>, ConfigError> {
    load_linkerd(text, &registry())
}

fn error(text: &str) -> ConfigError {
    match load(text) {
        Ok(_) => panic!("expected an error loading:\n{text}"),
        Err(e) => e,
    }
}

fn line(e: &ConfigError) -> usize {
    e.location().map_or(0, |l| l.line)
}

const MINIMAL: &str = "routers:\n- protocol: http\n  servers:\n  - {}\n";

#[test]
fn applies_linkerd_1_defaults() {
    let c = load(MINIMAL).unwrap().config;
    assert_eq!(c.admin.port, 9990);
    assert_eq!(c.admin.ip.to_string(), "127.0.0.1");
    assert_eq!(c.admin.shutdown_grace_ms, 10_000);
    let r = &c.routers[0];
    assert_eq!(r.label, "http");
    assert_eq!(r.dst_prefix.show(), "/svc");
    assert!(r.dtab.is_empty());
    assert_eq!(r.binding_timeout_ms, 10_000);
    assert_eq!(r.binding_cache.idle_ttl_secs, 600);
    assert_eq!(r.servers[0].addr().to_string(), "127.0.0.1:4140");
    assert_eq!(r.interpreter.interpreter.kind, "default");
    assert_eq!(r.identifiers[0].kind, "io.l5d.header.token");
    assert!(matches!(r.client, ClientConfig::Global(_)));
    assert!(matches!(r.service, ServiceConfig::Global(_)));
    assert_eq!(
        r.default_classifier.as_ref().map(|c| c.kind.as_str()),
        Some("io.l5d.http.nonRetryable5XX")
    );
    assert_eq!(c.source["routers"][0]["protocol"], "http");
}

#[test]
fn unknown_key_names_path_kind_expected_keys_and_line() {
    let e = error(
        "routers:\n- protocol: http\n  identifier:\n    kind: io.l5d.path\n    segmnts: 2\n  \
         servers: [{}]\n",
    );
    assert_eq!(
        e.to_string(),
        "routers[0].identifier (kind io.l5d.path): unknown field 'segmnts', expected one of \
         segments, consume at line 5, column 5"
    );
}

#[test]
fn unknown_router_key_lists_protocol_and_common_keys() {
    let e = error("routers:\n- protocol: http\n  dstPrefx: /s\n  servers: [{}]\n");
    let m = e.to_string();
    assert!(
        m.starts_with("routers[0] (protocol http): unknown field 'dstPrefx'"),
        "{m}"
    );
    assert!(
        m.contains("streamAfterContentLengthKB") && m.contains("dstPrefix"),
        "{m}"
    );
    assert!(m.contains("identifier") && m.contains("servers"), "{m}");
    assert_eq!(line(&e), 3);
}

#[test]
fn unknown_kind_lists_the_known_kinds() {
    let e = error("namers:\n- kind: io.l5d.nope\nrouters: []\n");
    assert_eq!(
        e.to_string(),
        "namers[0]: unknown namer kind 'io.l5d.nope', known kinds: io.l5d.exp, io.l5d.test \
         at line 2, column 3"
    );
    let e = error("routers:\n- protocol: smtp\n  servers: []\n");
    assert!(
        e.message().contains("known protocols: http, thriftmux"),
        "{e}"
    );
}

#[test]
fn bad_value_type_names_what_was_expected() {
    let e = error("routers:\n- protocol: http\n  servers:\n  - port: nope\n");
    assert_eq!(e.path().to_string(), "routers[0].servers[0].port");
    assert!(e.message().contains("expected u16"), "{e}");
    assert_eq!(line(&e), 4);
    let e = error("routers:\n- protocol: http\n  servers:\n  - port: 70000\n");
    assert!(e.message().contains("70000"), "{e}");
}

#[test]
fn bad_dtab_gives_finagle_message_and_the_line_inside_the_block() {
    let e = error(
        "routers:\n- protocol: http\n  dtab: |\n    /svc => /a;\n    /b => /c &;\n  \
         servers: [{}]\n",
    );
    assert_eq!(e.path().to_string(), "routers[0].dtab");
    assert!(e.message().starts_with("invalid dtab: "), "{e}");
    assert_eq!(line(&e), 5, "{e}");
    let plain = error("routers:\n- protocol: http\n  dtab: /svc => ]\n  servers: [{}]\n");
    assert_eq!(
        plain.location(),
        Some(Location {
            line: 3,
            column: 17
        })
    );
}

#[test]
fn bad_paths_are_refused() {
    let e = error("routers:\n- protocol: http\n  dstPrefix: svc\n  servers: [{}]\n");
    assert_eq!(e.path().to_string(), "routers[0].dstPrefix");
    assert!(e.message().starts_with("invalid path"), "{e}");
    let e = error(
        "routers:\n- protocol: http\n  servers: [{}]\n  client:\n    kind: io.l5d.static\n    \
         configs:\n    - prefix: /a/{b\n",
    );
    assert_eq!(e.path().to_string(), "routers[0].client.configs[0].prefix");
    assert_eq!(line(&e), 7);
}

#[test]
fn missing_required_key_is_named() {
    let e = error("namers:\n- kind: io.l5d.test\nrouters: []\n");
    assert_eq!(
        e.to_string(),
        "namers[0] (kind io.l5d.test): missing required key 'rootDir' at line 2, column 3"
    );
    let e = error("admin: {}\n");
    assert_eq!(e.message(), "missing required key 'routers'");
    let e = error("routers:\n- protocol: http\n");
    assert!(
        e.message().contains("missing required key 'servers'"),
        "{e}"
    );
}

#[test]
fn base_dtab_is_accepted_with_a_warning() {
    let loaded =
        load("routers:\n- protocol: http\n  baseDtab: /a => /b\n  servers: [{}]\n").unwrap();
    assert_eq!(loaded.config.routers[0].dtab.show(), "/a=>/b");
    assert_eq!(loaded.warnings.len(), 1);
    let w = loaded.warnings[0].to_string();
    assert_eq!(
        w,
        "routers[0].baseDtab: 'baseDtab' is deprecated since Linkerd 0.9.0: write 'dtab' at \
         line 3, column 3"
    );
    let e =
        error("routers:\n- protocol: http\n  baseDtab: /a=>/b\n  dtab: /c=>/d\n  servers: [{}]\n");
    assert!(
        e.message()
            .starts_with("both 'baseDtab' and 'dtab' are set"),
        "{e}"
    );
}

#[test]
fn removed_router_keys_name_their_replacement() {
    let cases = [
        ("timeoutMs: 10", "client.requestAttemptTimeoutMs"),
        ("timeoutMs: 10", "service.totalTimeoutMs"),
        ("tracers: []", "removed in Linkerd 0.9.0"),
        ("maxRequestKB: 10", "removed in Linkerd 1.7.0"),
        ("maxResponseKB: 10", "streamAfterContentLengthKB"),
        ("responseClassifier: {}", "service.responseClassifier"),
    ];
    for (key, hint) in cases {
        let e = error(&format!(
            "routers:\n- protocol: http\n  {key}\n  servers: [{{}}]\n"
        ));
        assert!(e.message().contains(hint), "{key}: {e}");
        assert_eq!(e.path().to_string(), "routers[0]");
        assert_eq!(line(&e), 3, "{e}");
    }
}

#[test]
fn renamed_kinds_name_their_replacement() {
    let cases = [
        (
            "identifier: {kind: io.l5d.headerToken}",
            "io.l5d.header.token",
        ),
        (
            "identifier: {kind: io.l5d.headerPath}",
            "io.l5d.header.path",
        ),
        (
            "identifier: {kind: io.l5d.http.ingress}",
            "'io.l5d.ingress'",
        ),
        ("identifier: {kind: io.l5d.h2.ingress}", "'io.l5d.ingress'"),
        (
            "service: {responseClassifier: {kind: io.l5d.nonRetryable5XX}}",
            "io.l5d.http.nonRetryable5XX",
        ),
        (
            "service: {responseClassifier: {kind: io.l5d.retryableRead5XX}}",
            "io.l5d.http.retryableRead5XX",
        ),
    ];
    for (slot, hint) in cases {
        let e = error(&format!(
            "routers:\n- protocol: http\n  {slot}\n  servers: [{{}}]\n"
        ));
        assert!(e.message().contains(hint), "{slot}: {e}");
        assert_eq!(line(&e), 3, "{e}");
    }
    let e = error("telemetry:\n- kind: io.l5d.commonMetrics\nrouters: []\n");
    assert!(e.message().contains("removed in Linkerd 0.9.0"), "{e}");
}

#[test]
fn experimental_kinds_need_the_flag() {
    let e = error("namers:\n- kind: io.l5d.exp\nrouters: []\n");
    assert_eq!(
        e.to_string(),
        "namers[0]: namer kind 'io.l5d.exp' is experimental and must be enabled explicitly \
         with 'experimental: true' at line 2, column 3"
    );
    let e = error("routers:\n- protocol: thriftmux\n  servers: [{}]\n");
    assert!(
        e.message()
            .starts_with("protocol 'thriftmux' is experimental"),
        "{e}"
    );
    assert_eq!(line(&e), 2);
    let e = error("telemetry:\n- kind: io.l5d.exp\n  experimental: false\nrouters: []\n");
    assert!(e.message().contains("experimental"), "{e}");
    let ok =
        "namers:\n- kind: io.l5d.exp\n  experimental: true\nrouters:\n- protocol: thriftmux\n  \
              experimental: true\n  servers: [{}]\n";
    let c = load(ok).unwrap().config;
    assert!(c.namers[0].experimental);
    assert_eq!(c.routers[0].servers[0].port, 4144);
}

#[test]
fn duplicate_router_labels_are_refused() {
    let e = error("routers:\n- protocol: http\n  servers: [{port: 1}]\n- protocol: http\n  servers: [{port: 2}]\n");
    assert!(
        e.message()
            .starts_with("router label 'http' is already used by routers[0]"),
        "{e}"
    );
    assert_eq!(e.path().to_string(), "routers[1]");
    assert_eq!(line(&e), 4);
}

#[test]
fn colliding_server_addresses_are_refused() {
    let e = error(
        "routers:\n- protocol: http\n  label: a\n  servers: [{port: 8080}]\n- protocol: http\n  \
         label: b\n  servers:\n  - port: 8080\n",
    );
    assert_eq!(
        e.to_string(),
        "routers[1].servers[0]: server address 127.0.0.1:8080 is already used by \
         routers[0].servers[0] at line 8, column 5"
    );
    let ok = "routers:\n- protocol: http\n  label: a\n  servers: [{port: 0}]\n- protocol: http\n  \
              label: b\n  servers: [{port: 0}, {ip: 0.0.0.0}]\n";
    assert!(load(ok).is_ok());
}

#[test]
fn duplicate_kind_registration_is_an_error() {
    let mut reg = registry();
    assert_eq!(
        reg.add_namer::<TestNamer>(),
        Err(RegistryError::DuplicateKind {
            family: "namer",
            kind: "io.l5d.test".into()
        })
    );
    assert!(reg.add_interpreter::<DefaultInterpreter>().is_err());
    assert_eq!(
        reg.add_protocol(Protocol::new("http", 1)),
        Err(RegistryError::DuplicateProtocol("http".into()))
    );
    let mut p = Protocol::new("x", 1);
    p.add_identifier::<PathIdentifier>().unwrap();
    assert!(p.add_identifier::<PathIdentifier>().is_err());
}

#[test]
fn yaml_syntax_error_has_a_line() {
    let e = error("routers:\n- protocol: http\n  servers: [\n");
    assert!(e.message().starts_with("invalid YAML"), "{e}");
    assert!(e.location().is_some(), "{e}");
    let e = error("a: b: c\n");
    assert_eq!(line(&e), 1, "{e}");
}

#[test]
fn empty_and_non_mapping_documents_are_refused() {
    let e = error("");
    assert!(
        e.message().starts_with("the linkerd config is empty"),
        "{e}"
    );
    let e = error("# nothing\n");
    assert!(
        e.message().starts_with("the linkerd config is empty"),
        "{e}"
    );
    let e = error("- protocol: http\n");
    assert!(e.message().contains("must be a mapping"), "{e}");
    let e = error("routers\n");
    assert!(e.message().contains("found a string"), "{e}");
    let e = error("routers: []\n");
    assert_eq!(e.message(), "at least one router is required");
    let e = error("routerz: []\n");
    assert!(
        e.message()
            .contains("expected one of admin, namers, routers"),
        "{e}"
    );
}

#[test]
fn namers_mount_under_their_prefix() {
    let c = load(
        "namers:\n- kind: io.l5d.test\n  rootDir: x\n- kind: io.l5d.test\n  prefix: /apiToSrv\n  \
         rootDir: y\n\nrouters:\n- protocol: http\n  servers: [{}]\n",
    )
    .unwrap()
    .config;
    let mounts: Vec<String> = c.namers.iter().map(|n| n.mount().show()).collect();
    assert_eq!(mounts, ["/#/io.l5d.test", "/#/apiToSrv"]);
    let built = build_namers(&c.namers, &BuildContext::new()).unwrap();
    assert_eq!(built[1].0.show(), "/#/apiToSrv");
    let ctx = InterpreterContext {
        namers: &built,
        build: &BuildContext::new(),
    };
    assert!(c.routers[0].interpreter.build(&ctx).is_ok());
}

#[test]
fn closed_sets_carry_paths_and_lines() {
    let e = error(
        "routers:\n- protocol: http\n  servers: [{}]\n  client:\n    loadBalancer:\n      kind: \
         leastConn\n",
    );
    assert_eq!(
        e.to_string(),
        "routers[0].client.loadBalancer: unknown load balancer kind 'leastConn', known kinds: \
         aperture, ewma, heap, p2c, roundRobin at line 6, column 7"
    );
    let e = error(
        "routers:\n- protocol: http\n  servers: [{}]\n  client:\n    failureAccrual:\n      kind: \
         io.l5d.successRate\n      successRate: 0.9\n      requests: 10\n      backoff: {kind: \
         jittered, minMs: 5}\n",
    );
    assert_eq!(
        e.path().to_string(),
        "routers[0].client.failureAccrual.backoff"
    );
    assert!(e.message().contains("missing required key 'maxMs'"), "{e}");
    assert_eq!(line(&e), 9);
    let e = error(
        "routers:\n- protocol: http\n  servers: [{}]\n  service:\n    retries:\n      budget: \
         {percentCanRetry: 2000}\n",
    );
    assert_eq!(
        e.path().to_string(),
        "routers[0].service.retries.budget.percentCanRetry"
    );
}

#[test]
fn static_client_entries_layer_by_prefix() {
    let c = load(
        "routers:\n- protocol: http\n  servers: [{}]\n  client:\n    kind: io.l5d.static\n    \
         configs:\n    - prefix: /\n      loadBalancer: {kind: ewma}\n    - prefix: \
         \"/#/*/{service}\"\n      tls: {commonName: \"{service}.example\"}\n",
    )
    .unwrap()
    .config;
    let id = Path::read("/#/io.l5d.fs/cat").unwrap();
    let sets = c.routers[0].client.params_for(&id);
    assert_eq!(sets.len(), 2);
    assert!(matches!(
        sets[0].0.load_balancer,
        Some(LoadBalancer::Ewma(_))
    ));
    assert_eq!(sets[1].1, vec![("service".to_owned(), "cat".to_owned())]);
}

#[test]
fn namerd_defaults_and_overlapping_prefixes() {
    let reg = registry();
    let c = load_namerd(
        "storage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: /svc => /#/io.l5d.test;\n\
         interfaces:\n- kind: io.l5d.httpController\n",
        &reg,
    )
    .unwrap()
    .config;
    assert_eq!(c.admin.port, 9991);
    assert_eq!(c.interfaces[0].addr().to_string(), "127.0.0.1:4180");
    let e = load_namerd(
        "storage: {kind: io.l5d.inMemory}\ninterfaces: []\nnamers:\n- kind: io.l5d.test\n  \
         rootDir: a\n- kind: io.l5d.test\n  rootDir: b\n  prefix: /io.l5d.test/sub\n",
        &reg,
    )
    .unwrap_err();
    assert!(
        e.message().contains("must not have overlapping prefixes"),
        "{e}"
    );
    assert_eq!(line(&e), 8);
    let e = load_namerd(
        "storage:\n  kind: io.l5d.inMemory\n  namespaces:\n    a: |\n      /x => ;\n\
         interfaces: []\n",
        &reg,
    )
    .unwrap_err();
    assert_eq!(e.path().to_string(), "storage.namespaces.a");
    assert_eq!(line(&e), 5);
    let e = load_namerd("interfaces: []\n", &reg).unwrap_err();
    assert_eq!(e.message(), "missing required key 'storage'");
}

#[test]
fn deeply_nested_documents_are_refused_without_overflowing() {
    let deep = format!("routers: {}{}\n", "[".repeat(5_000), "]".repeat(5_000));
    assert!(load(&deep).is_err());
    let deep = format!("routers:\n{}", "- ".repeat(5_000));
    assert!(load(&deep).is_err());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = "admin:\n  port: 9990\nnamers:\n- kind: io.l5d.test\n  rootDir: x\n\
        routers:\n- protocol: http\n  dtab: |\n    /svc => /#/io.l5d.test;\n  identifier:\n    \
        kind: io.l5d.path\n    segments: 2\n  servers:\n  - port: 4140\n  client:\n    kind: \
        io.l5d.static\n    configs:\n    - prefix: /#/*/{s}\n      loadBalancer: {kind: ewma}\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = load(&text);
            let _ = load_namerd(&text, &registry());
        }

        #[test]
        fn mutated_configs_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8)
        ) {
            let mut bytes = SEED.as_bytes().to_vec();
            for (at, byte, op) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i.min(bytes.len()), byte),
                    _ if i < bytes.len() => { bytes.remove(i); }
                    _ => {}
                }
            }
            let _ = load(&String::from_utf8_lossy(&bytes));
        }
    }
}
