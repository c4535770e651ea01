//! TTwitter ("Twitter-upgraded Thrift"), Finagle's extension that carries trace context,
//! a client id, a destination and dtab delegations in a `RequestHeader` struct before each
//! call, once a connection has been upgraded by a `__can__finagle__trace__v3__` call.
//!
//! The structs (Finagle's `tracing.thrift`; field ids are the wire contract):
//! `RequestHeader { 1: i64 trace_id, 2: i64 span_id, 3: optional i64 parent_span_id,
//! 5: optional bool sampled, 6: optional ClientId client_id, 7: optional i64 flags,
//! 8: list<RequestContext> contexts, 9: optional string dest, 10: optional
//! list<Delegation> delegations, 11: optional i64 trace_id_high }`,
//! `ClientId { 1: string name }`, `Delegation { 1: string src, 2: string dst }`; a reply
//! on an upgraded connection starts with a `ResponseHeader` struct (linkerd sends an empty
//! one, as Finagle does).

use bytes::{Bytes, BytesMut};

use crate::codec::{
    skip_binary, skip_compact, DecodeError, Encoding, MessageType, Reader, Type, Writer,
};

/// The method name of the upgrade call.
pub const UPGRADE: &str = "__can__finagle__trace__v3__";

/// The fields of a `RequestHeader` the router uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestHeader {
    /// The trace id (field 1).
    pub trace_id: i64,
    /// The caller's span id (field 2).
    pub span_id: i64,
    /// Whether the trace is sampled (field 5).
    pub sampled: Option<bool>,
    /// Trace flags (field 7).
    pub flags: Option<i64>,
    /// The high 64 bits of a 128-bit trace id (field 11).
    pub trace_id_high: Option<i64>,
    /// The caller's client id (field 6's `name`).
    pub client_id: Option<String>,
    /// The destination name (field 9), which Linkerd routes by.
    pub dest: Option<String>,
    /// Dtab delegations for this request (field 10), as (prefix, destination) pairs.
    pub delegations: Vec<(String, String)>,
}

fn string(r: &mut Reader<'_>, compact: bool) -> Result<String, DecodeError> {
    let n = if compact {
        let n = r.varint()?;
        r.len(n.min(i64::MAX as u64) as i64)?
    } else {
        let n = r.i32()?;
        r.len(i64::from(n))?
    };
    Ok(String::from_utf8_lossy(r.take(n)?).into_owned())
}

fn i64_value(r: &mut Reader<'_>, compact: bool) -> Result<i64, DecodeError> {
    if compact {
        r.zigzag()
    } else {
        r.i64()
    }
}

/// A struct's fields: (binary type number, field id) for each, the caller reading or
/// skipping each value. Compact types are mapped to binary numbers; compact bools carry
/// their value in the type and are reported as type 2 with `Some(value)`.
struct Fields<'r, 'a> {
    r: &'r mut Reader<'a>,
    compact: bool,
    last: i16,
}

impl<'r, 'a> Fields<'r, 'a> {
    fn next(&mut self) -> Result<Option<(u8, i16, Option<bool>)>, DecodeError> {
        let b = self.r.u8()?;
        if b == 0 {
            return Ok(None);
        }
        if !self.compact {
            let id = self.r.i16()?;
            return Ok(Some((b, id, None)));
        }
        let id = match b >> 4 {
            0 => self.r.zigzag()? as i16,
            d => self.last.wrapping_add(i16::from(d)),
        };
        self.last = id;
        let (t, v) = match b & 0x0f {
            1 => (2, Some(true)),
            2 => (2, Some(false)),
            3 => (3, None),
            4 => (6, None),
            5 => (8, None),
            6 => (10, None),
            7 => (4, None),
            8 => (11, None),
            9 => (15, None),
            10 => (14, None),
            11 => (13, None),
            12 => (12, None),
            13 => (16, None),
            t => return Err(DecodeError::Invalid(format!("compact field type {t}"))),
        };
        Ok(Some((t, id, v)))
    }

    fn skip(&mut self, t: u8, compact_bool: Option<bool>) -> Result<(), DecodeError> {
        if self.compact {
            if compact_bool.is_some() {
                return Ok(());
            }
            let ct = match t {
                3 => 3,
                6 => 4,
                8 => 5,
                10 => 6,
                4 => 7,
                11 => 8,
                15 => 9,
                14 => 10,
                13 => 11,
                12 => 12,
                16 => 13,
                _ => return Err(DecodeError::Invalid(format!("field type {t}"))),
            };
            skip_compact(self.r, ct, 1)
        } else {
            skip_binary(self.r, t, 1)
        }
    }
}

/// Reads the `RequestHeader` at the start of `buf`; returns it and its length (the call
/// follows it).
pub fn read_request_header(
    buf: &[u8],
    encoding: Encoding,
) -> Result<(RequestHeader, usize), DecodeError> {
    let compact = encoding == Encoding::Compact;
    let mut r = Reader::new(buf);
    let mut h = RequestHeader::default();
    let mut f = Fields {
        r: &mut r,
        compact,
        last: 0,
    };
    while let Some((t, id, b)) = f.next()? {
        match (id, t) {
            (1, 10) => h.trace_id = i64_value(f.r, compact)?,
            (2, 10) => h.span_id = i64_value(f.r, compact)?,
            (7, 10) => h.flags = Some(i64_value(f.r, compact)?),
            (11, 10) => h.trace_id_high = Some(i64_value(f.r, compact)?),
            (5, 2) => {
                h.sampled = Some(match b {
                    Some(v) => v,
                    None => f.r.u8()? == 1,
                })
            }
            (9, 11) => h.dest = Some(string(f.r, compact)?),
            (6, 12) => {
                let mut inner = Fields {
                    r: &mut *f.r,
                    compact,
                    last: 0,
                };
                while let Some((t, id, b)) = inner.next()? {
                    if (id, t) == (1, 11) {
                        h.client_id = Some(string(inner.r, compact)?);
                    } else {
                        inner.skip(t, b)?;
                    }
                }
            }
            (10, 15) => {
                let (elem, n) = list_header(f.r, compact)?;
                if elem != 12 {
                    return Err(DecodeError::Invalid(
                        "delegations that are not structs".into(),
                    ));
                }
                for _ in 0..n {
                    let mut d = Fields {
                        r: &mut *f.r,
                        compact,
                        last: 0,
                    };
                    let (mut src, mut dst) = (String::new(), String::new());
                    while let Some((t, id, b)) = d.next()? {
                        match (id, t) {
                            (1, 11) => src = string(d.r, compact)?,
                            (2, 11) => dst = string(d.r, compact)?,
                            _ => d.skip(t, b)?,
                        }
                    }
                    h.delegations.push((src, dst));
                }
            }
            _ => f.skip(t, b)?,
        }
    }
    Ok((h, r.pos))
}

/// A list header: its element type (binary numbering) and length.
fn list_header(r: &mut Reader<'_>, compact: bool) -> Result<(u8, usize), DecodeError> {
    if compact {
        let h = r.u8()?;
        let n = match h >> 4 {
            15 => r.varint()?,
            n => u64::from(n),
        };
        let elem = if h & 0x0f == 12 { 12 } else { h & 0x0f };
        Ok((elem, r.len(n.min(i64::MAX as u64) as i64)?))
    } else {
        let elem = r.u8()?;
        let n = r.i32()?;
        Ok((elem, r.len(i64::from(n))?))
    }
}

/// Writes a `RequestHeader` in `encoding` (the header linkerd sends an upgraded backend).
pub fn write_request_header(h: &RequestHeader, encoding: Encoding, out: &mut BytesMut) {
    let mut w = Writer::new(out, encoding == Encoding::Compact);
    w.field(Type::I64, 1);
    w.i64(h.trace_id);
    w.field(Type::I64, 2);
    w.i64(h.span_id);
    if let Some(s) = h.sampled {
        w.bool_field(5, s);
    }
    if let Some(name) = &h.client_id {
        w.field(Type::Struct, 6);
        w.struct_begin();
        w.field(Type::String, 1);
        w.string(name.as_bytes());
        w.struct_end();
    }
    if let Some(flags) = h.flags {
        w.field(Type::I64, 7);
        w.i64(flags);
    }
    if let Some(dest) = &h.dest {
        w.field(Type::String, 9);
        w.string(dest.as_bytes());
    }
    if !h.delegations.is_empty() {
        w.field(Type::List, 10);
        w.list_begin(Type::Struct, h.delegations.len());
        for (src, dst) in &h.delegations {
            w.struct_begin();
            w.field(Type::String, 1);
            w.string(src.as_bytes());
            w.field(Type::String, 2);
            w.string(dst.as_bytes());
            w.struct_end();
        }
    }
    if let Some(high) = h.trace_id_high {
        w.field(Type::I64, 11);
        w.i64(high);
    }
    w.struct_end();
}

/// The upgrade call linkerd sends a backend (`attemptTTwitterUpgrade`): the method with
/// an empty `ConnectionOptions`.
pub fn upgrade_call(encoding: Encoding) -> Bytes {
    let mut out = BytesMut::new();
    let mut w = Writer::new(&mut out, encoding == Encoding::Compact);
    w.message_begin(MessageType::Call, UPGRADE, 0);
    w.struct_end();
    out.freeze()
}

/// The reply accepting a client's upgrade call: an empty `UpgradeReply`, with the call's
/// seqid.
pub fn upgrade_reply(encoding: Encoding, seqid: i32) -> Bytes {
    let mut out = BytesMut::new();
    let mut w = Writer::new(&mut out, encoding == Encoding::Compact);
    w.message_begin(MessageType::Reply, UPGRADE, seqid);
    w.struct_end();
    out.freeze()
}

/// An empty `ResponseHeader`, which starts each reply on an upgraded connection.
pub const EMPTY_RESPONSE_HEADER: &[u8] = &[0];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // twitter.common.rpc's header, captured (../shared/spec/mux-thrift.md section 3.5).
    #[test]
    fn reads_the_captured_python_header() {
        let mut b = hex(
            "0a 0001 236aa311053fb76e 0a 0002 236aa311053fb76e 02 0005 00 0c 0006 0b 0001 0000000d 7474776974746572 2d70656572 00 00",
        );
        let len = b.len();
        b.extend_from_slice(&hex(
            "80010001 00000004 70696e67 00000000 0b0001 00000002 6869 00",
        ));
        let (h, n) = read_request_header(&b, Encoding::StrictBinary).unwrap();
        assert_eq!(n, len);
        assert_eq!(h.trace_id, 0x236aa311053fb76e);
        assert_eq!(h.sampled, Some(false));
        assert_eq!(h.client_id.as_deref(), Some("ttwitter-peer"));
        assert_eq!(h.dest, None);
        assert_eq!(crate::codec::header(&b[n..]).unwrap().name, "ping");
    }

    #[test]
    fn headers_round_trip_in_both_encodings() {
        let h = RequestHeader {
            trace_id: -3,
            span_id: 77,
            sampled: Some(true),
            flags: Some(0),
            trace_id_high: Some(9),
            client_id: Some("c".into()),
            dest: Some("/s/users".into()),
            delegations: vec![("/a".into(), "/b".into()), ("/c".into(), "/d".into())],
        };
        for enc in [Encoding::StrictBinary, Encoding::Compact] {
            let mut out = BytesMut::new();
            write_request_header(&h, enc, &mut out);
            let (back, n) = read_request_header(&out, enc).unwrap();
            assert_eq!(n, out.len());
            assert_eq!(back, h);
            for cut in 0..out.len() {
                assert_eq!(
                    read_request_header(&out[..cut], enc).unwrap_err(),
                    DecodeError::Incomplete
                );
            }
        }
    }

    #[test]
    fn the_upgrade_exchange_is_finagles_bytes() {
        assert_eq!(
            upgrade_call(Encoding::StrictBinary)[..],
            hex("80010001 0000001b 5f5f63616e5f5f66696e61676c655f5f74726163655f5f76335f5f 00000000 00")[..]
        );
        assert_eq!(
            upgrade_reply(Encoding::StrictBinary, 0)[..],
            hex("80010002 0000001b 5f5f63616e5f5f66696e61676c655f5f74726163655f5f76335f5f 00000000 00")[..]
        );
    }
}
