//! Trace context across hops, as Linkerd 1's default propagator carries it:
//! `l5d-ctx-trace` holds Finagle's serialized `TraceId` (span id, parent id, trace id and
//! flags, 8 bytes each, big-endian, base64), `l5d-sample` a sample rate, and `l5d-reqid`
//! the trace id as 16 hex digits for applications to log.
//!
//! Each forwarded request is a new span: a child of the incoming one (same trace, the
//! incoming span as parent), or the root of a new trace when none came in.
//!
//! With `tracePropagator: io.l5d.zipkin` the same ids travel in Zipkin's B3 headers
//! (`x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled`, `x-b3-flags`)
//! instead.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use l5d_core::balance::Rng;

/// The serialized trace id of a request.
pub const L5D_CTX_TRACE: HeaderName = HeaderName::from_static("l5d-ctx-trace");
/// The sample rate a client asks for.
pub const L5D_SAMPLE: HeaderName = HeaderName::from_static("l5d-sample");
/// The request's trace id in hex.
pub const L5D_REQID: HeaderName = HeaderName::from_static("l5d-reqid");

/// Finagle's flag bits: the sampling decision is known, and what it is.
const SAMPLING_KNOWN: u64 = 1 << 1;
const SAMPLED: u64 = 1 << 2;

/// A Finagle trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId {
    /// This span.
    pub span: u64,
    /// Its parent span.
    pub parent: u64,
    /// The trace (the root span's id).
    pub trace: u64,
    /// Flags (sampling decision, debug).
    pub flags: u64,
    /// The high half of a 128-bit trace id, when there is one.
    pub trace_high: Option<u64>,
}

impl TraceId {
    /// Reads Finagle's serialized form (32 bytes, or 40 with a 128-bit trace id).
    pub fn decode(bytes: &[u8]) -> Option<TraceId> {
        if bytes.len() != 32 && bytes.len() != 40 {
            return None;
        }
        let word = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
        Some(TraceId {
            span: word(0),
            parent: word(1),
            trace: word(2),
            flags: word(3),
            trace_high: (bytes.len() == 40).then(|| word(4)),
        })
    }

    /// Finagle's serialized form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        for w in [self.span, self.parent, self.trace, self.flags] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        if let Some(h) = self.trace_high {
            out.extend_from_slice(&h.to_be_bytes());
        }
        out
    }

    /// The id of a span under this one.
    pub fn child(&self, span: u64) -> TraceId {
        TraceId {
            span,
            parent: self.span,
            ..*self
        }
    }

    /// A new trace's root span.
    pub fn root(span: u64) -> TraceId {
        TraceId {
            span,
            parent: span,
            trace: span,
            flags: 0,
            trace_high: None,
        }
    }
}

/// Zipkin's B3 headers.
const B3_TRACE: HeaderName = HeaderName::from_static("x-b3-traceid");
const B3_SPAN: HeaderName = HeaderName::from_static("x-b3-spanid");
const B3_PARENT: HeaderName = HeaderName::from_static("x-b3-parentspanid");
const B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
const B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
/// Finagle's debug flag.
const DEBUG: u64 = 1;

fn hex(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?;
    // A 128-bit trace id keeps its low 64 bits here, its high half in `trace_high`.
    let low = if v.len() > 16 { &v[v.len() - 16..] } else { v };
    u64::from_str_radix(low, 16).ok()
}

/// Replaces a request's incoming B3 headers with those of the span linkerd starts.
pub fn forward_b3(headers: &mut HeaderMap, rng: &Rng) {
    let incoming = match (hex(headers, &B3_TRACE), hex(headers, &B3_SPAN)) {
        (Some(trace), Some(span)) => Some(TraceId {
            span,
            parent: hex(headers, &B3_PARENT).unwrap_or(span),
            trace,
            flags: 0,
            trace_high: headers
                .get(&B3_TRACE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() == 32)
                .and_then(|v| u64::from_str_radix(&v[..16], 16).ok()),
        }),
        _ => None,
    };
    let sampled = headers.get(&B3_SAMPLED).and_then(|v| match v.as_bytes() {
        b"1" | b"true" => Some(true),
        b"0" | b"false" => Some(false),
        _ => None,
    });
    let debug = headers.get(&B3_FLAGS).is_some_and(|v| v.as_bytes() == b"1");
    let mut id = match incoming {
        Some(parent) => parent.child(rng.next_u64()),
        None => TraceId::root(rng.next_u64()),
    };
    if debug {
        id.flags |= DEBUG;
    }
    let mut set = |name: HeaderName, value: String| {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(name, v);
        }
    };
    let trace = match id.trace_high {
        Some(high) => format!("{high:016x}{:016x}", id.trace),
        None => format!("{:016x}", id.trace),
    };
    set(B3_TRACE, trace);
    set(B3_SPAN, format!("{:016x}", id.span));
    set(B3_PARENT, format!("{:016x}", id.parent));
    if let Some(s) = sampled {
        set(B3_SAMPLED, if s { "1" } else { "0" }.to_string());
    }
}

/// Replaces a request's incoming trace headers with those of the span linkerd starts for
/// forwarding it.
pub fn forward(headers: &mut HeaderMap, rng: &Rng) {
    let incoming = headers
        .get(&L5D_CTX_TRACE)
        .and_then(|v| STANDARD.decode(v.as_bytes()).ok())
        .and_then(|b| TraceId::decode(&b));
    let sample = headers
        .remove(&L5D_SAMPLE)
        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|r| !r.is_nan())
        .map(|r| r.clamp(0.0, 1.0));
    let mut id = match incoming {
        Some(parent) => parent.child(rng.next_u64()),
        None => TraceId::root(rng.next_u64()),
    };
    if let Some(rate) = sample {
        id.flags |= SAMPLING_KNOWN;
        if rng.unit() < rate {
            id.flags |= SAMPLED;
        } else {
            id.flags &= !SAMPLED;
        }
    }
    if let Ok(v) = HeaderValue::try_from(STANDARD.encode(id.encode())) {
        headers.insert(L5D_CTX_TRACE, v);
    }
    if let Ok(v) = HeaderValue::try_from(format!("{:016x}", id.trace)) {
        headers.insert(L5D_REQID, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_of(h: &HeaderMap) -> TraceId {
        let b = STANDARD.decode(h[&L5D_CTX_TRACE].as_bytes()).unwrap();
        TraceId::decode(&b).unwrap()
    }

    #[test]
    fn a_request_without_context_starts_a_trace() {
        let mut h = HeaderMap::new();
        forward(&mut h, &Rng::seeded(9));
        let id = trace_of(&h);
        assert_eq!(id.trace, id.span);
        assert_eq!(id.parent, id.span);
        assert_eq!(h[&L5D_REQID], format!("{:016x}", id.trace));
        assert_eq!(h[&L5D_REQID].len(), 16);
    }

    #[test]
    fn an_incoming_trace_gets_a_child_span_of_the_same_trace() {
        let parent = TraceId {
            span: 0x1111,
            parent: 0x2222,
            trace: 0xabcdef,
            flags: SAMPLING_KNOWN | SAMPLED,
            trace_high: None,
        };
        let mut h = HeaderMap::new();
        h.insert(
            L5D_CTX_TRACE,
            HeaderValue::try_from(STANDARD.encode(parent.encode())).unwrap(),
        );
        forward(&mut h, &Rng::seeded(3));
        let id = trace_of(&h);
        assert_eq!((id.trace, id.parent, id.flags), (0xabcdef, 0x1111, 6));
        assert_ne!(id.span, 0x1111);
        assert_eq!(h[&L5D_REQID], "0000000000abcdef");
    }

    #[test]
    fn serialization_round_trips_and_garbage_starts_over() {
        let id = TraceId {
            span: 1,
            parent: 2,
            trace: 3,
            flags: 4,
            trace_high: Some(5),
        };
        assert_eq!(TraceId::decode(&id.encode()), Some(id));
        assert_eq!(id.encode().len(), 40);
        assert_eq!(TraceId::decode(&[0; 31]), None);
        let mut h = HeaderMap::new();
        h.insert(L5D_CTX_TRACE, HeaderValue::from_static("not base64!"));
        forward(&mut h, &Rng::seeded(1));
        let id = trace_of(&h);
        assert_eq!(id.trace, id.span, "a new root");
    }

    #[test]
    fn b3_headers_continue_the_trace_as_a_child_span() {
        let mut h = HeaderMap::new();
        h.insert(
            B3_TRACE,
            HeaderValue::from_static("463ac35c9f6413ad48485a3953bb6124"),
        );
        h.insert(B3_SPAN, HeaderValue::from_static("a2fb4a1d1a96d312"));
        h.insert(B3_SAMPLED, HeaderValue::from_static("1"));
        forward_b3(&mut h, &Rng::seeded(4));
        assert_eq!(h[&B3_TRACE], "463ac35c9f6413ad48485a3953bb6124");
        assert_eq!(h[&B3_PARENT], "a2fb4a1d1a96d312");
        assert_ne!(h[&B3_SPAN], "a2fb4a1d1a96d312");
        assert_eq!(h[&B3_SPAN].len(), 16);
        assert_eq!(h[&B3_SAMPLED], "1");
        let mut fresh = HeaderMap::new();
        forward_b3(&mut fresh, &Rng::seeded(4));
        assert_eq!(fresh[&B3_TRACE], fresh[&B3_SPAN], "a new root");
    }

    #[test]
    fn l5d_sample_decides_sampling_and_is_removed() {
        for (rate, sampled) in [("1", true), ("0", false), ("7.5", true), ("-1", false)] {
            let mut h = HeaderMap::new();
            h.insert(L5D_SAMPLE, HeaderValue::from_static(rate));
            forward(&mut h, &Rng::seeded(11));
            let flags = trace_of(&h).flags;
            assert_eq!(flags & SAMPLING_KNOWN, SAMPLING_KNOWN, "{rate}");
            assert_eq!(flags & SAMPLED != 0, sampled, "{rate}");
            assert!(h.get(&L5D_SAMPLE).is_none());
        }
    }
}
