use std::sync::Arc;
use std::time::Duration;

use crate::binding::{ConfiguredNamers, Name, Namer};
use crate::naming::{Dtab, NameTree, Path};
use crate::var::{Activity, Error, State, Var};

use super::DelegateError;

/// The namer of linkerd's `DelegateApiHandlerTest` mounted at `/#/error`: every lookup fails.
struct ErrorNamer;

impl Namer for ErrorNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        Var::constant(State::Failed(Error::new(format!(
            "error naming /#/error{path}"
        ))))
    }
}

/// A namer that never answers.
struct SilentNamer;

impl Namer for SilentNamer {
    fn lookup(&self, _: &Path) -> Activity<NameTree<Name>> {
        let (tx, var) = Var::new(State::Pending);
        std::mem::forget(tx);
        var
    }
}

const DTAB: &str =
    "/beh => /#/error ; /bah/humbug => /$/inet/127.1/8080 ; /foo => /bah | /beh | /$/fail ;
    /foo => /bar ; /boo => /foo ; /meh => /heh ; /neg => ~ ;";

fn interp() -> ConfiguredNamers {
    ConfiguredNamers::new(vec![
        (Path::read("/#/error").unwrap(), Arc::new(ErrorNamer)),
        (Path::read("/#/silent").unwrap(), Arc::new(SilentNamer)),
    ])
}

fn delegate_json(path: &str) -> String {
    match interp().delegate_now(&Dtab::read(DTAB).unwrap(), &Path::read(path).unwrap()) {
        State::Ok(t) => serde_json::to_string(&t.to_json()).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn boo_humbug_matches_linkerds_json_exactly() {
    let want = concat!(
        r#"{"type":"delegate","path":"/boo/humbug","delegate":"#,
        r#"{"type":"alt","path":"/foo/humbug","dentry":{"prefix":"/boo","dst":"/foo"},"alt":["#,
        r#"{"type":"neg","path":"/bar/humbug","dentry":{"prefix":"/foo","dst":"/bar"}},"#,
        r#"{"type":"delegate","path":"/bah/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"},"#,
        r#""delegate":{"type":"leaf","path":"/$/inet/127.1/8080","#,
        r#""dentry":{"prefix":"/bah/humbug","dst":"/$/inet/127.1/8080"},"#,
        r#""bound":{"addr":{"type":"bound","addrs":[{"ip":"127.0.0.1","port":8080,"meta":{}}],"meta":{}},"#,
        r#""id":"/$/inet/127.1/8080","path":"/"}}},"#,
        r#"{"type":"delegate","path":"/beh/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"},"#,
        r#""delegate":{"type":"exception","path":"/#/error/humbug","dentry":{"prefix":"/beh","dst":"/#/error"},"#,
        r#""message":"error naming /#/error/humbug"}},"#,
        r#"{"type":"fail","path":"/$/fail/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"}}]}}"#,
    );
    assert_eq!(delegate_json("/boo/humbug"), want);
}

#[test]
fn neg_steps_show_their_path_or_tilde() {
    assert_eq!(
        delegate_json("/meh"),
        r#"{"type":"delegate","path":"/meh","delegate":{"type":"neg","path":"/heh","dentry":{"prefix":"/meh","dst":"/heh"}}}"#
    );
    assert_eq!(
        delegate_json("/neg"),
        r#"{"type":"delegate","path":"/neg","delegate":{"type":"neg","path":"~","dentry":{"prefix":"/neg","dst":"~"}}}"#
    );
    assert_eq!(delegate_json("/nope"), r#"{"type":"neg","path":"/nope"}"#);
}

#[test]
fn namerd_style_alternatives_list_the_request_entry_first() {
    let dtab = Dtab::read("/yeezy=>/yeezus")
        .unwrap()
        .concat(&Dtab::read("/yeezy=>/bar").unwrap());
    let State::Ok(t) =
        ConfiguredNamers::system_only().delegate_now(&dtab, &Path::read("/yeezy").unwrap())
    else {
        panic!()
    };
    assert_eq!(
        serde_json::to_string(&t.to_json()).unwrap(),
        concat!(
            r#"{"type":"alt","path":"/yeezy","alt":["#,
            r#"{"type":"neg","path":"/bar","dentry":{"prefix":"/yeezy","dst":"/bar"}},"#,
            r#"{"type":"neg","path":"/yeezus","dentry":{"prefix":"/yeezy","dst":"/yeezus"}}]}"#
        )
    );
}

#[test]
fn unions_keep_weights_and_fail_outside_fail_paths_shows_bang() {
    let dtab = Dtab::read("/u => 3 * /$/inet/127.0.0.1/1 & /x ; /x => !").unwrap();
    let State::Ok(t) =
        ConfiguredNamers::system_only().delegate_now(&dtab, &Path::read("/u").unwrap())
    else {
        panic!()
    };
    let json = t.to_json();
    // The root's own path is the union's, so the root collapses into it.
    let members = json["union"]
        .as_array()
        .unwrap_or_else(|| panic!("a union at the root: {json}"));
    assert_eq!(members[0]["weight"], 3.0);
    assert_eq!(members[0]["tree"]["type"], "leaf");
    assert_eq!(members[1]["weight"], 1.0);
    assert_eq!(members[1]["tree"]["delegate"]["type"], "fail");
    assert_eq!(members[1]["tree"]["delegate"]["path"], "!");
}

#[test]
fn loops_fail_the_whole_delegation_unless_inside_an_alternative() {
    let loop_only = Dtab::read("/a=>/b;/b=>/a").unwrap();
    let out = ConfiguredNamers::system_only().delegate_now(&loop_only, &Path::read("/a").unwrap());
    assert_eq!(
        out,
        State::Failed(Error::new("Max recursion level reached."))
    );
    let in_alt = Dtab::read("/a=>/b;/b=>/a;/c=>/a | /$/inet/127.0.0.1/1").unwrap();
    let State::Ok(t) =
        ConfiguredNamers::system_only().delegate_now(&in_alt, &Path::read("/c").unwrap())
    else {
        panic!()
    };
    let json = t.to_json();
    assert_eq!(json["alt"][0]["type"], "exception", "{json}");
    assert_eq!(json["alt"][0]["message"], "Max recursion level reached.");
    assert_eq!(
        json["alt"][1]["type"], "leaf",
        "every alternative is explained"
    );
}

#[tokio::test]
async fn pending_namers_time_out_like_linkerd() {
    let dtab = Dtab::read("/s=>/#/silent").unwrap();
    let out = interp()
        .delegate(
            &dtab,
            &Path::read("/s/x").unwrap(),
            Duration::from_millis(50),
        )
        .await;
    assert_eq!(out, Err(DelegateError::Timeout));
    assert_eq!(DelegateError::Timeout.to_string(), "Request timed out.");
}

#[tokio::test]
async fn delegate_waits_for_addresses() {
    let dtab = Dtab::read("/s=>/$/inet/localhost/8080").unwrap();
    let tree = interp()
        .delegate(&dtab, &Path::read("/s").unwrap(), Duration::from_secs(10))
        .await
        .unwrap();
    let json = tree.to_json();
    assert_eq!(json["delegate"]["bound"]["addr"]["type"], "bound", "{json}");
}

#[test]
fn resolutions_list_every_branch_in_order() {
    let State::Ok(t) = interp().delegate_now(
        &Dtab::read(DTAB).unwrap(),
        &Path::read("/boo/humbug").unwrap(),
    ) else {
        panic!()
    };
    assert_eq!(
        t.resolutions(),
        [
            "/bar/humbug (neg)",
            "/$/inet/127.1/8080 (bound)",
            "/#/error/humbug (exception: error naming /#/error/humbug)",
            "/$/fail/humbug (fail)",
        ]
    );
}
