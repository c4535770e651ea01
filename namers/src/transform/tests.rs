use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use l5d_core::addr::Addr;
use l5d_core::binding::{Bound, Transformer};
use l5d_core::config::{BuildContext, TransformerConfig};
use l5d_core::var::Var;

use super::*;
use crate::config::{LocalhostTransformer, PortTransformer, SpecificHostTransformer};

fn p(s: &str) -> Path {
    Path::read(s).unwrap()
}

fn addrs(list: &[&str]) -> Addr {
    Addr::bound(
        list.iter()
            .map(|a| Address::new(a.parse::<SocketAddr>().unwrap())),
    )
}

fn through(t: &dyn Transformer, addr: Addr) -> Bound {
    t.transform(&Bound::new(
        p("/#/io.l5d.fs/web"),
        Path::empty(),
        Var::constant(addr),
    ))
}

#[test]
fn localhost_keeps_loopback_and_this_hosts_addresses() {
    let local: BTreeSet<IpAddr> = ["10.1.2.3".parse().unwrap()].into();
    let t = localhost_with(p("/%/io.l5d.localhost"), local);
    let b = through(
        &t,
        addrs(&["10.1.2.3:80", "10.9.9.9:80", "127.0.0.2:81", "[::1]:82"]),
    );
    assert_eq!(b.id, p("/%/io.l5d.localhost/#/io.l5d.fs/web"));
    assert_eq!(
        b.addr.sample(),
        addrs(&["10.1.2.3:80", "127.0.0.2:81", "[::1]:82"])
    );
}

#[test]
fn localhost_with_no_local_address_left_is_neg() {
    let t = localhost_with(p("/%/io.l5d.localhost"), BTreeSet::new());
    assert_eq!(
        through(&t, addrs(&["10.9.9.9:80"])).addr.sample(),
        Addr::Neg
    );
}

#[test]
fn specific_host_keeps_only_that_host() {
    let t = specific_host(p("/%/io.l5d.specificHost"), "10.0.0.2").unwrap();
    let b = through(&t, addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.2:81"]));
    assert_eq!(b.id, p("/%/io.l5d.specificHost/#/io.l5d.fs/web"));
    assert_eq!(b.addr.sample(), addrs(&["10.0.0.2:80", "10.0.0.2:81"]));
    assert_eq!(
        through(&t, addrs(&["10.0.0.1:80"])).addr.sample(),
        Addr::Neg
    );
    let e = specific_host(p("/%/x"), "no such host.invalid")
        .err()
        .expect("an error");
    assert!(
        e.message().contains("no such host.invalid"),
        "{}",
        e.message()
    );
}

#[test]
fn port_replaces_every_port() {
    let t = port(p("/%/io.l5d.port/4141"), 4141);
    let b = through(&t, addrs(&["10.0.0.1:80", "10.0.0.2:8080"]));
    assert_eq!(b.id, p("/%/io.l5d.port/4141/#/io.l5d.fs/web"));
    assert_eq!(b.addr.sample(), addrs(&["10.0.0.1:4141", "10.0.0.2:4141"]));
}

#[test]
fn configs_build_with_linkerd_1_prefixes() {
    let ctx = BuildContext::new();
    let port: Box<dyn TransformerConfig> = Box::new(PortTransformer { port: 4141 });
    assert_eq!(port.default_prefix(), Some(p("/io.l5d.port/4141")));
    let local: Box<dyn TransformerConfig> = Box::new(LocalhostTransformer {});
    assert_eq!(local.default_prefix(), None, "the kind is the prefix");
    let t: Arc<dyn Transformer> = local.build(&p("/%/io.l5d.localhost"), &ctx).unwrap();
    assert_eq!(t.name(), "LocalhostTransformer");
    let b = through(&*t, addrs(&["127.0.0.1:80"]));
    assert_eq!(b.addr.sample(), addrs(&["127.0.0.1:80"]));
    let host: Box<dyn TransformerConfig> = Box::new(SpecificHostTransformer {
        host: "127.0.0.1".into(),
    });
    assert!(host.build(&p("/%/io.l5d.specificHost"), &ctx).is_ok());
}
