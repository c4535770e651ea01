//! The `linkerd dtab` tools, run as the real binary: the spec's worked examples, exit codes
//! and error positions.

use std::process::{Command, Output};

fn linkerd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linkerd"))
        .args(args)
        .output()
        .expect("linkerd runs")
}

/// Runs a command that must succeed and returns its one line of output.
fn ok(args: &[&str]) -> String {
    let out = linkerd(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim_end_matches('\n')
        .to_string()
}

/// Runs a command that must fail with exit code 1 and returns its error message.
fn err(args: &[&str]) -> String {
    let out = linkerd(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(out.stdout.is_empty());
    stderr
}

fn bind(dtab: &str, path: &str) -> String {
    ok(&["dtab", "bind", "--dtab", dtab, "--", path])
}

#[test]
fn show_prints_the_canonical_form() {
    assert_eq!(
        ok(&["dtab", "show", " /a => /b ;\n /c => .5 * /d & .5*/e ; "]),
        "/a=>/b;/c=>0.50*/d & 0.50*/e"
    );
    assert_eq!(
        ok(&["dtab", "show", "/a=>2.675*/b & /c"]),
        "/a=>2.68*/b & /c"
    );
    assert_eq!(
        ok(&["dtab", "show", "/x=>/a\\x2fb | (/c | ~)"]),
        "/x=>/\\x61\\x2f\\x62 | (/c | ~)"
    );
    assert_eq!(ok(&["dtab", "show", "# nothing but a comment"]), "");
}

#[test]
fn malformed_dtabs_and_paths_exit_1_with_the_position() {
    let e = err(&["dtab", "show", "/a=>/b;/c=/d"]);
    assert!(
        e.contains("at character 10: '>' expected but '/' found at '/a=>/b;/c=[/]d'"),
        "{e}"
    );
    assert!(e.contains("\n  /a=>/b;/c=/d\n            ^"), "{e}");
    let e = err(&[
        "dtab", "bind", "--dtab", "/a=>/b", "--dtab", ";;", "--", "/a",
    ]);
    assert!(e.contains("'/' expected but ';' found at '[;];'"), "{e}");
    let e = err(&["dtab", "bind", "--", "/a//b"]);
    assert!(e.contains("invalid path at character 3"), "{e}");
    err(&["dtab", "delegate", "--dtab", "/a=>(/b", "--", "/a"]);
    err(&["dtab", "show", "\u{1F600}/a"]);
}

#[test]
fn last_match_wins_over_the_longest() {
    assert_eq!(
        bind("/a/b=>/$/inet/10.0.0.1/1; /a=>/$/inet/10.0.0.2/2", "/a/b"),
        "/$/inet/10.0.0.2/2/b"
    );
}

#[test]
fn the_full_example_binds_weighted_unions() {
    let dtab = "/foo => /bar; /foo => 3 * /baz & 2 * /booz & /rewritten/by/test/namer;
        /rewritten/by/test/namer => /$/inet/7070; /baz => 3 * /$/inet/8080 & 2 * /$/inet/9090; /booz => ~";
    assert_eq!(
        bind(dtab, "/foo"),
        "3.00*(3.00*/$/inet/8080 & 2.00*/$/inet/9090) & /$/inet/7070"
    );
}

#[test]
fn fail_and_neg_inside_unions_and_alternatives() {
    let h1 = "/$/inet/10.0.0.1/1";
    assert_eq!(bind(&format!("/a => {h1} & !"), "/a"), h1);
    assert_eq!(bind("/a => ! & !", "/a"), "~");
    assert_eq!(bind(&format!("/a => (! & !) | {h1}"), "/a"), h1);
    assert_eq!(bind(&format!("/a => ! | {h1}"), "/a"), "!");
    assert_eq!(bind("/a => $", "/a"), "$");
    assert_eq!(bind("/a => /$/nil", "/a"), "$");
}

#[test]
fn residuals_follow_the_bound_id() {
    assert_eq!(
        bind(
            "/svc=>/srv; /srv/users=>/$/inet/10.0.0.1/1",
            "/svc/users/v1"
        ),
        "/$/inet/10.0.0.1/1/v1"
    );
}

#[test]
fn later_dtab_flags_win_like_l5d_dtab_over_the_base() {
    let out = ok(&[
        "dtab",
        "bind",
        "--dtab",
        "/svc=>/$/inet/127.0.0.1/1",
        "--dtab",
        "/svc/b=>/$/inet/127.0.0.1/2",
        "--",
        "/svc/b",
    ]);
    assert_eq!(out, "/$/inet/127.0.0.1/2");
}

#[test]
fn loops_are_a_clear_error() {
    let e = err(&[
        "dtab",
        "bind",
        "--dtab",
        "/foo/bar=>/bar/foo; /bar/foo=>/foo/bar",
        "--",
        "/foo/bar",
    ]);
    assert!(
        e.contains("Max recursion level: 100 reached in Namer lookup"),
        "{e}"
    );
    let e = err(&["dtab", "bind", "--", "/$/nope/x"]);
    assert!(e.contains("Unknown namer: nope"), "{e}");
}

const HUMBUG_DTAB: &str =
    "/beh => /#/error ; /bah/humbug => /$/inet/127.1/8080 ; /foo => /bah | /beh | /$/fail ;
    /foo => /bar ; /boo => /foo ; /meh => /heh ; /neg => ~ ;";

fn delegate_json(path: &str) -> String {
    ok(&[
        "dtab",
        "delegate",
        "--json",
        "--dtab",
        HUMBUG_DTAB,
        "--",
        path,
    ])
}

#[test]
fn delegate_json_matches_linkerds_delegator() {
    // The spec's /boo/humbug answer, except that linkerd's test mounts a namer at /#/error
    // that throws; with no namer there, Linkerd 1 answers neg for that branch too.
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
        r#""delegate":{"type":"neg","path":"/#/error/humbug","dentry":{"prefix":"/beh","dst":"/#/error"}}},"#,
        r#"{"type":"fail","path":"/$/fail/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"}}]}}"#,
    );
    assert_eq!(delegate_json("/boo/humbug"), want);
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
fn delegate_text_shows_each_step_and_its_dentry() {
    let out = ok(&[
        "dtab",
        "delegate",
        "--dtab",
        HUMBUG_DTAB,
        "--",
        "/boo/humbug",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "/boo/humbug");
    assert_eq!(
        lines[1],
        "  /foo/humbug  [/boo=>/foo]  (alternatives, first that is not ~ wins)"
    );
    assert_eq!(lines[2], "    /bar/humbug  [/foo=>/bar]  => ~ (neg)");
    assert!(out.contains("/$/inet/127.1/8080  [/bah/humbug=>/$/inet/127.1/8080]  => /$/inet/127.1/8080 (127.0.0.1:8080)"), "{out}");
    assert!(
        out.contains("/$/fail/humbug  [/foo=>/bah | /beh | /$/fail]  => ! (fail)"),
        "{out}"
    );
}

#[test]
fn no_arguments_is_a_usage_error() {
    let e = err(&[]);
    assert!(e.contains("a config file is required"), "{e}");
    let e = err(&["dtab", "bind", "/a"]);
    assert!(e.contains("Usage"), "{e}");
}

/// `--config` brings the config's namers: here io.l5d.fs over a fresh directory.
#[test]
fn config_namers_take_part_in_binding() {
    let dir = l5d_integration::temp_dir("dtab-config");
    let disco = dir.join("disco");
    std::fs::create_dir(&disco).unwrap();
    std::fs::write(disco.join("cat"), "127.1 8888\n").unwrap();
    let config = dir.join("linkerd.yaml");
    let yaml = format!(
        "namers:\n- kind: io.l5d.fs\n  rootDir: {}\nrouters:\n- protocol: http\n  servers:\n  - port: 0\n",
        disco.display()
    );
    std::fs::write(&config, yaml).unwrap();
    let config = config.to_str().unwrap();
    let dtab = "/svc => /#/io.l5d.fs | /$/inet/127.0.0.1/1";
    let bind = |path: &str| {
        ok(&[
            "dtab", "bind", "--config", config, "--dtab", dtab, "--", path,
        ])
    };
    assert_eq!(bind("/svc/cat/meow"), "/#/io.l5d.fs/cat/meow");
    assert_eq!(
        bind("/svc/dog"),
        "/$/inet/127.0.0.1/1/dog",
        "a missing file is Neg, so the alternative is used"
    );
    let json = ok(&[
        "dtab", "delegate", "--json", "--config", config, "--dtab", dtab, "--", "/svc/cat",
    ]);
    assert!(json.contains(r#""id":"/#/io.l5d.fs/cat""#), "{json}");
    assert!(
        json.contains(r#"{"ip":"127.0.0.1","port":8888,"meta":{}}"#),
        "{json}"
    );
    let e = err(&[
        "dtab",
        "bind",
        "--config",
        "/nonexistent.yaml",
        "--",
        "/svc/cat",
    ]);
    assert!(e.contains("cannot read the config file"), "{e}");
}
