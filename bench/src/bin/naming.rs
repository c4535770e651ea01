//! Times parsing dtabs and binding paths through a 200-entry dtab.
//!
//! `cargo run --release -p l5d-bench --bin naming [-- --seconds N]`

use std::time::Duration;

use l5d_bench::time_per_call;
use l5d_core::binding::ConfiguredNamers;
use l5d_core::naming::{Dtab, Path};
use l5d_core::var::State;

/// A dtab shaped like a large production one: 198 per-service entries, a catch-all and an
/// environment override, so a typical name takes three rewrites.
fn big_dtab() -> String {
    let mut entries = vec!["/srv => /$/inet/127.0.0.1/9999".to_string()];
    for i in 0..198 {
        entries.push(format!("/svc/service{i} => /srv/service{i}/prod"));
    }
    entries.push(
        "/srv/service7 => 0.9 * /$/inet/127.0.0.1/8080 & 0.1 * /$/inet/127.0.0.1/8081".into(),
    );
    entries.join(";\n")
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let budget = Duration::from_secs(seconds);
    let text = big_dtab();
    let dtab = Dtab::read(&text).expect("the bench dtab parses");
    assert_eq!(dtab.len(), 200);
    let interp = ConfiguredNamers::system_only();
    let first = Path::read("/svc/service0/users").unwrap();
    let weighted = Path::read("/svc/service7").unwrap();
    let missing = Path::read("/svc/nothing").unwrap();
    for p in [&first, &weighted] {
        assert!(
            matches!(interp.bind_now(&dtab, p), State::Ok(_)),
            "{p} binds"
        );
    }
    let local = Dtab::read("/svc/service0 => /$/inet/127.0.0.1/7777").unwrap();

    let rows: Vec<(&str, Duration)> = vec![
        (
            "parse a 200-entry dtab",
            time_per_call(budget, || Dtab::read(&text)),
        ),
        (
            "show a 200-entry dtab",
            time_per_call(budget, || dtab.show()),
        ),
        (
            "one lookup step, 200 entries",
            time_per_call(budget, || dtab.lookup(&first)),
        ),
        (
            "bind /svc/service0/users (3 lookups)",
            time_per_call(budget, || interp.bind_now(&dtab, &first)),
        ),
        (
            "bind a weighted union (4 lookups)",
            time_per_call(budget, || interp.bind_now(&dtab, &weighted)),
        ),
        (
            "bind a name no entry matches",
            time_per_call(budget, || interp.bind_now(&dtab, &missing)),
        ),
        (
            "bind with a per-request l5d-dtab",
            time_per_call(budget, || interp.bind_now(&dtab.concat(&local), &first)),
        ),
    ];
    println!("{:<40} {:>12}", "naming operation", "time/op");
    for (name, t) in rows {
        println!("{name:<40} {:>9.2} µs", t.as_secs_f64() * 1e6);
    }
}
