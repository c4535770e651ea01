//! The `http` and `h2` protocols' config: their router, server, client and service keys,
//! identifier kinds and response classifier kinds, with Linkerd 1.7.5's names and
//! defaults (`HttpConfig.scala`, `H2Config.scala`).
//!
//! `register` adds both protocols to a registry; the runtime downcasts the boxed configs
//! back to these types when it builds a router.

use std::sync::OnceLock;

use l5d_core::config::{
    decode_kind, Family, Kind, NoKeys, Protocol, ProtocolClientConfig, ProtocolRouterConfig,
    ProtocolServerConfig, ProtocolServiceConfig, Registry, RegistryError, Variant,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The default port of `http` routers' servers.
pub const HTTP_PORT: u16 = 4140;
/// The default port of `h2` routers' servers.
pub const H2_PORT: u16 = 4142;

fn yes() -> bool {
    true
}
fn five() -> u32 {
    5
}
fn eight() -> u32 {
    8
}
fn four() -> u32 {
    4
}
fn max_err_kb() -> u32 {
    5120
}
fn minus_one() -> i32 {
    -1
}
fn thousand() -> u32 {
    1000
}

/// `tracePropagator`: how trace context travels in headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracePropagator {
    /// `io.l5d.default`: `l5d-ctx-trace` and `l5d-sample`.
    Linkerd,
    /// `io.l5d.zipkin`: B3 headers (`x-b3-traceid`, ...).
    Zipkin,
}

fn propagators() -> &'static Family<TracePropagator> {
    static F: OnceLock<Family<TracePropagator>> = OnceLock::new();
    F.get_or_init(|| {
        let mut f = Family::new("trace propagator");
        let _ = f.add(
            "io.l5d.default",
            Variant::new::<NoKeys>(false, |_| Ok(TracePropagator::Linkerd)),
        );
        let _ = f.add(
            "io.l5d.zipkin",
            Variant::new::<NoKeys>(false, |_| Ok(TracePropagator::Zipkin)),
        );
        f
    })
}

impl<'de> Deserialize<'de> for TracePropagator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        decode_kind(Value::deserialize(d)?, propagators()).map_err(serde::de::Error::custom)
    }
}

/// The `http` protocol's router keys.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouterConfig {
    /// Access log file.
    pub http_access_log: Option<String>,
    /// Access log rotation: `never`, `hourly`, `daily`, `weekly`, or a size such as
    /// `3.megabytes`.
    pub http_access_log_roll_policy: Option<String>,
    /// Append to an existing access log (default true).
    #[serde(default = "yes")]
    pub http_access_log_append: bool,
    /// Rotated logs kept (default -1: all).
    #[serde(default = "minus_one")]
    pub http_access_log_rotate_count: i32,
    /// Messages larger than this (KB) or without a length are streamed (default 5).
    #[serde(rename = "streamAfterContentLengthKB")]
    pub stream_after_content_length_kb: Option<u32>,
    /// Largest header block (default 8 KB).
    #[serde(rename = "maxHeadersKB", default = "eight")]
    pub max_headers_kb: u32,
    /// Largest request or status line (default 4 KB).
    #[serde(rename = "maxInitialLineKB", default = "four")]
    pub max_initial_line_kb: u32,
    /// Error response bodies are cut to this size (default 5120 KB).
    #[serde(rename = "maxErrResponseKB", default = "max_err_kb")]
    pub max_err_response_kb: u32,
    /// gzip level, -1 for automatic (default -1).
    #[serde(default = "minus_one")]
    pub compression_level: i32,
    /// Whether messages may be streamed (default true).
    #[serde(default = "yes")]
    pub streaming_enabled: bool,
    /// Trace headers (default `io.l5d.default`).
    pub trace_propagator: Option<TracePropagator>,
}

impl HttpRouterConfig {
    /// The streaming threshold in KB (default 5).
    pub fn stream_after_kb(&self) -> u32 {
        self.stream_after_content_length_kb.unwrap_or(five())
    }
}

fn check_compression(level: i32) -> Result<(), String> {
    if (-1..=9).contains(&level) {
        Ok(())
    } else {
        Err(format!(
            "compressionLevel must be between -1 and 9, found {level}"
        ))
    }
}

impl ProtocolRouterConfig for HttpRouterConfig {
    fn validate(&self) -> Result<(), String> {
        if !self.streaming_enabled && self.stream_after_content_length_kb.is_some() {
            return Err(
                "'streamAfterContentLengthKB' cannot be set when 'streamingEnabled' is false"
                    .into(),
            );
        }
        check_compression(self.compression_level)
    }
}

/// The `h2` protocol's router keys.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct H2RouterConfig {
    /// Access log file.
    pub h2_access_log: Option<String>,
    /// Access log rotation.
    pub h2_access_log_roll_policy: Option<String>,
    /// Append to an existing access log (default true).
    #[serde(default = "yes")]
    pub h2_access_log_append: bool,
    /// Rotated logs kept (default -1: all).
    #[serde(default = "minus_one")]
    pub h2_access_log_rotate_count: i32,
    /// Trace headers (default `io.l5d.default`).
    pub trace_propagator: Option<TracePropagator>,
}
impl ProtocolRouterConfig for H2RouterConfig {}

/// A `Forwarded` header label: how `by` or `for` is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labeler {
    /// `ip`: the IP address.
    Ip,
    /// `ip:port`: the IP address and port.
    IpPort,
    /// `connectionRandom`: an obfuscated label per connection.
    ConnectionRandom,
    /// `requestRandom`: an obfuscated label per request (the default).
    RequestRandom,
    /// `router`: the router's label.
    Router,
    /// `static`: a fixed label.
    Static(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticLabel {
    label: String,
}

fn labelers() -> &'static Family<Labeler> {
    static F: OnceLock<Family<Labeler>> = OnceLock::new();
    F.get_or_init(|| {
        let mut f = Family::new("labeler");
        let _ = f.add("ip", Variant::new::<NoKeys>(false, |_| Ok(Labeler::Ip)));
        let _ = f.add(
            "ip:port",
            Variant::new::<NoKeys>(false, |_| Ok(Labeler::IpPort)),
        );
        let _ = f.add(
            "connectionRandom",
            Variant::new::<NoKeys>(false, |_| Ok(Labeler::ConnectionRandom)),
        );
        let _ = f.add(
            "requestRandom",
            Variant::new::<NoKeys>(false, |_| Ok(Labeler::RequestRandom)),
        );
        let _ = f.add(
            "router",
            Variant::new::<NoKeys>(false, |_| Ok(Labeler::Router)),
        );
        let _ = f.add(
            "static",
            Variant::new::<StaticLabel>(false, |s| {
                // RFC 7239 obfuscated identifiers: `_` then [A-Za-z0-9._-].
                let ok = s.label.starts_with('_')
                    && s.label[1..]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
                if ok {
                    Ok(Labeler::Static(s.label))
                } else {
                    Err(format!(
                        "static label '{}' must be an obfuscated identifier like '_foo'",
                        s.label
                    ))
                }
            }),
        );
        f
    })
}

impl<'de> Deserialize<'de> for Labeler {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        decode_kind(Value::deserialize(d)?, labelers()).map_err(serde::de::Error::custom)
    }
}

fn request_random() -> Labeler {
    Labeler::RequestRandom
}

/// `addForwardedHeader`: add an RFC 7239 `Forwarded` header to requests.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AddForwardedHeader {
    /// How linkerd is named (default `requestRandom`).
    #[serde(default = "request_random")]
    pub by: Labeler,
    /// How the client is named (default `requestRandom`).
    #[serde(rename = "for", default = "request_random")]
    pub for_: Labeler,
}

/// The `http` protocol's server keys.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpServerConfig {
    /// Add a `Forwarded` header (default off).
    pub add_forwarded_header: Option<AddForwardedHeader>,
    /// Add a header carrying the time the request arrived, in milliseconds.
    pub timestamp_header: Option<String>,
    /// Refuse a request whose `Via` lists more hops than this (default 1000).
    #[serde(default = "thousand")]
    pub max_call_depth: u32,
}
impl ProtocolServerConfig for HttpServerConfig {}

/// The `h2` protocol's server keys. Unset keys take the HTTP/2 defaults.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct H2ServerConfig {
    /// Send a window update when this fraction of the window is used (default 0.99).
    pub window_update_ratio: Option<f64>,
    /// HPACK table size.
    pub header_table_bytes: Option<u32>,
    /// Initial stream window (default 65535).
    pub initial_stream_window_bytes: Option<u32>,
    /// Streams per connection (default 1000).
    pub max_concurrent_streams_per_connection: Option<u32>,
    /// Largest frame (default 16384).
    pub max_frame_bytes: Option<u32>,
    /// Largest header list.
    pub max_header_list_bytes: Option<u32>,
    /// Refuse a request whose `Via` lists more hops than this.
    pub max_call_depth: Option<u32>,
    /// Add a `Forwarded` header (default off).
    pub add_forwarded_header: Option<AddForwardedHeader>,
}

impl ProtocolServerConfig for H2ServerConfig {
    fn validate(&self) -> Result<(), String> {
        check_window_ratio(self.window_update_ratio)
    }
}

fn check_window_ratio(ratio: Option<f64>) -> Result<(), String> {
    match ratio {
        Some(r) if !(r > 0.0 && r < 1.0) => Err(format!(
            "windowUpdateRatio must be between 0 and 1 (exclusive), found {r}"
        )),
        _ => Ok(()),
    }
}

/// A request authorizer (`client.requestAuthorizers`).
#[derive(Debug, Clone, PartialEq)]
pub enum RequestAuthorizer {
    /// `io.l5d.k8s.istio`: Istio Mixer checks (deprecated).
    Istio(IstioAuthorizer),
}

fn mixer_host() -> String {
    "istio-mixer".into()
}
fn mixer_port() -> u16 {
    9091
}

/// `io.l5d.k8s.istio` request authorizer keys.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioAuthorizer {
    /// Mixer host (default istio-mixer).
    #[serde(default = "mixer_host")]
    pub mixer_host: String,
    /// Mixer port (default 9091).
    #[serde(default = "mixer_port")]
    pub mixer_port: u16,
}

fn authorizers() -> &'static Family<RequestAuthorizer> {
    static F: OnceLock<Family<RequestAuthorizer>> = OnceLock::new();
    F.get_or_init(|| {
        let mut f = Family::new("request authorizer");
        let _ = f.add(
            "io.l5d.k8s.istio",
            Variant::new::<IstioAuthorizer>(false, |a| Ok(RequestAuthorizer::Istio(a))),
        );
        f
    })
}

impl<'de> Deserialize<'de> for RequestAuthorizer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        decode_kind(Value::deserialize(d)?, authorizers()).map_err(serde::de::Error::custom)
    }
}

/// The `http` protocol's client keys (unset keys inherit, then default).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpClientConfig {
    /// Forward the client's TLS certificate in `x-forwarded-client-cert` (default false).
    pub forward_client_cert: Option<bool>,
    /// Request authorizers.
    pub request_authorizers: Option<Vec<RequestAuthorizer>>,
}
impl ProtocolClientConfig for HttpClientConfig {}

/// The `h2` protocol's client keys (unset keys inherit, then default).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct H2ClientConfig {
    /// Send a window update when this fraction of the window is used (default 0.99).
    pub window_update_ratio: Option<f64>,
    /// HPACK table size.
    pub header_table_bytes: Option<u32>,
    /// Initial stream window (default 65535).
    pub initial_stream_window_bytes: Option<u32>,
    /// Largest frame (default 16384).
    pub max_frame_bytes: Option<u32>,
    /// Largest header list.
    pub max_header_list_bytes: Option<u32>,
    /// Forward the client's TLS certificate (default false).
    pub forward_client_cert: Option<bool>,
    /// Request authorizers.
    pub request_authorizers: Option<Vec<RequestAuthorizer>>,
}

impl ProtocolClientConfig for H2ClientConfig {
    fn validate(&self) -> Result<(), String> {
        check_window_ratio(self.window_update_ratio)
    }
}

/// `retryBufferSize`: how much of a stream is kept so that it can be retried.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryBufferSize {
    /// Request bytes (default 16383).
    pub request_bytes: Option<u64>,
    /// Response bytes (default 16383).
    pub response_bytes: Option<u64>,
}

/// The `h2` protocol's service keys (unset keys inherit, then default).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct H2ServiceConfig {
    /// How long to wait for the end of a stream before classifying (default 100 ms).
    pub classification_timeout_ms: Option<u64>,
    /// Retry buffers.
    pub retry_buffer_size: Option<RetryBufferSize>,
}
impl ProtocolServiceConfig for H2ServiceConfig {}

mod classifiers;
mod identifiers;

pub use classifiers::*;
pub use identifiers::*;

/// Adds the `http` and `h2` protocols.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    let mut http = Protocol::new("http", HTTP_PORT);
    http.set_router::<HttpRouterConfig>()
        .set_server::<HttpServerConfig>()
        .set_client::<HttpClientConfig>();
    http.add_identifier::<HttpHeaderToken>()?;
    http.add_identifier::<MethodAndHost>()?;
    http.add_identifier::<PathIdentifier>()?;
    http.add_identifier::<HeaderIdentifier>()?;
    http.add_identifier::<StaticIdentifier>()?;
    http.add_identifier::<IngressIdentifier>()?;
    http.add_identifier::<IstioIdentifier>()?;
    http.add_identifier::<IstioIngressIdentifier>()?;
    http.set_default_identifier(HttpHeaderToken::KIND);
    status_classifiers(&mut http, "io.l5d.http")?;
    http.set_default_classifier("io.l5d.http.nonRetryable5XX");
    reg.add_protocol(http)?;

    let mut h2 = Protocol::new("h2", H2_PORT);
    h2.set_router::<H2RouterConfig>()
        .set_server::<H2ServerConfig>()
        .set_client::<H2ClientConfig>()
        .set_service::<H2ServiceConfig>();
    h2.add_identifier::<H2HeaderToken>()?;
    h2.add_identifier::<H2HeaderPath>()?;
    h2.add_identifier::<IngressIdentifier>()?;
    h2.add_identifier::<IstioIdentifier>()?;
    h2.add_identifier::<IstioIngressIdentifier>()?;
    h2.set_default_identifier(H2HeaderToken::KIND);
    status_classifiers(&mut h2, "io.l5d.h2")?;
    grpc_classifiers(&mut h2)?;
    h2.set_default_classifier("io.l5d.h2.nonRetryable5XX");
    reg.add_protocol(h2)
}

#[cfg(test)]
mod tests;
