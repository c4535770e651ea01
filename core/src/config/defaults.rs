//! Default values Linkerd 1 gives keys that many plugins share, for `#[serde(default = ..)]`.

/// The host of a local agent or API proxy: `localhost`.
pub fn localhost() -> String {
    "localhost".into()
}

/// The port of `kubectl proxy`, which Linkerd 1's Kubernetes plugins expect: 8001.
pub fn kubectl_port() -> u16 {
    8001
}

/// Consul's HTTP API port: 8500.
pub fn consul_port() -> u16 {
    8500
}

/// Where namerd's dtabs live in a key-value store: `/namerd/dtabs`.
pub fn namerd_dtabs() -> String {
    "/namerd/dtabs".into()
}
