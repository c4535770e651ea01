use l5d_core::config::{load_linkerd, ConfigError, LinkerdConfig, Registry};

use super::*;

fn load(text: &str) -> Result<LinkerdConfig, ConfigError> {
    let mut reg = Registry::new();
    register(&mut reg).expect("http and h2 register once");
    load_linkerd(text, &reg).map(|l| l.config)
}

fn router(body: &str) -> String {
    format!("routers:\n- protocol: http\n  servers: [{{}}]\n{body}")
}

#[test]
fn http_defaults_follow_linkerd_1() {
    let c = load(&router("")).unwrap();
    let r = &c.routers[0];
    let own = r
        .protocol_config
        .downcast_ref::<HttpRouterConfig>()
        .unwrap();
    assert_eq!(own.stream_after_kb(), 5);
    assert_eq!(own.max_headers_kb, 8);
    assert_eq!(own.max_err_response_kb, 5120);
    let id = r.identifiers[0]
        .config
        .downcast_ref::<HttpHeaderToken>()
        .unwrap();
    assert_eq!(id.header, "Host");
    let server = r.servers[0]
        .protocol
        .downcast_ref::<HttpServerConfig>()
        .unwrap();
    assert_eq!(server.max_call_depth, 1000);
    assert_eq!(r.servers[0].port, HTTP_PORT);
}

#[test]
fn streaming_disabled_refuses_a_streaming_threshold() {
    let e = load(&router(
        "  streamingEnabled: false\n  streamAfterContentLengthKB: 10\n",
    ))
    .unwrap_err();
    assert_eq!(e.path().to_string(), "routers[0]");
    assert!(e.message().contains("streamingEnabled"), "{e}");
}

#[test]
fn forwarded_labelers_are_a_closed_set() {
    let text = "routers:\n- protocol: http\n  servers:\n  - addForwardedHeader:\n      by: {kind: \
                bogus}\n";
    let e = load(text).unwrap_err();
    assert_eq!(
        e.path().to_string(),
        "routers[0].servers[0].addForwardedHeader.by"
    );
    assert!(
        e.message()
            .contains("known kinds: connectionRandom, ip, ip:port"),
        "{e}"
    );
    assert_eq!(e.location().map(|l| l.line), Some(5));
    let ok = "routers:\n- protocol: http\n  servers:\n  - addForwardedHeader:\n      for: {kind: \
              static, label: _x}\n";
    let c = load(ok).unwrap();
    let s = c.routers[0].servers[0]
        .protocol
        .downcast_ref::<HttpServerConfig>()
        .unwrap();
    let fwd = s.add_forwarded_header.as_ref().unwrap();
    assert_eq!(fwd.by, Labeler::RequestRandom);
    assert_eq!(fwd.for_, Labeler::Static("_x".into()));
}

#[test]
fn h2_identifies_on_authority_and_classifies_grpc() {
    let text = "routers:\n- protocol: h2\n  servers: [{}]\n  identifier:\n  - kind: \
                io.l5d.header.path\n    segments: 2\n  - kind: io.l5d.header.token\n  service:\n    \
                responseClassifier:\n      kind: io.l5d.h2.grpc.retryableStatusCodes\n      \
                retryableStatusCodes: [14]\n";
    let c = load(text).unwrap();
    let r = &c.routers[0];
    assert_eq!(r.servers[0].port, H2_PORT);
    let token = r.identifiers[1]
        .config
        .downcast_ref::<H2HeaderToken>()
        .unwrap();
    assert_eq!(token.header, ":authority");
    let l5d_core::config::ServiceConfig::Global(svc) = &r.service else {
        panic!("a global service config");
    };
    let classifier = svc.response_classifier.as_ref().unwrap();
    assert!(matches!(
        classifier.config.downcast_ref::<GrpcClassifier>(),
        Some(GrpcClassifier::RetryableStatusCodes(c)) if c.success_status_codes == [0]
    ));
}

#[test]
fn identifier_kinds_belong_to_their_protocol() {
    let e = load(&router("  identifier: {kind: io.l5d.header.path}\n")).unwrap_err();
    assert!(
        e.message()
            .starts_with("unknown identifier kind 'io.l5d.header.path'"),
        "{e}"
    );
    let e = load(&router("  identifier: {kind: io.l5d.static}\n")).unwrap_err();
    assert_eq!(e.to_string(), "routers[0].identifier (kind io.l5d.static): missing required key 'path' at line 4, column 3");
    let e = load(&router("  identifier: {kind: io.l5d.path, segments: 0}\n")).unwrap_err();
    assert!(e.message().contains("segments must be at least 1"), "{e}");
}
