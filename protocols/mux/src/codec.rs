//! Finagle Mux messages and frames (Finagle 21.4's `Message.scala`, the version Linkerd
//! 1.7 pins): every message type with its legacy type numbers, contexts, destinations and
//! dtabs, and fragments.
//!
//! A frame is `size:4 type:1 tag:3 body`; `size` counts type, tag and body. Only
//! Tdispatch and Rdispatch are fragmented: every chunk but the last carries the tag with
//! bit 23 set, and the receiver concatenates the bodies. Decoding accepts what any peer
//! sends (Rerr as -128 or 127, Tdiscarded as 66 or -62); encoding sends what Finagle
//! sends (127 and -62).
//!
//! Bodies are `Bytes` sliced from the frame: a routed payload is never copied.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The tag bit that marks a fragment with more to follow.
pub const MORE: u32 = 0x80_0000;
/// The largest tag.
pub const MAX_TAG: u32 = 0x7f_ffff;
/// The tag Finagle uses for pings, the handshake and drains.
pub const CONTROL_TAG: u32 = 1;
/// The largest frame linkerd reads (Finagle accepts up to 2 GiB; a proxy bounds memory).
pub const MAX_FRAME: usize = 64 << 20;

/// Type numbers on the wire.
pub mod types {
    /// Treq.
    pub const TREQ: i8 = 1;
    /// Rreq.
    pub const RREQ: i8 = -1;
    /// Tdispatch.
    pub const TDISPATCH: i8 = 2;
    /// Rdispatch.
    pub const RDISPATCH: i8 = -2;
    /// Tdrain.
    pub const TDRAIN: i8 = 64;
    /// Rdrain.
    pub const RDRAIN: i8 = -64;
    /// Tping.
    pub const TPING: i8 = 65;
    /// Rping.
    pub const RPING: i8 = -65;
    /// Tdiscarded.
    pub const TDISCARDED: i8 = 66;
    /// Tdiscarded, as Finagle sends it.
    pub const TDISCARDED_LEGACY: i8 = -62;
    /// Rdiscarded.
    pub const RDISCARDED: i8 = -66;
    /// Tlease.
    pub const TLEASE: i8 = 67;
    /// Tinit.
    pub const TINIT: i8 = 68;
    /// Rinit.
    pub const RINIT: i8 = -68;
    /// Rerr.
    pub const RERR: i8 = -128;
    /// Rerr, as Finagle sends it.
    pub const RERR_LEGACY: i8 = 127;
}

/// The status of an Rreq or Rdispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A reply; the body is the payload.
    Ok,
    /// An application error; the body is its UTF-8 message.
    Error,
    /// The server refused the request without processing it (safe to retry).
    Nack,
}

impl Status {
    fn byte(&self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Error => 1,
            Status::Nack => 2,
        }
    }
}

/// A context entry: (key, value).
pub type Context = (Bytes, Bytes);

/// A Tdispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tdispatch {
    /// Broadcast contexts, passed through untouched.
    pub contexts: Vec<Context>,
    /// The destination path, as shown (`/s/ping`; empty for none).
    pub dst: Bytes,
    /// Dtab entries, as (prefix, destination) shown.
    pub dtab: Vec<(Bytes, Bytes)>,
    /// The payload.
    pub body: Bytes,
}

/// An Rdispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdispatch {
    /// Its status.
    pub status: Status,
    /// Contexts (response headers, `MuxFailure`).
    pub contexts: Vec<Context>,
    /// The payload, or the error message.
    pub body: Bytes,
}

/// A Mux message (without its tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The deprecated request: trace keys and a body.
    Treq {
        /// (key, value) pairs; 1 = trace id (24 bytes), 2 = trace flags.
        keys: Vec<(u8, Bytes)>,
        /// The payload.
        body: Bytes,
    },
    /// Its reply.
    Rreq(Status, Bytes),
    /// A request with contexts, destination and dtab.
    Tdispatch(Tdispatch),
    /// Its reply.
    Rdispatch(Rdispatch),
    /// The server asks the client to stop sending requests.
    Tdrain,
    /// The client's acknowledgement.
    Rdrain,
    /// A liveness probe.
    Tping,
    /// Its reply.
    Rping,
    /// The client abandons the request of `tag` (sent on tag 0).
    Tdiscarded {
        /// The abandoned request's tag.
        tag: u32,
        /// Why.
        why: Bytes,
    },
    /// The server's acknowledgement, on the abandoned tag.
    Rdiscarded,
    /// The server grants a lease of `millis` (unit 0) (sent on tag 0).
    Tlease {
        /// The unit: 0 is a duration in milliseconds.
        unit: u8,
        /// How much.
        howmuch: i64,
    },
    /// Session negotiation, client side.
    Tinit {
        /// The version (1).
        version: u16,
        /// Headers: `mux-framer`, `tls`, ...
        headers: Vec<(Bytes, Bytes)>,
    },
    /// Session negotiation, server side.
    Rinit {
        /// The version (1).
        version: u16,
        /// Headers.
        headers: Vec<(Bytes, Bytes)>,
    },
    /// A session-level error for the message of this tag.
    Rerr(Bytes),
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn short(what: &str) -> DecodeError {
    DecodeError(format!("{what}: the frame ends too soon"))
}

/// Reads the parts of a body.
struct Body(Bytes);

impl Body {
    fn need(&self, n: usize, what: &str) -> Result<(), DecodeError> {
        if self.0.remaining() < n {
            return Err(short(what));
        }
        Ok(())
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        Ok(self.0.get_u8())
    }

    fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(self.0.get_u16())
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.0.get_u32())
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<Bytes, DecodeError> {
        self.need(n, what)?;
        Ok(self.0.split_to(n))
    }

    fn string2(&mut self, what: &str) -> Result<Bytes, DecodeError> {
        let n = self.u16(what)? as usize;
        self.bytes(n, what)
    }

    fn string4(&mut self, what: &str) -> Result<Bytes, DecodeError> {
        let n = self.u32(what)? as usize;
        self.bytes(n, what)
    }

    fn pairs2(&mut self, what: &str) -> Result<Vec<(Bytes, Bytes)>, DecodeError> {
        let n = self.u16(what)? as usize;
        // Each pair takes at least 4 bytes; a count the body cannot hold is refused
        // before anything is allocated for it.
        if n > self.0.remaining() / 4 {
            return Err(short(what));
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push((self.string2(what)?, self.string2(what)?));
        }
        Ok(v)
    }

    fn headers4(&mut self) -> Result<Vec<(Bytes, Bytes)>, DecodeError> {
        let mut v = Vec::new();
        while self.0.has_remaining() {
            v.push((self.string4("init header")?, self.string4("init header")?));
        }
        Ok(v)
    }

    fn rest(self) -> Bytes {
        self.0
    }
}

fn status(b: u8) -> Result<Status, DecodeError> {
    match b {
        0 => Ok(Status::Ok),
        1 => Ok(Status::Error),
        2 => Ok(Status::Nack),
        s => Err(DecodeError(format!("unknown reply status {s}"))),
    }
}

impl Message {
    /// Decodes the body of a (whole, reassembled) message of type `typ`.
    pub fn decode(typ: i8, body: Bytes) -> Result<Message, DecodeError> {
        use types::*;
        let mut b = Body(body);
        Ok(match typ {
            TREQ => {
                let n = b.u8("Treq")?;
                if n >= 0x80 {
                    return Err(DecodeError("Treq: too many keys".into()));
                }
                let mut keys = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    let k = b.u8("Treq key")?;
                    let len = b.u8("Treq key")?;
                    let v = b.bytes(usize::from(len), "Treq key")?;
                    if k == 1 && v.len() != 24 {
                        return Err(DecodeError(format!(
                            "Treq: a trace id of {} bytes (24 expected)",
                            v.len()
                        )));
                    }
                    keys.push((k, v));
                }
                Message::Treq {
                    keys,
                    body: b.rest(),
                }
            }
            RREQ => {
                let s = status(b.u8("Rreq")?)?;
                Message::Rreq(s, b.rest())
            }
            TDISPATCH => {
                let contexts = b.pairs2("Tdispatch contexts")?;
                let dst = b.string2("Tdispatch dst")?;
                let dtab = b.pairs2("Tdispatch dtab")?;
                Message::Tdispatch(Tdispatch {
                    contexts,
                    dst,
                    dtab,
                    body: b.rest(),
                })
            }
            RDISPATCH => {
                let s = status(b.u8("Rdispatch")?)?;
                let contexts = b.pairs2("Rdispatch contexts")?;
                Message::Rdispatch(Rdispatch {
                    status: s,
                    contexts,
                    body: b.rest(),
                })
            }
            TDRAIN => Message::Tdrain,
            RDRAIN => Message::Rdrain,
            TPING => Message::Tping,
            RPING => Message::Rping,
            TDISCARDED | TDISCARDED_LEGACY => {
                let t = b.bytes(3, "Tdiscarded")?;
                let tag = u32::from(t[0]) << 16 | u32::from(t[1]) << 8 | u32::from(t[2]);
                Message::Tdiscarded { tag, why: b.rest() }
            }
            RDISCARDED => Message::Rdiscarded,
            TLEASE => {
                let unit = b.u8("Tlease")?;
                b.need(8, "Tlease")?;
                let howmuch = b.0.get_i64();
                Message::Tlease { unit, howmuch }
            }
            TINIT | RINIT => {
                let version = b.u16("init version")?;
                let headers = b.headers4()?;
                if typ == TINIT {
                    Message::Tinit { version, headers }
                } else {
                    Message::Rinit { version, headers }
                }
            }
            RERR | RERR_LEGACY => Message::Rerr(b.rest()),
            t => return Err(DecodeError(format!("unknown message type: {t}"))),
        })
    }

    /// The type number linkerd sends this message with (Finagle's, legacy aliases
    /// included).
    pub fn typ(&self) -> i8 {
        use types::*;
        match self {
            Message::Treq { .. } => TREQ,
            Message::Rreq(..) => RREQ,
            Message::Tdispatch(_) => TDISPATCH,
            Message::Rdispatch(_) => RDISPATCH,
            Message::Tdrain => TDRAIN,
            Message::Rdrain => RDRAIN,
            Message::Tping => TPING,
            Message::Rping => RPING,
            Message::Tdiscarded { .. } => TDISCARDED_LEGACY,
            Message::Rdiscarded => RDISCARDED,
            Message::Tlease { .. } => TLEASE,
            Message::Tinit { .. } => TINIT,
            Message::Rinit { .. } => RINIT,
            Message::Rerr(_) => RERR_LEGACY,
        }
    }

    /// Whether it may be fragmented.
    pub fn fragmentable(&self) -> bool {
        matches!(self, Message::Tdispatch(_) | Message::Rdispatch(_))
    }

    /// Appends its body to `out`.
    pub fn encode_body(&self, out: &mut BytesMut) {
        fn put2(out: &mut BytesMut, b: &[u8]) {
            out.put_u16(b.len() as u16);
            out.put_slice(b);
        }
        fn pairs(out: &mut BytesMut, ps: &[(Bytes, Bytes)]) {
            out.put_u16(ps.len() as u16);
            for (k, v) in ps {
                put2(out, k);
                put2(out, v);
            }
        }
        match self {
            Message::Treq { keys, body } => {
                out.put_u8(keys.len() as u8);
                for (k, v) in keys {
                    out.put_u8(*k);
                    out.put_u8(v.len() as u8);
                    out.put_slice(v);
                }
                out.put_slice(body);
            }
            Message::Rreq(s, body) => {
                out.put_u8(s.byte());
                out.put_slice(body);
            }
            Message::Tdispatch(d) => {
                pairs(out, &d.contexts);
                put2(out, &d.dst);
                pairs(out, &d.dtab);
                out.put_slice(&d.body);
            }
            Message::Rdispatch(r) => {
                out.put_u8(r.status.byte());
                pairs(out, &r.contexts);
                out.put_slice(&r.body);
            }
            Message::Tdrain
            | Message::Rdrain
            | Message::Tping
            | Message::Rping
            | Message::Rdiscarded => {}
            Message::Tdiscarded { tag, why } => {
                out.put_slice(&tag.to_be_bytes()[1..]);
                out.put_slice(why);
            }
            Message::Tlease { unit, howmuch } => {
                out.put_u8(*unit);
                out.put_i64(*howmuch);
            }
            Message::Tinit { version, headers } | Message::Rinit { version, headers } => {
                out.put_u16(*version);
                for (k, v) in headers {
                    out.put_u32(k.len() as u32);
                    out.put_slice(k);
                    out.put_u32(v.len() as u32);
                    out.put_slice(v);
                }
            }
            Message::Rerr(why) => out.put_slice(why),
        }
    }

    /// Appends the frames of this message on `tag` to `out`, its body cut into chunks of
    /// at most `max_fragment` bytes when it is fragmentable.
    pub fn encode(&self, tag: u32, max_fragment: usize, out: &mut BytesMut) {
        let mut body = BytesMut::new();
        self.encode_body(&mut body);
        let typ = self.typ() as u8;
        let max = if self.fragmentable() {
            max_fragment.max(1)
        } else {
            usize::MAX
        };
        let mut rest = &body[..];
        loop {
            let n = rest.len().min(max);
            let last = n == rest.len();
            out.put_u32(4 + n as u32);
            out.put_u8(typ);
            let t = if last { tag } else { tag | MORE };
            out.put_slice(&t.to_be_bytes()[1..]);
            out.put_slice(&rest[..n]);
            rest = &rest[n..];
            if last {
                return;
            }
        }
    }
}

/// One frame as read: type, tag (with the fragment bit) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The type number.
    pub typ: i8,
    /// The tag, fragment bit included.
    pub tag: u32,
    /// The body.
    pub body: Bytes,
}

/// Splits one frame off `buf` if it holds a whole one.
pub fn split_frame(buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if size < 4 {
        return Err(DecodeError(format!("a frame of size {size} (at least 4)")));
    }
    if size > MAX_FRAME {
        return Err(DecodeError(format!(
            "a frame of {size} bytes (linkerd reads at most {MAX_FRAME})"
        )));
    }
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    let mut frame = buf.split_to(size).freeze();
    let typ = frame.get_u8() as i8;
    let tag = u32::from(frame[0]) << 16 | u32::from(frame[1]) << 8 | u32::from(frame[2]);
    frame.advance(3);
    Ok(Some(Frame {
        typ,
        tag,
        body: frame,
    }))
}

/// Reassembles fragmented messages, per tag.
#[derive(Default)]
pub struct Reassembly {
    partial: std::collections::HashMap<u32, BytesMut>,
    /// Bytes held across all partial messages.
    held: usize,
}

impl Reassembly {
    /// The whole message a frame completes, as (type, tag, body); `None` while more
    /// fragments are to come.
    pub fn push(&mut self, f: Frame) -> Result<Option<(i8, u32, Bytes)>, DecodeError> {
        let id = f.tag & MAX_TAG;
        if f.tag & MORE != 0 {
            if !matches!(f.typ, types::TDISPATCH | types::RDISPATCH) {
                return Err(DecodeError(format!(
                    "a fragment of a type {} message (only dispatches are fragmented)",
                    f.typ
                )));
            }
            self.held += f.body.len();
            if self.held > MAX_FRAME {
                return Err(DecodeError(format!(
                    "fragments of more than {MAX_FRAME} bytes"
                )));
            }
            self.partial
                .entry(id)
                .or_default()
                .extend_from_slice(&f.body);
            return Ok(None);
        }
        match self.partial.remove(&id) {
            None => Ok(Some((f.typ, id, f.body))),
            Some(mut acc) => {
                self.held -= acc.len();
                acc.extend_from_slice(&f.body);
                Ok(Some((f.typ, id, acc.freeze())))
            }
        }
    }

    /// Drops the fragments gathered for `tag` (its dispatch was discarded).
    pub fn discard(&mut self, tag: u32) {
        if let Some(acc) = self.partial.remove(&tag) {
            self.held -= acc.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Bytes {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
            .into()
    }

    #[test]
    fn a_frame_can_arrive_in_pieces() {
        let all = hex("0000000441000005 00000004bf000001");
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in all.iter() {
            buf.put_u8(*b);
            while let Some(f) = split_frame(&mut buf).unwrap() {
                got.push((f.typ, f.tag));
            }
        }
        assert_eq!(got, [(65, 5), (-65, 1)]);
    }

    #[test]
    fn bad_frames_are_refused() {
        let mut b = BytesMut::from(&hex("00000003 41 0000")[..]);
        assert!(split_frame(&mut b).is_err());
        let mut b = BytesMut::from(&hex("7fffffff 41 000001")[..]);
        assert!(split_frame(&mut b).is_err());
        for (typ, body) in [
            (0i8, ""),
            (types::TREQ, "80"),
            (types::TREQ, "01 01 03 000000"),
            (types::RDISPATCH, "03 0000"),
            (types::TLEASE, "00 0000"),
            (types::TDISCARDED, "0000"),
            (types::TDISPATCH, "ffff"),
        ] {
            assert!(Message::decode(typ, hex(body)).is_err(), "{typ} {body}");
        }
    }

    #[test]
    fn fragments_are_reassembled_and_discarded() {
        let mut r = Reassembly::default();
        let f = |tag: u32, body: &str| Frame {
            typ: types::TDISPATCH,
            tag,
            body: hex(body),
        };
        assert_eq!(r.push(f(2 | MORE, "01")).unwrap(), None);
        assert_eq!(r.push(f(3 | MORE, "0a")).unwrap(), None);
        assert_eq!(
            r.push(f(2, "02")).unwrap(),
            Some((types::TDISPATCH, 2, hex("0102")))
        );
        r.discard(3);
        assert_eq!(
            r.push(f(3, "0b")).unwrap(),
            Some((types::TDISPATCH, 3, hex("0b")))
        );
        let ping = Frame {
            typ: types::TPING,
            tag: 1 | MORE,
            body: Bytes::new(),
        };
        assert!(r.push(ping).is_err());
    }
}
