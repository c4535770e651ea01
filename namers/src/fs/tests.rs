use std::time::Duration;

use super::*;

fn mount() -> Path {
    Path::read("/#/io.l5d.fs").unwrap()
}

fn dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("l5d-fs-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn addrs(a: &Addr) -> Vec<String> {
    match a {
        Addr::Bound(v, _) => v.iter().map(|a| a.addr.to_string()).collect(),
        other => vec![format!("{other:?}")],
    }
}

fn bound(state: &State<NameTree<Name>>) -> &Bound {
    match state {
        State::Ok(NameTree::Leaf(Name::Bound(b))) => b,
        other => panic!("not bound: {other:?}"),
    }
}

#[test]
fn files_parse_like_linkerd_1() {
    assert_eq!(
        addrs(&parse_file(
            "127.1 8888\n# a comment\n\n  10.0.0.2 80  # trailing\n"
        )),
        ["10.0.0.2:80", "127.0.0.1:8888"]
    );
    assert_eq!(parse_file(""), Addr::bound([]));
    for bad in [
        "127.0.0.1",
        "127.0.0.1 0",
        "127.0.0.1 65536",
        "127.0.0.1 http",
        "a b c",
    ] {
        match parse_file(&format!("127.0.0.1 1\n{bad}\n")) {
            Addr::Failed(msg) => assert!(msg.contains("malformed address"), "{msg}"),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

#[test]
fn names_bind_to_files_with_residuals_and_missing_names_are_neg() {
    let root = dir("lookup");
    std::fs::write(root.join("users"), "127.0.0.1 8080\n").unwrap();
    std::fs::create_dir(root.join("prod")).unwrap();
    std::fs::write(root.join("prod").join("web"), "127.0.0.2 80\n").unwrap();
    let namer = FsNamer::new(&root, mount());

    let users = namer.lookup(&Path::read("/users/v1/x").unwrap()).sample();
    let b = bound(&users);
    assert_eq!(
        (b.id.show(), b.residual.show()),
        ("/#/io.l5d.fs/users".into(), "/v1/x".into())
    );
    assert_eq!(addrs(&b.addr.sample()), ["127.0.0.1:8080"]);

    let web = namer.lookup(&Path::read("/prod/web").unwrap()).sample();
    assert_eq!(bound(&web).id.show(), "/#/io.l5d.fs/prod/web");
    for missing in ["/nope", "/prod", "/prod/nope", "/"] {
        assert_eq!(
            namer.lookup(&Path::read(missing).unwrap()).sample(),
            State::Ok(NameTree::Neg),
            "{missing}"
        );
    }
}

async fn until<T: Clone + std::fmt::Debug>(var: &mut Var<T>, what: &str, ok: impl Fn(&T) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if ok(&var.get_and_mark_seen()) {
            return;
        }
        let changed = tokio::time::timeout_at(deadline, var.changed()).await;
        assert!(
            matches!(changed, Ok(true)),
            "timed out waiting for {what}; last {:?}",
            var.sample()
        );
    }
}

#[tokio::test]
async fn edits_new_files_and_deletions_are_followed_live() {
    let root = dir("live");
    std::fs::write(root.join("users"), "127.0.0.1 8080\n").unwrap();
    let namer = FsNamer::new(&root, mount());
    let mut users = namer.lookup(&Path::read("/users").unwrap());
    let mut addr = bound(&users.get_and_mark_seen()).addr.clone();
    let mut later = namer.lookup(&Path::read("/later").unwrap());
    assert_eq!(*later.get_and_mark_seen(), State::Ok(NameTree::Neg));

    std::fs::write(root.join("users"), "127.0.0.1 8080\n127.0.0.1 8081\n").unwrap();
    until(&mut addr, "the edit", |a| addrs(a).len() == 2).await;

    std::fs::write(root.join("later"), "127.0.0.1 9000\n").unwrap();
    until(&mut later, "the new file", |s| {
        matches!(s, State::Ok(NameTree::Leaf(_)))
    })
    .await;

    std::fs::remove_file(root.join("users")).unwrap();
    until(&mut users, "the deletion", |s| {
        *s == State::Ok(NameTree::Neg)
    })
    .await;
    until(&mut addr, "the deleted file's address", |a| *a == Addr::Neg).await;
}

#[tokio::test]
async fn unwatched_lookups_are_forgotten() {
    let root = dir("forget");
    let namer = FsNamer::new(&root, mount());
    drop(namer.lookup(&Path::read("/a").unwrap()));
    std::fs::write(root.join("a"), "127.0.0.1 1\n").unwrap();
    let mut again = namer.lookup(&Path::read("/a").unwrap());
    until(&mut again, "the new file", |s| {
        matches!(s, State::Ok(NameTree::Leaf(_)))
    })
    .await;
    let shared = namer.shared.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    drop(again);
    // The next rescan drops the closed watch.
    std::fs::write(root.join("b"), "127.0.0.1 2\n").unwrap();
    while !lock(&shared.lookups).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed lookups were kept"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
