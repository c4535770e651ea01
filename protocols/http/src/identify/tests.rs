use http::{Method, Request, Version};

use super::*;

fn req(method: Method, uri: &str, version: Version, headers: &[(&str, &str)]) -> Parts {
    let mut b = Request::builder().method(method).uri(uri).version(version);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Parts {
    req(Method::GET, uri, Version::HTTP_11, headers)
}

fn name(reader: &dyn NameReader, mut r: Parts) -> Result<String, String> {
    reader.read(&mut r).map(|p| p.show()).map_err(|e| e.0)
}

#[test]
fn header_token_takes_the_whole_value_as_one_element() {
    let r = HeaderToken::new(HOST);
    assert_eq!(name(&r, get("/", &[("host", "web")])), Ok("/web".into()));
    assert_eq!(
        name(&r, get("/", &[("host", "web:8080")])),
        Ok("/web:8080".into()),
        "the port is kept"
    );
    assert_eq!(
        name(&r, get("/", &[("host", "a/b")])),
        Ok("/\\x61\\x2f\\x62".into()),
        "one element, escaped"
    );
    assert_eq!(name(&r, get("/", &[])), Err("host header is absent".into()));
    assert_eq!(
        name(&r, get("/", &[("host", "")])),
        Err("host header is empty".into())
    );
}

#[test]
fn header_path_reads_a_name() {
    let r = HeaderPath::new(HeaderName::from_static("l5d-name"));
    assert_eq!(
        name(&r, get("/", &[("l5d-name", "/users/v2")])),
        Ok("/users/v2".into())
    );
    assert!(name(&r, get("/", &[("l5d-name", "users")]))
        .unwrap_err()
        .contains("is not a path"));
    assert_eq!(
        name(&r, get("/", &[])),
        Err("l5d-name header is absent".into())
    );
}

#[test]
fn method_and_host_names_version_method_and_host() {
    let plain = MethodAndHost::new(false);
    assert_eq!(
        name(&plain, get("/a/b", &[("host", "Web.Example")])),
        Ok("/1.1/GET/web.example".into())
    );
    let post = req(Method::POST, "/", Version::HTTP_10, &[("host", "web")]);
    assert_eq!(
        name(&plain, post),
        Ok("/1.0/POST".into()),
        "HTTP/1.0 has no host"
    );
    assert_eq!(
        name(&plain, get("/", &[])),
        Err("HTTP/1.1 request missing hostname".into())
    );
    assert_eq!(
        name(&plain, get("http://proxied:81/x", &[])),
        Ok("/1.1/GET/proxied:81".into())
    );
    let uris = MethodAndHost::new(true);
    assert_eq!(
        name(&uris, get("/users/42?x=1", &[("host", "web")])),
        Ok("/1.1/GET/web/users/42".into())
    );
    assert_eq!(
        name(&uris, get("/", &[("host", "web")])),
        Ok("/1.1/GET/web".into())
    );
    assert!(
        name(&uris, get("/a//b", &[("host", "web")])).is_err(),
        "Finagle cannot read //"
    );
}

#[test]
fn path_segments_name_and_optionally_consume() {
    let two = PathSegments::new(2, false);
    assert_eq!(name(&two, get("/users/v1/42", &[])), Ok("/users/v1".into()));
    assert_eq!(
        name(&two, get("/users", &[])),
        Err("not enough segments in path".into())
    );
    assert_eq!(
        name(&two, get("/users/", &[])),
        Err("not enough segments in path".into()),
        "a trailing / is no segment"
    );
    assert_eq!(
        name(&PathSegments::new(1, false), get("/a%20b/c", &[])),
        Ok("/\\x61\\x20\\x62".into())
    );

    let consume = PathSegments::new(1, true);
    let cases = [
        ("/users/42?q=1", "/users", "/42?q=1"),
        ("/users/42/", "/users", "/42/"),
        ("/users", "/users", "/"),
        ("/users?q=1", "/users", "/?q=1"),
    ];
    for (uri, want_name, want_uri) in cases {
        let mut r = get(uri, &[]);
        assert_eq!(consume.read(&mut r).unwrap().show(), want_name, "{uri}");
        assert_eq!(r.uri.to_string(), want_uri, "{uri}");
    }
}

#[test]
fn static_names_every_request_the_same() {
    let r = StaticName::new(Path::read("/web/prod").unwrap());
    assert_eq!(name(&r, get("/anything", &[])), Ok("/web/prod".into()));
}

#[test]
fn local_dtab_is_ctx_then_user_entries_so_the_user_wins() {
    let mut headers = HeaderMap::new();
    headers.append(L5D_DTAB, HeaderValue::from_static("/a=>/d"));
    headers.append(L5D_CTX_DTAB, HeaderValue::from_static("/a=>/b"));
    headers.append(L5D_CTX_DTAB, HeaderValue::from_static("/a=>/c"));
    let dtab = local_dtab(&headers).unwrap();
    assert_eq!(dtab.show(), "/a=>/b;/a=>/c;/a=>/d");
    assert_eq!(
        dtab.lookup(&Path::read("/a").unwrap()).to_string(),
        "/d | /c | /b"
    );
    // Commas are not separators here, unlike Finagle's Dtab-Local.
    headers.insert(L5D_DTAB, HeaderValue::from_static("/a=>/b,/c=>/d"));
    let err = local_dtab(&headers).unwrap_err();
    assert!(err.starts_with("Invalid l5d-dtab header: "), "{err}");
    assert!(local_dtab(&HeaderMap::new()).unwrap().is_empty());
}

#[test]
fn forwarding_moves_the_local_dtab_into_ctx() {
    let mut headers = HeaderMap::new();
    headers.insert(L5D_DTAB, HeaderValue::from_static("/a=>/d"));
    headers.insert("dtab-local", HeaderValue::from_static("/x=>/y"));
    let local = local_dtab(&headers).unwrap();
    forward_dtab(&mut headers, &local).unwrap();
    assert!(headers.get(L5D_DTAB).is_none());
    assert_eq!(headers.get(L5D_CTX_DTAB).unwrap(), "/a=>/d");
    assert_eq!(
        headers.get("dtab-local").unwrap(),
        "/x=>/y",
        "Finagle's header passes through untouched"
    );
    forward_dtab(&mut headers, &Dtab::empty()).unwrap();
    assert!(headers.get(L5D_CTX_DTAB).is_none());
}

#[test]
fn identification_prefixes_the_name_and_carries_both_dtabs() {
    let base = Dtab::read("/svc=>/#/io.l5d.fs").unwrap();
    let id = HttpIdentifier::new(
        Path::read("/http").unwrap(),
        base.clone(),
        vec![
            Box::new(HeaderPath::new(HeaderName::from_static("l5d-name"))),
            Box::new(HeaderToken::new(HOST)),
        ],
    );
    let mut r = get(
        "/",
        &[
            ("host", "web"),
            ("l5d-dtab", "/http/web=>/$/inet/127.0.0.1/1"),
        ],
    );
    let dst = id.identify(&mut r).unwrap();
    assert_eq!(
        dst.path.show(),
        "/http/web",
        "the first reader that names the request wins"
    );
    assert_eq!(dst.base_dtab, base);
    assert_eq!(
        dst.dtab().show(),
        "/svc=>/#/io.l5d.fs;/http/web=>/$/inet/127.0.0.1/1"
    );
    let err = id.identify(&mut get("/", &[])).unwrap_err();
    assert_eq!(err.0, "l5d-name header is absent; host header is absent");
    let err = id
        .identify(&mut get("/", &[("host", "web"), ("l5d-dtab", "/a=>")]))
        .unwrap_err();
    assert!(err.0.starts_with("Invalid l5d-dtab header"), "{}", err.0);
}

#[test]
fn config_kinds_build_their_readers() {
    let registry = {
        let mut reg = l5d_core::config::Registry::new();
        crate::config::register(&mut reg).unwrap();
        reg
    };
    let yaml = "routers:\n- protocol: http\n  identifier:\n  - kind: io.l5d.path\n    segments: 2\n  - kind: io.l5d.header.token\n  - kind: io.l5d.methodAndHost\n  - kind: io.l5d.header\n  - kind: io.l5d.static\n    path: /x\n  servers:\n  - port: 0\n";
    let loaded = l5d_core::config::load_linkerd(yaml, &registry).unwrap();
    let readers: Vec<_> = loaded.config.routers[0]
        .identifiers
        .iter()
        .map(|c| build(c).unwrap())
        .collect();
    assert_eq!(readers.len(), 5);
    let mut r = get("/a/b/c", &[("host", "h")]);
    assert_eq!(readers[0].read(&mut r).unwrap().show(), "/a/b");
    assert_eq!(readers[4].read(&mut r).unwrap().show(), "/x");
}

#[test]
fn proxy_requests_are_named_by_their_target_and_forwarded_in_origin_form() {
    let id = HttpIdentifier::new(
        Path::read("/svc").unwrap(),
        Dtab::empty(),
        vec![Box::new(HeaderToken::new(HOST))],
    );
    let mut r = get(
        "http://user:pw@web:8080/users/42?x=1",
        &[("host", "other"), ("proxy-connection", "Keep-Alive")],
    );
    let dst = id.identify(&mut r).unwrap();
    assert_eq!(
        dst.path.show(),
        "/svc/web:8080",
        "the target's authority wins"
    );
    assert_eq!(r.uri, "/users/42?x=1");
    assert_eq!(r.headers[HOST], "web:8080", "userinfo is not part of Host");
    assert!(r.headers.get(PROXY_CONNECTION).is_none());

    let mut r = get("http://web", &[]);
    assert_eq!(id.identify(&mut r).unwrap().path.show(), "/svc/web");
    assert_eq!(r.uri, "/");

    let mut r = get("/p", &[("host", "web")]);
    id.identify(&mut r).unwrap();
    assert_eq!(r.uri, "/p", "an origin-form request is left alone");
    assert_eq!(r.headers[HOST], "web");

    let mut r = req(
        Method::CONNECT,
        "web:443",
        Version::HTTP_11,
        &[("host", "h")],
    );
    id.identify(&mut r).unwrap();
    assert_eq!(r.uri, "web:443", "CONNECT is not rewritten");
}
