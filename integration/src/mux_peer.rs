//! A Finagle-style Mux client and server for end-to-end tests, written here from the
//! spec (`../shared/spec/mux-thrift.md` sections 1.1 to 1.6), with none of linkerd's code:
//! no installable Mux implementation exists besides scales-rpc's ThriftMux client (a
//! mock, then, and said so). Both negotiate as Finagle 21.4 does (the `tinit check` probe,
//! then Tinit/Rinit) and ask for small fragments, so that everything they receive
//! arrives fragmented.
//!
//! The server answers each Tdispatch with a JSON description of what it received (dst,
//! dtab, contexts, body), so a test can see what linkerd forwarded.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TDISPATCH: u8 = 2;
/// Rdispatch's type byte.
pub const RDISPATCH: u8 = 0xfe;
const TPING: u8 = 65;
const RPING: u8 = 0xbf;
const TINIT: u8 = 68;
const RINIT: u8 = 0xbc;
const RERR_LEGACY: u8 = 127;
const RERR: u8 = 0x80;
const TDISCARDED: u8 = 66;
const TDISCARDED_LEGACY: u8 = 0xc2;
/// Rdiscarded's type byte.
pub const RDISCARDED: u8 = 0xbe;
/// Tdrain's type byte.
pub const TDRAIN: u8 = 64;
const RDRAIN: u8 = 0xc0;
const MORE: u32 = 0x80_0000;

/// The fragment size both ends ask their peer for.
pub const FRAGMENT: u32 = 16;

fn write_frame(s: &mut TcpStream, typ: u8, tag: u32, body: &[u8]) {
    let mut f = ((4 + body.len()) as u32).to_be_bytes().to_vec();
    f.push(typ);
    f.extend_from_slice(&tag.to_be_bytes()[1..]);
    f.extend_from_slice(body);
    s.write_all(&f).expect("write a frame");
}

/// Writes a dispatch cut into `FRAGMENT`-byte pieces.
fn write_fragmented(s: &mut TcpStream, typ: u8, tag: u32, body: &[u8]) {
    let chunks: Vec<&[u8]> = body.chunks(FRAGMENT as usize).collect();
    if chunks.is_empty() {
        return write_frame(s, typ, tag, body);
    }
    for (i, c) in chunks.iter().enumerate() {
        let more = if i + 1 < chunks.len() { MORE } else { 0 };
        write_frame(s, typ, tag | more, c);
    }
}

/// Reads one whole message (fragments joined): (type, tag, body); `None` at the end.
fn read_message(s: &mut TcpStream) -> Option<(u8, u32, Vec<u8>)> {
    let mut partial: HashMap<u32, Vec<u8>> = HashMap::new();
    loop {
        let mut size = [0u8; 4];
        s.read_exact(&mut size).ok()?;
        let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
        s.read_exact(&mut frame).ok()?;
        let typ = frame[0];
        let tag = u32::from_be_bytes([0, frame[1], frame[2], frame[3]]);
        let acc = partial.entry(tag & !MORE).or_default();
        acc.extend_from_slice(&frame[4..]);
        if tag & MORE == 0 {
            let body = partial.remove(&tag).unwrap_or_default();
            return Some((typ, tag, body));
        }
    }
}

fn put2(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn take2<'a>(b: &mut &'a [u8]) -> &'a [u8] {
    let n = u16::from_be_bytes([b[0], b[1]]) as usize;
    let v = &b[2..2 + n];
    *b = &b[2 + n..];
    v
}

fn init_body(framer: u32) -> Vec<u8> {
    let mut b = 1u16.to_be_bytes().to_vec();
    for (k, v) in [
        (&b"mux-framer"[..], &framer.to_be_bytes()[..]),
        (&b"tls"[..], &b"off"[..]),
    ] {
        b.extend_from_slice(&(k.len() as u32).to_be_bytes());
        b.extend_from_slice(k);
        b.extend_from_slice(&(v.len() as u32).to_be_bytes());
        b.extend_from_slice(v);
    }
    b
}

/// A Mux server answering every dispatch with what it received, but for dispatches whose
/// body is `hold`, which it never answers.
pub struct MuxServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The tags of the Tdiscarded messages it received.
    pub discards: Arc<Mutex<Vec<u32>>>,
}

impl MuxServer {
    /// Starts the server on a free port (its threads end with the test process).
    pub fn start() -> MuxServer {
        MuxServer::start_with(true)
    }

    /// Starts a server that never answers pings (a server that hangs).
    pub fn start_mute() -> MuxServer {
        MuxServer::start_with(false)
    }

    fn start_with(pings: bool) -> MuxServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let discards = Arc::new(Mutex::new(Vec::new()));
        let d = discards.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let d = d.clone();
                std::thread::spawn(move || serve(s, pings, d));
            }
        });
        MuxServer { addr, discards }
    }
}

fn serve(mut s: TcpStream, pings: bool, discards: Arc<Mutex<Vec<u32>>>) {
    while let Some((typ, tag, body)) = read_message(&mut s) {
        match typ {
            RERR_LEGACY | RERR if body == b"tinit check" => {
                write_frame(&mut s, RERR_LEGACY, tag, &body)
            }
            TINIT => write_frame(&mut s, RINIT, tag, &init_body(FRAGMENT)),
            TPING if pings => write_frame(&mut s, RPING, tag, &[]),
            TDISCARDED | TDISCARDED_LEGACY => {
                let which = u32::from_be_bytes([0, body[0], body[1], body[2]]);
                discards.lock().unwrap().push(which);
                write_frame(&mut s, RDISCARDED, which, &[]);
            }
            TDISPATCH if body.ends_with(b"hold") => {}
            TDISPATCH => {
                let mut b = &body[..];
                let n = u16::from_be_bytes([b[0], b[1]]);
                b = &b[2..];
                let mut contexts = Vec::new();
                for _ in 0..n {
                    let k = String::from_utf8_lossy(take2(&mut b)).into_owned();
                    let v = String::from_utf8_lossy(take2(&mut b)).into_owned();
                    contexts.push((k, v));
                }
                let dst = String::from_utf8_lossy(take2(&mut b)).into_owned();
                let n = u16::from_be_bytes([b[0], b[1]]);
                b = &b[2..];
                let mut dtab = Vec::new();
                for _ in 0..n {
                    let k = String::from_utf8_lossy(take2(&mut b)).into_owned();
                    let v = String::from_utf8_lossy(take2(&mut b)).into_owned();
                    dtab.push(format!("{k}=>{v}"));
                }
                let seen = serde_json::json!({
                    "dst": dst,
                    "dtab": dtab.join(";"),
                    "contexts": contexts,
                    "body": String::from_utf8_lossy(b),
                });
                let mut rsp = vec![0u8, 0, 0];
                rsp.extend_from_slice(seen.to_string().as_bytes());
                write_fragmented(&mut s, RDISPATCH, tag, &rsp);
            }
            _ => {}
        }
    }
}

/// A Mux client session.
pub struct MuxClient {
    stream: TcpStream,
    /// Whether the server negotiated (answered the probe and Tinit).
    pub negotiated: bool,
}

/// A dispatch's reply: status (0 OK, 1 ERROR, 2 NACK) and body.
pub type Reply = (u8, Vec<u8>);

/// A dispatch to send: its dst, its dtab entries and its body.
pub type Request<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

impl MuxClient {
    /// Connects and negotiates as a Finagle client does.
    pub fn connect(addr: SocketAddr) -> MuxClient {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write_frame(&mut stream, RERR_LEGACY, 1, b"tinit check");
        let (_, _, probe) = read_message(&mut stream).expect("an answer to the probe");
        let negotiated = probe == b"tinit check";
        if negotiated {
            write_frame(&mut stream, TINIT, 1, &init_body(FRAGMENT));
            let (typ, _, _) = read_message(&mut stream).expect("Rinit");
            assert_eq!(typ, RINIT, "Tinit is answered with Rinit");
        }
        MuxClient { stream, negotiated }
    }

    /// Sends a Tping on `tag` and waits for its Rping.
    pub fn ping(&mut self, tag: u32) {
        write_frame(&mut self.stream, TPING, tag, &[]);
        let (typ, t, _) = read_message(&mut self.stream).expect("Rping");
        assert_eq!((typ, t), (RPING, tag));
    }

    /// Sends one dispatch on `tag` (no contexts, no dtab) without waiting for a reply.
    pub fn send_dispatch(&mut self, tag: u32, dst: &str, body: &str) {
        let mut b = 0u16.to_be_bytes().to_vec();
        put2(&mut b, dst.as_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(body.as_bytes());
        write_fragmented(&mut self.stream, TDISPATCH, tag, &b);
    }

    /// Abandons the dispatch on `tag` (Tdiscarded, as Finagle sends it, on tag 0).
    pub fn discard(&mut self, tag: u32) {
        let mut b = tag.to_be_bytes()[1..].to_vec();
        b.extend_from_slice(b"Future cancelled");
        write_frame(&mut self.stream, TDISCARDED_LEGACY, 0, &b);
    }

    /// Acknowledges a Tdrain.
    pub fn ack_drain(&mut self) {
        write_frame(&mut self.stream, RDRAIN, 1, &[]);
    }

    /// The next message from linkerd: (type, tag, body), `None` once it closed.
    pub fn read(&mut self) -> Option<(u8, u32, Vec<u8>)> {
        read_message(&mut self.stream)
    }

    /// Sends dispatches on tags 2, 3, ... (each with `contexts`, `dst`, `dtab`, body),
    /// all before reading any reply; the replies by tag.
    pub fn dispatch_all(
        &mut self,
        contexts: &[(&str, &str)],
        requests: &[Request<'_>],
    ) -> HashMap<u32, Reply> {
        for (i, (dst, dtab, body)) in requests.iter().enumerate() {
            let mut b = (contexts.len() as u16).to_be_bytes().to_vec();
            for (k, v) in contexts {
                put2(&mut b, k.as_bytes());
                put2(&mut b, v.as_bytes());
            }
            put2(&mut b, dst.as_bytes());
            b.extend_from_slice(&(dtab.len() as u16).to_be_bytes());
            for (k, v) in dtab.iter() {
                put2(&mut b, k.as_bytes());
                put2(&mut b, v.as_bytes());
            }
            b.extend_from_slice(body.as_bytes());
            write_fragmented(&mut self.stream, TDISPATCH, 2 + i as u32, &b);
        }
        let mut replies = HashMap::new();
        while replies.len() < requests.len() {
            let (typ, tag, body) = read_message(&mut self.stream).expect("a reply");
            assert_eq!(typ, RDISPATCH, "an Rdispatch, not {typ}");
            let mut b = &body[1..];
            let n = u16::from_be_bytes([b[0], b[1]]);
            b = &b[2..];
            for _ in 0..n {
                take2(&mut b);
                take2(&mut b);
            }
            replies.insert(tag, (body[0], b.to_vec()));
        }
        replies
    }
}
