//! Every plugin namerd knows, registered in one place: namers and transformers from their
//! crate, the built-in telemeters, and the dtab storage and interface kinds defined here.

use l5d_core::config::defaults;
use std::collections::BTreeMap;

use l5d_core::config::{
    BackendTls, Backoff, DtabValue, InterfaceConfig, Kind, Registry, RegistryError, StorageConfig,
    ZkAddr,
};
use l5d_core::naming::Path;
use l5d_namers::config::ConsistencyMode;
use serde::Deserialize;

/// A registry holding every plugin namerd knows.
pub fn registry() -> Result<Registry, RegistryError> {
    let mut reg = Registry::new();
    register(&mut reg)?;
    Ok(reg)
}

/// Adds namerd's plugins to `reg`.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    l5d_namers::config::register(reg)?;
    l5d_core::config::telemeters::register(reg)?;
    reg.add_storage::<InMemoryStorage>()?;
    reg.add_storage::<K8sStorage>()?;
    reg.add_storage::<ZkStorage>()?;
    reg.add_storage::<EtcdStorage>()?;
    reg.add_storage::<ConsulStorage>()?;
    reg.add_interface::<ThriftNameInterpreter>()?;
    reg.add_interface::<HttpController>()?;
    reg.add_interface::<MeshInterface>()?;
    reg.add_interface::<DestinationInterface>()?;
    Ok(())
}

fn default_ns() -> String {
    "default".into()
}
fn dtabs() -> String {
    "/dtabs".into()
}
fn ten_secs_ms() -> u64 {
    10_000
}
fn etcd_port() -> u16 {
    2379
}
fn thousand() -> u32 {
    1000
}
fn hundred() -> u32 {
    100
}
fn ten_minutes() -> u64 {
    600
}
fn svc() -> Path {
    Path::from_elems(["svc"])
}

/// `io.l5d.inMemory`: dtabs kept in memory, seeded from the config.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InMemoryStorage {
    /// Namespaces and their dtabs.
    #[serde(default)]
    pub namespaces: BTreeMap<String, DtabValue>,
}
impl Kind for InMemoryStorage {
    const KIND: &'static str = "io.l5d.inMemory";
}
impl StorageConfig for InMemoryStorage {}

/// `io.l5d.k8s`: dtabs as `dtabs.l5d.io` custom resources.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct K8sStorage {
    /// API host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
    /// The Kubernetes namespace (default `default`).
    #[serde(default = "default_ns")]
    pub namespace: String,
}
impl Kind for K8sStorage {
    const KIND: &'static str = "io.l5d.k8s";
}
impl StorageConfig for K8sStorage {}

/// ZooKeeper authentication.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthInfo {
    /// The scheme, e.g. `digest`.
    pub scheme: String,
    /// The credentials, e.g. `user:password`.
    pub auth: String,
}

/// A ZooKeeper ACL.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    /// The scheme, e.g. `auth`.
    pub scheme: String,
    /// The id.
    pub id: String,
    /// Permissions, letters of `crwda`.
    pub perms: String,
}

/// `io.l5d.zk`: dtabs as znodes.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZkStorage {
    /// The ZooKeeper ensemble.
    pub zk_addrs: Vec<ZkAddr>,
    /// The parent znode (default `/dtabs`).
    #[serde(default = "dtabs")]
    pub path_prefix: String,
    /// Session timeout in milliseconds (default 10000).
    #[serde(default = "ten_secs_ms")]
    pub session_timeout_ms: u64,
    /// Authentication.
    pub auth_info: Option<AuthInfo>,
    /// ACLs of created znodes.
    pub acls: Option<Vec<Acl>>,
}
impl Kind for ZkStorage {
    const KIND: &'static str = "io.l5d.zk";
}
impl StorageConfig for ZkStorage {
    fn validate(&self) -> Result<(), String> {
        for acl in self.acls.iter().flatten() {
            let perms = acl.perms.trim();
            if let Some(c) = perms.chars().find(|c| !"crwda".contains(*c)) {
                return Err(format!(
                    "acl perms '{}' may only use the letters crwda, found '{c}'",
                    acl.perms
                ));
            }
        }
        Ok(())
    }
}

/// `io.l5d.etcd` (experimental): dtabs as etcd v2 keys.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EtcdStorage {
    /// etcd host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// etcd port (default 2379).
    #[serde(default = "etcd_port")]
    pub port: u16,
    /// The parent key (default `/namerd/dtabs`).
    #[serde(default = "defaults::namerd_dtabs")]
    pub path_prefix: String,
    /// TLS to etcd.
    pub tls: Option<BackendTls>,
}
impl Kind for EtcdStorage {
    const KIND: &'static str = "io.l5d.etcd";
    const EXPERIMENTAL: bool = true;
}
impl StorageConfig for EtcdStorage {}

/// `io.l5d.consul`: dtabs in Consul's key-value store.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsulStorage {
    /// Agent host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// Agent port (default 8500).
    #[serde(default = "defaults::consul_port")]
    pub port: u16,
    /// The parent key (default `/namerd/dtabs`).
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
}
impl Kind for ConsulStorage {
    const KIND: &'static str = "io.l5d.consul";
}
impl StorageConfig for ConsulStorage {}

/// The Thrift interface's caches.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InterpreterCache {
    /// Active bindings kept (default 1000).
    #[serde(default = "thousand")]
    pub binding_cache_active: u32,
    /// Inactive bindings kept (default 100).
    #[serde(default = "hundred")]
    pub binding_cache_inactive: u32,
    /// Seconds an inactive binding lives (default 600).
    #[serde(rename = "bindingCacheInactiveTTLSecs", default = "ten_minutes")]
    pub binding_cache_inactive_ttl_secs: u64,
    /// Active address sets kept (default 1000).
    #[serde(default = "thousand")]
    pub addr_cache_active: u32,
    /// Inactive address sets kept (default 100).
    #[serde(default = "hundred")]
    pub addr_cache_inactive: u32,
    /// Seconds an inactive address set lives (default 600).
    #[serde(rename = "addrCacheInactiveTTLSecs", default = "ten_minutes")]
    pub addr_cache_inactive_ttl_secs: u64,
}

/// `io.l5d.thriftNameInterpreter` (port 4100): the ThriftMux long-poll interface.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThriftNameInterpreter {
    /// Cache sizes.
    pub cache: Option<InterpreterCache>,
}
impl Kind for ThriftNameInterpreter {
    const KIND: &'static str = "io.l5d.thriftNameInterpreter";
}
impl InterfaceConfig for ThriftNameInterpreter {
    fn default_port(&self) -> u16 {
        4100
    }
}

/// `io.l5d.httpController` (port 4180): the HTTP API (dtab CRUD, bind, resolve, ...).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpController {}
impl Kind for HttpController {
    const KIND: &'static str = "io.l5d.httpController";
}
impl InterfaceConfig for HttpController {
    fn default_port(&self) -> u16 {
        4180
    }
}

/// `io.l5d.mesh` (port 4321): the gRPC mesh interface.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshInterface {
    /// Access log file.
    pub h2_access_log: Option<String>,
    /// Access log rotation.
    pub h2_access_log_roll_policy: Option<String>,
    /// Append to an existing access log (default true).
    pub h2_access_log_append: Option<bool>,
    /// Rotated logs kept (default -1: all).
    pub h2_access_log_rotate_count: Option<i32>,
}
impl Kind for MeshInterface {
    const KIND: &'static str = "io.l5d.mesh";
}
impl InterfaceConfig for MeshInterface {
    fn default_port(&self) -> u16 {
        4321
    }
}

/// `io.l5d.destination` (port 8086): the Linkerd 2 proxy Destination API.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationInterface {
    /// The prefix names are resolved under (default `/svc`).
    #[serde(default = "svc")]
    pub prefix: Path,
    /// The dtab namespace (default `default`).
    #[serde(default = "default_ns")]
    pub namespace: String,
}
impl Kind for DestinationInterface {
    const KIND: &'static str = "io.l5d.destination";
}
impl InterfaceConfig for DestinationInterface {
    fn default_port(&self) -> u16 {
        8086
    }
}
