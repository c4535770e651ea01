use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{json, Value as Json};

use super::*;
use crate::admin::{Admin, Request};

/// A registry whose stats roll at every snapshot.
fn registry() -> Registry {
    Registry::with_interval(Duration::ZERO)
}

fn get(admin: &Admin, path_and_query: &str) -> (StatusCode, String, String) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let req = Request {
        method: Method::GET,
        path: path.to_string(),
        query: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        content_type: None,
        body: Bytes::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let resp = rt.block_on(admin.handle(req));
    let body = String::from_utf8(resp.body.to_vec()).expect("utf-8 body");
    (resp.status, resp.content_type.to_string(), body)
}

fn served(registry: &Registry) -> Admin {
    let mut admin = Admin::new();
    register_admin(&mut admin, registry.clone());
    admin
}

fn example() -> Registry {
    let r = registry();
    let server = r.scope(["rt", "http", "server", "127.0.0.1", "4140"]);
    server.counter("requests").add(3);
    server.gauge("connections").set(2.0);
    r.scope(["rt", "http", "service", "svc/dog"])
        .counter("requests")
        .incr();
    let client = r.scope(["rt", "http", "client", "$/inet/127.1/8080"]);
    client.counter("requests").add(4);
    client.counter("status/200").add(4);
    r
}

#[test]
fn metrics_json_is_flat_with_slash_separated_names() {
    let (status, ctype, body) = get(&served(&example()), "/admin/metrics.json");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/json");
    let v: Json = serde_json::from_str(&body).expect("json");
    assert_eq!(v["rt/http/server/127.0.0.1/4140/requests"], json!(3));
    assert_eq!(v["rt/http/server/127.0.0.1/4140/connections"], json!(2.0));
    assert_eq!(v["rt/http/service/svc/dog/requests"], json!(1));
    assert_eq!(v["rt/http/client/$/inet/127.1/8080/requests"], json!(4));
    assert_eq!(v["rt/http/client/$/inet/127.1/8080/status/200"], json!(4));
    assert!(!body.contains('\n'), "compact unless pretty");
}

#[test]
fn metrics_json_pretty_is_indented_and_equal() {
    let admin = served(&example());
    let (_, _, compact) = get(&admin, "/admin/metrics.json");
    let (_, _, pretty) = get(&admin, "/admin/metrics.json?pretty=1");
    assert!(pretty.contains("\n  \"rt/http"));
    let a: Json = serde_json::from_str(&compact).expect("json");
    let b: Json = serde_json::from_str(&pretty).expect("json");
    assert_eq!(a, b);
}

#[test]
fn metrics_json_tree_nests_by_segment() {
    let (_, _, body) = get(&served(&example()), "/admin/metrics.json?tree=1");
    let v: Json = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["rt"]["http"]["server"]["127.0.0.1"]["4140"]["requests"],
        json!(3)
    );
    assert_eq!(
        v["rt"]["http"]["service"]["svc"]["dog"]["requests"],
        json!(1)
    );
    assert_eq!(
        v["rt"]["http"]["client"]["$"]["inet"]["127.1"]["8080"]["status"]["200"],
        json!(4)
    );
}

#[test]
fn metrics_json_tree_keeps_a_value_that_is_also_a_parent_under_the_empty_key() {
    let r = registry();
    r.scope(["retries"]).counter("total").add(2);
    r.scope::<[&str; 0], &str>([]).counter("retries").add(5);
    let body = render_json(&r.snapshot(), None, true, false).expect("render");
    let v: Json = serde_json::from_str(&body).expect("json");
    assert_eq!(v, json!({"retries": {"": 5, "total": 2}}));
}

#[test]
fn metrics_json_q_selects_a_subtree_and_unknown_q_is_404() {
    let admin = served(&example());
    let (status, _, body) = get(&admin, "/admin/metrics.json?q=rt/http/client");
    assert_eq!(status, StatusCode::OK);
    let v: Json = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v,
        json!({"$/inet/127.1/8080/requests": 4, "$/inet/127.1/8080/status/200": 4})
    );
    let (_, _, tree) = get(&admin, "/admin/metrics.json?q=rt/http/service&tree=1");
    let v: Json = serde_json::from_str(&tree).expect("json");
    assert_eq!(v, json!({"svc": {"dog": {"requests": 1}}}));
    let (status, ctype, body) = get(&admin, "/admin/metrics.json?q=rt/nope");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ctype, "application/json");
    let v: Json = serde_json::from_str(&body).expect("json");
    assert_eq!(v, json!({"error": "No such subtree: rt/nope"}));
}

#[test]
fn stat_expands_to_count_min_max_percentiles_sum_avg() {
    let r = registry();
    let latency = r
        .scope(["rt", "http", "service", "svc/a"])
        .stat("request_latency_ms");
    for v in 1..=1000 {
        latency.record(v);
    }
    let body =
        render_json(&r.snapshot(), Some("rt/http/service/svc/a"), false, false).expect("render");
    let v: Json = serde_json::from_str(&body).expect("json");
    let got = |k: &str| v[format!("request_latency_ms.{k}")].clone();
    assert_eq!(got("count"), json!(1000));
    assert_eq!(got("sum"), json!(500_500));
    assert_eq!(got("avg"), json!(500.5));
    assert_eq!(got("min"), json!(1));
    assert_eq!(got("max"), json!(1000));
    // Within the buckets' 1/32 bound of the exact percentile.
    for (k, exact) in [
        ("p50", 500.0),
        ("p90", 900.0),
        ("p95", 950.0),
        ("p99", 990.0),
        ("p9990", 999.0),
        ("p9999", 1000.0),
    ] {
        let p = got(k).as_f64().expect("a number");
        assert!((p - exact).abs() / exact <= 1.0 / 32.0, "{k} = {p}");
    }
}

#[test]
fn stats_report_the_last_interval_only() {
    let r = Registry::with_interval(Duration::from_secs(3600));
    let s = r.scope(["x"]).stat("latency");
    s.record(10);
    // Not yet rolled: the first interval has not ended.
    let v = |snap: &Snapshot| match &snap["x/latency"].value {
        Value::Stat(s) => *s,
        other => panic!("not a stat: {other:?}"),
    };
    assert_eq!(v(&r.snapshot()).count, 0);
    r.roll();
    assert_eq!(v(&r.snapshot()).count, 1);
    assert_eq!(v(&r.snapshot()).max, 10, "stable until the next roll");
    s.record(20);
    s.record(30);
    r.roll();
    let last = v(&r.snapshot());
    assert_eq!((last.count, last.min, last.max), (2, 20, 30));
    r.roll();
    assert_eq!(v(&r.snapshot()), Summary::default());
}

#[test]
fn prometheus_turns_rt_scopes_into_labels() {
    let r = example();
    let latency = r
        .scope([
            "rt",
            "http",
            "client",
            "$/inet/127.1/8080",
            "service",
            "svc/dog",
        ])
        .stat("request_latency_ms");
    latency.record(5);
    latency.record(7);
    r.scope(["rt", "http", "client", "$/inet/127.1/8080"])
        .counter("failures/com.twitter.finagle.ConnectionFailedException")
        .incr();
    r.scope(["jvm"]).gauge("heap-used.bytes").set(1.5);
    let (status, ctype, text) = get(&served(&r), "/admin/metrics/prometheus");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/plain; version=0.0.4");
    let lines: Vec<&str> = text.lines().collect();
    let has = |l: &str| assert!(lines.contains(&l), "missing {l:?} in\n{text}");
    has("# TYPE rt:server:requests counter");
    has(r#"rt:server:requests{rt="http", server="127.0.0.1/4140"} 3"#);
    has("# TYPE rt:server:connections gauge");
    has(r#"rt:server:connections{rt="http", server="127.0.0.1/4140"} 2"#);
    has(r#"rt:service:requests{rt="http", service="svc/dog"} 1"#);
    has(r#"rt:client:requests{rt="http", client="$/inet/127.1/8080"} 4"#);
    has(r#"rt:client:status:200{rt="http", client="$/inet/127.1/8080"} 4"#);
    has(concat!(
        r#"rt:client:failures{rt="http", client="$/inet/127.1/8080", "#,
        r#"exception="com.twitter.finagle.ConnectionFailedException"} 1"#
    ));
    let l = r#"rt="http", client="$/inet/127.1/8080", service="svc/dog""#;
    has("# TYPE rt:client:service:request_latency_ms summary");
    has(&format!(
        r#"rt:client:service:request_latency_ms{{{l}, quantile="0"}} 5"#
    ));
    has(&format!(
        r#"rt:client:service:request_latency_ms{{{l}, quantile="0.5"}} 5"#
    ));
    has(&format!(
        r#"rt:client:service:request_latency_ms{{{l}, quantile="1"}} 7"#
    ));
    has(&format!(
        "rt:client:service:request_latency_ms_count{{{l}}} 2"
    ));
    has(&format!(
        "rt:client:service:request_latency_ms_sum{{{l}}} 12"
    ));
    has(&format!(
        "rt:client:service:request_latency_ms_avg{{{l}}} 6"
    ));
    has("jvm:heap_used_bytes 1.5");
}

#[test]
fn prometheus_names_are_sanitized() {
    assert_eq!(prometheus::sanitize("a-b.c/d é"), "a_b_c_d__");
    assert_eq!(prometheus::sanitize("9lives"), "_9lives");
    let (name, labels) = prometheus::name_and_labels(&["rt".into(), "in\"x".into()], "req-s");
    assert_eq!(name, "rt:req_s");
    assert_eq!(labels, vec![("rt".to_string(), "in\"x".to_string())]);
    let r = registry();
    r.scope(["rt", "a\"b"]).counter("n").incr();
    let text = render_prometheus(&r.snapshot());
    assert!(text.contains(r#"rt:n{rt="a\"b"} 1"#), "{text}");
}

#[test]
fn removing_a_scope_drops_its_metrics_only() {
    let r = example();
    let stale = r
        .scope(["rt", "http", "client", "$/inet/127.1/8080"])
        .counter("requests");
    r.remove("rt/http/client/$/inet/127.1/8080");
    let snap = r.snapshot();
    assert!(snap.keys().all(|k| !k.starts_with("rt/http/client/")));
    assert!(snap.contains_key("rt/http/server/127.0.0.1/4140/requests"));
    stale.incr(); // still usable, no longer exported
    let fresh = r
        .scope(["rt", "http", "client", "$/inet/127.1/8080"])
        .counter("requests");
    assert_eq!(fresh.get(), 0);
}

#[test]
fn same_name_gives_the_same_value_and_other_kinds_are_detached() {
    let r = registry();
    let a = r.scope(["s"]).counter("n");
    let b = r.scope(["s"]).counter("n");
    a.incr();
    b.incr();
    assert_eq!(a.get(), 2);
    let g = r.scope(["s"]).gauge("n");
    g.set(9.0);
    assert_eq!(r.snapshot()["s/n"].value, Value::Counter(2));
}

#[test]
fn concurrent_increments_sum_correctly() {
    let r = registry();
    let scope = r.scope(["rt", "http", "server", "127.0.0.1", "4140"]);
    std::thread::scope(|t| {
        for _ in 0..4 {
            let scope = scope.clone();
            t.spawn(move || {
                let c = scope.counter("requests");
                let g = scope.gauge("connections");
                let s = scope.stat("request_latency_ms");
                for i in 0..10_000u64 {
                    c.incr();
                    g.incr();
                    g.decr();
                    s.record(i % 100);
                }
            });
        }
    });
    let snap = r.snapshot();
    let key = "rt/http/server/127.0.0.1/4140";
    assert_eq!(
        snap[&format!("{key}/requests")].value,
        Value::Counter(40_000)
    );
    assert_eq!(snap[&format!("{key}/connections")].value, Value::Gauge(0.0));
    match &snap[&format!("{key}/request_latency_ms")].value {
        Value::Stat(s) => assert_eq!((s.count, s.sum), (40_000, 4 * 100 * 4950)),
        other => panic!("not a stat: {other:?}"),
    }
}

#[test]
fn metrics_facade_records_into_the_registry() {
    let r = registry();
    let recorder = r.recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("rt/http/server/0.0.0.0/4140/requests").increment(2);
        metrics::gauge!("rt/http/server/0.0.0.0/4140/connections").set(3.0);
        metrics::histogram!("rt/http/server/0.0.0.0/4140/request_latency_ms").record(12.0);
        metrics::counter!("jobs", "kind" => "gc").increment(1);
    });
    let snap = r.snapshot();
    let key = "rt/http/server/0.0.0.0/4140";
    assert_eq!(snap[&format!("{key}/requests")].value, Value::Counter(2));
    assert_eq!(snap[&format!("{key}/connections")].value, Value::Gauge(3.0));
    match &snap[&format!("{key}/request_latency_ms")].value {
        Value::Stat(s) => assert_eq!((s.count, s.max), (1, 12)),
        other => panic!("not a stat: {other:?}"),
    }
    assert_eq!(snap["jobs/kind/gc"].value, Value::Counter(1));
    // Handles from the scope API share the facade's values.
    r.scope(["rt", "http", "server", "0.0.0.0", "4140"])
        .counter("requests")
        .incr();
    assert_eq!(
        r.snapshot()[&format!("{key}/requests")].value,
        Value::Counter(3)
    );
}

/// The record cost of the hot-path handles; run with
/// `cargo test --release -p l5d-core record_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn record_cost() {
    let r = registry();
    let scope = r.scope(["rt", "http", "server", "127.0.0.1", "4140"]);
    let (c, g, s) = (
        scope.counter("requests"),
        scope.gauge("connections"),
        scope.stat("request_latency_ms"),
    );
    const N: u64 = 10_000_000;
    let time = |f: &dyn Fn(u64)| {
        let start = Instant::now();
        for i in 0..N {
            f(std::hint::black_box(i));
        }
        start.elapsed().as_nanos() as f64 / N as f64
    };
    let counter = time(&|_| c.incr());
    let gauge = time(&|_| g.incr());
    let stat = time(&|i| s.record(i % 5000));
    println!("ns per op: counter.incr {counter:.1}, gauge.incr {gauge:.1}, stat.record {stat:.1}");
    // Two threads recording into the same stat: the worst case, cache lines bouncing.
    let start = Instant::now();
    std::thread::scope(|t| {
        for _ in 0..2 {
            t.spawn(|| {
                for i in 0..N {
                    s.record(std::hint::black_box(i) % 5000);
                }
            });
        }
    });
    let shared = start.elapsed().as_nanos() as f64 / N as f64;
    println!(
        "ns per stat.record, 2 threads on one stat (wall time / records per thread): {shared:.1}"
    );
    assert!(stat < 100.0);
}
