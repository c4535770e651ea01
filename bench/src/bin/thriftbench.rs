//! The Thrift benchmark's two ends, with nothing but std (one thread per connection):
//!
//! * `thriftbench serve PORT`: a framed-binary Thrift backend that answers every call
//!   with the same small reply (its method name and seqid echoed), as fast as a socket
//!   allows, so the proxy in front of it is what is measured;
//! * `thriftbench load ADDR CONNECTIONS SECONDS`: a closed-loop client: each connection
//!   sends a framed `ping` call with a 1 KiB argument and waits for its reply; prints
//!   calls per second and latency percentiles;
//! * `thriftbench muxload ADDR CONNECTIONS SECONDS`: the same calls as ThriftMux
//!   dispatches (one session per connection, no handshake, as scales-rpc sends them).
//!
//! Written here because no packaged Thrift load generator exists; Apache's libraries
//! would measure Python's speed rather than the proxy's.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    buf.resize(u32::from_be_bytes(len) as usize, 0);
    s.read_exact(buf)
}

fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    eprintln!("listening on {}", listener.local_addr().unwrap());
    for s in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut s = s;
            let _ = s.set_nodelay(true);
            let mut call = Vec::new();
            while read_frame(&mut s, &mut call).is_ok() {
                // REPLY with the call's name and seqid, then `success: "pong"`.
                if call.len() < 12 {
                    return;
                }
                let n = u32::from_be_bytes(call[4..8].try_into().unwrap()) as usize;
                let head = &call[4..12 + n];
                let mut reply = Vec::with_capacity(32 + n);
                reply.extend_from_slice(&[0, 0, 0, 0, 0x80, 1, 0, 2]);
                reply.extend_from_slice(head);
                reply.extend_from_slice(b"\x0b\x00\x00\x00\x00\x00\x04pong\x00");
                let len = (reply.len() - 4) as u32;
                reply[..4].copy_from_slice(&len.to_be_bytes());
                if s.write_all(&reply).is_err() {
                    return;
                }
            }
        });
    }
}

fn ping_call(seqid: i32) -> Vec<u8> {
    let mut m = vec![0x80, 1, 0, 1, 0, 0, 0, 4];
    m.extend_from_slice(b"ping");
    m.extend_from_slice(&seqid.to_be_bytes());
    m.extend_from_slice(&[0x0b, 0, 1]);
    m.extend_from_slice(&1024u32.to_be_bytes());
    m.extend_from_slice(&[b'x'; 1024]);
    m.push(0);
    let mut f = (m.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&m);
    f
}

/// The call as a ThriftMux dispatch on tag 2: no contexts, dst or dtab.
fn mux_call(seqid: i32) -> Vec<u8> {
    let thrift = ping_call(seqid);
    let mut body = vec![0u8; 6];
    body.extend_from_slice(&thrift[4..]);
    let mut f = ((4 + body.len()) as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&[2, 0, 0, 2]);
    f.extend_from_slice(&body);
    f
}

fn load(addr: &str, connections: usize, seconds: u64, mux: bool) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let addr = addr.to_string();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                let _ = s.set_nodelay(true);
                let mut lat = Vec::new();
                let mut buf = Vec::new();
                let mut seqid = 0;
                while !stop.load(Ordering::Relaxed) {
                    seqid += 1;
                    let t = Instant::now();
                    if mux {
                        s.write_all(&mux_call(seqid)).expect("write");
                        read_frame(&mut s, &mut buf).expect("reply");
                        // Rdispatch on tag 2, status OK, no contexts, then the reply.
                        assert_eq!(&buf[..5], b"\xfe\x00\x00\x02\x00", "an OK Rdispatch");
                        assert_eq!(&buf[7..11], b"\x80\x01\x00\x02", "a REPLY");
                    } else {
                        s.write_all(&ping_call(seqid)).expect("write");
                        read_frame(&mut s, &mut buf).expect("reply");
                        assert_eq!(&buf[..4], b"\x80\x01\x00\x02", "a REPLY");
                    }
                    lat.push(t.elapsed().as_micros() as u64);
                }
                lat
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    println!(
        "calls/s {:.0} p50 {}us p90 {}us p99 {}us",
        all.len() as f64 / seconds as f64,
        p(0.5),
        p(0.9),
        p(0.99)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(args[2].parse().expect("a port")),
        Some(mode @ ("load" | "muxload")) => load(
            &args[2],
            args[3].parse().expect("connections"),
            args[4].parse().expect("seconds"),
            mode == "muxload",
        ),
        _ => {
            eprintln!(
                "usage: thriftbench serve PORT | thriftbench load|muxload ADDR CONNECTIONS SECONDS"
            );
            std::process::exit(2);
        }
    }
}
