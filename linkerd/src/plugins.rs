//! Every plugin linkerd knows, registered in one place: the protocols, namers and
//! transformers of their crates, the built-in telemeters, and the interpreter and
//! announcer kinds defined here (their runtimes are the namerd clients and the ZooKeeper
//! announcer, which live with linkerd).

use l5d_core::config::defaults;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use l5d_core::binding::NameInterpreter;
use l5d_core::config::{
    AnnouncerConfig, BackendTls, Backoff, BuildError, InterpreterConfig, InterpreterContext, Kind,
    Registry, RegistryError, TlsClientConfig, ZkAddr,
};
use l5d_core::naming::Path;
use l5d_namers::config::ConsistencyMode;
use serde::Deserialize;

/// A registry holding every built-in plugin.
pub fn registry() -> Result<Registry, RegistryError> {
    let mut reg = Registry::new();
    register(&mut reg)?;
    Ok(reg)
}

/// Adds every built-in plugin to `reg` (which already holds the core's `default`
/// interpreter).
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    l5d_http::config::register(reg)?;
    l5d_thrift::config::register(reg)?;
    l5d_mux::config::register(reg)?;
    l5d_namers::config::register(reg)?;
    l5d_core::config::telemeters::register(reg)?;
    reg.add_interpreter::<NamerdThrift>()?;
    reg.add_interpreter::<NamerdHttp>()?;
    reg.add_interpreter::<Mesh>()?;
    reg.add_interpreter::<FsInterpreter>()?;
    reg.add_interpreter::<ConfigMapInterpreter>()?;
    reg.add_interpreter::<ConsulInterpreter>()?;
    reg.add_interpreter::<IstioInterpreter>()?;
    reg.add_announcer::<ServersetsAnnouncer>()?;
    Ok(())
}

fn default_ns() -> String {
    "default".into()
}
fn five() -> u64 {
    5
}
fn six_hundred() -> u64 {
    600
}
fn five_secs_ms() -> u64 {
    5000
}
fn four_secs_ms() -> u64 {
    4000
}
fn root() -> Path {
    Path::from_elems(["default"])
}
fn window_kb() -> u32 {
    1024
}
fn discovery() -> String {
    "/discovery".into()
}
fn pilot() -> String {
    "istio-pilot".into()
}
fn pilot_port() -> u16 {
    8080
}

/// `retry`: exponential, jittered backoff of a namerd client's reconnects.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamerdRetry {
    /// The first wait, in seconds (default 5).
    #[serde(default = "five")]
    pub base_seconds: u64,
    /// The longest wait, in seconds (default 600).
    #[serde(default = "six_hundred")]
    pub max_seconds: u64,
}

/// `failureThreshold`: when a namerd connection is considered dead.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailureThreshold {
    /// The shortest ping period, in milliseconds (default 5000).
    #[serde(default = "five_secs_ms")]
    pub min_period_ms: u64,
    /// How long an unanswered ping may wait, in milliseconds (default 4000).
    #[serde(default = "four_secs_ms")]
    pub close_timeout_ms: u64,
}

/// `tls` of the `io.l5d.namerd` interpreter.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamerdTls {
    /// The name namerd's certificate must carry.
    pub common_name: String,
    /// The CA certificate to trust.
    pub ca_cert: Option<String>,
}

/// `io.l5d.namerd`: bind through namerd's ThriftMux interface (long polls).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamerdThrift {
    /// Where namerd is, e.g. `/$/inet/namerd/4100`.
    pub dst: Path,
    /// The dtab namespace (default `default`).
    #[serde(default = "default_ns")]
    pub namespace: String,
    /// Reconnect backoff.
    pub retry: Option<NamerdRetry>,
    /// TLS to namerd.
    pub tls: Option<NamerdTls>,
    /// Liveness of the connection.
    pub failure_threshold: Option<FailureThreshold>,
}
impl Kind for NamerdThrift {
    const KIND: &'static str = "io.l5d.namerd";
}
impl InterpreterConfig for NamerdThrift {
    fn build(&self, _ctx: &InterpreterContext<'_>) -> Result<Arc<dyn NameInterpreter>, BuildError> {
        if self.tls.is_some() {
            return Err(BuildError::new(
                "tls to namerd is not supported by this build",
            ));
        }
        let addr = inet_addr(&self.dst)?;
        Ok(Arc::new(l5d_namers::namerd_thrift::NamerdThrift::new(
            addr,
            &self.namespace,
            backoff(self.retry.as_ref()),
        )))
    }
}

/// The reconnect backoff `retry` describes (Linkerd 1's defaults: 5 s to 10 min).
fn backoff(retry: Option<&NamerdRetry>) -> l5d_namers::namerd::Backoff {
    let retry = retry.cloned().unwrap_or(NamerdRetry {
        base_seconds: five(),
        max_seconds: six_hundred(),
    });
    l5d_namers::namerd::Backoff {
        base: Duration::from_secs(retry.base_seconds.max(1)),
        max: Duration::from_secs(retry.max_seconds.max(retry.base_seconds).max(1)),
    }
}

/// `io.l5d.namerd.http` (experimental): bind through namerd's streaming HTTP API.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamerdHttp {
    /// Where namerd is, e.g. `/$/inet/namerd/4180`.
    pub dst: Path,
    /// The dtab namespace (default `default`).
    #[serde(default = "default_ns")]
    pub namespace: String,
    /// Reconnect backoff.
    pub retry: Option<NamerdRetry>,
    /// TLS to namerd.
    pub tls: Option<TlsClientConfig>,
}
impl Kind for NamerdHttp {
    const KIND: &'static str = "io.l5d.namerd.http";
    const EXPERIMENTAL: bool = true;
}
impl InterpreterConfig for NamerdHttp {
    fn validate(&self) -> Result<(), String> {
        self.tls.as_ref().map_or(Ok(()), TlsClientConfig::validate)
    }

    fn build(&self, _ctx: &InterpreterContext<'_>) -> Result<Arc<dyn NameInterpreter>, BuildError> {
        if self.tls.is_some() {
            return Err(BuildError::new(
                "tls to namerd is not supported by this build",
            ));
        }
        let addr = inet_addr(&self.dst)?;
        Ok(Arc::new(l5d_namers::namerd::NamerdHttp::new(
            addr,
            &self.namespace,
            backoff(self.retry.as_ref()),
        )))
    }
}

/// The address a `/$/inet/<host>/<port>` path names.
fn inet_addr(dst: &Path) -> Result<SocketAddr, BuildError> {
    let elems: Vec<String> = dst
        .elems()
        .iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    match elems.as_slice() {
        [d, inet, host, port] if d == "$" && inet == "inet" => {
            let port: u16 = port
                .parse()
                .map_err(|_| BuildError::new(format!("dst {dst}: bad port {port}")))?;
            let host = if host == "localhost" {
                "127.0.0.1"
            } else {
                host
            };
            (host, port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| BuildError::new(format!("dst {dst}: cannot resolve {host}")))
        }
        _ => Err(BuildError::new(format!(
            "dst {dst}: this build reaches namerd only at /$/inet/<host>/<port>"
        ))),
    }
}

/// `io.l5d.mesh`: bind through namerd's gRPC mesh interface.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mesh {
    /// Where namerd is, e.g. `/$/inet/namerd/4321`.
    pub dst: Path,
    /// The namespace as a one-segment path (default `/default`).
    #[serde(default = "root")]
    pub root: Path,
    /// Reconnect backoff.
    pub retry: Option<NamerdRetry>,
    /// TLS to namerd.
    pub tls: Option<TlsClientConfig>,
    /// Liveness of the connection.
    pub failure_threshold: Option<FailureThreshold>,
    /// HTTP/2 stream window in KB (default 1024).
    #[serde(rename = "initialStreamWindowSizeKB", default = "window_kb")]
    pub initial_stream_window_size_kb: u32,
}
impl Kind for Mesh {
    const KIND: &'static str = "io.l5d.mesh";
}
impl InterpreterConfig for Mesh {
    fn validate(&self) -> Result<(), String> {
        if self.root.len() != 1 {
            return Err(format!(
                "root must be a one-segment path such as /default, found {}",
                self.root
            ));
        }
        self.tls.as_ref().map_or(Ok(()), TlsClientConfig::validate)
    }
}

/// `io.l5d.fs` interpreter: the default interpreter with the dtab read from a watched file.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FsInterpreter {
    /// The dtab file.
    pub dtab_file: String,
}
impl Kind for FsInterpreter {
    const KIND: &'static str = "io.l5d.fs";
}
impl InterpreterConfig for FsInterpreter {
    fn build(&self, ctx: &InterpreterContext<'_>) -> Result<Arc<dyn NameInterpreter>, BuildError> {
        let i = l5d_namers::fs_dtab::DtabFile::new(&self.dtab_file, ctx.namers.to_vec())
            .map_err(BuildError::new)?;
        Ok(Arc::new(i))
    }
}

/// `io.l5d.k8s.configMap` (experimental): the dtab from a watched ConfigMap key.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigMapInterpreter {
    /// The ConfigMap.
    pub name: String,
    /// The key holding the dtab.
    pub filename: String,
    /// API host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
    /// The ConfigMap's namespace (default `default`).
    #[serde(default = "default_ns")]
    pub namespace: String,
}
impl Kind for ConfigMapInterpreter {
    const KIND: &'static str = "io.l5d.k8s.configMap";
    const EXPERIMENTAL: bool = true;
}
impl InterpreterConfig for ConfigMapInterpreter {}

/// `io.l5d.consul.interpreter`: the dtab from Consul's key-value store.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsulInterpreter {
    /// Agent host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// Agent port (default 8500).
    #[serde(default = "defaults::consul_port")]
    pub port: u16,
    /// Where dtabs are stored (default `/namerd/dtabs`).
    #[serde(default = "defaults::namerd_dtabs")]
    pub path_prefix: String,
    /// ACL token.
    pub token: Option<String>,
    /// Datacenter (default the agent's).
    pub datacenter: Option<String>,
    /// Read consistency.
    pub read_consistency_mode: Option<ConsistencyMode>,
    /// Write consistency.
    pub write_consistency_mode: Option<ConsistencyMode>,
    /// Fail fast on connection errors (default false).
    #[serde(default)]
    pub fail_fast: bool,
    /// Retry backoff.
    pub backoff: Option<Backoff>,
    /// TLS to Consul.
    pub tls: Option<BackendTls>,
    /// The key under `pathPrefix` (default `default`).
    #[serde(default = "default_ns")]
    pub namespace: String,
}
impl Kind for ConsulInterpreter {
    const KIND: &'static str = "io.l5d.consul.interpreter";
}
impl InterpreterConfig for ConsulInterpreter {}

/// `io.l5d.k8s.istio` interpreter (experimental, deprecated): Istio route rules.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioInterpreter {
    /// Pilot host (default istio-pilot).
    #[serde(default = "pilot")]
    pub discovery_host: String,
    /// Pilot port (default 8080).
    #[serde(default = "pilot_port")]
    pub discovery_port: u16,
}
impl Kind for IstioInterpreter {
    const KIND: &'static str = "io.l5d.k8s.istio";
    const EXPERIMENTAL: bool = true;
}
impl InterpreterConfig for IstioInterpreter {}

/// `io.l5d.serversets` announcer: registers servers in ZooKeeper serversets.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServersetsAnnouncer {
    /// The ZooKeeper ensemble.
    pub zk_addrs: Vec<ZkAddr>,
    /// The znode under which names are announced (default `/discovery`).
    #[serde(default = "discovery")]
    pub path_prefix: String,
}
impl Kind for ServersetsAnnouncer {
    const KIND: &'static str = "io.l5d.serversets";
}
impl AnnouncerConfig for ServersetsAnnouncer {}
