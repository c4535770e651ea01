//! namerd's `io.l5d.thriftNameInterpreter` with linkerd's own ThriftMux client (the one
//! its `io.l5d.namerd` interpreter uses; linkerd/tests/namerd.rs routes through it):
//! `delegate` flattened as Linkerd 1 sends it, and `dtab`.

use std::path::Path;
use std::time::Duration;

use l5d_integration::control::Namerd;
use l5d_integration::temp_dir;

const BIN: &str = env!("CARGO_BIN_EXE_namerd");

#[test]
fn the_thrift_interface_explains_delegations_too() {
    // Over ThriftMux, with linkerd's own client: the Namer service's `delegate`.
    let disco = temp_dir("namerd-thrift-disco");
    std::fs::write(disco.join("default"), "127.0.0.1 9990\n").unwrap();
    let yaml = format!(
        "admin:\n  port: 0\nnamers:\n- kind: io.l5d.fs\n  rootDir: {}\nstorage:\n  kind: io.l5d.inMemory\n  namespaces:\n    default: /svc => /#/io.l5d.fs\ninterfaces:\n- kind: io.l5d.httpController\n  port: 0\n- kind: io.l5d.thriftNameInterpreter\n  port: 0\n",
        disco.display()
    );
    let n = Namerd::start(Path::new(BIN), &yaml);
    let thrift = n.thrift.unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use l5d_namers::namer_idl;
        let client = l5d_mux::thriftmux::ThriftMuxClient::connect(thrift, Duration::from_secs(5))
            .await
            .unwrap();
        let path = l5d_core::naming::Path::read("/svc/default").unwrap();
        let call = namer_idl::delegate_call(1, "", &path, "default");
        let reply = client.call(call.encode()).await.unwrap();
        let m = l5d_thrift::value::Message::decode(&reply).unwrap();
        let v = namer_idl::result(&m).unwrap();
        let tree = v.field(2).unwrap();
        let root = tree.field(1).unwrap();
        // The root carries Finagle's no-op dentry; its delegate child the dentry used.
        assert_eq!(root.field(2).and_then(|d| d.as_str()), Some("/\\x2f=>~"));
        let child_id = root.field(3).and_then(|c| c.field(5)).unwrap();
        let child = tree
            .field(2)
            .unwrap()
            .entries()
            .iter()
            .find(|(k, _)| k == child_id)
            .map(|(_, v)| v)
            .unwrap();
        assert_eq!(
            child.field(2).and_then(|d| d.as_str()),
            Some("/svc=>/#/io.l5d.fs")
        );
        // The dtab call long-polls: with no stamp it answers at once.
        let call = namer_idl::dtab_call(2, b"", "default");
        let reply = client.call(call.encode()).await.unwrap();
        let m = l5d_thrift::value::Message::decode(&reply).unwrap();
        let (stamp, dtab) = namer_idl::read_dtab(&m).unwrap();
        assert_eq!(dtab, "/svc=>/#/io.l5d.fs");
        assert_eq!(stamp.len(), 8);
    });
    let m = n.metrics();
    assert_eq!(m["namerd/thrift/delegate/requests"], 1, "{m}");
    assert_eq!(m["namerd/thrift/dtab/requests"], 1, "{m}");
    assert_eq!(m["namerd/thrift/dtab/pending"], 0.0, "{m}");
}
