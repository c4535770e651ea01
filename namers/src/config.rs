//! Namer and transformer kinds (`namers:` and `transformers:`) with Linkerd 1.7.5's keys
//! and defaults. Every namer also takes the common `prefix`, `experimental` and
//! `transformers`, which the core handles; every transformer takes `prefix`.

use l5d_core::config::defaults;
use std::collections::BTreeMap;

use std::sync::Arc;

use l5d_core::binding::{SharedNamer, Transformer};
use l5d_core::config::{
    BackendTls, BuildContext, BuildError, Kind, NamerConfig, Registry, RegistryError,
    TransformerConfig, ZkAddr,
};
use l5d_core::naming::Path;
use serde::Deserialize;

fn yes() -> bool {
    true
}
fn passing() -> Vec<HealthStatus> {
    vec![HealthStatus::Passing]
}
fn fixed_length_kb() -> u32 {
    5120
}
fn pod_namespace() -> String {
    "POD_NAMESPACE".into()
}
fn slash() -> String {
    "/".into()
}
fn marathon_host() -> String {
    "marathon.mesos".into()
}
fn eighty() -> u16 {
    80
}
fn five_secs_ms() -> u64 {
    5000
}
fn fifty_ms() -> u64 {
    50
}
fn five() -> u64 {
    5
}
fn thirty() -> u64 {
    30
}
fn pilot() -> String {
    "istio-pilot".into()
}
fn pilot_port() -> u16 {
    8080
}

/// `io.l5d.fs`: one file per service under `rootDir`, lines `host port [* weight]`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FsNamer {
    /// The directory watched.
    pub root_dir: String,
}
impl Kind for FsNamer {
    const KIND: &'static str = "io.l5d.fs";
}
impl NamerConfig for FsNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        Ok(Arc::new(crate::fs::FsNamer::new(
            &self.root_dir,
            mount.clone(),
        )))
    }
}

/// The keys of the Kubernetes namers (`io.l5d.k8s`, `io.l5d.k8s.external`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct K8sNamer {
    /// API host (default localhost, through `kubectl proxy`).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
    /// A label selector; its value becomes a path segment.
    pub label_selector: Option<String>,
}
impl Kind for K8sNamer {
    const KIND: &'static str = "io.l5d.k8s";
}
impl NamerConfig for K8sNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        k8s_namer(
            &self.host,
            self.port,
            self.label_selector.as_deref(),
            mount,
            None,
        )
    }
}

/// The Kubernetes namer for the API at `host:port` (`kubectl proxy`).
fn k8s_namer(
    host: &str,
    port: u16,
    label_selector: Option<&str>,
    mount: &Path,
    namespace: Option<String>,
) -> Result<SharedNamer, BuildError> {
    if label_selector.is_some() {
        return Err(BuildError::new(
            "labelSelector is not supported by this build",
        ));
    }
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| BuildError::new(format!("cannot resolve {host}")))?;
    Ok(Arc::new(crate::k8s::K8sNamer::new(
        addr,
        mount.clone(),
        namespace,
    )))
}

/// `io.l5d.k8s.external` (experimental): services' load balancer addresses.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct K8sExternalNamer {
    /// API host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
    /// A label selector.
    pub label_selector: Option<String>,
}
impl Kind for K8sExternalNamer {
    const KIND: &'static str = "io.l5d.k8s.external";
    const EXPERIMENTAL: bool = true;
}
impl NamerConfig for K8sExternalNamer {}

/// `io.l5d.k8s.ns`: `io.l5d.k8s` in the namespace named by an environment variable.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct K8sNsNamer {
    /// The variable holding the namespace (default `POD_NAMESPACE`).
    #[serde(default = "pod_namespace")]
    pub env_var: String,
    /// API host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
    /// A label selector.
    pub label_selector: Option<String>,
}
impl Kind for K8sNsNamer {
    const KIND: &'static str = "io.l5d.k8s.ns";
}
impl NamerConfig for K8sNsNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        let ns = std::env::var(&self.env_var).map_err(|_| {
            BuildError::new(format!(
                "the environment variable {} is not set",
                self.env_var
            ))
        })?;
        k8s_namer(
            &self.host,
            self.port,
            self.label_selector.as_deref(),
            mount,
            Some(ns),
        )
    }
}

/// A Consul health status.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// `passing`.
    Passing,
    /// `warning`.
    Warning,
    /// `critical`.
    Critical,
    /// `maintenance`.
    Maintenance,
}

/// A Consul read consistency mode.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConsistencyMode {
    /// `default`.
    Default,
    /// `stale`.
    Stale,
    /// `consistent`.
    Consistent,
}

/// A weight for the instances carrying a Consul tag.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TagWeight {
    /// The tag.
    pub tag: String,
    /// Its weight.
    pub weight: f64,
}

/// `io.l5d.consul`: Consul's catalog, `/#/io.l5d.consul/<dc>/[<tag>/]<service>`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsulNamer {
    /// Agent host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// Agent port (default 8500).
    #[serde(default = "defaults::consul_port")]
    pub port: u16,
    /// Names carry a tag segment (default false).
    #[serde(default)]
    pub include_tag: bool,
    /// Filter instances by health (default false).
    #[serde(default)]
    pub use_health_check: bool,
    /// The statuses counted healthy (default `[passing]`).
    #[serde(default = "passing")]
    pub health_statuses: Vec<HealthStatus>,
    /// ACL token.
    pub token: Option<String>,
    /// Rewrite `Host` to `<service>.service.<dc>.<domain>` (default false).
    #[serde(default)]
    pub set_host: bool,
    /// Read consistency (default `default`).
    pub consistency_mode: Option<ConsistencyMode>,
    /// Fail fast on connection errors (default false).
    #[serde(default)]
    pub fail_fast: bool,
    /// Prefer the service address over the node address (default true).
    #[serde(default = "yes")]
    pub prefer_service_address: bool,
    /// Weights by tag.
    #[serde(default)]
    pub weights: Vec<TagWeight>,
    /// Responses larger than this (KB) are streamed (default 5120).
    #[serde(rename = "fixedLengthStreamedAfterKB", default = "fixed_length_kb")]
    pub fixed_length_streamed_after_kb: u32,
    /// TLS to Consul.
    pub tls: Option<BackendTls>,
    /// Copy Consul metadata onto addresses (default false).
    #[serde(default)]
    pub transfer_metadata: bool,
}
impl Kind for ConsulNamer {
    const KIND: &'static str = "io.l5d.consul";
}
impl NamerConfig for ConsulNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        // Options this build cannot honour are refused by name rather than ignored.
        for (set, key) in [
            (self.transfer_metadata, "transferMetadata"),
            (self.tls.is_some(), "tls"),
        ] {
            if set {
                return Err(BuildError::new(format!(
                    "{key} is not supported by this build"
                )));
            }
        }
        let host = if self.host == "localhost" {
            "127.0.0.1"
        } else {
            &self.host
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, self.port))
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| BuildError::new(format!("cannot resolve {}", self.host)))?;
        let settings = crate::consul::Settings {
            addr,
            include_tag: self.include_tag,
            health: self
                .use_health_check
                .then(|| crate::consul::status_names(&self.health_statuses)),
            token: self.token.clone(),
            consistency: match self.consistency_mode {
                Some(ConsistencyMode::Stale) => Some("stale"),
                Some(ConsistencyMode::Consistent) => Some("consistent"),
                _ => None,
            },
            prefer_service_address: self.prefer_service_address,
            weights: self
                .weights
                .iter()
                .map(|w| (w.tag.clone(), w.weight))
                .collect(),
            set_host: self.set_host,
        };
        Ok(Arc::new(crate::consul::ConsulNamer::new(
            settings,
            mount.clone(),
        )))
    }
}

/// `io.l5d.serversets` and `io.l5d.zkLeader`: ZooKeeper.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServersetsNamer {
    /// The ZooKeeper ensemble.
    pub zk_addrs: Vec<ZkAddr>,
}
impl Kind for ServersetsNamer {
    const KIND: &'static str = "io.l5d.serversets";
}
impl NamerConfig for ServersetsNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        Ok(Arc::new(crate::zk::ZkNamer::new(
            crate::zk::Kind::Serversets,
            zk_hosts(&self.zk_addrs),
            mount.clone(),
        )))
    }
}

/// `host:port,host:port`, as ZooKeeper clients take an ensemble.
fn zk_hosts(addrs: &[ZkAddr]) -> String {
    addrs
        .iter()
        .map(|a| format!("{}:{}", a.host, a.port))
        .collect::<Vec<_>>()
        .join(",")
}

/// `io.l5d.zkLeader`: the address of a ZooKeeper leader election's winner.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZkLeaderNamer {
    /// The ZooKeeper ensemble.
    pub zk_addrs: Vec<ZkAddr>,
}
impl Kind for ZkLeaderNamer {
    const KIND: &'static str = "io.l5d.zkLeader";
}
impl NamerConfig for ZkLeaderNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        Ok(Arc::new(crate::zk::ZkNamer::new(
            crate::zk::Kind::Leader,
            zk_hosts(&self.zk_addrs),
            mount.clone(),
        )))
    }
}

/// `io.l5d.curator` (experimental): Curator service discovery.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CuratorNamer {
    /// The ZooKeeper ensemble.
    pub zk_addrs: Vec<ZkAddr>,
    /// The Curator base path (default `/`).
    #[serde(default = "slash")]
    pub base_path: String,
}
impl Kind for CuratorNamer {
    const KIND: &'static str = "io.l5d.curator";
    const EXPERIMENTAL: bool = true;
}
impl NamerConfig for CuratorNamer {}

/// `io.l5d.marathon`: Marathon's app API.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MarathonNamer {
    /// Marathon host (default marathon.mesos).
    #[serde(default = "marathon_host")]
    pub host: String,
    /// Marathon port (default 80).
    #[serde(default = "eighty")]
    pub port: u16,
    /// A name to find Marathon through instead of host and port.
    pub dst: Option<Path>,
    /// A prefix of Marathon's API paths (default none).
    #[serde(default)]
    pub uri_prefix: String,
    /// Poll interval in milliseconds (default 5000).
    #[serde(default = "five_secs_ms")]
    pub ttl_ms: u64,
    /// Poll jitter in milliseconds (default 50).
    #[serde(default = "fifty_ms")]
    pub jitter_ms: u64,
    /// Keep only healthy tasks (default false).
    #[serde(default)]
    pub use_health_check: bool,
    /// TLS to Marathon.
    pub tls: Option<BackendTls>,
}
impl Kind for MarathonNamer {
    const KIND: &'static str = "io.l5d.marathon";
}
impl NamerConfig for MarathonNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        if self.tls.is_some() {
            return Err(BuildError::new("tls is not supported by this build"));
        }
        if self.dst.is_some() {
            return Err(BuildError::new(
                "dst is not supported by this build; use host and port",
            ));
        }
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(self.host.as_str(), self.port))
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| BuildError::new(format!("cannot resolve {}", self.host)))?;
        let settings = crate::marathon::Settings {
            addr,
            host: self.host.clone(),
            uri_prefix: self.uri_prefix.clone(),
            ttl: std::time::Duration::from_millis(self.ttl_ms),
            jitter: std::time::Duration::from_millis(self.jitter_ms),
            use_health_check: self.use_health_check,
        };
        Ok(Arc::new(crate::marathon::MarathonNamer::new(
            settings,
            mount.clone(),
        )))
    }
}

/// `io.l5d.dnssrv` (experimental): DNS SRV records.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsSrvNamer {
    /// Seconds between lookups (default 5).
    #[serde(default = "five")]
    pub refresh_interval_seconds: u64,
    /// Name servers (default: the system's).
    #[serde(default)]
    pub dns_hosts: Vec<String>,
}
impl Kind for DnsSrvNamer {
    const KIND: &'static str = "io.l5d.dnssrv";
    const EXPERIMENTAL: bool = true;
}
impl NamerConfig for DnsSrvNamer {
    fn build(&self, mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        let n = crate::dnssrv::DnsSrvNamer::new(
            &self.dns_hosts,
            std::time::Duration::from_secs(self.refresh_interval_seconds),
            mount.clone(),
        )
        .map_err(BuildError::new)?;
        Ok(Arc::new(n))
    }
}

/// `io.l5d.rancher` (experimental): Rancher's metadata service.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RancherNamer {
    /// Port names to numbers, beyond the known `http` and `https`.
    #[serde(default)]
    pub port_mappings: BTreeMap<String, u16>,
    /// Longest wait of a metadata long poll, in seconds (default 30).
    #[serde(default = "thirty")]
    pub max_wait: u64,
}
impl Kind for RancherNamer {
    const KIND: &'static str = "io.l5d.rancher";
    const EXPERIMENTAL: bool = true;
}
impl NamerConfig for RancherNamer {}

/// `io.l5d.rewrite`: rewrites `/#/<prefix>/...` by pattern into another path.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RewriteNamer {
    /// The mount prefix (required for this namer).
    pub prefix: Path,
    /// The pattern, e.g. `/{service}/api`.
    pub pattern: String,
    /// The result, e.g. `/srv/{service}`.
    pub name: String,
}
impl Kind for RewriteNamer {
    const KIND: &'static str = "io.l5d.rewrite";
}
impl NamerConfig for RewriteNamer {
    fn build(&self, _mount: &Path, _: &BuildContext) -> Result<SharedNamer, BuildError> {
        let n = crate::rewrite::RewriteNamer::new(&self.pattern, &self.name)
            .map_err(|e| BuildError::new(format!("pattern {}: {e}", self.pattern)))?;
        Ok(Arc::new(n))
    }
}

/// `io.l5d.k8s.istio` (experimental, deprecated): Istio's discovery.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioNamer {
    /// Pilot host (default istio-pilot).
    #[serde(default = "pilot")]
    pub host: String,
    /// Pilot port (default 8080).
    #[serde(default = "pilot_port")]
    pub port: u16,
}
impl Kind for IstioNamer {
    const KIND: &'static str = "io.l5d.k8s.istio";
    const EXPERIMENTAL: bool = true;
}
impl NamerConfig for IstioNamer {}

/// `io.l5d.localhost`: keep the addresses on this host.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocalhostTransformer {}
impl Kind for LocalhostTransformer {
    const KIND: &'static str = "io.l5d.localhost";
}
impl TransformerConfig for LocalhostTransformer {
    fn build(&self, prefix: &Path, _: &BuildContext) -> Result<Arc<dyn Transformer>, BuildError> {
        Ok(Arc::new(crate::transform::localhost(prefix.clone())))
    }
}

/// `io.l5d.specificHost`: keep the addresses of one host.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpecificHostTransformer {
    /// The host.
    pub host: String,
}
impl Kind for SpecificHostTransformer {
    const KIND: &'static str = "io.l5d.specificHost";
}
impl TransformerConfig for SpecificHostTransformer {
    fn build(&self, prefix: &Path, _: &BuildContext) -> Result<Arc<dyn Transformer>, BuildError> {
        Ok(Arc::new(crate::transform::specific_host(
            prefix.clone(),
            &self.host,
        )?))
    }
}

/// `io.l5d.port`: replace every address's port (linker-to-linker).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortTransformer {
    /// The port.
    pub port: u16,
}
impl Kind for PortTransformer {
    const KIND: &'static str = "io.l5d.port";
}
impl TransformerConfig for PortTransformer {
    /// Linkerd 1's `/io.l5d.port/<port>`.
    fn default_prefix(&self) -> Option<Path> {
        Some(Path::from_elems([
            Self::KIND.to_string(),
            self.port.to_string(),
        ]))
    }

    fn build(&self, prefix: &Path, _: &BuildContext) -> Result<Arc<dyn Transformer>, BuildError> {
        Ok(Arc::new(crate::transform::port(prefix.clone(), self.port)))
    }
}

/// `io.l5d.k8s.daemonset`: send to the daemonset pod on each address's node.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DaemonSetTransformer {
    /// The daemonset's namespace.
    pub namespace: String,
    /// The daemonset's service.
    pub service: String,
    /// The service's port name.
    pub port: String,
    /// API host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub k8s_host: String,
    /// API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub k8s_port: u16,
    /// Match by node name instead of /24 subnet (default false).
    #[serde(default)]
    pub host_network: bool,
}
impl Kind for DaemonSetTransformer {
    const KIND: &'static str = "io.l5d.k8s.daemonset";
}
impl TransformerConfig for DaemonSetTransformer {}

/// `io.l5d.k8s.localnode`: keep the addresses on this node.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalNodeTransformer {
    /// Match by node name instead of /24 subnet (default false).
    #[serde(default)]
    pub host_network: bool,
}
impl Kind for LocalNodeTransformer {
    const KIND: &'static str = "io.l5d.k8s.localnode";
}
impl TransformerConfig for LocalNodeTransformer {}

/// `io.l5d.replace`: replace bound names by a path (Neg stays Neg).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTransformer {
    /// The replacement.
    pub path: Path,
}
impl Kind for ReplaceTransformer {
    const KIND: &'static str = "io.l5d.replace";
}
impl TransformerConfig for ReplaceTransformer {}

/// `io.l5d.const`: always this path, even for Neg.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConstTransformer {
    /// The path.
    pub path: Path,
}
impl Kind for ConstTransformer {
    const KIND: &'static str = "io.l5d.const";
}
impl TransformerConfig for ConstTransformer {}

/// Adds every namer and transformer kind.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    reg.add_namer::<FsNamer>()?;
    reg.add_namer::<K8sNamer>()?;
    reg.add_namer::<K8sExternalNamer>()?;
    reg.add_namer::<K8sNsNamer>()?;
    reg.add_namer::<ConsulNamer>()?;
    reg.add_namer::<ServersetsNamer>()?;
    reg.add_namer::<ZkLeaderNamer>()?;
    reg.add_namer::<CuratorNamer>()?;
    reg.add_namer::<MarathonNamer>()?;
    reg.add_namer::<DnsSrvNamer>()?;
    reg.add_namer::<RancherNamer>()?;
    reg.add_namer::<RewriteNamer>()?;
    reg.add_namer::<IstioNamer>()?;
    reg.add_transformer::<LocalhostTransformer>()?;
    reg.add_transformer::<SpecificHostTransformer>()?;
    reg.add_transformer::<PortTransformer>()?;
    reg.add_transformer::<DaemonSetTransformer>()?;
    reg.add_transformer::<LocalNodeTransformer>()?;
    reg.add_transformer::<ReplaceTransformer>()?;
    reg.add_transformer::<ConstTransformer>()?;
    Ok(())
}
