//! `io.l5d.consul`: services from Consul's catalog (or health API), named
//! `/#/io.l5d.consul/<dc>/[<tag>/]<service>` (`.local` for the agent's own datacenter).
//!
//! Each distinct (datacenter, tag, service) has one watch, shared by every lookup: a loop
//! of blocking queries (`index`, `wait`) that publishes each new instance set. A service
//! with no instances binds to `Neg`, so that an alternative in the dtab takes over. When
//! Consul fails or restarts, the last set stays in force and the query is retried with
//! backoff from index 0, so the first answer after Consul is back replaces it — linkerd
//! never keeps serving a set Consul no longer has (Linkerd 1's namer could).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use l5d_core::addr::{Addr, Address, ENDPOINT_WEIGHT_META_KEY};
use l5d_core::binding::{Bound, Name, Namer};
use l5d_core::http_client::{encode, request};
use l5d_core::naming::{NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};
use serde_json::Value;

/// How long one blocking query waits at Consul for a change.
const WAIT: &str = "30s";
/// How long linkerd waits for its answer (the query's wait, and some).
const TIMEOUT: Duration = Duration::from_secs(45);

/// How the namer reads Consul.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The agent.
    pub addr: SocketAddr,
    /// Names carry a tag segment.
    pub include_tag: bool,
    /// Read the health API and keep instances whose checks are all in `statuses`.
    pub health: Option<Vec<String>>,
    /// ACL token.
    pub token: Option<String>,
    /// `stale` or `consistent` reads.
    pub consistency: Option<&'static str>,
    /// Prefer the service's address to its node's.
    pub prefer_service_address: bool,
    /// Weights of instances by tag.
    pub weights: Vec<(String, f64)>,
    /// Name `<service>.service.<dc>.<domain>` as the instances' authority (`setHost`).
    pub set_host: bool,
}

type Key = (String, Option<String>, String);

/// A service's watch: its instances, and whether it has any.
struct Watch {
    addr: Updater<Addr>,
    exists: Updater<State<bool>>,
}

struct Inner {
    settings: Settings,
    mount: Path,
    watches: Mutex<HashMap<Key, Arc<Watch>>>,
    local_dc: tokio::sync::OnceCell<String>,
    domain: tokio::sync::OnceCell<String>,
}

/// The Consul namer.
pub struct ConsulNamer {
    inner: Arc<Inner>,
}

impl ConsulNamer {
    /// A namer mounted at `mount` reading Consul as `settings` say.
    pub fn new(settings: Settings, mount: Path) -> ConsulNamer {
        ConsulNamer {
            inner: Arc::new(Inner {
                settings,
                mount,
                watches: Mutex::new(HashMap::new()),
                local_dc: tokio::sync::OnceCell::new(),
                domain: tokio::sync::OnceCell::new(),
            }),
        }
    }
}

fn text(e: &[u8]) -> String {
    String::from_utf8_lossy(e).into_owned()
}

impl Namer for ConsulNamer {
    fn state(&self) -> Option<serde_json::Value> {
        let watches = lock(&self.inner.watches);
        let mut out = serde_json::Map::new();
        for ((dc, tag, service), w) in watches.iter() {
            let key = match tag {
                Some(t) => format!("{dc}/{t}/{service}"),
                None => format!("{dc}/{service}"),
            };
            let exists = match &*w.exists.subscribe().get() {
                State::Ok(b) => serde_json::json!(b),
                State::Pending => serde_json::json!("pending"),
                State::Failed(e) => serde_json::json!(format!("failed: {e}")),
            };
            out.insert(
                key,
                serde_json::json!({"exists": exists, "addr": w.addr.subscribe().sample().to_json()}),
            );
        }
        Some(serde_json::Value::Object(out))
    }

    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        let elems = path.elems();
        let need = if self.inner.settings.include_tag {
            3
        } else {
            2
        };
        if elems.len() < need {
            return Var::constant(State::Ok(NameTree::Neg));
        }
        let dc = text(&elems[0]);
        let (tag, service) = if self.inner.settings.include_tag {
            (Some(text(&elems[1])), text(&elems[2]))
        } else {
            (None, text(&elems[1]))
        };
        let id = self.inner.mount.concat(&path.take(need));
        let residual = path.drop(need);
        metrics::counter!("namer/io.l5d.consul/lookups").increment(1);
        let watch = self.inner.watch((dc, tag, service));
        // The name follows whether the service has instances: a leaf while it does,
        // Neg while it has none.
        let mut exists = watch.exists.subscribe();
        let addr = watch.addr.subscribe();
        let to_tree = move |s: &State<bool>| match s {
            State::Ok(true) => State::Ok(NameTree::Leaf(Name::Bound(Bound {
                id: id.clone(),
                residual: residual.clone(),
                addr: addr.clone(),
                weight: None,
            }))),
            State::Ok(false) => State::Ok(NameTree::Neg),
            State::Pending => State::Pending,
            State::Failed(e) => State::Failed(e.clone()),
        };
        let (tx, var) = Var::new(to_tree(&exists.get_and_mark_seen()));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = exists.changed() => {
                        if !changed {
                            return;
                        }
                    }
                    _ = tx.closed() => return,
                }
                let state = exists.get_and_mark_seen().clone();
                tx.set(to_tree(&state));
            }
        });
        var
    }
}

impl Inner {
    fn watch(self: &Arc<Self>, key: Key) -> Arc<Watch> {
        let mut watches = lock(&self.watches);
        if let Some(w) = watches.get(&key) {
            return w.clone();
        }
        let (addr, _) = Var::new(Addr::Pending);
        let (exists, _) = Var::new(State::Pending);
        let w = Arc::new(Watch { addr, exists });
        watches.insert(key.clone(), w.clone());
        tokio::spawn(follow(Arc::downgrade(self), Arc::downgrade(&w), key));
        w
    }

    /// The agent's datacenter, for `.local`.
    async fn local_dc(&self) -> Result<String, String> {
        self.local_dc
            .get_or_try_init(|| async {
                let rsp = self.get("/v1/agent/self").await?;
                let v: Value = serde_json::from_slice(&rsp.1).map_err(|e| e.to_string())?;
                v["Config"]["Datacenter"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "the agent did not say its datacenter".to_string())
            })
            .await
            .cloned()
    }

    /// The agent's DNS domain, for `setHost` (`consul` when it does not say, as Consul
    /// 1.8's agent does not).
    async fn domain(&self) -> String {
        self.domain
            .get_or_init(|| async {
                let domain = match self.get("/v1/agent/self").await {
                    Ok((_, body)) => serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["Config"]["Domain"].as_str().map(str::to_string)),
                    Err(_) => None,
                };
                domain
                    .unwrap_or_else(|| "consul".to_string())
                    .trim_matches('.')
                    .to_string()
            })
            .await
            .clone()
    }

    async fn get(&self, target: &str) -> Result<(u64, Bytes), String> {
        let token = self.settings.token.clone();
        let headers: Vec<(&str, &str)> = match &token {
            Some(t) => vec![("x-consul-token", t.as_str())],
            None => vec![],
        };
        let rsp = request(
            self.settings.addr,
            Method::GET,
            target,
            &headers,
            Bytes::new(),
            TIMEOUT,
        )
        .await?;
        if rsp.status != 200 {
            return Err(format!(
                "consul answered {}: {}",
                rsp.status,
                rsp.text().trim()
            ));
        }
        let index = rsp
            .header("x-consul-index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((index, rsp.body))
    }

    /// The instances of a service, from one answer of the catalog or health API.
    fn instances(&self, body: &[u8]) -> Result<Vec<Address>, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("consul: {e}"))?;
        let mut out = Vec::new();
        for entry in v.as_array().into_iter().flatten() {
            let (node_addr, svc_addr, port, tags) = if self.settings.health.is_some() {
                let statuses = self.settings.health.as_deref().unwrap_or_default();
                let healthy = entry["Checks"].as_array().into_iter().flatten().all(|c| {
                    c["Status"]
                        .as_str()
                        .is_some_and(|s| statuses.iter().any(|ok| ok == s))
                });
                if !healthy {
                    continue;
                }
                (
                    entry["Node"]["Address"].as_str(),
                    entry["Service"]["Address"].as_str(),
                    entry["Service"]["Port"].as_u64(),
                    &entry["Service"]["Tags"],
                )
            } else {
                (
                    entry["Address"].as_str(),
                    entry["ServiceAddress"].as_str(),
                    entry["ServicePort"].as_u64(),
                    &entry["ServiceTags"],
                )
            };
            let host = match (svc_addr.filter(|a| !a.is_empty()), node_addr) {
                (Some(s), _) if self.settings.prefer_service_address => s,
                (_, Some(n)) => n,
                (Some(s), None) => s,
                (None, None) => continue,
            };
            let (Ok(ip), Some(port)) = (host.parse::<std::net::IpAddr>(), port) else {
                tracing::warn!(
                    "io.l5d.consul: skipping an instance at {host}: not an IP address and port"
                );
                continue;
            };
            let mut a = Address::new(SocketAddr::new(ip, port as u16));
            let tags: Vec<&str> = tags
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some((_, w)) = self
                .settings
                .weights
                .iter()
                .find(|(t, _)| tags.contains(&t.as_str()))
            {
                a.meta.insert(ENDPOINT_WEIGHT_META_KEY.into(), (*w).into());
            }
            out.push(a);
        }
        Ok(out)
    }
}

/// Blocking queries for one service, for as long as anyone looks it up.
async fn follow(inner: Weak<Inner>, watch: Weak<Watch>, key: Key) {
    let (dc, tag, service) = key.clone();
    let mut index = 0u64;
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(i) = inner.upgrade() else { return };
        let Some(w) = watch.upgrade() else { return };
        // Nobody looks the service up any more: stop, and let the next lookup start anew.
        if w.exists.is_closed() && w.addr.is_closed() && Arc::strong_count(&w) <= 2 {
            let mut ws = lock(&i.watches);
            if ws.get(&key).is_some_and(|x| Arc::ptr_eq(x, &w)) {
                ws.remove(&key);
            }
            return;
        }
        let dc_name = if dc == ".local" {
            match i.local_dc().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("io.l5d.consul: {e}");
                    drop((i, w));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
        } else {
            dc.clone()
        };
        let mut target = match &i.settings.health {
            Some(_) => format!(
                "/v1/health/service/{}?dc={}",
                encode(&service),
                encode(&dc_name)
            ),
            None => format!(
                "/v1/catalog/service/{}?dc={}",
                encode(&service),
                encode(&dc_name)
            ),
        };
        if let Some(t) = &tag {
            target.push_str(&format!("&tag={}", encode(t)));
        }
        if let Some(c) = i.settings.consistency {
            target.push('&');
            target.push_str(c);
        }
        if index > 0 {
            target.push_str(&format!("&index={index}&wait={WAIT}"));
        }
        let settings_addr = i.settings.addr;
        // Nobody watching any more ends the query at once rather than after its wait.
        let unwatched = async {
            w.exists.closed().await;
            w.addr.closed().await;
        };
        let answer = tokio::select! {
            a = i.get(&target) => a,
            _ = unwatched => {
                let mut ws = lock(&i.watches);
                if ws.get(&key).is_some_and(|x| Arc::ptr_eq(x, &w)) {
                    ws.remove(&key);
                }
                return;
            }
        };
        match answer {
            Ok((new_index, body)) => match i.instances(&body) {
                Ok(instances) => {
                    backoff = Duration::from_millis(100);
                    // An index that went backwards: Consul restarted; start over.
                    index = if new_index < index { 0 } else { new_index };
                    metrics::counter!("namer/io.l5d.consul/updates").increment(1);
                    let exists = !instances.is_empty();
                    let addr = if instances.is_empty() {
                        Addr::Neg
                    } else {
                        match Addr::bound(instances) {
                            Addr::Bound(a, mut meta) if i.settings.set_host => {
                                let host = match &tag {
                                    Some(t) => format!("{t}.{service}.service.{dc_name}"),
                                    None => format!("{service}.service.{dc_name}"),
                                };
                                let domain = i.domain().await;
                                meta.insert("authority".into(), format!("{host}.{domain}").into());
                                Addr::Bound(a, meta)
                            }
                            other => other,
                        }
                    };
                    // The address first: a name that turns into a leaf must find its
                    // endpoints there.
                    w.addr.set_if_changed(addr);
                    w.exists.set_if_changed(State::Ok(exists));
                    continue;
                }
                Err(e) => tracing::warn!("io.l5d.consul {service}: {e}"),
            },
            Err(e) => {
                metrics::counter!("namer/io.l5d.consul/errors").increment(1);
                tracing::info!(
                    "io.l5d.consul at {settings_addr} ({service}): {e}; retrying in {backoff:?}"
                );
            }
        }
        // Failed: keep the last set, retry from scratch.
        index = 0;
        drop((i, w));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// The health statuses as Consul spells them.
pub fn status_names(statuses: &[crate::config::HealthStatus]) -> Vec<String> {
    use crate::config::HealthStatus::*;
    statuses
        .iter()
        .map(|s| match s {
            Passing => "passing",
            Warning => "warning",
            Critical => "critical",
            Maintenance => "maintenance",
        })
        .map(str::to_string)
        .collect()
}
