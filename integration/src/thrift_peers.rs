//! Real Thrift peers for end-to-end tests: Apache Thrift's Python and Node.js libraries
//! (clients and servers of `integration/thrift/ping.thrift`'s PingService) and
//! twitter.common.rpc's TTwitter client and scales-rpc's ThriftMux client, installed by `integration/thrift/install.sh`.
//! Nobody here wrote them; the scripts beside the IDL only wire their generated code to a
//! command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::Process;

/// The language of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Apache Thrift's Python library (PyPI `thrift`).
    Python,
    /// Apache Thrift's Node.js library (npm `thrift`).
    Node,
}

/// A Thrift transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `TFramedTransport`.
    Framed,
    /// `TBufferedTransport` (unframed).
    Buffered,
}

impl Transport {
    /// The scripts' `--transport` value.
    pub fn arg(self) -> &'static str {
        match self {
            Transport::Framed => "framed",
            Transport::Buffered => "buffered",
        }
    }
}

/// A Thrift protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `TBinaryProtocol`.
    Binary,
    /// `TCompactProtocol`.
    Compact,
}

impl Proto {
    /// The scripts' `--protocol` value.
    pub fn arg(self) -> &'static str {
        match self {
            Proto::Binary => "binary",
            Proto::Compact => "compact",
        }
    }
}

/// What one call came back with.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A reply (`null` for a oneway call).
    Ok(serde_json::Value),
    /// The declared `PingError`, with its `why`.
    Declared(String),
    /// A `TApplicationException`.
    AppError {
        /// Its type (6 is INTERNAL_ERROR).
        r#type: i32,
        /// Its message.
        message: String,
    },
    /// The connection failed.
    TransportError(String),
}

impl Outcome {
    /// A successful reply carrying `s`.
    pub fn ok(s: &str) -> Outcome {
        Outcome::Ok(serde_json::Value::String(s.into()))
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Where the peers are installed (`$L5D_PEERS`, by default `target/peers`).
pub fn peers_dir() -> PathBuf {
    std::env::var_os("L5D_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/peers"))
}

fn script(name: &str) -> String {
    repo()
        .join("integration/thrift")
        .join(name)
        .to_str()
        .expect("a UTF-8 path")
        .to_string()
}

/// Installs the peers (once per test process); panics with the installer's output if
/// it fails.
pub fn install() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(script("install.sh"))
            .env("L5D_PEERS", peers_dir())
            .output()
            .expect("run integration/thrift/install.sh");
        assert!(
            out.status.success(),
            "installing the Thrift peers failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The command line running `script` in `lang`, with the generated code's locations.
fn command(lang: Lang, name: &str) -> Vec<String> {
    let peers = peers_dir();
    let p = |s: &str| peers.join(s).to_str().expect("a UTF-8 path").to_string();
    let mut cmd = vec![
        format!("L5D_THRIFT_GEN_PY={}", p("gen-py")),
        format!("L5D_THRIFT_GEN_JS={}", p("gen-js")),
        format!("NODE_PATH={}", p("node/node_modules")),
    ];
    match lang {
        Lang::Python if name.starts_with("ttwitter") => cmd.push(p("ttwitter/bin/python")),
        Lang::Python if name.starts_with("scales") => cmd.push(p("scales/bin/python")),
        Lang::Python => cmd.push(p("py/bin/python")),
        Lang::Node => cmd.push("node".into()),
    }
    cmd.push(script(name));
    cmd
}

/// A PingService server, stopped when dropped.
pub struct ThriftServer {
    /// The server process.
    pub process: Process,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ThriftServer {
    /// Starts a server in `lang` whose replies carry `name`.
    pub fn start(lang: Lang, transport: Transport, proto: Proto, name: &str) -> ThriftServer {
        ThriftServer::start_with(lang, transport, proto, name, &[])
    }

    /// Starts a Python server that serves PingService through `TMultiplexedProcessor`.
    pub fn start_multiplexed(transport: Transport, proto: Proto, name: &str) -> ThriftServer {
        ThriftServer::start_with(Lang::Python, transport, proto, name, &["--multiplexed"])
    }

    fn start_with(
        lang: Lang,
        transport: Transport,
        proto: Proto,
        name: &str,
        extra: &[&str],
    ) -> ThriftServer {
        install();
        let script = if lang == Lang::Python {
            "server.py"
        } else {
            "server.js"
        };
        let mut args = command(lang, script);
        for a in [
            "--transport",
            transport.arg(),
            "--protocol",
            proto.arg(),
            "--name",
            name,
        ]
        .iter()
        .chain(extra)
        {
            args.push(a.to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = Process::start(Path::new("/usr/bin/env"), &args);
        let addr = process.logged_addr("listening on ");
        ThriftServer { process, addr }
    }
}

/// How long a client may take before it is killed and the test fails.
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

fn run_client(args: Vec<String>) -> Vec<Vec<Outcome>> {
    let mut child = Command::new("/usr/bin/env")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a thrift client");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let mut err = String::new();
        use std::io::Read;
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        let _ = child.wait();
        let _ = tx.send((out, err));
    });
    let (out, err) = match rx.recv_timeout(CLIENT_DEADLINE) {
        Ok(r) => r,
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("thrift client {args:?} did not finish within {CLIENT_DEADLINE:?}");
        }
    };
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("client {args:?} printed no outcome ({e}):\n{out}\n{err}"))
}

fn client_args(
    lang: Lang,
    addr: SocketAddr,
    transport: Transport,
    proto: Proto,
    extra: &[&str],
    calls: &[&str],
) -> Vec<String> {
    let script = if lang == Lang::Python {
        "client.py"
    } else {
        "client.js"
    };
    let mut args = command(lang, script);
    for a in ["--addr", &addr.to_string(), "--transport", transport.arg()] {
        args.push(a.to_string());
    }
    for a in ["--protocol", proto.arg()].iter().chain(extra).chain(calls) {
        args.push(a.to_string());
    }
    args
}

/// Makes `calls` (`ping:<msg>`, `fire:<msg>`, `fired`) in order on one connection.
pub fn call(
    lang: Lang,
    addr: SocketAddr,
    transport: Transport,
    proto: Proto,
    calls: &[&str],
) -> Vec<Outcome> {
    install();
    let args = client_args(lang, addr, transport, proto, &[], calls);
    run_client(args).remove(0)
}

/// Makes `calls` on each of `connections` connections at once; the outcomes per
/// connection.
pub fn call_concurrently(
    lang: Lang,
    addr: SocketAddr,
    transport: Transport,
    proto: Proto,
    connections: usize,
    calls: &[&str],
) -> Vec<Vec<Outcome>> {
    install();
    let n = connections.to_string();
    let args = client_args(lang, addr, transport, proto, &["--connections", &n], calls);
    run_client(args)
}

/// Makes `calls` from Python with extra client flags (`--multiplexed`, `--old-binary`).
pub fn call_with(
    addr: SocketAddr,
    transport: Transport,
    proto: Proto,
    flags: &[&str],
    calls: &[&str],
) -> Vec<Outcome> {
    install();
    let args = client_args(Lang::Python, addr, transport, proto, flags, calls);
    run_client(args).remove(0)
}

/// Makes `calls` with twitter.common.rpc's TTwitter client (framed, binary), its
/// RequestHeader carrying `dest` and `delegations` (`/a=>/b;/c=>/d`) when given.
pub fn ttwitter_call(
    addr: SocketAddr,
    dest: Option<&str>,
    delegations: Option<&str>,
    calls: &[&str],
) -> Vec<Outcome> {
    install();
    let mut args = command(Lang::Python, "ttwitter_client.py");
    args.push("--addr".into());
    args.push(addr.to_string());
    if let Some(d) = dest {
        args.push("--dest".into());
        args.push(d.into());
    }
    if let Some(d) = delegations {
        args.push("--delegations".into());
        args.push(d.into());
    }
    args.extend(calls.iter().map(|c| c.to_string()));
    run_client(args).remove(0)
}

/// Makes `calls` with scales-rpc's ThriftMux client (one session), each call given
/// `timeout_s` seconds; with `concurrent`, all at once. The outcomes, and the calls in
/// the order their replies arrived.
pub fn scales_call(
    addr: SocketAddr,
    timeout_s: f64,
    concurrent: bool,
    calls: &[&str],
) -> (Vec<Outcome>, Vec<String>) {
    install();
    let mut args = command(Lang::Python, "scales_client.py");
    args.push("--addr".into());
    args.push(addr.to_string());
    args.push("--timeout-s".into());
    args.push(timeout_s.to_string());
    if concurrent {
        args.push("--concurrent".into());
    }
    args.extend(calls.iter().map(|c| c.to_string()));
    let mut out = run_client(args);
    let arrived = out
        .pop()
        .unwrap_or_default()
        .into_iter()
        .map(|o| match o {
            Outcome::Ok(serde_json::Value::String(s)) => s,
            other => panic!("not a call: {other:?}"),
        })
        .collect();
    (out.remove(0), arrived)
}
