//! Small value types several config sections share: socket options, TLS objects, ZooKeeper
//! addresses, IPs and dtabs.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Deserializer, Serialize};

use super::error::positioned;
use crate::naming::Dtab;

/// The loopback address servers bind by default.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// `127.0.0.1`, the default `ip`.
pub fn loopback() -> IpAddr {
    LOOPBACK
}

/// Decodes an IP address; `localhost` is accepted as `127.0.0.1`, as Linkerd 1 (which
/// resolved the name) did.
pub fn ip<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
    let s = String::deserialize(d)?;
    if s == "localhost" {
        return Ok(LOOPBACK);
    }
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("invalid IP address '{s}'")))
}

/// A dtab written in a config; a syntax error points at the offending character.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DtabValue(pub Dtab);

impl<'de> Deserialize<'de> for DtabValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DtabValue, D::Error> {
        let s = String::deserialize(d)?;
        Dtab::read(&s).map(DtabValue).map_err(|e| {
            serde::de::Error::custom(positioned(
                &format!("invalid dtab: {}", e.message()),
                e.position(),
            ))
        })
    }
}

impl Serialize for DtabValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

fn yes() -> bool {
    true
}

/// `socketOptions` on servers, clients, the admin server and namerd interfaces.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SocketOptions {
    /// TCP_NODELAY (default true).
    #[serde(default = "yes")]
    pub no_delay: bool,
    /// SO_REUSEADDR (default true).
    #[serde(default = "yes")]
    pub reuse_addr: bool,
    /// SO_REUSEPORT (default false).
    #[serde(default)]
    pub reuse_port: bool,
    /// Read timeout in milliseconds.
    pub read_timeout_ms: Option<u64>,
    /// Write timeout in milliseconds.
    pub write_timeout_ms: Option<u64>,
    /// SO_KEEPALIVE (default false).
    #[serde(default)]
    pub keep_alive: bool,
    /// Listen backlog.
    pub backlog: Option<u32>,
}

/// Server-side TLS (`servers[].tls`, `admin.tls`, namerd interfaces' `tls`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsServerConfig {
    /// Whether TLS is on (default true when the object is present).
    pub enabled: Option<bool>,
    /// The certificate chain (PEM).
    pub cert_path: Option<String>,
    /// The private key (PKCS#8 PEM).
    pub key_path: Option<String>,
    /// Intermediate certificates (PEM).
    pub intermediate_certs_path: Option<String>,
    /// The CA that signs client certificates.
    pub ca_cert_path: Option<String>,
    /// Whether clients must present a certificate (default false).
    #[serde(default)]
    pub require_client_auth: bool,
    /// Allowed TLS protocol versions.
    pub protocols: Option<Vec<String>>,
}

impl TlsServerConfig {
    /// Whether TLS is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// Requires the certificate and key when TLS is on.
    pub fn validate(&self) -> Result<(), String> {
        if self.is_enabled() {
            if self.cert_path.is_none() {
                return Err("tls: missing required key 'certPath'".into());
            }
            if self.key_path.is_none() {
                return Err("tls: missing required key 'keyPath'".into());
            }
        }
        Ok(())
    }
}

/// A client certificate.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientAuth {
    /// The certificate (PEM).
    pub cert_path: String,
    /// The private key (PKCS#8 PEM).
    pub key_path: String,
    /// Intermediate certificates (PEM).
    pub intermediate_certs_path: Option<String>,
}

/// Client-side TLS (`client.tls`, and the namerd HTTP and mesh interpreters' `tls`).
/// `commonName` may use the `{var}` captures of a static client prefix.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsClientConfig {
    /// Whether TLS is on (default true when the object is present).
    pub enabled: Option<bool>,
    /// Skips certificate validation (default false).
    pub disable_validation: Option<bool>,
    /// The name the server certificate must carry.
    pub common_name: Option<String>,
    /// CA certificates to trust (deprecated for `trustCertsBundle`).
    pub trust_certs: Option<Vec<String>>,
    /// A PEM bundle of CA certificates to trust.
    pub trust_certs_bundle: Option<String>,
    /// A client certificate to present.
    pub client_auth: Option<ClientAuth>,
    /// Allowed TLS protocol versions.
    pub protocols: Option<Vec<String>>,
}

impl TlsClientConfig {
    /// Linkerd 1 refuses a client certificate without validation of the server's.
    pub fn validate(&self) -> Result<(), String> {
        if self.disable_validation == Some(true) && self.client_auth.is_some() {
            return Err(
                "tls: 'disableValidation: true' cannot be combined with 'clientAuth'".into(),
            );
        }
        Ok(())
    }
}

/// TLS to a discovery or storage backend (Consul, etcd, Marathon).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackendTls {
    /// Skips certificate validation (default false).
    #[serde(default)]
    pub disable_validation: bool,
    /// The name the server certificate must carry.
    pub common_name: Option<String>,
    /// CA certificates to trust.
    pub trust_certs: Option<Vec<String>>,
    /// A PEM bundle of CA certificates to trust.
    pub trust_certs_bundle: Option<String>,
    /// A client certificate to present.
    pub client_auth: Option<ClientAuth>,
}

fn zk_port() -> u16 {
    2181
}

/// A ZooKeeper server.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZkAddr {
    /// Host name or IP.
    pub host: String,
    /// Port (default 2181).
    #[serde(default = "zk_port")]
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::de::decode;
    use crate::config::keypath::KeyPath;
    use serde_json::json;

    #[test]
    fn socket_options_default_like_finagle() {
        let o: SocketOptions = decode(json!({}), &KeyPath::root(), None).unwrap();
        assert!(o.no_delay && o.reuse_addr && !o.reuse_port && !o.keep_alive);
    }

    #[test]
    fn a_bad_dtab_carries_its_offset() {
        let e =
            decode::<DtabValue>(json!("/a => ]"), &KeyPath::root().key("dtab"), None).unwrap_err();
        assert!(e.message().starts_with("invalid dtab: "), "{e}");
        assert!(!e.message().contains('\u{1}'));
    }
}
