//! Address resolution for `/$/inet/<host>/<port>`: IP literals at once, host names through
//! the system resolver, refreshed while anyone watches.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::addr::{Addr, Address};
use crate::var::Var;

/// How often a host name is resolved again (Finagle's `InetResolver` polls every 5 s).
const REFRESH: Duration = Duration::from_secs(5);

/// Parses an IPv4 address the way the JVM's `InetAddress.getByName` does: one to four
/// decimal parts, the last filling the remaining bytes, so `127.1` is `127.0.0.1`.
fn parse_ipv4_shorthand(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        if p.is_empty() || p.len() > 10 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nums.push(p.parse::<u64>().ok()?);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&n| n > 255) {
        return None;
    }
    let rest_bytes = 4 - head.len();
    if *last >= 1u64 << (8 * rest_bytes) {
        return None;
    }
    let mut v: u32 = 0;
    for (i, &n) in head.iter().enumerate() {
        v |= (n as u32) << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(v | *last as u32))
}

/// Parses an IP literal as the JVM does: IPv6 with or without brackets, or IPv4 in one to
/// four decimal parts (`127.1` is `127.0.0.1`).
pub fn parse_ip(host: &str) -> Option<IpAddr> {
    let trimmed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    trimmed
        .parse::<IpAddr>()
        .ok()
        .or_else(|| parse_ipv4_shorthand(host).map(IpAddr::V4))
}

fn bound(addrs: impl IntoIterator<Item = SocketAddr>) -> Addr {
    Addr::bound(addrs.into_iter().map(Address::new))
}

/// Resolves `host:port` to a live address set.
///
/// An empty host means the loopback address, as the JVM resolves it. An IP literal is
/// bound at once. A host name is resolved in the background, when a tokio runtime is
/// running, and re-resolved every few seconds while the returned `Var` has readers;
/// without a runtime (the offline `linkerd dtab` tools) it is resolved once, in place.
/// A port outside 0..=65535 gives `Addr::Failed`, as Finagle's resolver does.
pub fn resolve_inet(host: &str, port: i64) -> Var<Addr> {
    let Ok(port) = u16::try_from(port) else {
        return Var::constant(Addr::Failed(format!("port out of range:{port}").into()));
    };
    if host.is_empty() {
        return Var::constant(bound([SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)]));
    }
    if let Some(ip) = parse_ip(host) {
        return Var::constant(bound([SocketAddr::new(ip, port)]));
    }
    let host = host.to_string();
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            let (tx, var) = Var::new(Addr::Pending);
            handle.spawn(async move {
                loop {
                    let addr = match tokio::net::lookup_host((host.as_str(), port)).await {
                        Ok(addrs) => bound(addrs),
                        Err(e) => Addr::Failed(format!("{host}: {e}").into()),
                    };
                    tx.set_if_changed(addr);
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = tokio::time::sleep(REFRESH) => {}
                    }
                }
            });
            var
        }
        Err(_) => Var::constant(
            match std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)) {
                Ok(addrs) => bound(addrs),
                Err(e) => Addr::Failed(format!("{host}: {e}").into()),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_shorthand_follows_the_jvm() {
        assert_eq!(
            parse_ipv4_shorthand("127.1"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            parse_ipv4_shorthand("10.1.2"),
            Some(Ipv4Addr::new(10, 1, 0, 2))
        );
        assert_eq!(
            parse_ipv4_shorthand("1.2.3.4"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(
            parse_ipv4_shorthand("2130706433"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(parse_ipv4_shorthand("256.1"), None);
        assert_eq!(parse_ipv4_shorthand("1.2.3.4.5"), None);
        assert_eq!(parse_ipv4_shorthand("a.b"), None);
        assert_eq!(parse_ipv4_shorthand("1..2"), None);
    }

    #[test]
    fn literals_bind_at_once_and_bad_ports_fail() {
        let a = resolve_inet("127.1", 8080).sample();
        assert_eq!(a, bound(["127.0.0.1:8080".parse().unwrap()]));
        assert_eq!(
            resolve_inet("::1", 80).sample(),
            bound(["[::1]:80".parse().unwrap()])
        );
        assert_eq!(
            resolve_inet("", 80).sample(),
            bound(["127.0.0.1:80".parse().unwrap()])
        );
        assert!(matches!(
            resolve_inet("127.0.0.1", 70000).sample(),
            Addr::Failed(_)
        ));
        assert!(matches!(
            resolve_inet("127.0.0.1", -1).sample(),
            Addr::Failed(_)
        ));
    }

    #[tokio::test]
    async fn host_names_resolve_in_the_background() {
        let mut v = resolve_inet("localhost", 4140);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while v.get_and_mark_seen().is_pending() {
            tokio::time::timeout_at(deadline, v.changed())
                .await
                .expect("resolved in time");
        }
        match v.sample() {
            Addr::Bound(addrs, _) => {
                assert!(addrs
                    .iter()
                    .all(|a| a.addr.ip().is_loopback() && a.addr.port() == 4140))
            }
            other => panic!("localhost did not resolve: {other:?}"),
        }
    }
}
