//! Thrift messages as a router sees them: where one ends, what it calls, and nothing
//! else. A message's body is never decoded: the router reads the message header (type,
//! method name, seqid) and, where it must find the end of a message (buffered transport)
//! or peel a TTwitter header, skips a struct generically.
//!
//! Apache's `thrift` crate decodes values into a client's types; a router needs to walk
//! bytes it does not own without copying them, so this is written here.
//!
//! Supported encodings: TBinaryProtocol in its strict (`80 01 00 0t`) and old
//! (non-strict) header forms, and TCompactProtocol (`82 t1`), as Finagle's servers accept
//! them; framed (`len:i32` + message) and buffered (bare messages) transports.

use bytes::{BufMut, Bytes, BytesMut};

/// Apache Thrift's default largest frame (`TConfiguration`'s 16 MB less a little): larger
/// frames are refused rather than buffered.
pub const MAX_FRAME: usize = 16_384_000;

/// How deep structs may nest before a message is refused (bounds the skipper's stack).
const MAX_DEPTH: usize = 64;

/// A Thrift message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// A call that expects a reply.
    Call,
    /// A reply.
    Reply,
    /// A `TApplicationException` reply.
    Exception,
    /// A call that expects no reply.
    Oneway,
}

impl MessageType {
    fn from_bits(t: u8) -> Option<MessageType> {
        match t {
            1 => Some(MessageType::Call),
            2 => Some(MessageType::Reply),
            3 => Some(MessageType::Exception),
            4 => Some(MessageType::Oneway),
            _ => None,
        }
    }

    fn bits(self) -> u8 {
        match self {
            MessageType::Call => 1,
            MessageType::Reply => 2,
            MessageType::Exception => 3,
            MessageType::Oneway => 4,
        }
    }
}

/// The encoding a message was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// TBinaryProtocol with the versioned (strict) header.
    StrictBinary,
    /// TBinaryProtocol with the old header (name first).
    OldBinary,
    /// TCompactProtocol.
    Compact,
}

impl Encoding {
    /// Whether it is a form of TBinaryProtocol.
    pub fn is_binary(self) -> bool {
        !matches!(self, Encoding::Compact)
    }
}

/// Why bytes could not be read as a Thrift message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not a Thrift message in a supported encoding.
    Invalid(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Incomplete => f.write_str("the message is cut short"),
            DecodeError::Invalid(e) => f.write_str(e),
        }
    }
}

fn invalid<T>(why: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError::Invalid(why.into()))
}

/// A message's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The encoding.
    pub encoding: Encoding,
    /// The message type.
    pub kind: MessageType,
    /// The method name (`service:method` through TMultiplexedProtocol).
    pub name: String,
    /// The sequence id, as the client chose it.
    pub seqid: i32,
    /// Where the body (the args or result struct) starts.
    pub body: usize,
}

/// A reader over a byte slice that reports running out as [`DecodeError::Incomplete`].
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Incomplete)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Incomplete)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, DecodeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub(crate) fn zigzag(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        invalid("a varint longer than 10 bytes")
    }

    /// A length that must fit the largest frame.
    pub(crate) fn len(&mut self, n: i64) -> Result<usize, DecodeError> {
        if n < 0 || n as u64 > MAX_FRAME as u64 {
            return invalid(format!("a length of {n}"));
        }
        Ok(n as usize)
    }

    pub(crate) fn name(&mut self, n: usize) -> Result<String, DecodeError> {
        let b = self.take(n)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => invalid("a method name that is not UTF-8"),
        }
    }
}

/// Reads the header of the message at the start of `buf`.
pub fn header(buf: &[u8]) -> Result<Header, DecodeError> {
    let mut r = Reader::new(buf);
    let b0 = r.u8()?;
    match b0 {
        0x80 => {
            let b1 = r.u8()?;
            if b1 != 0x01 {
                return invalid(format!("binary protocol version {b1} (only 1 is known)"));
            }
            r.u8()?;
            let t = r.u8()?;
            let kind = MessageType::from_bits(t & 0x07)
                .ok_or_else(|| DecodeError::Invalid(format!("message type {t}")))?;
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            let name = r.name(n)?;
            let seqid = r.i32()?;
            Ok(Header {
                encoding: Encoding::StrictBinary,
                kind,
                name,
                seqid,
                body: r.pos,
            })
        }
        0x82 => {
            let b1 = r.u8()?;
            if b1 & 0x1f != 1 {
                return invalid(format!("compact protocol version {}", b1 & 0x1f));
            }
            let kind = MessageType::from_bits((b1 >> 5) & 0x07)
                .ok_or_else(|| DecodeError::Invalid(format!("message type {}", b1 >> 5)))?;
            let seqid = r.varint()? as u32 as i32;
            let n = r.varint()?;
            let n = r.len(n.min(i64::MAX as u64) as i64)?;
            let name = r.name(n)?;
            Ok(Header {
                encoding: Encoding::Compact,
                kind,
                name,
                seqid,
                body: r.pos,
            })
        }
        b if b & 0x80 == 0 => {
            r.pos = 0;
            let n = r.i32()?;
            // An old-style header starts with the name's length; a sane method name is
            // short, so anything long is not Thrift.
            if !(0..=64 << 10).contains(&n) {
                return invalid(format!("not a Thrift message (a method name of {n} bytes)"));
            }
            let name = r.name(n as usize)?;
            let t = r.u8()?;
            let kind = MessageType::from_bits(t)
                .ok_or_else(|| DecodeError::Invalid(format!("message type {t}")))?;
            let seqid = r.i32()?;
            Ok(Header {
                encoding: Encoding::OldBinary,
                kind,
                name,
                seqid,
                body: r.pos,
            })
        }
        b => invalid(format!("not a Thrift message (first byte 0x{b:02x})")),
    }
}

/// The length of the whole message at the start of `buf` (header and body): what a
/// buffered transport needs to find where the next one starts.
pub fn message_len(buf: &[u8]) -> Result<usize, DecodeError> {
    let h = header(buf)?;
    Ok(h.body + struct_len(&buf[h.body..], h.encoding)?)
}

/// The length of the struct at the start of `buf`, in `encoding`.
pub fn struct_len(buf: &[u8], encoding: Encoding) -> Result<usize, DecodeError> {
    let mut r = Reader::new(buf);
    if encoding.is_binary() {
        skip_binary_struct(&mut r, 0)?;
    } else {
        skip_compact_struct(&mut r, 0)?;
    }
    Ok(r.pos)
}

fn skip_binary_struct(r: &mut Reader<'_>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return invalid(format!("structs nested deeper than {MAX_DEPTH}"));
    }
    loop {
        let t = r.u8()?;
        if t == 0 {
            return Ok(());
        }
        r.i16()?;
        skip_binary(r, t, depth)?;
    }
}

pub(crate) fn skip_binary(r: &mut Reader<'_>, t: u8, depth: usize) -> Result<(), DecodeError> {
    match t {
        2 | 3 => r.take(1).map(drop),
        4 | 10 => r.take(8).map(drop),
        6 => r.take(2).map(drop),
        8 => r.take(4).map(drop),
        16 => r.take(16).map(drop),
        11 => {
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            r.take(n).map(drop)
        }
        12 => skip_binary_struct(r, depth + 1),
        13 => {
            let k = r.u8()?;
            let v = r.u8()?;
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            for _ in 0..n {
                skip_binary(r, k, depth + 1)?;
                skip_binary(r, v, depth + 1)?;
            }
            Ok(())
        }
        14 | 15 => {
            let e = r.u8()?;
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            for _ in 0..n {
                skip_binary(r, e, depth + 1)?;
            }
            Ok(())
        }
        t => invalid(format!("binary field type {t}")),
    }
}

fn skip_compact_struct(r: &mut Reader<'_>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return invalid(format!("structs nested deeper than {MAX_DEPTH}"));
    }
    loop {
        let b = r.u8()?;
        if b == 0 {
            return Ok(());
        }
        if b >> 4 == 0 {
            r.varint()?;
        }
        match b & 0x0f {
            // Booleans are their field header.
            1 | 2 => {}
            t => skip_compact(r, t, depth)?,
        }
    }
}

pub(crate) fn skip_compact(r: &mut Reader<'_>, t: u8, depth: usize) -> Result<(), DecodeError> {
    match t {
        1..=3 => r.take(1).map(drop),
        4..=6 => r.varint().map(drop),
        7 => r.take(8).map(drop),
        13 => r.take(16).map(drop),
        8 => {
            let n = r.varint()?;
            let n = r.len(n.min(i64::MAX as u64) as i64)?;
            r.take(n).map(drop)
        }
        9 | 10 => {
            let h = r.u8()?;
            let n = match h >> 4 {
                15 => r.varint()?,
                n => u64::from(n),
            };
            let n = r.len(n.min(i64::MAX as u64) as i64)?;
            for _ in 0..n {
                skip_compact(r, h & 0x0f, depth + 1)?;
            }
            Ok(())
        }
        11 => {
            let n = r.varint()?;
            let n = r.len(n.min(i64::MAX as u64) as i64)?;
            if n == 0 {
                return Ok(());
            }
            let kv = r.u8()?;
            for _ in 0..n {
                skip_compact(r, kv >> 4, depth + 1)?;
                skip_compact(r, kv & 0x0f, depth + 1)?;
            }
            Ok(())
        }
        12 => skip_compact_struct(r, depth + 1),
        t => invalid(format!("compact field type {t}")),
    }
}

/// Writes Thrift values in one encoding: what linkerd itself says (its error replies,
/// the TTwitter upgrade and request headers).
pub struct Writer<'a> {
    out: &'a mut BytesMut,
    compact: bool,
    /// The last field id written in the current struct (compact field deltas).
    last_id: Vec<i16>,
}

/// Field types, as TBinaryProtocol numbers them.
#[derive(Clone, Copy)]
pub enum Type {
    /// A bool.
    Bool,
    /// An i32.
    I32,
    /// An i64.
    I64,
    /// A string or binary.
    String,
    /// A struct.
    Struct,
    /// A list.
    List,
}

impl Type {
    fn binary(self) -> u8 {
        match self {
            Type::Bool => 2,
            Type::I32 => 8,
            Type::I64 => 10,
            Type::String => 11,
            Type::Struct => 12,
            Type::List => 15,
        }
    }

    fn compact(self) -> u8 {
        match self {
            Type::Bool => 1,
            Type::I32 => 5,
            Type::I64 => 6,
            Type::String => 8,
            Type::Struct => 12,
            Type::List => 9,
        }
    }
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`, in the compact encoding or else in strict binary.
    pub fn new(out: &'a mut BytesMut, compact: bool) -> Writer<'a> {
        Writer {
            out,
            compact,
            last_id: vec![0],
        }
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.put_u8(v as u8);
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A message header.
    pub fn message_begin(&mut self, kind: MessageType, name: &str, seqid: i32) {
        if self.compact {
            self.out.put_u8(0x82);
            self.out.put_u8((kind.bits() << 5) | 1);
            self.varint(u64::from(seqid as u32));
            self.varint(name.len() as u64);
            self.out.put_slice(name.as_bytes());
        } else {
            self.out.put_u32(0x8001_0000 | u32::from(kind.bits()));
            self.out.put_i32(name.len() as i32);
            self.out.put_slice(name.as_bytes());
            self.out.put_i32(seqid);
        }
    }

    /// A field header (for a bool, use [`Writer::bool_field`]).
    pub fn field(&mut self, t: Type, id: i16) {
        self.field_of(t.compact(), t.binary(), id);
    }

    fn field_of(&mut self, compact: u8, binary: u8, id: i16) {
        if self.compact {
            let last = self.last_id.last().copied().unwrap_or(0);
            let delta = id.wrapping_sub(last);
            if (1..=15).contains(&delta) {
                self.out.put_u8(((delta as u8) << 4) | compact);
            } else {
                self.out.put_u8(compact);
                self.zigzag(i64::from(id));
            }
            if let Some(l) = self.last_id.last_mut() {
                *l = id;
            }
        } else {
            self.out.put_u8(binary);
            self.out.put_i16(id);
        }
    }

    /// A bool field.
    pub fn bool_field(&mut self, id: i16, v: bool) {
        if self.compact {
            // The value is the field's type: 1 true, 2 false.
            self.field_of(if v { 1 } else { 2 }, 2, id);
        } else {
            self.field(Type::Bool, id);
            self.out.put_u8(u8::from(v));
        }
    }

    /// Starts a nested struct (after its field header or as a list element).
    pub fn struct_begin(&mut self) {
        self.last_id.push(0);
    }

    /// Ends a struct: its stop byte.
    pub fn struct_end(&mut self) {
        self.out.put_u8(0);
        if self.last_id.len() > 1 {
            self.last_id.pop();
        }
    }

    /// An i32 value.
    pub fn i32(&mut self, v: i32) {
        if self.compact {
            self.zigzag(i64::from(v));
        } else {
            self.out.put_i32(v);
        }
    }

    /// An i64 value.
    pub fn i64(&mut self, v: i64) {
        if self.compact {
            self.zigzag(v);
        } else {
            self.out.put_i64(v);
        }
    }

    /// A string value.
    pub fn string(&mut self, s: &[u8]) {
        if self.compact {
            self.varint(s.len() as u64);
        } else {
            self.out.put_i32(s.len() as i32);
        }
        self.out.put_slice(s);
    }

    /// A list header.
    pub fn list_begin(&mut self, elem: Type, n: usize) {
        if self.compact {
            if n < 15 {
                self.out.put_u8(((n as u8) << 4) | elem.compact());
            } else {
                self.out.put_u8(0xf0 | elem.compact());
                self.varint(n as u64);
            }
        } else {
            self.out.put_u8(elem.binary());
            self.out.put_i32(n as i32);
        }
    }
}

/// `TApplicationException` types linkerd answers with.
pub mod app_error {
    /// The server failed to process the call (Apache's INTERNAL_ERROR).
    pub const INTERNAL_ERROR: i32 = 6;
    /// The call could not be read (Apache's PROTOCOL_ERROR).
    pub const PROTOCOL_ERROR: i32 = 7;
}

/// A `TApplicationException` reply to the call `name`/`seqid` in `encoding`: what
/// linkerd answers a call it could not route or whose backend failed.
pub fn application_exception(
    encoding: Encoding,
    name: &str,
    seqid: i32,
    kind: i32,
    message: &str,
) -> Bytes {
    let mut out = BytesMut::with_capacity(32 + name.len() + message.len());
    let mut w = Writer::new(&mut out, encoding == Encoding::Compact);
    w.message_begin(MessageType::Exception, name, seqid);
    w.field(Type::String, 1);
    w.string(message.as_bytes());
    w.field(Type::I32, 2);
    w.i32(kind);
    w.struct_end();
    out.freeze()
}

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

    // Captures from ../shared/spec/mux-thrift.md section 3.4 (python client -> server).
    #[test]
    fn headers_of_captured_calls_in_every_encoding() {
        let strict = hex("80010001 00000004 70696e67 00000000 0b 0001 00000002 6869 00");
        let h = header(&strict).unwrap();
        assert_eq!(
            (h.encoding, h.kind, h.name.as_str(), h.seqid),
            (Encoding::StrictBinary, MessageType::Call, "ping", 0)
        );
        assert_eq!(message_len(&strict).unwrap(), strict.len());

        let old = hex("00000004 70696e67 01 00000000 0b000100000002686900");
        let h = header(&old).unwrap();
        assert_eq!(
            (h.encoding, h.kind, h.name.as_str()),
            (Encoding::OldBinary, MessageType::Call, "ping")
        );
        assert_eq!(message_len(&old).unwrap(), old.len());

        let compact = hex("82 21 00 04 70696e67 18 02 6869 00");
        let h = header(&compact).unwrap();
        assert_eq!(
            (h.encoding, h.kind, h.name.as_str(), h.seqid),
            (Encoding::Compact, MessageType::Call, "ping", 0)
        );
        assert_eq!(message_len(&compact).unwrap(), compact.len());

        let java = hex("8221 01 04 70696e67 1802686900");
        assert_eq!(header(&java).unwrap().seqid, 1);

        let reply = hex("8241000470696e67080007706f6e673a686900");
        let h = header(&reply).unwrap();
        assert_eq!(h.kind, MessageType::Reply);
        assert_eq!(message_len(&reply).unwrap(), reply.len());
    }

    #[test]
    fn a_message_cut_anywhere_is_incomplete_not_invalid() {
        let declared = hex(
            "80010002 00000004 70696e67 00000000 0c 0001 0b 0001 0000000e 61736b656420746f207261697365 00 00",
        );
        assert_eq!(message_len(&declared).unwrap(), declared.len());
        for cut in 0..declared.len() {
            assert_eq!(
                message_len(&declared[..cut]),
                Err(DecodeError::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for bad in [
            &b"\xff\x00\x00\x00"[..],
            &b"\x80\x02\x00\x01"[..],
            &b"\x82\x22"[..],
            &b"GET / HTTP/1.1\r\n"[..],
            &b"\x80\x01\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00"[..],
        ] {
            assert!(
                matches!(message_len(bad), Err(DecodeError::Invalid(_))),
                "{bad:?}"
            );
        }
        // A struct with an unknown field type.
        let mut m = hex("80010001 00000001 61 00000000");
        m.extend_from_slice(&[0x63, 0, 1]);
        assert!(matches!(message_len(&m), Err(DecodeError::Invalid(_))));
        // Deep nesting is refused, not a stack overflow.
        let mut deep = hex("80010001 00000001 61 00000000");
        for _ in 0..10_000 {
            deep.extend_from_slice(&[12, 0, 1]);
        }
        assert!(matches!(message_len(&deep), Err(DecodeError::Invalid(_))));
    }

    #[test]
    fn compact_containers_and_long_field_ids_are_skipped() {
        let mut out = BytesMut::new();
        let mut w = Writer::new(&mut out, true);
        w.message_begin(MessageType::Call, "m", 7);
        w.field(Type::List, 1);
        w.list_begin(Type::String, 20);
        for _ in 0..20 {
            w.string(b"x");
        }
        w.field(Type::I64, 300);
        w.i64(-5);
        w.bool_field(301, true);
        w.bool_field(302, false);
        w.field(Type::Struct, 303);
        w.struct_begin();
        w.field(Type::I32, 1);
        w.i32(-1);
        w.struct_end();
        w.struct_end();
        let h = header(&out).unwrap();
        assert_eq!((h.name.as_str(), h.seqid), ("m", 7));
        assert_eq!(message_len(&out).unwrap(), out.len());
    }

    #[test]
    fn linkerds_exception_replies_read_back() {
        for enc in [Encoding::StrictBinary, Encoding::Compact] {
            let b = application_exception(enc, "ping", 42, 6, "no route");
            let h = header(&b).unwrap();
            assert_eq!(
                (h.kind, h.name.as_str(), h.seqid),
                (MessageType::Exception, "ping", 42)
            );
            assert_eq!(message_len(&b).unwrap(), b.len());
        }
        // Byte for byte what an Apache server sends (section 3.4's capture).
        let b = application_exception(Encoding::StrictBinary, "ping", 0, 6, "Internal error");
        assert_eq!(
            b[..],
            hex("80010003 00000004 70696e67 00000000 0b0001 0000000e 496e7465726e616c206572726f72 08 0002 00000006 00")[..]
        );
    }
}
