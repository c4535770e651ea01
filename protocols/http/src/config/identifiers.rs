//! HTTP and H2 identifier kinds: how a request becomes a logical name under `dstPrefix`.

use l5d_core::config::defaults;
use l5d_core::config::{IdentifierConfig, Kind};
use l5d_core::naming::Path;
use serde::Deserialize;

fn host() -> String {
    "Host".into()
}
fn authority() -> String {
    ":authority".into()
}
fn path_header() -> String {
    ":path".into()
}
fn l5d_name() -> String {
    "l5d-name".into()
}
fn one() -> u32 {
    1
}
fn linkerd() -> String {
    "linkerd".into()
}
fn pilot() -> String {
    "istio-pilot".into()
}
fn discovery_port() -> u16 {
    8080
}
fn apiserver_port() -> u16 {
    8081
}

/// HTTP `io.l5d.header.token` (the default): `/svc/<header value>` as one segment.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpHeaderToken {
    /// The header (default `Host`).
    #[serde(default = "host")]
    pub header: String,
}
impl Kind for HttpHeaderToken {
    const KIND: &'static str = "io.l5d.header.token";
}
impl IdentifierConfig for HttpHeaderToken {}

/// H2 `io.l5d.header.token` (the default): `/svc/<header value>`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct H2HeaderToken {
    /// The header (default `:authority`).
    #[serde(default = "authority")]
    pub header: String,
}
impl Kind for H2HeaderToken {
    const KIND: &'static str = "io.l5d.header.token";
}
impl IdentifierConfig for H2HeaderToken {}

/// H2 `io.l5d.header.path`: the first segments of a path-valued header.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct H2HeaderPath {
    /// The header (default `:path`).
    #[serde(default = "path_header")]
    pub header: String,
    /// How many segments (default: all).
    pub segments: Option<u32>,
}
impl Kind for H2HeaderPath {
    const KIND: &'static str = "io.l5d.header.path";
}
impl IdentifierConfig for H2HeaderPath {
    fn validate(&self) -> Result<(), String> {
        check_segments(self.segments.unwrap_or(1))
    }
}

fn check_segments(n: u32) -> Result<(), String> {
    if n == 0 {
        Err("segments must be at least 1".into())
    } else {
        Ok(())
    }
}

/// `io.l5d.methodAndHost`: `/svc/<version>/<METHOD>/<host>[/<uri>]`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MethodAndHost {
    /// Append the request URI's path (default false).
    #[serde(default)]
    pub http_uri_in_dst: bool,
}
impl Kind for MethodAndHost {
    const KIND: &'static str = "io.l5d.methodAndHost";
}
impl IdentifierConfig for MethodAndHost {}

/// `io.l5d.path`: the first segments of the request path.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathIdentifier {
    /// How many segments (default 1).
    #[serde(default = "one")]
    pub segments: u32,
    /// Remove them from the forwarded request (default false).
    #[serde(default)]
    pub consume: bool,
}
impl Kind for PathIdentifier {
    const KIND: &'static str = "io.l5d.path";
}
impl IdentifierConfig for PathIdentifier {
    fn validate(&self) -> Result<(), String> {
        check_segments(self.segments)
    }
}

/// `io.l5d.header`: a path read from a header.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderIdentifier {
    /// The header (default `l5d-name`).
    #[serde(default = "l5d_name")]
    pub header: String,
}
impl Kind for HeaderIdentifier {
    const KIND: &'static str = "io.l5d.header";
}
impl IdentifierConfig for HeaderIdentifier {}

/// `io.l5d.static`: every request gets the same name.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StaticIdentifier {
    /// The name, after `dstPrefix`.
    pub path: Path,
}
impl Kind for StaticIdentifier {
    const KIND: &'static str = "io.l5d.static";
}
impl IdentifierConfig for StaticIdentifier {}

/// `io.l5d.ingress`: names from Kubernetes Ingress rules.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressIdentifier {
    /// Watch one namespace (default all).
    pub namespace: Option<String>,
    /// The ingress class served (default `linkerd`).
    #[serde(default = "linkerd")]
    pub ingress_class_annotation: String,
    /// Ignore ingress default backends (default false).
    #[serde(default)]
    pub ignore_default_backends: bool,
    /// Kubernetes API host (default localhost, through `kubectl proxy`).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// Kubernetes API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
}
impl Kind for IngressIdentifier {
    const KIND: &'static str = "io.l5d.ingress";
}
impl IdentifierConfig for IngressIdentifier {}

/// `io.l5d.k8s.istio`: Istio route rules (deprecated).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioIdentifier {
    /// Pilot discovery host (default istio-pilot).
    #[serde(default = "pilot")]
    pub discovery_host: String,
    /// Pilot discovery port (default 8080).
    #[serde(default = "discovery_port")]
    pub discovery_port: u16,
    /// Pilot API server host (default istio-pilot).
    #[serde(default = "pilot")]
    pub apiserver_host: String,
    /// Pilot API server port (default 8081).
    #[serde(default = "apiserver_port")]
    pub apiserver_port: u16,
}
impl Kind for IstioIdentifier {
    const KIND: &'static str = "io.l5d.k8s.istio";
}
impl IdentifierConfig for IstioIdentifier {}

/// `io.l5d.k8s.istio-ingress`: Istio ingress rules (deprecated).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioIngressIdentifier {
    /// Watch one namespace (default all).
    pub namespace: Option<String>,
    /// The ingress class served (default `istio`).
    pub ingress_class_annotation: Option<String>,
    /// Kubernetes API host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// Kubernetes API port (default 8001).
    #[serde(default = "defaults::kubectl_port")]
    pub port: u16,
    /// Pilot discovery host (default istio-pilot).
    #[serde(default = "pilot")]
    pub discovery_host: String,
    /// Pilot discovery port (default 8080).
    #[serde(default = "discovery_port")]
    pub discovery_port: u16,
    /// Pilot API server host (default istio-pilot).
    #[serde(default = "pilot")]
    pub apiserver_host: String,
    /// Pilot API server port (default 8081).
    #[serde(default = "apiserver_port")]
    pub apiserver_port: u16,
}
impl Kind for IstioIngressIdentifier {
    const KIND: &'static str = "io.l5d.k8s.istio-ingress";
}
impl IdentifierConfig for IstioIngressIdentifier {}
