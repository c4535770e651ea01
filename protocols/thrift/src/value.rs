//! Thrift values in the binary protocol, for the few services linkerd and namerd speak
//! themselves (namerd's `Namer` interface): a struct is its fields by id, decoded and
//! encoded without generated code. The router never uses this: it forwards calls without
//! decoding them ([`crate::codec`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{DecodeError, MessageType, Reader};

/// A Thrift value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A bool.
    Bool(bool),
    /// An i8.
    I8(i8),
    /// An i16.
    I16(i16),
    /// An i32.
    I32(i32),
    /// An i64.
    I64(i64),
    /// A double.
    Double(f64),
    /// A string or binary.
    Binary(Bytes),
    /// A struct (or union, or exception): its fields by id.
    Struct(Vec<(i16, Value)>),
    /// A list, with its element type.
    List(u8, Vec<Value>),
    /// A set, with its element type.
    Set(u8, Vec<Value>),
    /// A map, with its key and value types.
    Map(u8, u8, Vec<(Value, Value)>),
}

/// Type numbers of the binary protocol.
pub mod ttype {
    /// bool
    pub const BOOL: u8 = 2;
    /// i8
    pub const I8: u8 = 3;
    /// double
    pub const DOUBLE: u8 = 4;
    /// i16
    pub const I16: u8 = 6;
    /// i32
    pub const I32: u8 = 8;
    /// i64
    pub const I64: u8 = 10;
    /// string/binary
    pub const STRING: u8 = 11;
    /// struct
    pub const STRUCT: u8 = 12;
    /// map
    pub const MAP: u8 = 13;
    /// set
    pub const SET: u8 = 14;
    /// list
    pub const LIST: u8 = 15;
}

impl Value {
    /// Its type number.
    pub fn ttype(&self) -> u8 {
        match self {
            Value::Bool(_) => ttype::BOOL,
            Value::I8(_) => ttype::I8,
            Value::I16(_) => ttype::I16,
            Value::I32(_) => ttype::I32,
            Value::I64(_) => ttype::I64,
            Value::Double(_) => ttype::DOUBLE,
            Value::Binary(_) => ttype::STRING,
            Value::Struct(_) => ttype::STRUCT,
            Value::List(..) => ttype::LIST,
            Value::Set(..) => ttype::SET,
            Value::Map(..) => ttype::MAP,
        }
    }

    /// A string value.
    pub fn string(s: &str) -> Value {
        Value::Binary(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// The field `id` of a struct.
    pub fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fs) => fs.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of a binary value.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An i32 value.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// A double value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// The elements of a list or set.
    pub fn elems(&self) -> &[Value] {
        match self {
            Value::List(_, v) | Value::Set(_, v) => v,
            _ => &[],
        }
    }

    /// The entries of a map.
    pub fn entries(&self) -> &[(Value, Value)] {
        match self {
            Value::Map(_, _, v) => v,
            _ => &[],
        }
    }

    /// Appends the value in the binary protocol.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Value::Bool(b) => out.put_u8(u8::from(*b)),
            Value::I8(v) => out.put_i8(*v),
            Value::I16(v) => out.put_i16(*v),
            Value::I32(v) => out.put_i32(*v),
            Value::I64(v) => out.put_i64(*v),
            Value::Double(v) => out.put_f64(*v),
            Value::Binary(b) => {
                out.put_i32(b.len() as i32);
                out.put_slice(b);
            }
            Value::Struct(fs) => {
                for (id, v) in fs {
                    out.put_u8(v.ttype());
                    out.put_i16(*id);
                    v.encode(out);
                }
                out.put_u8(0);
            }
            Value::List(t, vs) | Value::Set(t, vs) => {
                out.put_u8(*t);
                out.put_i32(vs.len() as i32);
                for v in vs {
                    v.encode(out);
                }
            }
            Value::Map(k, v, es) => {
                out.put_u8(*k);
                out.put_u8(*v);
                out.put_i32(es.len() as i32);
                for (a, b) in es {
                    a.encode(out);
                    b.encode(out);
                }
            }
        }
    }
}

const MAX_DEPTH: usize = 64;

fn decode_value(r: &mut Reader<'_>, t: u8, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::Invalid("values nested too deep".into()));
    }
    Ok(match t {
        ttype::BOOL => Value::Bool(r.u8()? != 0),
        ttype::I8 => Value::I8(r.u8()? as i8),
        ttype::I16 => Value::I16(r.i16()?),
        ttype::I32 => Value::I32(r.i32()?),
        ttype::I64 => Value::I64(r.i64()?),
        ttype::DOUBLE => Value::Double(f64::from_bits(r.i64()? as u64)),
        ttype::STRING => {
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            Value::Binary(Bytes::copy_from_slice(r.take(n)?))
        }
        ttype::STRUCT => {
            let mut fs = Vec::new();
            loop {
                let ft = r.u8()?;
                if ft == 0 {
                    break;
                }
                let id = r.i16()?;
                fs.push((id, decode_value(r, ft, depth + 1)?));
            }
            Value::Struct(fs)
        }
        ttype::LIST | ttype::SET => {
            let et = r.u8()?;
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            let mut vs = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                vs.push(decode_value(r, et, depth + 1)?);
            }
            if t == ttype::LIST {
                Value::List(et, vs)
            } else {
                Value::Set(et, vs)
            }
        }
        ttype::MAP => {
            let kt = r.u8()?;
            let vt = r.u8()?;
            let n = r.i32()?;
            let n = r.len(i64::from(n))?;
            let mut es = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                es.push((
                    decode_value(r, kt, depth + 1)?,
                    decode_value(r, vt, depth + 1)?,
                ));
            }
            Value::Map(kt, vt, es)
        }
        t => return Err(DecodeError::Invalid(format!("binary field type {t}"))),
    })
}

/// A whole message in the binary protocol: its header and its struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The message type.
    pub kind: MessageType,
    /// The method name.
    pub name: String,
    /// The sequence id.
    pub seqid: i32,
    /// The args or result struct.
    pub body: Value,
}

impl Message {
    /// Reads a binary-protocol message.
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let h = crate::codec::header(buf)?;
        if !h.encoding.is_binary() {
            return Err(DecodeError::Invalid(
                "only the binary protocol is read here".into(),
            ));
        }
        let mut r = Reader::new(&buf[h.body..]);
        let body = decode_value(&mut r, ttype::STRUCT, 0)?;
        Ok(Message {
            kind: h.kind,
            name: h.name,
            seqid: h.seqid,
            body,
        })
    }

    /// Writes it in the strict binary protocol.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        let mut w = crate::codec::Writer::new(&mut out, false);
        w.message_begin(self.kind, &self.name, self.seqid);
        self.body.encode(&mut out);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let body = Value::Struct(vec![
            (1, Value::string("dtab")),
            (
                2,
                Value::Struct(vec![
                    (1, Value::Binary(Bytes::from_static(b"\x00\x01"))),
                    (
                        2,
                        Value::List(
                            ttype::STRING,
                            vec![Value::string("svc"), Value::string("x")],
                        ),
                    ),
                ]),
            ),
            (
                3,
                Value::Map(
                    ttype::I32,
                    ttype::DOUBLE,
                    vec![(Value::I32(1), Value::Double(0.5))],
                ),
            ),
            (4, Value::Set(ttype::I64, vec![Value::I64(-1)])),
            (5, Value::Bool(true)),
        ]);
        let m = Message {
            kind: MessageType::Call,
            name: "bind".into(),
            seqid: 3,
            body,
        };
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes).unwrap(), m);
        for cut in 0..bytes.len() {
            assert!(Message::decode(&bytes[..cut]).is_err());
        }
    }
}
