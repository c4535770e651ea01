//! `io.l5d.marathon` (experimental): Marathon apps' tasks, named
//! `/#/io.l5d.marathon/<app id segments>` (the app `/prod/users` is
//! `/#/io.l5d.marathon/prod/users`, the rest of a path its residual).
//!
//! As Linkerd 1 does, the app list (`GET <uriPrefix>/v2/apps`) is polled every `ttlMs`
//! (± `jitterMs`) to find which app a path names, and each app looked up is polled
//! (`GET <uriPrefix>/v2/apps/<id>?embed=app.tasks`) for its tasks' host and first port;
//! with `useHealthCheck`, only tasks whose health checks all pass. An app that does not
//! exist, or has no tasks, is `Neg`; a failed poll keeps the last state.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use l5d_core::addr::{Addr, Address};
use l5d_core::balance::Rng;
use l5d_core::binding::{Bound, Name, Namer};
use l5d_core::http_client::request;
use l5d_core::naming::{NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(10);

/// How the namer reads Marathon.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Marathon's address.
    pub addr: SocketAddr,
    /// The `Host` header (Marathon's host name).
    pub host: String,
    /// A prefix of every API path (DC/OS: `/marathon`).
    pub uri_prefix: String,
    /// How often to poll.
    pub ttl: Duration,
    /// Random extra wait, so a fleet does not poll at once.
    pub jitter: Duration,
    /// Keep only tasks whose health checks all pass.
    pub use_health_check: bool,
}

struct Inner {
    settings: Settings,
    mount: Path,
    apps: Updater<State<BTreeSet<String>>>,
    tasks: Mutex<HashMap<String, Arc<Updater<Addr>>>>,
    rng: Rng,
    /// The app list's poll, started by the first lookup.
    polling: std::sync::Once,
}

/// The Marathon namer.
pub struct MarathonNamer {
    inner: Arc<Inner>,
}

impl MarathonNamer {
    /// A namer reading Marathon as `settings` say, mounted at `mount`.
    pub fn new(settings: Settings, mount: Path) -> MarathonNamer {
        let (apps, _) = Var::new(State::Pending);
        let inner = Arc::new(Inner {
            settings,
            mount,
            apps,
            tasks: Mutex::new(HashMap::new()),
            rng: Rng::from_entropy(),
            polling: std::sync::Once::new(),
        });
        MarathonNamer { inner }
    }
}

impl Inner {
    fn wait(&self) -> Duration {
        self.settings.ttl + self.settings.jitter.mul_f64(self.rng.unit())
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let target = format!("{}{path}", self.settings.uri_prefix.trim_end_matches('/'));
        let rsp = request(
            self.settings.addr,
            Method::GET,
            &target,
            &[("host", self.settings.host.as_str())],
            Bytes::new(),
            TIMEOUT,
        )
        .await?;
        if rsp.status != 200 {
            return Err(format!("marathon answered {} to {target}", rsp.status));
        }
        serde_json::from_slice(&rsp.body).map_err(|e| format!("marathon {target}: {e}"))
    }

    /// The live tasks of app `id`, one poll per app.
    fn tasks(self: &Arc<Self>, id: &str) -> Var<Addr> {
        let mut tasks = lock(&self.tasks);
        if let Some(tx) = tasks.get(id).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, var) = Var::new(Addr::Pending);
        let tx = Arc::new(tx);
        tasks.insert(id.to_string(), tx.clone());
        tokio::spawn(poll_tasks(Arc::downgrade(self), tx, id.to_string()));
        var
    }
}

/// The addresses of an app's tasks.
pub fn task_addresses(app: &Value, use_health_check: bool) -> Vec<Address> {
    let mut out = Vec::new();
    for t in app["app"]["tasks"].as_array().into_iter().flatten() {
        if use_health_check {
            let checks = t["healthCheckResults"].as_array();
            let healthy =
                checks.is_some_and(|c| !c.is_empty() && c.iter().all(|r| r["alive"] == true));
            if !healthy {
                continue;
            }
        }
        let (Some(host), Some(port)) = (t["host"].as_str(), t["ports"][0].as_u64()) else {
            continue;
        };
        if let Some(addr) = (host, port as u16)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        {
            out.push(Address::new(addr));
        }
    }
    out
}

async fn poll_apps(inner: Weak<Inner>) {
    loop {
        let Some(i) = inner.upgrade() else { return };
        match i.get("/v2/apps").await {
            Ok(v) => {
                let ids: BTreeSet<String> = v["apps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["id"].as_str().map(str::to_string))
                    .collect();
                i.apps.set_if_changed(State::Ok(ids));
            }
            Err(e) => {
                metrics::counter!("namer/io.l5d.marathon/errors").increment(1);
                tracing::info!("io.l5d.marathon: {e}");
            }
        }
        let wait = i.wait();
        drop(i);
        tokio::time::sleep(wait).await;
    }
}

async fn poll_tasks(inner: Weak<Inner>, tx: Arc<Updater<Addr>>, id: String) {
    while !tx.is_closed() {
        let Some(i) = inner.upgrade() else { return };
        match i.get(&format!("/v2/apps{id}?embed=app.tasks")).await {
            Ok(app) => {
                metrics::counter!("namer/io.l5d.marathon/updates").increment(1);
                let found = task_addresses(&app, i.settings.use_health_check);
                tx.set_if_changed(if found.is_empty() {
                    Addr::Neg
                } else {
                    Addr::bound(found)
                });
            }
            Err(e) => {
                metrics::counter!("namer/io.l5d.marathon/errors").increment(1);
                tracing::info!("io.l5d.marathon {id}: {e}");
            }
        }
        let wait = i.wait();
        drop(i);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tx.closed() => return,
        }
    }
}

impl Namer for MarathonNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        self.inner
            .polling
            .call_once(|| drop(tokio::spawn(poll_apps(Arc::downgrade(&self.inner)))));
        let inner = self.inner.clone();
        let path = path.clone();
        let mut apps = self.inner.apps.subscribe();
        // The longest app id the path starts with, and its tasks' addresses.
        let resolve = move |apps: &State<BTreeSet<String>>| -> State<NameTree<Name>> {
            let ids = match apps {
                State::Ok(ids) => ids,
                State::Pending => return State::Pending,
                State::Failed(e) => return State::Failed(e.clone()),
            };
            for n in (1..=path.len()).rev() {
                let candidate = path.take(n).show();
                if ids.contains(&candidate) {
                    let addr = inner.tasks(&candidate);
                    return State::Ok(NameTree::Leaf(Name::Bound(Bound {
                        id: inner.mount.concat(&path.take(n)),
                        residual: path.drop(n),
                        addr,
                        weight: None,
                    })));
                }
            }
            State::Ok(NameTree::Neg)
        };
        let (tx, var) = Var::new(resolve(&apps.get_and_mark_seen()));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = apps.changed() => if !changed { return },
                    _ = tx.closed() => return,
                }
                let state = apps.get_and_mark_seen().clone();
                tx.set(resolve(&state));
            }
        });
        var
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_their_host_and_first_port_and_health_filters() {
        let app: Value = serde_json::from_str(
            r#"{"app":{"id":"/prod/users","tasks":[
                {"host":"127.0.0.1","ports":[31001,31002],"healthCheckResults":[{"alive":true}]},
                {"host":"127.0.0.1","ports":[31003],"healthCheckResults":[{"alive":false}]},
                {"host":"127.0.0.1","ports":[]}]}}"#,
        )
        .unwrap();
        let ports = |h| {
            task_addresses(&app, h)
                .iter()
                .map(|a| a.addr.port())
                .collect::<Vec<_>>()
        };
        assert_eq!(ports(false), [31001, 31003]);
        assert_eq!(ports(true), [31001]);
    }
}
