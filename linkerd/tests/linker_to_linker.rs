//! Linker to linker (Linkerd 1's service mesh): a client's request goes to linkerd A's
//! outgoing router, whose `io.l5d.port` transformer sends it to the linkerd on the
//! destination's host, B, whose incoming router's `io.l5d.localhost` transformer keeps
//! only the instances on its own host. Real processes throughout: curl, two linkerds,
//! Python backends; discovery is an `io.l5d.fs` directory both linkerds read.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use l5d_core::binding::NameInterpreter;
use l5d_core::config::{build_namers, load_linkerd, BuildContext, InterpreterContext};
use l5d_core::naming::{NameTree, Path as NamePath};
use l5d_core::var::State;
use l5d_integration::{eventually, http_get, temp_dir, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");
const WAIT: Duration = Duration::from_secs(30);

/// Starts linkerd with the fs namer over `disco` and one router `label` whose default
/// interpreter has `transformer` (YAML flow mapping).
fn linkerd(disco: &Path, label: &str, transformer: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nrouters:\n- protocol: \
         http\n  label: {label}\n  interpreter:\n    kind: default\n    transformers:\n    - \
         {transformer}\n  dtab: /svc => /#/io.l5d.fs;\n  servers:\n  - port: 0\n",
        disco.display()
    );
    Linkerd::start(Path::new(BIN), &yaml, label)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// curl to `l` with `headers`; returns (status, body).
fn curl(l: &Linkerd, headers: &[&str]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(format!("http://{}/hello", l.addr))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').expect("a status");
    (code.parse().unwrap(), body.to_string())
}

/// Two linkerds in a mesh in front of backends `web` and `web2` on this host.
struct Mesh {
    web: PythonBackend,
    outgoing: Linkerd,
    incoming: Linkerd,
    _web2: PythonBackend,
}

fn mesh() -> Mesh {
    let (web, web2) = (PythonBackend::start("web"), PythonBackend::start("web2"));
    let disco = temp_dir("l2l-disco");
    for (name, b) in [("web", &web), ("web2", &web2)] {
        std::fs::write(disco.join(name), format!("127.0.0.1 {}\n", b.addr.port())).unwrap();
    }
    // B first, so that A's port transformer can name B's port (every server binds :0).
    let incoming = linkerd(&disco, "incoming", "{kind: io.l5d.localhost}");
    let outgoing = linkerd(
        &disco,
        "outgoing",
        &format!("{{kind: io.l5d.port, port: {}}}", incoming.addr.port()),
    );
    Mesh {
        web,
        outgoing,
        incoming,
        _web2: web2,
    }
}

#[test]
fn requests_cross_both_linkerds_with_their_context_intact() {
    let m = mesh();
    let (status, body) = curl(&m.outgoing, &["Host: web", "l5d-ctx-foo: bar"]);
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    assert_eq!(seen["backend"], "web");
    assert_eq!(seen["path"], "/hello");
    assert_eq!(seen["headers"]["l5d-ctx-foo"], "bar", "{body}");
    assert_eq!(
        seen["headers"]["via"], "1.1 linkerd, 1.1 linkerd",
        "two hops: {body}"
    );
    assert_eq!(
        seen["headers"]["l5d-dst-client"], "/%/io.l5d.localhost/#/io.l5d.fs/web",
        "B's client is for the localhost-filtered name: {body}"
    );
    assert!(m.web.process.stderr_so_far().contains("listening on"));
}

#[test]
fn a_per_request_dtab_sent_to_the_first_linkerd_is_honoured_by_the_second() {
    let m = mesh();
    let (status, body) = curl(
        &m.outgoing,
        &["Host: web", "l5d-dtab: /svc/web => /#/io.l5d.fs/web2"],
    );
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    assert_eq!(seen["backend"], "web2", "{body}");
    assert_eq!(
        seen["headers"]["l5d-ctx-dtab"], "/svc/web=>/#/io.l5d.fs/web2",
        "{body}"
    );
    assert_eq!(seen["headers"]["l5d-dst-service"], "/svc/web");
    assert_eq!(
        seen["headers"]["l5d-dst-client"],
        "/%/io.l5d.localhost/#/io.l5d.fs/web2"
    );
    let (_, body) = curl(&m.outgoing, &["Host: web"]);
    assert_eq!(
        json(&body)["backend"],
        "web",
        "only that request was overridden"
    );
}

#[test]
fn the_outgoing_delegation_shows_the_port_transformed_name() {
    let m = mesh();
    let port = m.incoming.addr.port();
    let body = eventually("the fs namer to answer", WAIT, || {
        let (status, _, body) = http_get(
            m.outgoing.admin,
            "/delegator.json?namespace=outgoing&path=%2Fsvc%2Fweb&dtab=%2Fsvc%3D%3E%2F%23%2Fio.l5d.fs",
            &[],
        );
        (status == 200).then_some(body)
    });
    let tree = json(&body);
    let bound = &tree["delegate"]["bound"];
    assert_eq!(
        bound["id"],
        format!("/%/io.l5d.port/{port}/#/io.l5d.fs/web"),
        "{body}"
    );
    assert_eq!(bound["addr"]["addrs"][0]["ip"], "127.0.0.1", "{body}");
    assert_eq!(bound["addr"]["addrs"][0]["port"], port, "{body}");
}

/// `examples/servicemesh.yaml` loads and builds, and its routers bind as Linkerd 1's do.
#[tokio::test]
async fn the_servicemesh_example_binds_through_its_transformers() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let text = std::fs::read_to_string(format!("{root}/examples/servicemesh.yaml")).unwrap();
    // The example names its directory relative to the repository root; tests run elsewhere.
    let text = text.replace(
        "rootDir: examples/disco",
        &format!("rootDir: {root}/examples/disco"),
    );
    let reg = linkerd::plugins::registry().unwrap();
    let config = load_linkerd(&text, &reg)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let ctx = BuildContext::new();
    let namers = build_namers(&config.namers, &ctx).unwrap();
    let build = |i: usize| {
        config.routers[i]
            .interpreter
            .build(&InterpreterContext {
                namers: &namers,
                build: &ctx,
            })
            .unwrap()
    };
    let (outgoing, incoming) = (build(0), build(1));
    let bound = |interp: &dyn NameInterpreter| {
        let mut act = interp.bind(
            &config.routers[0].dtab,
            &NamePath::read("/svc/hello").unwrap(),
        );
        let state = act.get_and_mark_seen().clone();
        match state {
            State::Ok(NameTree::Leaf(b)) => b,
            other => panic!("{other:?}"),
        }
    };
    let out = bound(&*outgoing);
    assert_eq!(out.id.show(), "/%/io.l5d.port/4141/#/io.l5d.fs/hello");
    let inc = bound(&*incoming);
    assert_eq!(inc.id.show(), "/%/io.l5d.localhost/#/io.l5d.fs/hello");
    let addrs = |b: &l5d_core::binding::Bound| match b.addr.sample() {
        l5d_core::addr::Addr::Bound(a, _) => a.iter().map(|a| a.addr).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(addrs(&out), ["127.0.0.1:4141".parse().unwrap()]);
    assert_eq!(addrs(&inc), ["127.0.0.1:8080".parse().unwrap()]);
}

/// The Kubernetes transformers have no runtime in this build: a router naming one is
/// refused with the transformer's key path and kind, not silently left untransformed.
#[test]
fn transformers_without_a_runtime_are_refused_by_name() {
    let reg = linkerd::plugins::registry().unwrap();
    let text = "routers:\n- protocol: http\n  interpreter:\n    kind: default\n    \
                transformers:\n    - kind: io.l5d.k8s.localnode\n  servers:\n  - port: 0\n";
    let config = load_linkerd(text, &reg)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let ctx = BuildContext::new();
    let e = config.routers[0]
        .interpreter
        .build(&InterpreterContext {
            namers: &[],
            build: &ctx,
        })
        .err()
        .expect("refused");
    assert_eq!(
        e.to_string(),
        "routers[0].interpreter.transformers[0] (kind io.l5d.k8s.localnode): not implemented \
         in this build at line 6, column 7"
    );
}
