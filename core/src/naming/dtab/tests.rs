use crate::naming::{Dtab, NameTree, Path};

fn d(s: &str) -> Dtab {
    Dtab::read(s).unwrap()
}

fn p(s: &str) -> Path {
    Path::read(s).unwrap()
}

#[test]
fn last_matching_dentry_comes_first_not_the_longest() {
    let dtab = d("/a/b=>/x; /a=>/y");
    assert_eq!(dtab.lookup(&p("/a/b")).to_string(), "/y/b | /x");
}

#[test]
fn no_match_is_neg_and_one_match_is_unwrapped() {
    let dtab = d("/a=>/b");
    assert_eq!(dtab.lookup(&p("/c")), NameTree::Neg);
    assert_eq!(dtab.lookup(&p("/a/c")).to_string(), "/b/c");
    assert_eq!(d("/a=>~").lookup(&p("/a")), NameTree::Neg);
    assert_eq!(
        d("/a=>~;/a=>~").lookup(&p("/a")),
        NameTree::Alt(vec![NameTree::Neg, NameTree::Neg])
    );
}

#[test]
fn residual_is_appended_to_every_leaf() {
    let dtab = d("/s=>/a & 2*/b | (/c | !) ");
    assert_eq!(
        dtab.lookup(&p("/s/x/y")).to_string(),
        "/a/x/y & 2.00*/b/x/y | (/c/x/y | !)"
    );
}

#[test]
fn wildcard_consumes_and_drops_one_element() {
    let dtab = d("/a/*/c=>/d");
    assert_eq!(dtab.lookup(&p("/a/b/c/e/f")).to_string(), "/d/e/f");
    assert_eq!(dtab.lookup(&p("/a/b")), NameTree::Neg);
}

#[test]
fn root_prefix_matches_everything() {
    let dtab = d("/=>/x");
    assert_eq!(dtab.lookup(&Path::empty()).to_string(), "/x");
    assert_eq!(dtab.lookup(&p("/$/inet/h/1")).to_string(), "/x/$/inet/h/1");
}

#[test]
fn prefix_matching_compares_whole_elements() {
    assert_eq!(d("/s=>/x").lookup(&p("/s#/foo")), NameTree::Neg);
}

#[test]
fn concatenation_appends_and_later_entries_win() {
    let base = d("/a=>/b");
    let local = d("/a=>/c;/a=>/d");
    let all = base.concat(&local);
    assert_eq!(all.show(), "/a=>/b;/a=>/c;/a=>/d");
    assert_eq!(all.lookup(&p("/a")).to_string(), "/d | /c | /b");
    assert_eq!(base.concat(&Dtab::empty()), base);
    assert_eq!(
        base.push(crate::naming::Dentry::read("/z=>/y").unwrap())
            .show(),
        "/a=>/b;/z=>/y"
    );
}

#[test]
fn show_is_canonical() {
    assert_eq!(
        d(" /a => /b ;\n /c => 0.5 * /d & 0.50*/e ").show(),
        "/a=>/b;/c=>0.50*/d & 0.50*/e"
    );
    assert_eq!(Dtab::empty().show(), "");
    assert_eq!(d("/a=>/b").to_string(), "/a=>/b");
}

#[test]
fn simplified_drops_neg_entries() {
    assert_eq!(d("/a=>~;/b=>~|/c;/d=>! & !").simplified().show(), "/b=>/c");
}

#[test]
fn names_rst_chain_rewrites_step_by_step() {
    let dtab = d("/zk#=>/$/com.twitter.serverset; /zk=>/zk#; /s##=>/zk/zk.local.twitter.com:2181; /s#=>/s##/prod; /s=>/s#");
    let mut path = p("/s/crawler");
    let mut seen = Vec::new();
    for _ in 0..5 {
        match dtab.lookup(&path) {
            NameTree::Leaf(next) => {
                seen.push(next.show());
                path = next;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "/s#/crawler",
            "/s##/prod/crawler",
            "/zk/zk.local.twitter.com:2181/prod/crawler",
            "/zk#/zk.local.twitter.com:2181/prod/crawler",
            "/$/com.twitter.serverset/zk.local.twitter.com:2181/prod/crawler",
        ]
    );
    let staged = dtab.concat(&d("/s#=>/s##/staging"));
    assert_eq!(
        staged.lookup(&p("/s#/crawler")).to_string(),
        "/s##/staging/crawler | /s##/prod/crawler"
    );
}
