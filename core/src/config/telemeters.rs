//! The built-in telemeter kinds (`telemetry:`), shared by linkerd and namerd: their keys
//! and defaults. Their runtimes live with the metrics and tracing code; `register` adds
//! the schemas.

use super::defaults;
use serde::Deserialize;

use super::plugin::{Kind, TelemeterConfig};
use super::registry::{Registry, RegistryError};

fn prom_path() -> String {
    "/admin/metrics/prometheus".into()
}
fn zipkin_port() -> u16 {
    9410
}
fn zipkin_rate() -> f64 {
    0.001
}
fn ten() -> u32 {
    10
}
fn linkerd() -> String {
    "linkerd".into()
}
fn statsd_host() -> String {
    "127.0.0.1".into()
}
fn statsd_port() -> u16 {
    8125
}
fn ten_secs_ms() -> u64 {
    10_000
}
fn statsd_rate() -> f64 {
    0.01
}
fn one() -> f64 {
    1.0
}
fn info() -> String {
    "INFO".into()
}

fn check_rate(rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("sampleRate must be between 0 and 1, found {rate}"))
    }
}

/// `io.l5d.prometheus`: metrics in Prometheus' text format on the admin server.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Prometheus {
    /// The admin path (default `/admin/metrics/prometheus`).
    #[serde(default = "prom_path")]
    pub path: String,
    /// A prefix for every metric name (default none).
    #[serde(default)]
    pub prefix: String,
}
impl Kind for Prometheus {
    const KIND: &'static str = "io.l5d.prometheus";
}
impl TelemeterConfig for Prometheus {}

/// `io.l5d.zipkin`: traces to a Zipkin collector (Scribe).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Zipkin {
    /// Collector host (default localhost).
    #[serde(default = "defaults::localhost")]
    pub host: String,
    /// Collector port (default 9410).
    #[serde(default = "zipkin_port")]
    pub port: u16,
    /// The fraction of requests traced (default 0.001).
    #[serde(default = "zipkin_rate")]
    pub sample_rate: f64,
}
impl Kind for Zipkin {
    const KIND: &'static str = "io.l5d.zipkin";
}
impl TelemeterConfig for Zipkin {
    fn validate(&self) -> Result<(), String> {
        check_rate(self.sample_rate)
    }
}

/// `io.l5d.recentRequests`: the admin `/requests` table.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecentRequests {
    /// The fraction of requests recorded.
    pub sample_rate: f64,
    /// How many are kept (default 10).
    #[serde(default = "ten")]
    pub capacity: u32,
}
impl Kind for RecentRequests {
    const KIND: &'static str = "io.l5d.recentRequests";
}
impl TelemeterConfig for RecentRequests {
    fn validate(&self) -> Result<(), String> {
        check_rate(self.sample_rate)
    }
}

/// `io.l5d.statsd` (experimental): metrics over UDP statsd.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Statsd {
    /// Metric name prefix (default `linkerd`).
    #[serde(default = "linkerd")]
    pub prefix: String,
    /// statsd host (default 127.0.0.1).
    #[serde(default = "statsd_host")]
    pub hostname: String,
    /// statsd port (default 8125).
    #[serde(default = "statsd_port")]
    pub port: u16,
    /// How often gauges are sent, in milliseconds (default 10000).
    #[serde(default = "ten_secs_ms")]
    pub gauge_interval_ms: u64,
    /// The fraction of counter and timing updates sent (default 0.01).
    #[serde(default = "statsd_rate")]
    pub sample_rate: f64,
}
impl Kind for Statsd {
    const KIND: &'static str = "io.l5d.statsd";
    const EXPERIMENTAL: bool = true;
}
impl TelemeterConfig for Statsd {
    fn validate(&self) -> Result<(), String> {
        check_rate(self.sample_rate)
    }
}

/// `io.l5d.influxdb`: metrics in InfluxDB's line protocol on the admin server.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InfluxDb {}
impl Kind for InfluxDb {
    const KIND: &'static str = "io.l5d.influxdb";
}
impl TelemeterConfig for InfluxDb {}

/// `io.l5d.tracelog`: trace annotations to the log.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TraceLog {
    /// A host name to tag entries with.
    pub host: Option<String>,
    /// The fraction of requests logged (default 1.0).
    #[serde(default = "one")]
    pub sample_rate: f64,
    /// The log level (default INFO).
    #[serde(default = "info")]
    pub level: String,
}
impl Kind for TraceLog {
    const KIND: &'static str = "io.l5d.tracelog";
}
impl TelemeterConfig for TraceLog {
    fn validate(&self) -> Result<(), String> {
        check_rate(self.sample_rate)?;
        match self.level.to_ascii_uppercase().as_str() {
            "ALL" | "TRACE" | "DEBUG" | "INFO" | "WARNING" | "WARN" | "ERROR" | "CRITICAL"
            | "FATAL" | "OFF" => Ok(()),
            _ => Err(format!("unknown log level '{}'", self.level)),
        }
    }
}

/// Adds every built-in telemeter kind.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    reg.add_telemeter::<Prometheus>()?;
    reg.add_telemeter::<Zipkin>()?;
    reg.add_telemeter::<RecentRequests>()?;
    reg.add_telemeter::<Statsd>()?;
    reg.add_telemeter::<InfluxDb>()?;
    reg.add_telemeter::<TraceLog>()?;
    Ok(())
}
