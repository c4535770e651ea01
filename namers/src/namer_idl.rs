//! namerd's `Namer` Thrift service (`namer.thrift` of Linkerd 1, binary protocol over
//! ThriftMux): its requests and replies as namerd serves them and linkerd's
//! `io.l5d.namerd` interpreter asks for them. Field ids are the wire contract:
//!
//! `NameRef {1: Stamp stamp, 2: Path name, 3: Ns ns}`, `BindReq {1: Dtab dtab, 2: NameRef
//! name, 3: Path clientId}`, `Bound {1: stamp, 2: BoundTree tree, 3: ns}`, `BoundTree {1:
//! BoundNode root, 2: map<i32, BoundNode> nodes}`, `BoundNode = union {1: neg, 2: empty, 3:
//! fail, 4: BoundName {1: id, 2: residual}, 5: list<i32> alt, 6: list<WeightedNodeId {1:
//! double weight, 2: i32 id}> weighted}`, `AddrReq {1: NameRef name, 2: clientId}`, `Addr
//! {1: stamp, 2: AddrVal = union {1: BoundAddr {1: set<TransportAddress {1: binary ip, 2:
//! i32 port, 3: optional AddrMeta meta}>, 2: optional AddrMeta meta}, 2: neg}}`, `DtabReq
//! {1: stamp, 2: ns, 3: clientId}`, `DtabRef {1: stamp, 2: dtab}`; failures `BindFailure`,
//! `AddrFailure`, `DtabFailure`, `DelegationFailure` with `1: string reason`. A `Path` is a
//! list of binary segments.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use l5d_core::addr::{Addr, Address};
use l5d_core::delegate::{DelegateTree, Node};
use l5d_core::naming::{NameTree, Path, Weighted};
use l5d_thrift::codec::MessageType;
use l5d_thrift::value::{ttype, Message, Value};

/// A bound leaf as the interface carries it: the bound id and the residual.
pub type BoundName = (Path, Path);

fn path_value(p: &Path) -> Value {
    Value::List(
        ttype::STRING,
        p.elems()
            .iter()
            .map(|e| Value::Binary(Bytes::copy_from_slice(e)))
            .collect(),
    )
}

fn path_of(v: Option<&Value>) -> Path {
    let elems: Vec<String> = v
        .map(|v| {
            v.elems()
                .iter()
                .filter_map(|e| e.as_bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()
        })
        .unwrap_or_default();
    Path::from_elems(elems.iter().map(String::as_str))
}

fn void() -> Value {
    Value::Struct(Vec::new())
}

fn name_ref(stamp: &[u8], name: &Path, ns: &str) -> Value {
    Value::Struct(vec![
        (1, Value::Binary(Bytes::copy_from_slice(stamp))),
        (2, path_value(name)),
        (3, Value::string(ns)),
    ])
}

fn stamp_of(v: Option<&Value>) -> Bytes {
    v.and_then(Value::as_bytes).cloned().unwrap_or_default()
}

fn call(name: &str, seqid: i32, req: Value) -> Message {
    Message {
        kind: MessageType::Call,
        name: name.into(),
        seqid,
        body: Value::Struct(vec![(1, req)]),
    }
}

/// A reply: the result struct with `success` (field 0) or the exception in field 1.
fn reply(name: &str, seqid: i32, result: Result<Value, String>) -> Message {
    let field = match result {
        Ok(v) => (0, v),
        Err(reason) => (1, Value::Struct(vec![(1, Value::string(&reason))])),
    };
    Message {
        kind: MessageType::Reply,
        name: name.into(),
        seqid,
        body: Value::Struct(vec![field]),
    }
}

/// What a reply carried: the value, or the declared failure's reason; an exception
/// message (TApplicationException) is an error too.
pub fn result(m: &Message) -> Result<&Value, String> {
    if m.kind == MessageType::Exception {
        return Err(m
            .body
            .field(1)
            .and_then(Value::as_str)
            .unwrap_or("an application exception")
            .to_string());
    }
    if let Some(v) = m.body.field(0) {
        return Ok(v);
    }
    Err(m
        .body
        .field(1)
        .and_then(|f| f.field(1))
        .and_then(Value::as_str)
        .unwrap_or("a reply with neither a value nor a failure")
        .to_string())
}

/// A request, as namerd reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `bind(BindReq)`.
    Bind {
        /// The request's dtab text (after the namespace's).
        dtab: String,
        /// The stamp the client holds (empty for none).
        stamp: Bytes,
        /// The name.
        name: Path,
        /// The namespace.
        ns: String,
    },
    /// `addr(AddrReq)`.
    Addr {
        /// The stamp the client holds.
        stamp: Bytes,
        /// The bound id.
        id: Path,
    },
    /// `dtab(DtabReq)`.
    Dtab {
        /// The stamp the client holds.
        stamp: Bytes,
        /// The namespace.
        ns: String,
    },
    /// `delegate(DelegateReq)`.
    Delegate {
        /// The request's dtab text.
        dtab: String,
        /// The name to explain.
        name: Path,
        /// The namespace.
        ns: String,
        /// The stamp (only an empty one is answered).
        stamp: Bytes,
    },
}

/// Reads a call to the `Namer` service.
pub fn read_request(m: &Message) -> Result<Request, String> {
    let req = m.body.field(1).ok_or("a call without its request")?;
    Ok(match m.name.as_str() {
        "bind" => {
            let name = req.field(2);
            Request::Bind {
                dtab: req
                    .field(1)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                stamp: stamp_of(name.and_then(|n| n.field(1))),
                name: path_of(name.and_then(|n| n.field(2))),
                ns: name
                    .and_then(|n| n.field(3))
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_string(),
            }
        }
        "addr" => {
            let name = req.field(1);
            Request::Addr {
                stamp: stamp_of(name.and_then(|n| n.field(1))),
                id: path_of(name.and_then(|n| n.field(2))),
            }
        }
        "dtab" => Request::Dtab {
            stamp: stamp_of(req.field(1)),
            ns: req
                .field(2)
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string(),
        },
        "delegate" => {
            let delegation = req.field(2);
            let root = delegation.and_then(|d| d.field(2)).and_then(|t| t.field(1));
            Request::Delegate {
                dtab: req
                    .field(1)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                name: path_of(root.and_then(|r| r.field(1))),
                ns: delegation
                    .and_then(|d| d.field(3))
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_string(),
                stamp: stamp_of(delegation.and_then(|d| d.field(1))),
            }
        }
        other => return Err(format!("the Namer service has no method {other}")),
    })
}

/// `bind` as linkerd calls it.
pub fn bind_call(seqid: i32, dtab: &str, stamp: &[u8], name: &Path, ns: &str) -> Message {
    call(
        "bind",
        seqid,
        Value::Struct(vec![
            (1, Value::string(dtab)),
            (2, name_ref(stamp, name, ns)),
            (3, path_value(&Path::empty())),
        ]),
    )
}

/// `addr` as linkerd calls it.
pub fn addr_call(seqid: i32, stamp: &[u8], id: &Path, ns: &str) -> Message {
    call(
        "addr",
        seqid,
        Value::Struct(vec![
            (1, name_ref(stamp, id, ns)),
            (2, path_value(&Path::empty())),
        ]),
    )
}

/// `dtab` as a client calls it.
pub fn dtab_call(seqid: i32, stamp: &[u8], ns: &str) -> Message {
    call(
        "dtab",
        seqid,
        Value::Struct(vec![
            (1, Value::Binary(Bytes::copy_from_slice(stamp))),
            (2, Value::string(ns)),
            (3, path_value(&Path::empty())),
        ]),
    )
}

/// Flattens a tree: the root's node, with every descendant numbered in `nodes`.
fn bound_node(t: &NameTree<BoundName>, nodes: &mut Vec<(i32, Value)>) -> Value {
    let child = |t: &NameTree<BoundName>, nodes: &mut Vec<(i32, Value)>| {
        let id = nodes.len() as i32;
        nodes.push((id, Value::Struct(Vec::new())));
        let node = bound_node(t, nodes);
        nodes[id as usize].1 = node;
        Value::I32(id)
    };
    let (field, value) = match t {
        NameTree::Neg => (1, void()),
        NameTree::Empty => (2, void()),
        NameTree::Fail => (3, void()),
        NameTree::Leaf((id, residual)) => (
            4,
            Value::Struct(vec![(1, path_value(id)), (2, path_value(residual))]),
        ),
        NameTree::Alt(ts) => (
            5,
            Value::List(ttype::I32, ts.iter().map(|t| child(t, nodes)).collect()),
        ),
        NameTree::Union(ws) => (
            6,
            Value::List(
                ttype::STRUCT,
                ws.iter()
                    .map(|w| {
                        let id = child(&w.tree, nodes);
                        Value::Struct(vec![(1, Value::Double(w.weight)), (2, id)])
                    })
                    .collect(),
            ),
        ),
    };
    Value::Struct(vec![(field, value)])
}

/// namerd's answer to `bind`: the tree at `stamp`, or why it failed.
pub fn bound_reply(
    seqid: i32,
    ns: &str,
    result: Result<(&[u8], &NameTree<BoundName>), String>,
) -> Message {
    reply(
        "bind",
        seqid,
        result.map(|(stamp, tree)| {
            let mut nodes = Vec::new();
            let root = bound_node(tree, &mut nodes);
            Value::Struct(vec![
                (1, Value::Binary(Bytes::copy_from_slice(stamp))),
                (
                    2,
                    Value::Struct(vec![
                        (1, root),
                        (
                            2,
                            Value::Map(
                                ttype::I32,
                                ttype::STRUCT,
                                nodes.into_iter().map(|(i, n)| (Value::I32(i), n)).collect(),
                            ),
                        ),
                    ]),
                ),
                (3, Value::string(ns)),
            ])
        }),
    )
}

fn tree_of(
    node: &Value,
    nodes: &[(Value, Value)],
    depth: usize,
) -> Result<NameTree<BoundName>, String> {
    if depth > 100 {
        return Err("a bound tree nested too deep".into());
    }
    let lookup = |id: &Value| {
        nodes
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("a bound tree without node {id:?}"))
    };
    let Value::Struct(fields) = node else {
        return Err("a bound node that is not a union".into());
    };
    let Some((field, value)) = fields.first() else {
        return Err("an empty bound node".into());
    };
    Ok(match field {
        1 => NameTree::Neg,
        2 => NameTree::Empty,
        3 => NameTree::Fail,
        4 => NameTree::Leaf((path_of(value.field(1)), path_of(value.field(2)))),
        5 => NameTree::Alt(
            value
                .elems()
                .iter()
                .map(|id| tree_of(lookup(id)?, nodes, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        6 => NameTree::Union(
            value
                .elems()
                .iter()
                .map(|w| {
                    let id = w.field(2).ok_or("a weighted node without an id")?;
                    Ok(Weighted {
                        weight: w.field(1).and_then(Value::as_f64).unwrap_or(1.0),
                        tree: tree_of(lookup(id)?, nodes, depth + 1)?,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
        f => return Err(format!("a bound node of kind {f}")),
    })
}

/// A `bind` reply as linkerd reads it: the stamp and the tree.
pub fn read_bound(m: &Message) -> Result<(Bytes, NameTree<BoundName>), String> {
    let bound = result(m)?;
    let tree = bound.field(2).ok_or("a Bound without its tree")?;
    let root = tree.field(1).ok_or("a BoundTree without its root")?;
    let nodes = tree.field(2).map(Value::entries).unwrap_or(&[]);
    Ok((stamp_of(bound.field(1)), tree_of(root, nodes, 0)?))
}

/// namerd's answer to `addr`: the address at `stamp`, or why it failed.
pub fn addr_reply(seqid: i32, result: Result<(&[u8], &Addr), String>) -> Message {
    reply(
        "addr",
        seqid,
        result.and_then(|(stamp, addr)| {
            let value = match addr {
                Addr::Bound(addrs, _) => Value::Struct(vec![(
                    1,
                    Value::Struct(vec![(
                        1,
                        Value::Set(
                            ttype::STRUCT,
                            addrs
                                .iter()
                                .map(|a| {
                                    let ip = match a.addr.ip() {
                                        IpAddr::V4(v4) => Bytes::copy_from_slice(&v4.octets()),
                                        IpAddr::V6(v6) => Bytes::copy_from_slice(&v6.octets()),
                                    };
                                    Value::Struct(vec![
                                        (1, Value::Binary(ip)),
                                        (2, Value::I32(i32::from(a.addr.port()))),
                                    ])
                                })
                                .collect(),
                        ),
                    )]),
                )]),
                Addr::Neg => Value::Struct(vec![(2, void())]),
                Addr::Failed(e) => return Err(e.to_string()),
                Addr::Pending => return Err("the address is pending".into()),
            };
            Ok(Value::Struct(vec![
                (1, Value::Binary(Bytes::copy_from_slice(stamp))),
                (2, value),
            ]))
        }),
    )
}

/// An `addr` reply as linkerd reads it: the stamp and the address.
pub fn read_addr(m: &Message) -> Result<(Bytes, Addr), String> {
    let a = result(m)?;
    let value = a.field(2).ok_or("an Addr without its value")?;
    let addr = if let Some(bound) = value.field(1) {
        let mut out = Vec::new();
        for ta in bound.field(1).map(Value::elems).unwrap_or(&[]) {
            let ip = ta
                .field(1)
                .and_then(Value::as_bytes)
                .ok_or("an address without an ip")?;
            let ip = match ip.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(&ip[..]).map_err(|e| e.to_string())?),
                16 => IpAddr::from(<[u8; 16]>::try_from(&ip[..]).map_err(|e| e.to_string())?),
                n => return Err(format!("an ip of {n} bytes")),
            };
            let port = ta
                .field(2)
                .and_then(Value::as_i32)
                .ok_or("an address without a port")?;
            out.push(Address::new(SocketAddr::new(ip, port as u16)));
        }
        Addr::bound(out)
    } else {
        Addr::Neg
    };
    Ok((stamp_of(a.field(1)), addr))
}

/// namerd's answer to `dtab`.
pub fn dtab_reply(seqid: i32, result: Result<(&[u8], &str), String>) -> Message {
    reply(
        "dtab",
        seqid,
        result.map(|(stamp, dtab)| {
            Value::Struct(vec![
                (1, Value::Binary(Bytes::copy_from_slice(stamp))),
                (2, Value::string(dtab)),
            ])
        }),
    )
}

/// A `dtab` reply: the stamp and the dtab text.
pub fn read_dtab(m: &Message) -> Result<(Bytes, String), String> {
    let r = result(m)?;
    Ok((
        stamp_of(r.field(1)),
        r.field(2).and_then(Value::as_str).unwrap_or("").to_string(),
    ))
}

/// One node of a delegation, numbered into `nodes` (children first get their ids).
fn delegate_node(t: &DelegateTree<BoundName>, nodes: &mut Vec<(i32, Value)>) -> Value {
    let child = |t: &DelegateTree<BoundName>, nodes: &mut Vec<(i32, Value)>| {
        let id = nodes.len() as i32;
        nodes.push((id, Value::Struct(Vec::new())));
        let node = delegate_node(t, nodes);
        nodes[id as usize].1 = node;
        Value::I32(id)
    };
    let contents = match &t.node {
        Node::Exception(e) => (1, Value::string(e)),
        Node::Empty => (2, void()),
        Node::Fail => (3, void()),
        Node::Neg => (4, void()),
        Node::Delegate(d) => (5, child(d, nodes)),
        Node::Leaf((id, residual)) => (
            6,
            Value::Struct(vec![(1, path_value(id)), (2, path_value(residual))]),
        ),
        Node::Alt(ts) => (
            8,
            Value::List(ttype::I32, ts.iter().map(|t| child(t, nodes)).collect()),
        ),
        Node::Union(ws) => (
            9,
            Value::List(
                ttype::STRUCT,
                ws.iter()
                    .map(|(w, t)| {
                        let id = child(t, nodes);
                        Value::Struct(vec![(1, Value::Double(*w)), (2, id)])
                    })
                    .collect(),
            ),
        ),
    };
    Value::Struct(vec![
        (1, path_value(&t.path)),
        (2, Value::string(&t.dentry.to_string())),
        (3, Value::Struct(vec![contents])),
    ])
}

/// namerd's answer to `delegate`: the explanation, flattened, or why there is none.
pub fn delegation_reply(
    seqid: i32,
    ns: &str,
    result: Result<&DelegateTree<BoundName>, String>,
) -> Message {
    reply(
        "delegate",
        seqid,
        result.map(|tree| {
            let mut nodes = Vec::new();
            let root = delegate_node(tree, &mut nodes);
            Value::Struct(vec![
                (
                    1,
                    Value::Binary(Bytes::from_static(b"\x00\x00\x00\x00\x00\x00\x00\x01")),
                ),
                (
                    2,
                    Value::Struct(vec![
                        (1, root),
                        (
                            2,
                            Value::Map(
                                ttype::I32,
                                ttype::STRUCT,
                                nodes.into_iter().map(|(i, n)| (Value::I32(i), n)).collect(),
                            ),
                        ),
                    ]),
                ),
                (3, Value::string(ns)),
            ])
        }),
    )
}

/// `delegate` as a client calls it: the name as a one-node tree, an empty stamp.
pub fn delegate_call(seqid: i32, dtab: &str, name: &Path, ns: &str) -> Message {
    let root = Value::Struct(vec![
        (1, path_value(name)),
        (2, Value::string("/=>~")),
        (3, Value::Struct(vec![(7, path_value(name))])),
    ]);
    call(
        "delegate",
        seqid,
        Value::Struct(vec![
            (1, Value::string(dtab)),
            (
                2,
                Value::Struct(vec![
                    (1, Value::Binary(Bytes::new())),
                    (
                        2,
                        Value::Struct(vec![
                            (1, root),
                            (2, Value::Map(ttype::I32, ttype::STRUCT, Vec::new())),
                        ]),
                    ),
                    (3, Value::string(ns)),
                ]),
            ),
            (3, path_value(&Path::empty())),
        ]),
    )
}

/// namerd's refusal of a call it cannot serve.
pub fn failure_reply(name: &str, seqid: i32, reason: &str) -> Message {
    reply(name, seqid, Err(reason.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::read(s).unwrap()
    }

    #[test]
    fn requests_and_replies_read_back() {
        let m = Message::decode(&bind_call(7, "/a=>/b", b"s1", &p("/svc/x"), "default").encode())
            .unwrap();
        assert_eq!(
            read_request(&m).unwrap(),
            Request::Bind {
                dtab: "/a=>/b".into(),
                stamp: Bytes::from_static(b"s1"),
                name: p("/svc/x"),
                ns: "default".into()
            }
        );
        let tree: NameTree<BoundName> = NameTree::Union(vec![
            Weighted {
                weight: 0.9,
                tree: NameTree::Leaf((p("/#/io.l5d.fs/a"), p("/r"))),
            },
            Weighted {
                weight: 0.1,
                tree: NameTree::Alt(vec![
                    NameTree::Neg,
                    NameTree::Leaf((p("/$/inet/127.0.0.1/1"), Path::empty())),
                ]),
            },
        ]);
        let r = Message::decode(&bound_reply(7, "default", Ok((b"s2", &tree))).encode()).unwrap();
        assert_eq!(read_bound(&r).unwrap(), (Bytes::from_static(b"s2"), tree));
        let r = Message::decode(&bound_reply(7, "default", Err("no".into())).encode()).unwrap();
        assert_eq!(read_bound(&r).unwrap_err(), "no");

        let addr = Addr::bound([
            Address::new("127.0.0.1:80".parse().unwrap()),
            Address::new("[::1]:81".parse().unwrap()),
        ]);
        let r = Message::decode(&addr_reply(1, Ok((b"a", &addr))).encode()).unwrap();
        assert_eq!(read_addr(&r).unwrap(), (Bytes::from_static(b"a"), addr));
        let r = Message::decode(&addr_reply(1, Ok((b"a", &Addr::Neg))).encode()).unwrap();
        assert_eq!(read_addr(&r).unwrap().1, Addr::Neg);
        let m =
            Message::decode(&addr_call(2, b"", &p("/#/io.l5d.fs/a"), "default").encode()).unwrap();
        assert_eq!(
            read_request(&m).unwrap(),
            Request::Addr {
                stamp: Bytes::new(),
                id: p("/#/io.l5d.fs/a")
            }
        );
        let m =
            Message::decode(&delegate_call(4, "/x=>/y", &p("/svc/a"), "default").encode()).unwrap();
        assert_eq!(
            read_request(&m).unwrap(),
            Request::Delegate {
                dtab: "/x=>/y".into(),
                name: p("/svc/a"),
                ns: "default".into(),
                stamp: Bytes::new()
            }
        );
        let tree = DelegateTree::new(
            p("/svc/a"),
            l5d_core::naming::Dentry::read("/svc=>/#/io.l5d.fs").unwrap(),
            Node::Delegate(Box::new(DelegateTree::new(
                p("/#/io.l5d.fs/a"),
                l5d_core::naming::Dentry::read("/svc=>/#/io.l5d.fs").unwrap(),
                Node::Leaf((p("/#/io.l5d.fs/a"), Path::empty())),
            ))),
        );
        let r = Message::decode(&delegation_reply(4, "default", Ok(&tree)).encode()).unwrap();
        let v = result(&r).unwrap();
        let root = v.field(2).and_then(|t| t.field(1)).unwrap();
        assert_eq!(
            root.field(2).and_then(Value::as_str),
            Some("/svc=>/#/io.l5d.fs")
        );
        let child = root.field(3).and_then(|c| c.field(5)).unwrap();
        assert_eq!(child, &Value::I32(0), "the delegate's child is node 0");
        let r = Message::decode(&dtab_reply(3, Ok((b"d", "/a=>/b"))).encode()).unwrap();
        assert_eq!(
            read_dtab(&r).unwrap(),
            (Bytes::from_static(b"d"), "/a=>/b".into())
        );
    }
}
