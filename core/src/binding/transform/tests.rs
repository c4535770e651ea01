use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::binding::ConfiguredNamers;
use crate::var::Updater;

fn p(s: &str) -> Path {
    Path::read(s).unwrap()
}

fn addrs(list: &[&str]) -> Addr {
    Addr::bound(
        list.iter()
            .map(|a| Address::new(a.parse::<SocketAddr>().unwrap())),
    )
}

/// A namer with one name, `/web`, whose address set the test changes.
struct OneName {
    addr: Var<Addr>,
}

impl Namer for OneName {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        let tree = if path.starts_with(&p("/web")) {
            NameTree::Leaf(Name::Bound(Bound::new(
                p("/#/t/web"),
                path.drop(1),
                self.addr.clone(),
            )))
        } else {
            NameTree::Neg
        };
        Var::constant(State::Ok(tree))
    }
}

fn one_name(initial: Addr) -> (Updater<Addr>, SharedNamer) {
    let (tx, addr) = Var::new(initial);
    (tx, Arc::new(OneName { addr }))
}

fn leaf(state: State<NameTree<Bound>>) -> Bound {
    match state {
        State::Ok(NameTree::Leaf(b)) => b,
        other => panic!("not one leaf: {other:?}"),
    }
}

async fn next(var: &mut Var<Addr>) -> Addr {
    tokio::time::timeout(Duration::from_secs(5), var.changed())
        .await
        .expect("an update");
    var.get_and_mark_seen().clone()
}

fn port() -> Arc<dyn Transformer> {
    Arc::new(AddrTransformer::port(p("/%/io.l5d.port/4141"), 4141))
}

fn only(host: &'static str) -> Arc<dyn Transformer> {
    Arc::new(AddrTransformer::filter("Only", p("/%/only"), move |a| {
        a.addr.ip().to_string() == host
    }))
}

#[tokio::test]
async fn port_rewrites_every_address_and_prefixes_the_id() {
    let (_tx, namer) = one_name(addrs(&["10.0.0.1:80", "10.0.0.1:81", "10.0.0.2:80"]));
    let inner: Arc<dyn NameInterpreter> = Arc::new(ConfiguredNamers::new(vec![(p("/#/t"), namer)]));
    let i = TransformedInterpreter::new(inner, port());
    let b = leaf(
        i.bind(&Dtab::read("/svc=>/#/t").unwrap(), &p("/svc/web/x"))
            .sample(),
    );
    assert_eq!(b.id, p("/%/io.l5d.port/4141/#/t/web"));
    assert_eq!(b.residual, p("/x"));
    assert_eq!(
        b.addr.sample(),
        addrs(&["10.0.0.1:4141", "10.0.0.2:4141"]),
        "two ports of one host are one linkerd"
    );
}

#[tokio::test]
async fn filtering_away_every_address_is_neg_and_other_states_pass() {
    let t = only("10.0.0.9");
    let (tx, var) = Var::new(addrs(&["10.0.0.1:80", "10.0.0.9:80"]));
    let b = t.transform(&Bound::new(p("/#/t/web"), Path::empty(), var));
    assert_eq!(b.id, p("/%/only/#/t/web"));
    let mut addr = b.addr.clone();
    assert_eq!(addr.get_and_mark_seen().clone(), addrs(&["10.0.0.9:80"]));
    tx.set(addrs(&["10.0.0.1:80"]));
    assert_eq!(next(&mut addr).await, Addr::Neg);
    tx.set(Addr::Pending);
    assert_eq!(next(&mut addr).await, Addr::Pending);
    tx.set(Addr::Failed("down".into()));
    assert_eq!(next(&mut addr).await, Addr::Failed("down".into()));
}

#[tokio::test]
async fn namer_updates_flow_through_a_transformed_binding() {
    let (tx, namer) = one_name(addrs(&["10.0.0.1:80"]));
    let inner: Arc<dyn NameInterpreter> = Arc::new(ConfiguredNamers::new(vec![(p("/#/t"), namer)]));
    let i = TransformedInterpreter::new(inner, port());
    let tree = i.bind(&Dtab::empty(), &p("/#/t/web"));
    let mut addr = leaf(tree.sample()).addr;
    assert_eq!(addr.get_and_mark_seen().clone(), addrs(&["10.0.0.1:4141"]));
    tx.set(addrs(&["10.0.0.1:80", "10.0.0.3:80"]));
    assert_eq!(
        next(&mut addr).await,
        addrs(&["10.0.0.1:4141", "10.0.0.3:4141"])
    );
}

#[tokio::test]
async fn transformers_apply_in_order_and_the_last_prefix_comes_first() {
    let (_tx, namer) = one_name(addrs(&["10.0.0.1:80", "10.0.0.2:80"]));
    let inner: Arc<dyn NameInterpreter> = Arc::new(ConfiguredNamers::new(vec![(p("/#/t"), namer)]));
    let i: Arc<dyn NameInterpreter> = Arc::new(TransformedInterpreter::new(inner, port()));
    let i = TransformedInterpreter::new(i, only("10.0.0.2"));
    let b = leaf(i.bind(&Dtab::empty(), &p("/#/t/web")).sample());
    assert_eq!(b.id, p("/%/only/%/io.l5d.port/4141/#/t/web"));
    assert_eq!(b.addr.sample(), addrs(&["10.0.0.2:4141"]));
}

#[tokio::test]
async fn a_transformed_namer_transforms_its_bound_answers() {
    let (tx, namer) = one_name(addrs(&["10.0.0.1:80"]));
    let namer: SharedNamer = Arc::new(TransformedNamer::new(namer, only("10.0.0.1")));
    let i = ConfiguredNamers::new(vec![(p("/#/t"), namer)]);
    let b = leaf(i.bind(&Dtab::empty(), &p("/#/t/web")).sample());
    assert_eq!(b.id, p("/%/only/#/t/web"));
    let mut addr = b.addr;
    addr.get_and_mark_seen();
    tx.set(addrs(&["10.0.0.2:80"]));
    assert_eq!(next(&mut addr).await, Addr::Neg);
    assert_eq!(
        i.bind_now(&Dtab::empty(), &p("/#/t/nothing")),
        State::Ok(NameTree::Neg),
        "Neg stays Neg"
    );
}

#[tokio::test]
async fn delegation_shows_the_transformed_leaf() {
    let (_tx, namer) = one_name(addrs(&["10.0.0.1:80"]));
    let inner: Arc<dyn NameInterpreter> = Arc::new(ConfiguredNamers::new(vec![(p("/#/t"), namer)]));
    let i = TransformedInterpreter::new(inner, port());
    let d = i.delegator().expect("delegates when the inner one does");
    let tree = d
        .delegate(
            &Dtab::read("/svc=>/#/t").unwrap(),
            &p("/svc/web"),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    let json = tree.to_json();
    assert_eq!(json["type"], "delegate", "{json}");
    let bound = &json["delegate"]["bound"];
    assert_eq!(bound["id"], "/%/io.l5d.port/4141/#/t/web", "{json}");
    assert_eq!(bound["addr"]["addrs"][0]["port"], 4141, "{json}");
}

/// An interpreter whose one binding the test publishes by hand.
struct Manual(Activity<NameTree<Bound>>);

impl NameInterpreter for Manual {
    fn bind(&self, _: &Dtab, _: &Path) -> Activity<NameTree<Bound>> {
        self.0.clone()
    }
}

#[tokio::test]
async fn a_republished_equal_tree_wakes_no_reader_and_a_new_source_does() {
    let (atx, addr) = Var::new(addrs(&["10.0.0.1:80"]));
    let web = |addr: &Var<Addr>| {
        State::Ok(NameTree::Leaf(Bound::new(
            p("/#/t/web"),
            Path::empty(),
            addr.clone(),
        )))
    };
    let (ttx, tree) = Var::new(web(&addr));
    let i = TransformedInterpreter::new(Arc::new(Manual(tree)), port());
    let mut out = i.bind(&Dtab::empty(), &p("/web"));
    let mut first = leaf(out.get_and_mark_seen().clone()).addr;
    first.get_and_mark_seen();
    ttx.set(web(&addr));
    atx.set(addrs(&["10.0.0.2:80"]));
    assert_eq!(next(&mut first).await, addrs(&["10.0.0.2:4141"]));
    assert!(
        !out.has_changed(),
        "the same name over the same source is not a new tree"
    );
    let (_atx2, other) = Var::new(addrs(&["10.0.0.3:80"]));
    ttx.set(web(&other));
    tokio::time::timeout(Duration::from_secs(5), out.changed())
        .await
        .expect("a new source is published");
    let b = leaf(out.get_and_mark_seen().clone());
    assert_eq!(b.addr.sample(), addrs(&["10.0.0.3:4141"]));
}
