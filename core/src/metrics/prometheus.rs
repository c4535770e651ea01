//! `/admin/metrics/prometheus`: the registry in Prometheus' text exposition format
//! (version 0.0.4), as Linkerd 1's `io.l5d.prometheus` telemeter renders it.
//!
//! The mapping works on a metric's scope elements (as given to [`Registry::scope`]), so
//! a client id such as `$/inet/127.1/8080` stays one label value:
//!
//! * a scope starting `rt/<label>` gives the label `rt="<label>"` and the name part `rt`;
//! * then, repeatedly, `server/<ip>/<port>` gives `server="<ip>/<port>"` (two elements,
//!   or one already holding a `/`), `service/<svc>` gives `service="<svc>"` and
//!   `client/<id>` gives `client="<id>"`, each adding its kind (`server`, `service`,
//!   `client`) to the name;
//! * the remaining elements and the metric's name (split at `/`) finish the name; a
//!   `failures/<exception...>` tail becomes the name part `failures` and the label
//!   `exception="<exception...>"` (joined with `/`);
//! * name parts are joined with `:` and every character outside `[a-zA-Z0-9_:]` becomes
//!   `_` (a leading digit gets a `_` before it).
//!
//! So `rt/http/server/127.0.0.1/4140/requests` is
//! `rt:server:requests{rt="http", server="127.0.0.1/4140"}`,
//! `rt/http/client/$/inet/127.1/8080/service/svc/dog/success` (scope elements `rt`,
//! `http`, `client`, `$/inet/127.1/8080`, `service`, `svc/dog`) is
//! `rt:client:service:success{rt="http", client="$/inet/127.1/8080", service="svc/dog"}`,
//! and a metric outside `rt` keeps its path as its name (`jvm/uptime` is `jvm:uptime`).
//! Counters are `counter`s, gauges `gauge`s; a stat is a `summary` with
//! `quantile="0|0.5|0.9|0.95|0.99|0.999|0.9999|1"` (0 is the min, 1 the max), `_count`
//! and `_sum`, plus a `gauge` `<name>_avg`, all over the last snapshot interval.
//!
//! [`Registry::scope`]: super::Registry::scope

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Snapshot, Value};

/// A metric's Prometheus name and labels.
pub(crate) fn name_and_labels(scope: &[String], name: &str) -> (String, Vec<(String, String)>) {
    let mut parts: Vec<String> = Vec::new();
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut rest: &[String] = scope;
    if rest.len() >= 2 && rest[0] == "rt" {
        parts.push("rt".into());
        labels.push(("rt".into(), rest[1].clone()));
        rest = &rest[2..];
        loop {
            match rest {
                [kind, ip, port, ..] if kind == "server" && !ip.contains('/') => {
                    labels.push((kind.clone(), format!("{ip}/{port}")));
                    parts.push(kind.clone());
                    rest = &rest[3..];
                }
                [kind, id, ..] if matches!(kind.as_str(), "server" | "service" | "client") => {
                    labels.push((kind.clone(), id.clone()));
                    parts.push(kind.clone());
                    rest = &rest[2..];
                }
                _ => break,
            }
        }
    }
    let mut tail: Vec<&str> = rest.iter().map(String::as_str).collect();
    tail.extend(name.split('/').filter(|s| !s.is_empty()));
    if let Some(i) = tail.iter().position(|s| *s == "failures") {
        if i + 1 < tail.len() {
            labels.push(("exception".into(), tail[i + 1..].join("/")));
            tail.truncate(i + 1);
        }
    }
    parts.extend(tail.iter().map(|s| s.to_string()));
    (sanitize(&parts.join(":")), labels)
}

/// A valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_set(labels: &[(String, String)], extra: Option<(&str, &str)>) -> String {
    let all: Vec<String> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra)
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if all.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", all.join(", "))
    }
}

/// One metric family: its type and sample lines.
#[derive(Default)]
struct Family {
    kind: &'static str,
    lines: Vec<String>,
}

/// Renders `snapshot` in Prometheus' text format, one `# TYPE` line per family and the
/// families' samples together, as the format requires.
pub fn render_prometheus(snapshot: &Snapshot) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut add = |name: String, kind: &'static str, line: String| {
        let f = families.entry(name).or_insert_with(|| Family {
            kind,
            lines: Vec::new(),
        });
        f.lines.push(line);
    };
    for sample in snapshot.values() {
        let (name, labels) = name_and_labels(&sample.scope, &sample.name);
        let ls = label_set(&labels, None);
        match &sample.value {
            Value::Counter(c) => add(name.clone(), "counter", format!("{name}{ls} {c}")),
            Value::Gauge(g) => add(name.clone(), "gauge", format!("{name}{ls} {g}")),
            Value::Stat(s) => {
                let quantiles = [
                    ("0", s.min),
                    ("0.5", s.p50),
                    ("0.9", s.p90),
                    ("0.95", s.p95),
                    ("0.99", s.p99),
                    ("0.999", s.p9990),
                    ("0.9999", s.p9999),
                    ("1", s.max),
                ];
                for (q, v) in quantiles {
                    let ql = label_set(&labels, Some(("quantile", q)));
                    add(name.clone(), "summary", format!("{name}{ql} {v}"));
                }
                add(
                    name.clone(),
                    "summary",
                    format!("{name}_count{ls} {}", s.count),
                );
                add(name.clone(), "summary", format!("{name}_sum{ls} {}", s.sum));
                let avg = format!("{name}_avg");
                add(avg.clone(), "gauge", format!("{avg}{ls} {}", s.avg()));
            }
        }
    }
    let mut out = String::new();
    for (name, f) in families {
        let _ = writeln!(out, "# TYPE {name} {}", f.kind);
        for line in f.lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
