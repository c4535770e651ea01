//! The `io.l5d.rewrite` namer in a running linkerd (the shape of Linkerd 1's
//! `rewriting.yaml`): the name a path identifier gives is rewritten by pattern and bound on.

use std::path::Path;

use l5d_integration::{http_get, Linkerd, PythonBackend};

const BIN: &str = env!("CARGO_BIN_EXE_linkerd");

#[test]
fn a_rewritten_name_is_bound_on_and_others_are_not_routed() {
    let web = PythonBackend::start("web");
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.rewrite\n  prefix: /rw\n  pattern: /{{service}}/api\n  name: /srv/{{service}}\nrouters:\n- protocol: http\n  identifier:\n    kind: io.l5d.path\n    segments: 2\n  dtab: |\n    /svc => /#/rw;\n    /srv/web => /$/inet/127.0.0.1/{};\n  servers:\n  - port: 0\n",
        web.addr.port()
    );
    let l = Linkerd::start(Path::new(BIN), &yaml, "http");
    let (status, _, body) = http_get(l.addr, "/web/api/users", &[("Host", "x")]);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["backend"], "web");
    let (status, _, body) = http_get(l.addr, "/web/other", &[("Host", "x")]);
    assert_eq!(status, 502, "the pattern does not match: {body}");
}
