use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::addr::{Addr, Address};
use crate::naming::{Dtab, NameTree, Path};
use crate::var::{Error, State, Updater, Var};

fn p(s: &str) -> Path {
    Path::read(s).unwrap()
}

/// Binds with system namers only and prints the result as `linkerd dtab bind` does.
fn bind(dtab: &str, path: &str) -> String {
    show(ConfiguredNamers::system_only().bind_now(&Dtab::read(dtab).unwrap(), &p(path)))
}

fn show(state: State<NameTree<Bound>>) -> String {
    match state {
        State::Ok(t) => t.to_string(),
        State::Failed(e) => format!("error: {e}"),
        State::Pending => "pending".into(),
    }
}

const H1: &str = "/$/inet/10.0.0.1/1";
const H2: &str = "/$/inet/10.0.0.2/2";

#[test]
fn last_match_wins_over_longest_match() {
    assert_eq!(
        bind(&format!("/a/b=>{H1}; /a=>{H2}"), "/a/b"),
        format!("{H2}/b")
    );
}

#[test]
fn residual_is_kept_through_rewrites() {
    let out = ConfiguredNamers::system_only().bind_now(
        &Dtab::read(&format!("/svc=>/srv; /srv/users=>{H1}")).unwrap(),
        &p("/svc/users/v1"),
    );
    let State::Ok(NameTree::Leaf(b)) = out else {
        panic!("{out:?}")
    };
    assert_eq!(b.id, p(H1));
    assert_eq!(b.residual, p("/v1"));
    assert_eq!(b.to_string(), format!("{H1}/v1"));
}

#[test]
fn fallback_happens_only_on_neg() {
    assert_eq!(bind(&format!("/a=>{H1}; /a=>/b; /b=>!"), "/a"), "!");
    assert_eq!(bind(&format!("/a=>{H1}; /a=>/b"), "/a"), H1);
    assert_eq!(bind(&format!("/a=>{H1}; /a=>/b; /b=>$"), "/a"), "$");
    assert_eq!(bind(&format!("/a=>! | {H1}"), "/a"), "!");
    assert_eq!(bind(&format!("/a=>~ | {H1}"), "/a"), H1);
}

#[test]
fn fail_inside_unions_is_dropped_like_neg() {
    assert_eq!(bind(&format!("/a => {H1} & !"), "/a"), H1);
    assert_eq!(bind("/a => ! & !", "/a"), "~");
    assert_eq!(bind(&format!("/a => (! & !) | {H1}"), "/a"), H1);
    assert_eq!(bind(&format!("/a => ! | {H1}"), "/a"), "!");
}

#[test]
fn errors_are_not_neg_and_alternatives_are_lazy() {
    let lp = "/loop=>/loop/x";
    assert_eq!(bind(&format!("{lp}; /a => {H1} | /loop"), "/a"), H1);
    assert!(bind(&format!("{lp}; /a => /loop | {H1}"), "/a")
        .starts_with("error: Max recursion level: 100"));
    assert_eq!(
        bind(&format!("{lp}; /a => /loop & {H1}"), "/a"),
        H1,
        "a union ignores failed members"
    );
    assert_eq!(
        bind(&format!("{lp}; /a => /loop & /nowhere"), "/a"),
        "~",
        "Ok(Neg) counts as settled"
    );
    assert!(bind(&format!("{lp}; /a => /loop & /loop"), "/a").starts_with("error: Max recursion"));
}

#[test]
fn loops_hit_the_depth_limit_with_finagles_message() {
    assert_eq!(
        bind("/foo/bar=>/bar/foo; /bar/foo=>/foo/bar", "/foo/bar"),
        "error: Max recursion level: 100 reached in Namer lookup"
    );
    assert!(bind("/s=>/s/srv", "/s").starts_with("error: Max recursion"));
    assert!(
        bind("/=>/$/inet/h/1", "/a").starts_with("error: Max recursion"),
        "a root dentry also catches /$ paths"
    );
    assert_eq!(bind("/=>!", "/anything"), "!");
}

#[test]
fn depth_limit_counts_lookups_exactly() {
    // 99 rewrites then the inet lookup is 100 lookups: fine; one more rewrite is 101.
    let chain = |n: usize| {
        let mut entries: Vec<String> = (0..n).map(|i| format!("/p{i}=>/p{}", i + 1)).collect();
        entries.push(format!("/p{n}=>{H1}"));
        entries.join(";")
    };
    assert_eq!(bind(&chain(98), "/p0"), H1);
    assert!(bind(&chain(99), "/p0").starts_with("error: Max recursion"));
}

#[test]
fn global_namer_runs_only_when_the_lookup_is_exactly_neg() {
    assert_eq!(bind("/$/inet=>/nowhere", &format!("{H1}/x")), "~");
    assert_eq!(
        bind("/$/inet=>~", H1),
        H1,
        "a single ~ match still consults the global namer"
    );
    assert_eq!(
        bind("/$/inet=>~;/$/inet=>~", H1),
        "~",
        "Alt(~,~) is not the Neg object"
    );
    assert_eq!(bind("/$/inet=>~ | ~", H1), "~");
}

#[test]
fn system_namers_follow_finagle() {
    assert_eq!(
        bind("", "/$/inet/8080/9090"),
        "/$/inet/8080/9090",
        "host form first"
    );
    assert_eq!(bind("", "/$/inet/8080/foo"), "/$/inet/8080/foo");
    let out = ConfiguredNamers::system_only().bind_now(&Dtab::empty(), &p("/$/inet/8080/foo"));
    let State::Ok(NameTree::Leaf(b)) = out else {
        panic!()
    };
    assert_eq!(
        (b.id.show(), b.residual.show()),
        ("/$/inet/8080".into(), "/foo".into())
    );
    assert_eq!(bind("", "/$/fail/x"), "!");
    assert_eq!(bind("", "/$/nil/x"), "$");
    assert_eq!(
        bind("", "/$/failure"),
        "error: Unknown namer: failure for path: /$/failure"
    );
    assert_eq!(bind("", "/$"), "~");
    assert_eq!(bind("", "/x"), "~");
    for unknown in ["/$/inet", "/$/inet/localhost", "/$/inet/localhost/http"] {
        assert!(
            bind("", unknown).starts_with("error: Unknown namer"),
            "{unknown}"
        );
    }
    assert_eq!(bind("", "/$/com.twitter.finagle.namer.global/$/nil"), "$");
    assert_eq!(
        bind("", "/$/io.buoyant.rinet/80/example.com/x"),
        "/$/io.buoyant.rinet/80/example.com/x"
    );
    assert_eq!(
        bind(
            "/ph=>/$/io.buoyant.rinet",
            "/$/io.buoyant.porthostPfx/ph/127.0.0.1:8080/r"
        ),
        "/$/io.buoyant.rinet/8080/127.0.0.1/r"
    );
    assert_eq!(
        bind("/h=>/$/inet", "/$/io.buoyant.hostportPfx/h/127.0.0.1:8080"),
        "/$/inet/127.0.0.1/8080"
    );
    assert_eq!(
        bind("/h=>/$/inet", "/$/io.buoyant.hostportPfx/h/noport"),
        "~"
    );
    assert_eq!(
        bind(
            "/d/com/example=>/$/nil",
            "/$/io.buoyant.http.domainToPathPfx/d/example.com:80"
        ),
        "$"
    );
    assert_eq!(
        bind(
            "/s/foo=>/$/nil",
            "/$/io.buoyant.http.subdomainOfPfx/example.com/s/foo.example.com"
        ),
        "$"
    );
}

#[test]
fn full_example_binds_the_first_non_neg_alternative_with_weights() {
    let dtab = "/foo => /bar;
        /foo => 3 * /baz & 2 * /booz & /rewritten/by/test/namer;
        /rewritten/by/test/namer => /$/inet/7070;
        /baz => 3 * /$/inet/8080 & 2 * /$/inet/9090;
        /booz => ~";
    assert_eq!(
        bind(dtab, "/foo"),
        "3.00*(3.00*/$/inet/8080 & 2.00*/$/inet/9090) & /$/inet/7070"
    );
    let State::Ok(tree) =
        ConfiguredNamers::system_only().bind_now(&Dtab::read(dtab).unwrap(), &p("/foo"))
    else {
        panic!()
    };
    let weights: HashMap<String, f64> = tree
        .leaves()
        .into_iter()
        .map(|b| match b.addr_now() {
            Addr::Bound(_, meta) => (
                b.id.show(),
                meta[crate::addr::WEIGHT_META_KEY].as_f64().unwrap(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(weights["/$/inet/8080"], 3.0);
    assert_eq!(weights["/$/inet/9090"], 2.0);
    assert_eq!(weights["/$/inet/7070"], 1.0);
}

type Answer = Arc<Updater<State<NameTree<Name>>>>;

/// A namer whose answers the test sets; it counts lookups and exposes its updaters.
#[derive(Default, Clone)]
struct TestNamer {
    answers: Arc<Mutex<HashMap<Path, Answer>>>,
    lookups: Arc<Mutex<usize>>,
}

impl TestNamer {
    fn updater(&self, path: &str) -> Answer {
        self.answers
            .lock()
            .unwrap()
            .entry(p(path))
            .or_insert_with(|| Arc::new(Var::new(State::Pending).0))
            .clone()
    }

    fn set(&self, path: &str, state: State<NameTree<Name>>) {
        self.updater(path).set(state);
    }
}

impl Namer for TestNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        *self.lookups.lock().unwrap() += 1;
        let first = Path::from_elems(path.elems().iter().take(1));
        self.updater(&first.show()).subscribe()
    }
}

fn bound_leaf(id: &str, port: u16) -> State<NameTree<Name>> {
    let addr = Var::constant(Addr::bound([Address::new(([127, 0, 0, 1], port).into())]));
    State::Ok(NameTree::Leaf(Name::Bound(Bound::new(
        p(id),
        Path::empty(),
        addr,
    ))))
}

fn interp(namer: &TestNamer) -> ConfiguredNamers {
    let fallback = TestNamer::default();
    fallback.set("/users", bound_leaf("/#/fallback/users", 2));
    ConfiguredNamers::new(vec![
        (p("/#/test"), Arc::new(namer.clone())),
        (p("/#/test"), Arc::new(fallback)),
    ])
}

#[test]
fn configured_namers_are_asked_in_order_and_neg_falls_through() {
    let namer = TestNamer::default();
    let interp = interp(&namer);
    let dtab = Dtab::read("/svc=>/#/test").unwrap();
    assert_eq!(show(interp.bind_now(&dtab, &p("/svc/users"))), "pending");
    namer.set("/users", State::Ok(NameTree::Neg));
    assert_eq!(
        show(interp.bind_now(&dtab, &p("/svc/users"))),
        "/#/fallback/users"
    );
    namer.set("/users", bound_leaf("/#/test/users", 1));
    assert_eq!(
        show(interp.bind_now(&dtab, &p("/svc/users"))),
        "/#/test/users"
    );
    namer.set("/users", State::Failed(Error::new("boom")));
    assert_eq!(
        show(interp.bind_now(&dtab, &p("/svc/users"))),
        "error: boom"
    );
}

async fn next_state(var: &mut Activity<NameTree<Bound>>) -> String {
    tokio::time::timeout(Duration::from_secs(5), var.changed())
        .await
        .expect("an update in time");
    show(var.sample())
}

#[tokio::test]
async fn live_binding_follows_namer_updates() {
    let namer = TestNamer::default();
    let interp = interp(&namer);
    let mut var = interp.bind(&Dtab::read("/svc=>/#/test").unwrap(), &p("/svc/users"));
    assert_eq!(show(var.get_and_mark_seen().clone()), "pending");
    namer.set("/users", bound_leaf("/#/test/users", 1));
    assert_eq!(next_state(&mut var).await, "/#/test/users");
    namer.set("/users", State::Ok(NameTree::Neg));
    assert_eq!(next_state(&mut var).await, "/#/fallback/users");
    let lookups = *namer.lookups.lock().unwrap();
    assert_eq!(
        lookups, 1,
        "re-evaluation reuses the watch instead of asking again"
    );
}

#[tokio::test]
async fn live_binding_follows_a_changing_base_dtab() {
    let (dtab_tx, dtab_var) = Var::new(Dtab::read(&format!("/svc=>{H1}")).unwrap());
    let interp = ConfiguredNamers::system_only().with_base_dtab(dtab_var);
    let mut var = interp.bind(&Dtab::empty(), &p("/svc"));
    assert_eq!(show(var.get_and_mark_seen().clone()), H1);
    dtab_tx.set(Dtab::read(&format!("/svc=>{H2}")).unwrap());
    assert_eq!(next_state(&mut var).await, H2);
    // The caller's dtab still wins over the base.
    let local = interp.bind_now(&Dtab::read(&format!("/svc=>{H1}")).unwrap(), &p("/svc"));
    assert_eq!(show(local), H1);
}

#[tokio::test]
async fn live_binding_stops_watching_when_its_readers_are_gone() {
    let namer = TestNamer::default();
    let interp = interp(&namer);
    let updater = namer.updater("/users");
    let var = interp.bind(&Dtab::read("/svc=>/#/test").unwrap(), &p("/svc/users"));
    assert!(!updater.is_closed());
    drop(var);
    tokio::time::timeout(Duration::from_secs(5), updater.closed())
        .await
        .expect("the watch is released");
}

#[test]
fn static_bindings_need_no_task() {
    // No runtime here: a binding through system namers alone is already final.
    let var =
        ConfiguredNamers::system_only().bind(&Dtab::read(&format!("/a=>{H1}")).unwrap(), &p("/a"));
    assert!(var.is_final());
    assert_eq!(show(var.sample()), H1);
}

/// The deepest dtab the parser accepts, chained to the lookup limit: 100 dentries, each
/// nesting 99 alternatives around the next. Binding and delegating it on a 2 MiB thread
/// (a tokio worker's stack) in a debug build answers instead of overflowing the stack.
#[test]
fn deep_dtabs_answer_instead_of_overflowing_the_stack() {
    let mut entries = Vec::new();
    for i in 0..100 {
        let mut t = format!("/p{}", i + 1);
        for _ in 0..99 {
            t = format!("({t} | /x)");
        }
        entries.push(format!("/p{i} => {t}"));
    }
    entries.push(format!("/p100 => {H1}"));
    let dtab = Dtab::read(&entries.join(";")).unwrap();
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let interp = ConfiguredNamers::system_only();
            let bound = show(interp.bind_now(&dtab, &p("/p0")));
            let delegated = match interp.delegate_now(&dtab, &p("/p0")) {
                State::Ok(tree) => {
                    let json = tree.to_json().to_string();
                    (
                        json.len() > 1000,
                        json.contains("nested more than 1000 levels"),
                    )
                }
                other => panic!("{other:?}"),
            };
            (bound, delegated)
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert_eq!(
        outcome.0,
        "error: name tree nested more than 1000 levels deep"
    );
    assert_eq!(
        outcome.1,
        (true, true),
        "the delegation explains up to the limit, then says why"
    );
}
