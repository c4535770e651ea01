//! Request deadlines across hops: `l5d-ctx-deadline: <timestamp ns> <deadline ns>` (Unix
//! epoch nanoseconds), as Linkerd 1 propagates Finagle's `Deadline` context.
//!
//! An incoming deadline (the strictest of several headers) bounds the request here as a
//! timeout would; the deadline forwarded is the strictest of the incoming one and the
//! service's `totalTimeoutMs` from now, so the next hop knows how long it has.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The deadline context header.
pub const L5D_CTX_DEADLINE: HeaderName = HeaderName::from_static("l5d-ctx-deadline");

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Removes the incoming deadline headers; returns the strictest deadline, in Unix epoch
/// nanoseconds. Values that do not parse are ignored.
pub fn take(headers: &mut HeaderMap) -> Option<u128> {
    if !headers.contains_key(&L5D_CTX_DEADLINE) {
        return None;
    }
    let strictest = headers
        .get_all(&L5D_CTX_DEADLINE)
        .iter()
        .filter_map(|v| {
            let mut parts = v.to_str().ok()?.split_whitespace();
            let _timestamp: u128 = parts.next()?.parse().ok()?;
            parts.next()?.parse::<u128>().ok()
        })
        .min();
    headers.remove(&L5D_CTX_DEADLINE);
    strictest
}

/// The time left until `deadline` (epoch ns); zero when it has passed.
pub fn remaining(deadline: u128) -> Duration {
    let left = deadline.saturating_sub(now_ns());
    Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX))
}

/// The deadline `timeout` from now (epoch ns).
pub fn after(timeout: Duration) -> u128 {
    now_ns() + timeout.as_nanos()
}

/// Sets the forwarded deadline.
pub fn set(headers: &mut HeaderMap, deadline: u128) {
    if let Ok(v) = HeaderValue::try_from(format!("{} {deadline}", now_ns())) {
        headers.insert(L5D_CTX_DEADLINE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_deadline_wins_and_garbage_is_ignored() {
        let mut h = HeaderMap::new();
        h.append(L5D_CTX_DEADLINE, HeaderValue::from_static("1 5000"));
        h.append(L5D_CTX_DEADLINE, HeaderValue::from_static("1 3000"));
        h.append(L5D_CTX_DEADLINE, HeaderValue::from_static("nonsense"));
        assert_eq!(take(&mut h), Some(3000));
        assert!(h.get(&L5D_CTX_DEADLINE).is_none());
        assert_eq!(take(&mut h), None);
        assert_eq!(remaining(3000), Duration::ZERO, "long past");
    }

    #[test]
    fn a_forwarded_deadline_reads_back() {
        let d = after(Duration::from_secs(10));
        let mut h = HeaderMap::new();
        set(&mut h, d);
        assert_eq!(take(&mut h), Some(d));
        let left = remaining(d);
        assert!(left > Duration::from_secs(9) && left <= Duration::from_secs(10));
    }
}
