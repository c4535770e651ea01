//! The Thrift router end to end: real linkerd, real Thrift peers nobody here wrote
//! (Apache Thrift's Python and Node.js libraries, twitter.common.rpc's TTwitter client),
//! installed by `integration/thrift/install.sh`; raw sockets for what no client sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use l5d_integration::thrift_peers::{
    call, call_concurrently, call_with, ttwitter_call, Lang, Outcome, Proto, ThriftServer,
    Transport,
};
use l5d_integration::{eventually, http_get, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");

/// One thrift router entry, labelled `label`, with `dtab` and extra router keys.
fn router(label: &str, dtab: &str, transport: Transport, proto: Proto, extra: &str) -> String {
    let framed = transport == Transport::Framed;
    format!(
        "- protocol: thrift\n  label: {label}\n  thriftProtocol: {}\n  dtab: {dtab}\n  servers:\n  - port: 0\n    thriftFramed: {framed}\n  client:\n    thriftFramed: {framed}\n{extra}",
        proto.arg()
    )
}

fn linkerd(routers: &[String], first: &str) -> Linkerd {
    let yaml = format!("admin:\n  port: 0\nrouters:\n{}", routers.concat());
    Linkerd::start_router(Path::new(BIN), &yaml, first, "thrift")
}

fn to(server: &ThriftServer) -> String {
    format!("/svc => /$/inet/127.0.0.1/{};", server.addr.port())
}

fn app_error(o: &Outcome) -> (i32, String) {
    match o {
        Outcome::AppError { r#type, message } => (*r#type, message.clone()),
        other => panic!("expected a TApplicationException, got {other:?}"),
    }
}

#[test]
fn python_and_node_talk_through_linkerd_in_every_transport_and_protocol() {
    for transport in [Transport::Framed, Transport::Buffered] {
        for proto in [Proto::Binary, Proto::Compact] {
            let py = ThriftServer::start(Lang::Python, transport, proto, "py");
            let node = ThriftServer::start(Lang::Node, transport, proto, "node");
            let mut l = linkerd(
                &[
                    router("to-py", &to(&py), transport, proto, ""),
                    router("to-node", &to(&node), transport, proto, ""),
                ],
                "to-py",
            );
            let to_node = l.addr_of("to-node", "thrift");
            let calls = ["ping:hi", "ping:raise", "ping:crash", "fire:x", "fired"];
            let what = format!("{transport:?}/{proto:?}");

            // A Node client to a Python server.
            let got = call(Lang::Node, l.addr, transport, proto, &calls);
            assert_eq!(got[0], Outcome::ok("py:pong:hi"), "{what}");
            assert_eq!(got[1], Outcome::Declared("asked to raise".into()), "{what}");
            assert_eq!(app_error(&got[2]), (6, "Internal error".into()), "{what}");
            assert_eq!(got[3], Outcome::Ok(serde_json::Value::Null), "{what}");
            assert_eq!(got[4], Outcome::Ok(serde_json::json!(["x"])), "{what}");

            // A Python client to a Node server.
            let got = call(Lang::Python, to_node, transport, proto, &calls);
            assert_eq!(got[0], Outcome::ok("node:pong:hi"), "{what}");
            assert_eq!(got[1], Outcome::Declared("asked to raise".into()), "{what}");
            // Node's server maps a thrown Error to type 0 (UNKNOWN) with its message.
            assert_eq!(app_error(&got[2]), (0, "asked to crash".into()), "{what}");
            assert_eq!(got[4], Outcome::Ok(serde_json::json!(["x"])), "{what}");

            let m = l.metrics();
            assert_eq!(m["rt/to-py/service/svc/requests"], 5, "{what}: {m}");
            assert_eq!(m["rt/to-py/service/svc/success"], 5, "{what}");
            let client = format!("rt/to-py/client/$/inet/127.0.0.1/{}", py.addr.port());
            assert_eq!(m[format!("{client}/requests")], 5, "{what}");
            assert_eq!(
                m[format!("{client}/connects")],
                1,
                "{what}: one pooled connection"
            );
        }
    }
}

#[test]
fn non_strict_binary_headers_pass_through() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = linkerd(
        &[router(
            "thrift",
            &to(&py),
            Transport::Framed,
            Proto::Binary,
            "",
        )],
        "thrift",
    );
    let got = call_with(
        l.addr,
        Transport::Framed,
        Proto::Binary,
        &["--old-binary"],
        &["ping:old", "ping:raise"],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:old"));
    assert_eq!(got[1], Outcome::Declared("asked to raise".into()));
}

#[test]
fn concurrent_clients_each_get_their_own_replies() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = linkerd(
        &[router(
            "thrift",
            &to(&py),
            Transport::Framed,
            Proto::Binary,
            "",
        )],
        "thrift",
    );
    // Python clients always send seqid 0, so only the order of replies on each
    // connection tells them apart.
    let calls = [
        "ping:sleep:30:{conn}:a",
        "ping:{conn}:b",
        "ping:sleep:10:{conn}:c",
    ];
    for lang in [Lang::Python, Lang::Node] {
        let all = call_concurrently(lang, l.addr, Transport::Framed, Proto::Binary, 8, &calls);
        assert_eq!(all.len(), 8);
        for (i, got) in all.iter().enumerate() {
            assert_eq!(
                got,
                &[
                    Outcome::ok(&format!("py:pong:sleep:30:{i}:a")),
                    Outcome::ok(&format!("py:pong:{i}:b")),
                    Outcome::ok(&format!("py:pong:sleep:10:{i}:c")),
                ],
                "{lang:?} connection {i}"
            );
        }
    }
}

#[test]
fn ttwitter_clients_are_upgraded_and_routed_by_dest_and_delegations() {
    let a = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "a");
    let b = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "b");
    let dtab = format!("/svc/users => /$/inet/127.0.0.1/{};", a.addr.port());
    let l = linkerd(
        &[router(
            "thrift",
            &dtab,
            Transport::Framed,
            Proto::Binary,
            "",
        )],
        "thrift",
    );
    // `dest` names the call: /svc ++ /users.
    let got = ttwitter_call(l.addr, Some("/users"), None, &["ping:hi", "ping:raise"]);
    assert_eq!(got[0], Outcome::ok("a:pong:hi"));
    assert_eq!(got[1], Outcome::Declared("asked to raise".into()));
    // Its delegations are this call's own dtab.
    let over = format!("/svc/users=>/$/inet/127.0.0.1/{}", b.addr.port());
    let got = ttwitter_call(l.addr, Some("/users"), Some(&over), &["ping:hi"]);
    assert_eq!(got[0], Outcome::ok("b:pong:hi"));
    // Without a dest the name is /svc, which the dtab does not route; the connection
    // stays usable.
    let got = ttwitter_call(l.addr, None, None, &["ping:one", "ping:two"]);
    for o in &got {
        let (kind, message) = app_error(o);
        assert_eq!(kind, 6);
        assert!(message.contains("/svc"), "{message}");
    }
    let m = l.metrics();
    assert_eq!(m["rt/thrift/service/svc/users/requests"], 3, "{m}");
}

#[test]
fn linkerd_upgrades_backends_that_accept_and_speaks_plainly_to_those_that_refuse() {
    let server = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "s");
    // The incoming linkerd routes by dest: it only sees one if the outgoing linkerd
    // upgraded its connection and forwarded the caller's header.
    let dtab = format!("/svc/users => /$/inet/127.0.0.1/{};", server.addr.port());
    let incoming = linkerd(
        &[router("in", &dtab, Transport::Framed, Proto::Binary, "")],
        "in",
    );
    let upgrade = "    attemptTTwitterUpgrade: true\n";
    let dtab = format!("/svc/users => /$/inet/127.0.0.1/{};", incoming.addr.port());
    let outgoing = linkerd(
        &[router(
            "out",
            &dtab,
            Transport::Framed,
            Proto::Binary,
            upgrade,
        )],
        "out",
    );
    let got = ttwitter_call(
        outgoing.addr,
        Some("/users"),
        None,
        &["ping:hop", "ping:raise"],
    );
    assert_eq!(got[0], Outcome::ok("s:pong:hop"));
    assert_eq!(got[1], Outcome::Declared("asked to raise".into()));

    // A plain Apache server refuses the upgrade; calls go on unupgraded.
    let direct = linkerd(
        &[router(
            "direct",
            &to(&server),
            Transport::Framed,
            Proto::Binary,
            upgrade,
        )],
        "direct",
    );
    let got = call(
        Lang::Python,
        direct.addr,
        Transport::Framed,
        Proto::Binary,
        &["ping:plain", "fire:y", "fired"],
    );
    assert_eq!(got[0], Outcome::ok("s:pong:plain"));
    assert_eq!(got[2], Outcome::Ok(serde_json::json!(["y"])));
}

#[test]
fn multiplexed_names_route_by_service_and_method() {
    let server = ThriftServer::start_multiplexed(Transport::Framed, Proto::Binary, "m");
    let dtab = format!(
        "/svc/PingService/ping => /$/inet/127.0.0.1/{};",
        server.addr.port()
    );
    let l = linkerd(
        &[router(
            "thrift",
            &dtab,
            Transport::Framed,
            Proto::Binary,
            "  thriftMethodInDst: true\n",
        )],
        "thrift",
    );
    let got = call_with(
        l.addr,
        Transport::Framed,
        Proto::Binary,
        &["--multiplexed"],
        &["ping:hi", "fired", "ping:again"],
    );
    assert_eq!(got[0], Outcome::ok("m:pong:hi"));
    let (kind, message) = app_error(&got[1]);
    assert_eq!(kind, 6);
    assert!(message.contains("/svc/PingService/fired"), "{message}");
    assert_eq!(got[2], Outcome::ok("m:pong:again"));
}

/// Makes `calls` on one connection to `server` through `l`: the one whose message
/// starts with `close` or `sleep` fails with an exception saying `why` and counted as
/// `exception` in the client's failures, every other one is answered; the metrics.
fn one_call_fails(
    l: &Linkerd,
    server: &ThriftServer,
    calls: &[&str],
    why: &str,
    exception: &str,
) -> serde_json::Value {
    let got = call(
        Lang::Python,
        l.addr,
        Transport::Framed,
        Proto::Binary,
        calls,
    );
    for (c, o) in calls.iter().zip(&got) {
        let msg = &c["ping:".len()..];
        if msg.starts_with("close") || msg.starts_with("sleep") {
            let (kind, message) = app_error(o);
            assert_eq!(kind, 6);
            assert!(message.contains(why), "{message}");
        } else {
            assert_eq!(o, &Outcome::ok(&format!("py:pong:{msg}")));
        }
    }
    let m = l.metrics();
    let client = format!("rt/thrift/client/$/inet/127.0.0.1/{}", server.addr.port());
    assert_eq!(m[format!("{client}/failures/{exception}")], 1, "{m}");
    m
}

#[test]
fn a_backend_that_closes_mid_call_fails_that_call_only() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = linkerd(
        &[router(
            "thrift",
            &to(&py),
            Transport::Framed,
            Proto::Binary,
            "",
        )],
        "thrift",
    );
    let m = one_call_fails(
        &l,
        &py,
        &["ping:before", "ping:close", "ping:after"],
        "closed",
        "com.twitter.finagle.ChannelClosedException",
    );
    assert_eq!(m["rt/thrift/service/svc/failures"], 1);
}

/// `ping("hi")`, seqid 0, strict binary (../shared/spec/mux-thrift.md section 3.4).
const PING: &[u8] =
    b"\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x02hi\x00";

fn framed(message: &[u8]) -> Vec<u8> {
    let mut f = (message.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(message);
    f
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("a reply frame");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).expect("the whole reply");
    body
}

/// The type of a `TApplicationException` reply (strict binary) and its message.
fn exception_of(reply: &[u8]) -> (i32, i32, String) {
    assert_eq!(
        &reply[..4],
        b"\x80\x01\x00\x03",
        "an EXCEPTION message: {reply:?}"
    );
    let name_len = u32::from_be_bytes(reply[4..8].try_into().unwrap()) as usize;
    let at = 8 + name_len;
    let seqid = i32::from_be_bytes(reply[at..at + 4].try_into().unwrap());
    let text = String::from_utf8_lossy(&reply[at + 4..]).into_owned();
    let kind = i32::from_be_bytes(reply[reply.len() - 5..reply.len() - 1].try_into().unwrap());
    (seqid, kind, text)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn malformed_and_oversized_frames_get_an_exception_and_nothing_else_breaks() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let mut l = linkerd(
        &[
            router("thrift", &to(&py), Transport::Framed, Proto::Binary, ""),
            router("buffered", &to(&py), Transport::Buffered, Proto::Binary, ""),
        ],
        "thrift",
    );
    let buffered = l.addr_of("buffered", "thrift");

    // A frame that is not Thrift: a protocol error, and the next frame is served.
    let mut s = connect(l.addr);
    s.write_all(&framed(b"\xffnot thrift")).unwrap();
    let (_, kind, text) = exception_of(&read_frame(&mut s));
    assert_eq!(kind, 7, "PROTOCOL_ERROR");
    assert!(text.contains("not a Thrift message"), "{text}");
    s.write_all(&framed(PING)).unwrap();
    let reply = read_frame(&mut s);
    assert!(String::from_utf8_lossy(&reply).contains("py:pong:hi"));
    drop(s);

    // A frame larger than linkerd accepts: its call is answered, then the connection
    // closes (the rest of the frame is never read).
    let mut s = connect(l.addr);
    let mut big = 0x7fff_fff0u32.to_be_bytes().to_vec();
    big.extend_from_slice(b"\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x00\x07");
    s.write_all(&big).unwrap();
    let (seqid, kind, text) = exception_of(&read_frame(&mut s));
    assert_eq!((seqid, kind), (7, 7));
    assert!(text.contains("larger than"), "{text}");
    let mut rest = Vec::new();
    assert_eq!(
        s.read_to_end(&mut rest).unwrap_or(0),
        0,
        "the connection closes"
    );
    drop(s);

    // Garbage on a buffered connection: answered, then closed (no frame to skip to).
    let mut s = connect(buffered);
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let (_, kind, _) = exception_of(&reply);
    assert_eq!(kind, 7);
    drop(s);

    // A client that vanishes half way through a call.
    let mut s = connect(l.addr);
    s.write_all(&framed(PING)[..10]).unwrap();
    drop(s);

    // Through all of it, other clients are served.
    let got = call(
        Lang::Python,
        l.addr,
        Transport::Framed,
        Proto::Binary,
        &["ping:ok"],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:ok"));
    let m = eventually(
        "the server's connections to close",
        Duration::from_secs(20),
        || {
            let m = l.metrics();
            let server = format!("rt/thrift/server/127.0.0.1/{}/connections", l.addr.port());
            (m[&server] == 0.0).then_some(m)
        },
    );
    assert_eq!(m["rt/thrift/service/svc/requests"], 2, "{m}");
}

#[test]
fn an_http_router_and_a_thrift_router_serve_in_one_process() {
    let web = PythonBackend::start("web");
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let yaml = format!(
        "admin:\n  port: 0\nrouters:\n- protocol: http\n  dtab: /svc => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n{}",
        web.addr.port(),
        router("thrift", &to(&py), Transport::Framed, Proto::Binary, "")
    );
    let mut l = Linkerd::start(Path::new(BIN), &yaml, "http");
    let thrift = l.addr_of("thrift", "thrift");
    for _ in 0..3 {
        let (status, _, body) = http_get(l.addr, "/", &[("Host", "web")]);
        assert_eq!(status, 200, "{body}");
        let got = call(
            Lang::Python,
            thrift,
            Transport::Framed,
            Proto::Binary,
            &["ping:x"],
        );
        assert_eq!(got[0], Outcome::ok("py:pong:x"));
    }
    let m = l.metrics();
    assert_eq!(m["rt/http/service/svc/web/requests"], 3, "{m}");
    assert_eq!(m["rt/thrift/service/svc/requests"], 3, "{m}");
    let (status, _, body) = http_get(l.admin, "/client_state.json", &[]);
    assert_eq!(status, 200);
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = format!("/$/inet/127.0.0.1/{}", py.addr.port());
    assert_eq!(state[&id]["state"], "bound", "{state}");
}

/// `examples/thrift.yaml` runs as written (ports and the namer's root aside): its Thrift
/// router names calls by method and finds the `thrift` service's instances in the fs
/// namer, through an upgrade attempt the Apache server refuses.
#[test]
fn the_thrift_example_routes_calls_by_method_through_the_fs_namer() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let disco = l5d_integration::temp_dir("thrift-example-disco");
    std::fs::write(
        disco.join("thrift"),
        format!("127.0.0.1 {}\n", py.addr.port()),
    )
    .unwrap();
    let text = std::fs::read_to_string(format!("{root}/examples/thrift.yaml")).unwrap();
    let yaml = text
        .replace(
            "rootDir: examples/disco",
            &format!("rootDir: {}", disco.display()),
        )
        .replace("port: 9990", "port: 0")
        .replace("port: 4140", "port: 0")
        .replace("port: 4114", "port: 0");
    let mut l = Linkerd::start(Path::new(BIN), &yaml, "http");
    let thrift = l.addr_of("thrift", "thrift");
    let got = call(
        Lang::Python,
        thrift,
        Transport::Framed,
        Proto::Binary,
        &["ping:example", "fired"],
    );
    assert_eq!(got[0], Outcome::ok("py:pong:example"));
    assert_eq!(got[1], Outcome::Ok(serde_json::json!([])));
    let m = l.metrics();
    assert_eq!(m["rt/thrift/service/svc/ping/requests"], 1, "{m}");
    assert_eq!(m["rt/thrift/client/#/io.l5d.fs/thrift/requests"], 2, "{m}");
}

#[test]
fn a_slow_backend_times_out_the_call_and_the_connection_stays_usable() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "py");
    let l = linkerd(
        &[router(
            "thrift",
            &to(&py),
            Transport::Framed,
            Proto::Binary,
            "    requestAttemptTimeoutMs: 200\n",
        )],
        "thrift",
    );
    one_call_fails(
        &l,
        &py,
        &["ping:sleep:3000", "ping:quick"],
        "requestAttemptTimeoutMs",
        "com.twitter.finagle.IndividualRequestTimeoutException",
    );
}

#[test]
fn calls_to_a_dead_endpoint_are_requeued_to_a_live_one() {
    let py = ThriftServer::start(Lang::Python, Transport::Framed, Proto::Binary, "live");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let disco = l5d_integration::temp_dir("thrift-requeue");
    std::fs::write(
        disco.join("ping"),
        format!("127.0.0.1 {dead_port}\n127.0.0.1 {}\n", py.addr.port()),
    )
    .unwrap();
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nrouters:\n{}",
        disco.display(),
        router(
            "thrift",
            "/svc => /#/io.l5d.fs;",
            Transport::Framed,
            Proto::Binary,
            "  thriftMethodInDst: true\n"
        )
    );
    let l = Linkerd::start_router(Path::new(BIN), &yaml, "thrift", "thrift");
    let calls: Vec<String> = (0..20).map(|i| format!("ping:{i}")).collect();
    let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
    let all = call_concurrently(
        Lang::Python,
        l.addr,
        Transport::Framed,
        Proto::Binary,
        4,
        &calls,
    );
    for got in &all {
        for (i, o) in got.iter().enumerate() {
            assert_eq!(o, &Outcome::ok(&format!("live:pong:{i}")));
        }
    }
    let m = l.metrics();
    let requeues = m["rt/thrift/client/#/io.l5d.fs/ping/retries/requeues"]
        .as_u64()
        .unwrap_or(0);
    assert!(requeues >= 1, "{m}");
}
