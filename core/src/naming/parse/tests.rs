use crate::naming::{Dentry, Dtab, NameTree, Path, Prefix};

fn err(r: Result<impl std::fmt::Debug, super::ParseError>) -> String {
    r.expect_err("should not parse").message().to_string()
}

#[test]
fn error_messages_match_finagle() {
    assert_eq!(
        err(Path::read("/foo^bar")),
        "end of input expected but '^' found at '/foo[^]bar'"
    );
    assert_eq!(
        err(Path::read("/foo/bar/")),
        "label char expected but end of input found at '/foo/bar/[]'"
    );
    assert_eq!(
        err(Dtab::read("invalid-param")),
        "'/' expected but 'i' found at '[i]nvalid-param'"
    );
    assert_eq!(
        err(Path::read("/\\X41")),
        "'x' expected but 'X' found at '/\\[X]41'"
    );
    assert_eq!(
        err(Path::read("/\\x4")),
        "hex char expected but end of input found at '/\\x4[]'"
    );
    assert_eq!(
        err(Path::read("/\\x4g")),
        "hex char expected but 'g' found at '/\\x4[g]'"
    );
    assert_eq!(
        err(NameTree::read(". * /a")),
        "weight expected but '.' found at '.[ ]* /a'"
    );
    assert_eq!(
        err(NameTree::read("1.2.3 * /a")),
        "number char expected but '.' found at '1.2[.]3 * /a'"
    );
    assert_eq!(
        err(NameTree::read("-1 * /a")),
        "simple expected but '-' found at '[-]1 * /a'"
    );
    assert_eq!(
        err(NameTree::read("1e3 * /a")),
        "'*' expected but 'e' found at '1[e]3 * /a'"
    );
    assert_eq!(
        err(NameTree::read("2 /a")),
        "'*' expected but '/' found at '2 [/]a'"
    );
    assert_eq!(
        err(NameTree::read("\u{663} * /a")),
        "For input string: \"\u{663}\""
    );
}

#[test]
fn error_positions_are_character_offsets() {
    let e = Dtab::read("/a=>/b;/c=/d").unwrap_err();
    assert_eq!(e.position(), 10);
    assert_eq!(
        e.message(),
        "'>' expected but '/' found at '/a=>/b;/c=[/]d'"
    );
    assert_eq!(Path::read("/é").unwrap_err().position(), 1);
    assert_eq!(Path::read("/a/").unwrap_err().position(), 3);
}

#[test]
fn paths_reject_empty_elements_stars_and_trailing_garbage() {
    for bad in [
        "", "a", "//", "/a//b", "/a/", "/a/*", "/foo bar", "/é", "/a\u{a0}",
    ] {
        assert!(Path::read(bad).is_err(), "{bad:?} should not parse");
    }
    assert_eq!(Path::read("/foo # x").unwrap(), Path::read("/foo").unwrap());
    assert_eq!(Path::read("\t/a\u{2028}").unwrap().show(), "/a");
}

#[test]
fn prefixes_take_stars_only_as_whole_elements() {
    assert_eq!(Prefix::read("/a/*/c").unwrap().to_string(), "/a/*/c");
    assert_eq!(Prefix::read("/*").unwrap().to_string(), "/*");
    assert!(Prefix::read("/foo/*bar").is_err());
    assert_eq!(
        err(Dentry::read("/foo/*bar=>/a")),
        "'=' expected but 'b' found at '/foo/*[b]ar=>/a'"
    );
    assert!(Dentry::read("/a/* /b=>/c").is_err());
}

#[test]
fn comments_start_only_where_whitespace_may() {
    let d = Dtab::read("/a=>/b;#/c=>/d").unwrap();
    assert_eq!(d.len(), 1, "the comment swallows the rest of the line");
    assert!(Dtab::read("/a=>#/b").is_err());
    assert_eq!(
        Dtab::read("/a => /b # note\n;/c=>/d").unwrap().show(),
        "/a=>/b;/c=>/d"
    );
    assert_eq!(Path::read("/b#c").unwrap().show(), "/b#c");
    assert_eq!(
        Dtab::read("/#/io.l5d.fs=>/x").unwrap().show(),
        "/#/io.l5d.fs=>/x"
    );
}

#[test]
fn dtab_separators_follow_finagle() {
    for ok in [
        "",
        "  ",
        "# only a comment",
        "/a=>/b;",
        "/a=>/b ; /c=>/d ;",
        "\n/a=>/b;\n/c=>/d\n",
    ] {
        assert!(Dtab::read(ok).is_ok(), "{ok:?} should parse");
    }
    for bad in [
        ";",
        ";/a=>/b",
        "/a=>/b;;",
        "/a=>/x\n/b=>/y",
        "/a=>/b,/c=>/d",
        "/a = >/b",
        "/a=>",
    ] {
        assert!(Dtab::read(bad).is_err(), "{bad:?} should not parse");
    }
    assert_eq!(Dtab::read("").unwrap(), Dtab::empty());
}

#[test]
fn precedence_and_grouping() {
    use NameTree::*;
    let p = |s| Leaf(Path::read(s).unwrap());
    let tree = NameTree::read("/a & /b | /c").unwrap();
    assert_eq!(
        tree,
        Alt(vec![
            Union(vec![
                super::Weighted::new(1.0, p("/a")),
                super::Weighted::new(1.0, p("/b"))
            ]),
            p("/c"),
        ])
    );
    assert_eq!(
        NameTree::read("/a | (/b | /c)").unwrap(),
        Alt(vec![p("/a"), Alt(vec![p("/b"), p("/c")])])
    );
    assert_eq!(
        NameTree::read("2 * /a").unwrap(),
        p("/a"),
        "a lone weight is dropped"
    );
    assert_eq!(
        NameTree::read("2 * /a | /b").unwrap(),
        Alt(vec![p("/a"), p("/b")])
    );
    assert_eq!(NameTree::read("$").unwrap(), Empty);
    assert_eq!(NameTree::read("/$").unwrap(), p("/$"));
    assert_eq!(NameTree::read("~").unwrap(), Neg);
    assert_eq!(NameTree::read("!").unwrap(), Fail);
    assert_eq!(NameTree::read(" ( /a ) ").unwrap(), p("/a"));
}

#[test]
fn weights_accept_java_double_forms() {
    let w = |s: &str| match NameTree::read(&format!("{s} * /a & /b")).unwrap() {
        NameTree::Union(ws) => ws[0].weight,
        t => panic!("not a union: {t:?}"),
    };
    assert_eq!(w(".5"), 0.5);
    assert_eq!(w("5."), 5.0);
    assert_eq!(w("007"), 7.0);
    assert_eq!(w("0"), 0.0);
    assert!(w(&"9".repeat(400)).is_infinite());
    let t = NameTree::read(&format!("{} * /a & /b", "9".repeat(400))).unwrap();
    assert_eq!(t.to_string(), "Infinity*/a & /b");
    assert!(
        NameTree::read(&t.to_string()).is_err(),
        "Infinity does not parse back"
    );
}

#[test]
fn dentry_arrow_is_one_token() {
    assert!(Dentry::read("/a=>/b").is_ok());
    assert!(Dentry::read("/a  =>  /b").is_ok());
    assert!(Dentry::read("/a= >/b").is_err());
}

#[test]
fn nesting_is_bounded_with_a_positioned_error() {
    let ok = format!(
        "{}/a{}",
        "(".repeat(super::MAX_NESTING),
        ")".repeat(super::MAX_NESTING)
    );
    assert_eq!(NameTree::read(&ok).unwrap().to_string(), "/a");
    let deep = format!("/x=>{}/a{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = Dtab::read(&deep).unwrap_err();
    assert_eq!(e.position(), 4 + super::MAX_NESTING);
    assert!(e
        .message()
        .starts_with("at most 100 nested parentheses expected but '(' found at"));
}
