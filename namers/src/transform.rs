//! The per-host transformers (Linkerd 1's `io.buoyant.transformer.perHost`): which
//! addresses count as "this host" or "that host". The transforms themselves are
//! `l5d_core::binding::AddrTransformer`s.
//!
//! Linkerd 1.7.5's `io.l5d.localhost` keeps the addresses of every network interface
//! that is up, loopback included (earlier releases compared with
//! `InetAddress.getLocalHost` alone). Listing interfaces needs `getifaddrs`, which this
//! workspace cannot call without `unsafe` or a new dependency, so "this host" here is
//! every address the host's own name resolves to, looked up once when the transformer
//! is built, plus all of loopback (`127.0.0.0/8`, `::1`). On a host whose name resolves
//! to its service address (the usual `/etc/hosts` entry, or DNS in a cluster) that is
//! the same set for the addresses service discovery reports.

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};

use l5d_core::addr::Address;
use l5d_core::binding::AddrTransformer;
use l5d_core::config::BuildError;
use l5d_core::naming::Path;

/// This host's name, as the kernel reports it.
fn hostname() -> Option<String> {
    let from_file = |p: &str| std::fs::read_to_string(p).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Every address `host` resolves to (an IP literal is itself).
fn resolve(host: &str) -> std::io::Result<BTreeSet<IpAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok([ip].into());
    }
    // A one-time lookup at build time, before the router serves (Linkerd 1 also resolves
    // once, when the transformer is made).
    Ok((host, 0).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// The addresses of this host's own name, resolved now; empty if it has none.
pub fn local_ips() -> BTreeSet<IpAddr> {
    hostname()
        .and_then(|h| resolve(&h).ok())
        .unwrap_or_default()
}

/// Whether `ip` is this host's: loopback, or one of `local`.
pub fn is_local(ip: IpAddr, local: &BTreeSet<IpAddr>) -> bool {
    ip.is_loopback() || local.contains(&ip)
}

/// `io.l5d.localhost`: keeps the addresses on this host.
pub fn localhost(prefix: Path) -> AddrTransformer {
    localhost_with(prefix, local_ips())
}

/// `io.l5d.localhost` with the given set of this host's addresses (loopback is always
/// local).
pub fn localhost_with(prefix: Path, local: BTreeSet<IpAddr>) -> AddrTransformer {
    AddrTransformer::filter("LocalhostTransformer", prefix, move |a: &Address| {
        is_local(a.addr.ip(), &local)
    })
}

/// `io.l5d.specificHost`: keeps the addresses of `host`. Linkerd 1 keeps the first
/// address the name resolves to; every address it resolves to is kept here, so that a
/// dual-stack host matches on both families.
pub fn specific_host(prefix: Path, host: &str) -> Result<AddrTransformer, BuildError> {
    let ips =
        resolve(host).map_err(|e| BuildError::new(format!("cannot resolve host '{host}': {e}")))?;
    if ips.is_empty() {
        return Err(BuildError::new(format!("host '{host}' has no address")));
    }
    Ok(AddrTransformer::filter(
        "SpecificHostTransformer",
        prefix,
        move |a: &Address| ips.contains(&a.addr.ip()),
    ))
}

/// `io.l5d.port`: every address gets `port`.
pub fn port(prefix: Path, port: u16) -> AddrTransformer {
    AddrTransformer::port(prefix, port)
}

#[cfg(test)]
mod tests;
