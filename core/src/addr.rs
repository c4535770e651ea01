//! Runtime addresses of bound names (Finagle's `Addr`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Metadata attached to an address or an address set (weights, authority, node name).
pub type Meta = BTreeMap<String, serde_json::Value>;

/// The metadata key under which binding records a union member's weight.
pub const WEIGHT_META_KEY: &str = "namer_nametree_weight";

/// The metadata key for a per-endpoint weight (set by namers such as io.l5d.fs `* w`).
pub const ENDPOINT_WEIGHT_META_KEY: &str = "endpoint_addr_weight";

/// One endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Per-endpoint metadata.
    pub meta: Meta,
}

impl Address {
    /// An endpoint with no metadata.
    pub fn new(addr: SocketAddr) -> Address {
        Address {
            addr,
            meta: Meta::new(),
        }
    }
}

/// The endpoints of a bound name, as service discovery currently reports them.
#[derive(Clone, Debug, PartialEq)]
pub enum Addr {
    /// Not known yet.
    Pending,
    /// The name does not exist.
    Neg,
    /// Discovery failed.
    Failed(Arc<str>),
    /// The current endpoints (possibly none) and metadata for the whole set.
    Bound(Arc<[Address]>, Meta),
}

impl Addr {
    /// A bound address set with no set-level metadata; duplicates are removed and the
    /// order made stable so that equal sets compare equal.
    pub fn bound(addresses: impl IntoIterator<Item = Address>) -> Addr {
        let mut v: Vec<Address> = addresses.into_iter().collect();
        v.sort_by_key(|a| a.addr);
        v.dedup_by_key(|a| a.addr);
        Addr::Bound(v.into(), Meta::new())
    }

    /// Whether this is still `Pending`.
    pub fn is_pending(&self) -> bool {
        matches!(self, Addr::Pending)
    }

    /// Linkerd 1's JSON form, used by `/delegator.json` and namerd's API:
    /// `{"type":"bound","addrs":[{"ip","port","meta"}],"meta":{}}`, `{"type":"neg"}`,
    /// `{"type":"failed","cause":...}` or `{"type":"pending"}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Addr::Pending => json!({"type": "pending"}),
            Addr::Neg => json!({"type": "neg"}),
            Addr::Failed(cause) => json!({"type": "failed", "cause": &**cause}),
            Addr::Bound(addrs, meta) => json!({
                "type": "bound",
                "addrs": addrs.iter().map(|a| json!({
                    "ip": a.addr.ip().to_string(),
                    "port": a.addr.port(),
                    "meta": a.meta,
                })).collect::<Vec<_>>(),
                "meta": meta,
            }),
        }
    }
}
