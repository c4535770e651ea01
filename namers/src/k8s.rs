//! `io.l5d.k8s`: a Kubernetes service's endpoints, through the API as `kubectl proxy`
//! serves it (plain HTTP, as Linkerd 1 expects), named
//! `/#/io.l5d.k8s/<namespace>/<port name or number>/<service>`; `io.l5d.k8s.ns` takes the
//! namespace from an environment variable and names `/#/io.l5d.k8s.ns/<port>/<service>`.
//!
//! Each (namespace, service) has one watch, shared by every port and lookup: the
//! Endpoints object is read, then watched from its `resourceVersion`; a watch that ends
//! is resumed from the last version seen, and one the API refuses as too old (410) is
//! replaced by a fresh read. While the API cannot be reached the last endpoints stay in
//! force. A service without an Endpoints object, or without addresses on the port, is
//! `Neg`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use l5d_core::addr::{Addr, Address};
use l5d_core::binding::{Bound, Name, Namer};
use l5d_core::http_client::{encode, request, stream};
use l5d_core::naming::{NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A service's Endpoints object as last seen (`None`: there is none).
type Endpoints = Option<Value>;

/// A service's watch, publishing its Endpoints.
type Publisher = Arc<Updater<State<Endpoints>>>;

struct Inner {
    api: SocketAddr,
    mount: Path,
    /// The namespace of `io.l5d.k8s.ns`; `None` when names carry it.
    namespace: Option<String>,
    watches: Mutex<HashMap<(String, String), Publisher>>,
}

/// The Kubernetes namer.
pub struct K8sNamer {
    inner: Arc<Inner>,
}

impl K8sNamer {
    /// A namer reading the API at `api`, mounted at `mount`; with `namespace`, names
    /// leave it out.
    pub fn new(api: SocketAddr, mount: Path, namespace: Option<String>) -> K8sNamer {
        K8sNamer {
            inner: Arc::new(Inner {
                api,
                mount,
                namespace,
                watches: Mutex::new(HashMap::new()),
            }),
        }
    }
}

/// The addresses an Endpoints object offers on `port` (a port name, or a number).
pub fn addresses(endpoints: &Value, port: &str) -> Vec<Address> {
    let mut out = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let number = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["name"].as_str() == Some(port)
                    || p["port"].as_u64().map(|n| n.to_string()).as_deref() == Some(port)
            })
            .and_then(|p| p["port"].as_u64());
        let Some(number) = number else { continue };
        for a in subset["addresses"].as_array().into_iter().flatten() {
            let Some(ip) = a["ip"].as_str().and_then(|ip| ip.parse().ok()) else {
                continue;
            };
            let mut address = Address::new(SocketAddr::new(ip, number as u16));
            if let Some(node) = a["nodeName"].as_str() {
                address.meta.insert("nodeName".into(), node.into());
            }
            out.push(address);
        }
    }
    out
}

impl Namer for K8sNamer {
    fn state(&self) -> Option<Value> {
        let watches = lock(&self.inner.watches);
        let mut out = serde_json::Map::new();
        for ((ns, service), tx) in watches.iter() {
            let state = match &*tx.subscribe().get() {
                State::Ok(Some(e)) => e.clone(),
                State::Ok(None) => Value::Null,
                State::Pending => "pending".into(),
                State::Failed(e) => format!("failed: {e}").into(),
            };
            out.insert(format!("{ns}/{service}"), state);
        }
        Some(Value::Object(out))
    }

    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        let elems: Vec<String> = path
            .elems()
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        let (ns, port, service, used) = match (&self.inner.namespace, elems.as_slice()) {
            (Some(ns), [port, service, ..]) => (ns.clone(), port.clone(), service.clone(), 2),
            (None, [ns, port, service, ..]) => (ns.clone(), port.clone(), service.clone(), 3),
            _ => return Var::constant(State::Ok(NameTree::Neg)),
        };
        metrics::counter!("namer/io.l5d.k8s/lookups").increment(1);
        let mut endpoints = self.inner.watch(ns, service);
        let id = self.inner.mount.concat(&path.take(used));
        let residual = path.drop(used);
        // The port's addresses follow the object; the name is Neg while there are none.
        let (addr_tx, addr) = Var::new(Addr::Pending);
        let tree = move |s: &State<Endpoints>, addr_tx: &Updater<Addr>| match s {
            State::Ok(Some(e)) => {
                let found = addresses(e, &port);
                if found.is_empty() {
                    addr_tx.set_if_changed(Addr::Neg);
                    State::Ok(NameTree::Neg)
                } else {
                    addr_tx.set_if_changed(Addr::bound(found));
                    State::Ok(NameTree::Leaf(Name::Bound(Bound {
                        id: id.clone(),
                        residual: residual.clone(),
                        addr: addr.clone(),
                        weight: None,
                    })))
                }
            }
            State::Ok(None) => State::Ok(NameTree::Neg),
            State::Pending => State::Pending,
            State::Failed(e) => State::Failed(e.clone()),
        };
        let first = tree(&endpoints.get_and_mark_seen(), &addr_tx);
        let (tx, var) = Var::new(first);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = endpoints.changed() => if !changed { return },
                    _ = tx.closed() => return,
                }
                let state = endpoints.get_and_mark_seen().clone();
                // Only a change of the name's shape is a new tree; new addresses of
                // the same name reach clients through their address.
                let next = tree(&state, &addr_tx);
                let same = matches!(
                    (&*tx.subscribe().get(), &next),
                    (State::Ok(NameTree::Leaf(_)), State::Ok(NameTree::Leaf(_)))
                        | (State::Ok(NameTree::Neg), State::Ok(NameTree::Neg))
                );
                if !same {
                    tx.set(next);
                }
            }
        });
        var
    }
}

impl Inner {
    fn watch(self: &Arc<Self>, ns: String, service: String) -> Var<State<Endpoints>> {
        let key = (ns, service);
        let mut watches = lock(&self.watches);
        if let Some(tx) = watches.get(&key).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, var) = Var::new(State::Pending);
        let tx = Arc::new(tx);
        watches.insert(key.clone(), tx.clone());
        tokio::spawn(follow(Arc::downgrade(self), tx, key));
        var
    }
}

/// Reads, then watches, one service's Endpoints, for as long as anyone looks it up.
async fn follow(inner: Weak<Inner>, tx: Publisher, key: (String, String)) {
    let (ns, service) = key.clone();
    let object = format!(
        "/api/v1/namespaces/{}/endpoints/{}",
        encode(&ns),
        encode(&service)
    );
    let mut version: Option<String> = None;
    let mut backoff = Duration::from_millis(100);
    while !tx.is_closed() {
        let Some(i) = inner.upgrade() else { return };
        let api = i.api;
        drop(i);
        // Read the object when there is no version to watch from.
        if version.is_none() {
            match request(api, Method::GET, &object, &[], Bytes::new(), TIMEOUT).await {
                Ok(rsp) if rsp.status == 404 => {
                    tx.set_if_changed(State::Ok(None));
                    // Watch the namespace's list from now on for it to appear.
                    version = serde_json::from_slice::<Value>(&rsp.body)
                        .ok()
                        .and_then(|v| {
                            v["metadata"]["resourceVersion"]
                                .as_str()
                                .map(str::to_string)
                        })
                        .or(Some(String::new()));
                }
                Ok(rsp) if rsp.status == 200 => match serde_json::from_slice::<Value>(&rsp.body) {
                    Ok(v) => {
                        version = v["metadata"]["resourceVersion"]
                            .as_str()
                            .map(str::to_string);
                        metrics::counter!("namer/io.l5d.k8s/updates").increment(1);
                        tx.set(State::Ok(Some(v)));
                        backoff = Duration::from_millis(100);
                    }
                    Err(e) => tracing::warn!("io.l5d.k8s {object}: {e}"),
                },
                Ok(rsp) => tracing::warn!("io.l5d.k8s {object}: answered {}", rsp.status),
                Err(e) => tracing::info!("io.l5d.k8s {object}: {e}"),
            }
            if version.is_none() {
                metrics::counter!("namer/io.l5d.k8s/errors").increment(1);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        }
        let rv = version.clone().unwrap_or_default();
        let mut target = format!(
            "/api/v1/watch/namespaces/{}/endpoints/{}",
            encode(&ns),
            encode(&service)
        );
        if !rv.is_empty() {
            target.push_str(&format!("?resourceVersion={}", encode(&rv)));
        }
        match stream(api, &target, TIMEOUT).await {
            Ok((200, mut lines)) => loop {
                let line = tokio::select! {
                    l = lines.next_line() => l,
                    _ = tx.closed() => return,
                };
                let Ok(Some(line)) = line else { break };
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                match event["type"].as_str() {
                    Some("ADDED" | "MODIFIED") => {
                        version = event["object"]["metadata"]["resourceVersion"]
                            .as_str()
                            .map(str::to_string)
                            .or(version);
                        metrics::counter!("namer/io.l5d.k8s/updates").increment(1);
                        tx.set(State::Ok(Some(event["object"].clone())));
                    }
                    Some("DELETED") => {
                        version = event["object"]["metadata"]["resourceVersion"]
                            .as_str()
                            .map(str::to_string)
                            .or(version);
                        tx.set(State::Ok(None));
                    }
                    Some("ERROR") => {
                        // 410 Gone: too old a version to resume from; read afresh.
                        metrics::counter!("namer/io.l5d.k8s/watch_restarts").increment(1);
                        tracing::info!("io.l5d.k8s {object}: {}", event["object"]["message"]);
                        version = None;
                        break;
                    }
                    _ => {}
                }
                backoff = Duration::from_millis(100);
            },
            Ok((status, _)) => {
                tracing::info!("io.l5d.k8s watch {target}: answered {status}");
                version = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                tracing::info!("io.l5d.k8s watch {target}: {e}; the last endpoints stay");
                metrics::counter!("namer/io.l5d.k8s/errors").increment(1);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    if let Some(i) = inner.upgrade() {
        let mut ws = lock(&i.watches);
        if ws.get(&key).is_some_and(|t| Arc::ptr_eq(t, &tx)) {
            ws.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_found_by_name_or_number() {
        let e: Value = serde_json::from_str(
            r#"{"subsets":[{"addresses":[{"ip":"10.1.0.1","nodeName":"n1"},{"ip":"10.1.0.2"}],"ports":[{"name":"http","port":8080},{"name":"admin","port":9990}]}]}"#,
        )
        .unwrap();
        let ports = |p: &str| {
            addresses(&e, p)
                .iter()
                .map(|a| a.addr.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ports("http"), ["10.1.0.1:8080", "10.1.0.2:8080"]);
        assert_eq!(ports("9990"), ["10.1.0.1:9990", "10.1.0.2:9990"]);
        assert!(ports("grpc").is_empty());
    }
}
