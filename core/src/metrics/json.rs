//! `/admin/metrics.json`: the flat JSON object of TwitterServer's metrics endpoint.
//!
//! Counters are integers, gauges numbers, and a stat `s` expands to `s.count`, `s.max`,
//! `s.min`, `s.p50`, `s.p90`, `s.p95`, `s.p99`, `s.p9990`, `s.p9999`, `s.sum` (integers)
//! and `s.avg` (a number), over the last snapshot interval. `tree` nests the object by `/`
//! segments; where a name is both a value and a parent (`retries` and `retries/total`),
//! the value sits under the empty key `""` of the parent's object. `q=a/b` keeps only the
//! metrics under `a/b`, with that prefix taken off their names.

use serde_json::{Map, Number, Value as Json};

use super::{Snapshot, Value};

/// `q` named no subtree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("No such subtree: {0}")]
pub struct JsonError(pub String);

/// The flat `(name, value)` pairs of a snapshot, stats expanded, in name order.
pub(crate) fn flat(snapshot: &Snapshot) -> Vec<(String, Json)> {
    let mut out = Vec::with_capacity(snapshot.len());
    for (key, sample) in snapshot {
        match &sample.value {
            Value::Counter(c) => out.push((key.clone(), Json::from(*c))),
            Value::Gauge(g) => out.push((key.clone(), float(*g))),
            Value::Stat(s) => {
                let ints = [
                    ("count", s.count),
                    ("max", s.max),
                    ("min", s.min),
                    ("p50", s.p50),
                    ("p90", s.p90),
                    ("p95", s.p95),
                    ("p99", s.p99),
                    ("p9990", s.p9990),
                    ("p9999", s.p9999),
                    ("sum", s.sum),
                ];
                for (suffix, v) in ints {
                    out.push((format!("{key}.{suffix}"), Json::from(v)));
                }
                out.push((format!("{key}.avg"), float(s.avg())));
            }
        }
    }
    out
}

/// JSON has no NaN or infinity; those show as `null`.
fn float(v: f64) -> Json {
    Number::from_f64(v).map_or(Json::Null, Json::Number)
}

/// Renders `snapshot` as `/admin/metrics.json` does for the query `q`, `tree`, `pretty`.
pub fn render_json(
    snapshot: &Snapshot,
    q: Option<&str>,
    tree: bool,
    pretty: bool,
) -> Result<String, JsonError> {
    let mut pairs = flat(snapshot);
    if let Some(q) = q.map(|q| q.trim_matches('/')).filter(|q| !q.is_empty()) {
        let under = format!("{q}/");
        pairs = pairs
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(&under).map(|rest| (rest.to_string(), v)))
            .collect();
        if pairs.is_empty() {
            return Err(JsonError(q.to_string()));
        }
    }
    let value = if tree {
        nest(pairs)
    } else {
        Json::Object(pairs.into_iter().collect())
    };
    // Serializing a `Value` cannot fail; fall back to the compact form if it ever did.
    Ok(if pretty {
        serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
    } else {
        value.to_string()
    })
}

fn nest(pairs: Vec<(String, Json)>) -> Json {
    let mut root = Map::new();
    for (key, v) in pairs {
        let segments: Vec<&str> = key.split('/').collect();
        insert(&mut root, &segments, v);
    }
    Json::Object(root)
}

fn insert(node: &mut Map<String, Json>, segments: &[&str], v: Json) {
    match segments {
        [] => {}
        [last] => match node.get_mut(*last) {
            Some(Json::Object(m)) => {
                m.insert(String::new(), v);
            }
            _ => {
                node.insert(last.to_string(), v);
            }
        },
        [first, rest @ ..] => {
            let child = node
                .entry(first.to_string())
                .or_insert_with(|| Json::Object(Map::new()));
            if !child.is_object() {
                let leaf = std::mem::replace(child, Json::Object(Map::new()));
                if let Json::Object(m) = child {
                    m.insert(String::new(), leaf);
                }
            }
            if let Json::Object(m) = child {
                insert(m, rest, v);
            }
        }
    }
}
