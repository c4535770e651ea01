//! The mux and thriftmux routers end to end: real linkerd; scales-rpc (a third-party
//! ThriftMux client from PyPI) and Apache Thrift's Python server behind the thriftmux
//! router; a Finagle-style Mux client and server written in the test harness from the spec
//! (`l5d_integration::mux_peer`: no installable Mux server exists) around the mux router.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use l5d_integration::mux_peer::{MuxClient, MuxServer, RDISCARDED, RDISPATCH};
use l5d_integration::thrift_peers::{
    call, scales_call, ttwitter_call, Lang, Outcome, Proto, ThriftServer, Transport,
};
use l5d_integration::{eventually, Linkerd};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");

fn thriftmux(server: &ThriftServer, extra: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: thriftmux\n  label: tm\n  experimental: true\n  dtab: /svc => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n{extra}",
        server.addr.port()
    );
    Linkerd::start_router(Path::new(BIN), &yaml, "tm", "thriftmux")
}

#[test]
fn scales_calls_through_the_thriftmux_router_to_a_thrift_server() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = thriftmux(&py, "");
    let (got, _) = scales_call(
        l.addr,
        10.0,
        false,
        &[
            "ping:hi",
            "ping:raise",
            "ping:crash",
            "fire:x",
            "fired",
            "ping:after",
        ],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:hi"));
    assert_eq!(got[1], Outcome::Declared("asked to raise".into()));
    match &got[2] {
        Outcome::AppError { r#type, .. } => assert_eq!(*r#type, 6),
        other => panic!("{other:?}"),
    }
    // scales sends a oneway call as a dispatch on tag 0 and reports its own EOFError for
    // it (it tries to read a result there is none of); the call arrives all the same.
    assert_eq!(got[4], Outcome::Ok(serde_json::json!(["x"])));
    assert_eq!(got[5], Outcome::ok("py:pong:after"));
    let m = l.metrics();
    assert_eq!(m["rt/tm/service/svc/requests"], 6, "{m}");
    let server = format!("rt/tm/server/127.0.0.1/{}/requests", l.addr.port());
    assert_eq!(m[&server], 6, "{m}");
}

#[test]
fn four_concurrent_scales_calls_are_answered_in_the_order_they_finish() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = thriftmux(&py, "");
    let calls = [
        "ping:sleep:2000:a",
        "ping:sleep:1500:b",
        "ping:sleep:1000:c",
        "ping:sleep:500:d",
    ];
    let (got, arrived) = scales_call(l.addr, 20.0, true, &calls);
    for (c, o) in calls.iter().zip(&got) {
        assert_eq!(o, &Outcome::ok(&format!("py:pong:{}", &c[5..])));
    }
    let mut reversed = calls.to_vec();
    reversed.reverse();
    assert_eq!(arrived, reversed, "replies come back as the calls finish");
}

#[test]
fn a_scales_timeout_discards_the_dispatch_and_cancels_the_backend_call() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = thriftmux(&py, "");
    let (got, _) = scales_call(l.addr, 0.5, false, &["ping:sleep:30000"]);
    assert!(
        matches!(&got[0], Outcome::TransportError(e) if e.contains("Timeout")),
        "{got:?}"
    );
    // The backend still sleeps; linkerd has dropped the call and its connection.
    let client = format!("rt/tm/client/$/inet/127.0.0.1/{}", py.addr.port());
    eventually(
        "the discarded call to be cancelled",
        Duration::from_secs(20),
        || {
            let m = l.metrics();
            (m["rt/tm/service/svc/pending"] == 0.0 && m[format!("{client}/connections")] == 0.0)
                .then_some(())
        },
    );
    let (got, _) = scales_call(l.addr, 10.0, false, &["ping:next"]);
    assert_eq!(got[0], Outcome::ok("py:pong:next"));
}

#[test]
fn plain_thrift_and_ttwitter_clients_on_a_thriftmux_port_are_served() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = thriftmux(&py, "");
    let got = call(
        Lang::Python,
        l.addr,
        Transport::Framed,
        Proto::Binary,
        &["ping:plain", "ping:raise"],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:plain"));
    assert_eq!(got[1], Outcome::Declared("asked to raise".into()));
    let got = call(
        Lang::Node,
        l.addr,
        Transport::Framed,
        Proto::Binary,
        &["ping:node"],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:node"));
    let got = ttwitter_call(l.addr, None, None, &["ping:tt"]);
    assert_eq!(got[0], Outcome::ok("py:pong:tt"));
}

fn mux_linkerd(dtab: &str) -> Linkerd {
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: mux\n  dtab: {dtab}\n  servers:\n  - port: 0\n"
    );
    Linkerd::start_router(Path::new(BIN), &yaml, "mux", "mux")
}

fn seen(reply: &(u8, Vec<u8>)) -> serde_json::Value {
    assert_eq!(reply.0, 0, "OK: {}", String::from_utf8_lossy(&reply.1));
    serde_json::from_slice(&reply.1).unwrap()
}

#[test]
fn a_mux_client_routes_through_the_mux_router_with_its_dst_and_dtab() {
    let upstream = MuxServer::start();
    let l = mux_linkerd(&format!(
        "/svc/users => /$/inet/127.0.0.1/{}/v1;",
        upstream.addr.port()
    ));
    let mut c = MuxClient::connect(l.addr);
    assert!(c.negotiated, "linkerd answers the probe and Tinit");
    c.ping(1);
    let body = "x".repeat(100);
    let over: &[(&str, &str)] = &[("/svc/other", "/svc/users")];
    let replies = c.dispatch_all(
        &[("com.twitter.finagle.thrift.ClientIdContext", "harness")],
        &[
            ("/users/list", &[], &body),
            ("/other", over, "via the caller's dtab"),
            ("/nowhere", &[], "unroutable"),
        ],
    );
    // The bound name's residual is the new dst; contexts and payload pass through.
    let first = seen(&replies[&2]);
    assert_eq!(first["dst"], "/v1/list");
    assert_eq!(first["body"], body.as_str());
    assert_eq!(
        first["contexts"],
        serde_json::json!([["com.twitter.finagle.thrift.ClientIdContext", "harness"]])
    );
    // The caller's dtab routed /svc/other, and travels on.
    let second = seen(&replies[&3]);
    assert_eq!(second["dst"], "/v1");
    assert_eq!(second["dtab"], "/svc/other=>/svc/users");
    // A name linkerd cannot route is an ERROR reply; the session goes on.
    let (status, why) = &replies[&4];
    assert_eq!(*status, 1);
    assert!(
        String::from_utf8_lossy(why).contains("/svc/nowhere"),
        "{}",
        String::from_utf8_lossy(why)
    );
    c.ping(7);
    let again = c.dispatch_all(&[], &[("/users", &[], "again")]);
    assert_eq!(seen(&again[&2])["dst"], "/v1");

    let m = l.metrics();
    assert_eq!(m["rt/mux/service/svc/users/list/requests"], 1, "{m}");
    assert_eq!(m["rt/mux/service/svc/nowhere/failures"], 1, "{m}");
    let client = format!("rt/mux/client/$/inet/127.0.0.1/{}", upstream.addr.port());
    assert_eq!(
        m[format!("{client}/connects")],
        1,
        "one multiplexed session: {m}"
    );
    assert_eq!(m[format!("{client}/requests")], 3, "{m}");
}

#[test]
fn a_malformed_mux_frame_ends_that_session_only() {
    let upstream = MuxServer::start();
    let l = mux_linkerd(&format!(
        "/svc => /$/inet/127.0.0.1/{};",
        upstream.addr.port()
    ));
    let mut bad = std::net::TcpStream::connect(l.addr).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Type 0 does not exist: Finagle ends the session, and so does linkerd.
    bad.write_all(b"\x00\x00\x00\x04\x00\x00\x00\x01").unwrap();
    let mut rest = Vec::new();
    assert_eq!(bad.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    let mut c = MuxClient::connect(l.addr);
    let replies = c.dispatch_all(&[], &[("/x", &[], "fine")]);
    assert_eq!(seen(&replies[&2])["body"], "fine");
}

#[test]
fn a_discarded_dispatch_is_discarded_upstream_too() {
    let upstream = MuxServer::start();
    let l = mux_linkerd(&format!(
        "/svc => /$/inet/127.0.0.1/{};",
        upstream.addr.port()
    ));
    let mut c = MuxClient::connect(l.addr);
    c.send_dispatch(2, "/x", "hold");
    // Once linkerd has forwarded it, the caller gives up on it.
    let client = format!("rt/mux/client/$/inet/127.0.0.1/{}", upstream.addr.port());
    eventually(
        "the dispatch to reach upstream",
        Duration::from_secs(20),
        || (l.metrics()[format!("{client}/pending")] == 1.0).then_some(()),
    );
    c.discard(2);
    let (typ, tag, _) = c.read().expect("an answer to the discard");
    assert_eq!((typ, tag), (RDISCARDED, 2));
    eventually("upstream to be told", Duration::from_secs(20), || {
        (!upstream.discards.lock().unwrap().is_empty()).then_some(())
    });
    // The tag is free again, and the session serves on.
    let replies = c.dispatch_all(&[], &[("/x", &[], "after")]);
    assert_eq!(seen(&replies[&2])["body"], "after");
}

#[test]
fn dispatches_beyond_max_concurrent_requests_are_nacked() {
    let upstream = MuxServer::start();
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: mux\n  dtab: /svc => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n    maxConcurrentRequests: 1\n",
        upstream.addr.port()
    );
    let l = Linkerd::start_router(Path::new(BIN), &yaml, "mux", "mux");
    let mut c = MuxClient::connect(l.addr);
    c.send_dispatch(2, "/x", "hold");
    c.send_dispatch(3, "/x", "one too many");
    let (typ, tag, body) = c.read().expect("a reply");
    assert_eq!((typ, tag, body[0]), (RDISPATCH, 3, 2), "NACK");
    c.discard(2);
    let (typ, tag, _) = c.read().expect("an answer to the discard");
    assert_eq!((typ, tag), (RDISCARDED, 2));
    let replies = c.dispatch_all(&[], &[("/x", &[], "admitted")]);
    assert_eq!(seen(&replies[&2])["body"], "admitted");
}

#[test]
fn an_upstream_that_stops_answering_pings_fails_its_dispatches() {
    let upstream = MuxServer::start_mute();
    let l = mux_linkerd(&format!(
        "/svc => /$/inet/127.0.0.1/{};",
        upstream.addr.port()
    ));
    let mut c = MuxClient::connect(l.addr);
    c.send_dispatch(2, "/x", "hold");
    // linkerd pings its sessions every few seconds and gives up on a silent one.
    let (typ, tag, body) = c.read().expect("a reply");
    assert_eq!((typ, tag, body[0]), (RDISPATCH, 2, 1), "ERROR");
    let why = String::from_utf8_lossy(&body);
    assert!(why.contains("pings"), "{why}");
}

#[test]
fn shutdown_drains_mux_sessions() {
    let upstream = MuxServer::start();
    let l = mux_linkerd(&format!(
        "/svc => /$/inet/127.0.0.1/{};",
        upstream.addr.port()
    ));
    let mut c = MuxClient::connect(l.addr);
    let replies = c.dispatch_all(&[], &[("/x", &[], "before")]);
    assert_eq!(seen(&replies[&2])["body"], "before");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            &format!("http://{}/admin/shutdown", l.admin),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (typ, _, _) = c.read().expect("Tdrain");
    assert_eq!(typ, l5d_integration::mux_peer::TDRAIN);
    c.ack_drain();
    assert!(c.read().is_none(), "the session closes once drained");
    let done = l.process.wait(Duration::from_secs(30));
    assert!(done.status.success(), "{}", done.stderr);
}

#[test]
fn a_thriftmux_router_can_speak_thriftmux_to_its_backends() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    // The backend: a thriftmux router in front of the Thrift server, the only ThriftMux
    // server there is to install.
    let backend = thriftmux(&py, "");
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: thriftmux\n  label: front\n  experimental: true\n  clientProtocol: thriftmux\n  thriftMethodInDst: true\n  dtab: /svc/ping => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n",
        backend.addr.port()
    );
    let front = Linkerd::start_router(Path::new(BIN), &yaml, "front", "thriftmux");
    let (got, _) = scales_call(front.addr, 10.0, false, &["ping:muxed", "ping:raise"]);
    assert_eq!(got[0], Outcome::ok("py:pong:muxed"));
    assert_eq!(got[1], Outcome::Declared("asked to raise".into()));
    // A plain Thrift client on the front port goes on as ThriftMux too.
    let got = call(
        Lang::Python,
        front.addr,
        Transport::Framed,
        Proto::Binary,
        &["ping:plain", "fired"],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:plain"));
    match &got[1] {
        Outcome::AppError { message, .. } => assert!(message.contains("/svc/fired"), "{message}"),
        other => panic!("{other:?}"),
    }
    let m = front.metrics();
    let client = format!("rt/front/client/$/inet/127.0.0.1/{}", backend.addr.port());
    assert_eq!(m[format!("{client}/connects")], 1, "one session: {m}");
    assert_eq!(m[format!("{client}/requests")], 3, "{m}");
    let b = backend.metrics();
    assert_eq!(b["rt/tm/service/svc/requests"], 3, "{b}");
}
