//! ZooKeeper namers: `io.l5d.serversets` (Twitter serversets: a znode whose `member_*`
//! children hold `{"serviceEndpoint": {"host", "port"}, "additionalEndpoints": {...},
//! "status": "ALIVE"}`), named `/#/io.l5d.serversets/<znode path>[:<endpoint>]`, and
//! `io.l5d.zkLeader` (the `member_*` child with the lowest sequence number leads; its data
//! is `host:port`), named `/#/io.l5d.zkLeader/<znode path>`.
//!
//! Each znode has one watch, shared by every lookup: its children are listed with a watch
//! set, the members read, the set published, and the listing repeated when the watch
//! fires. When the session is lost (ZooKeeper restarted, or unreachable past the session
//! timeout) the last set stays in force, a new session is made with backoff and the
//! watches are set again on it (Linkerd 1's namers could lose them).
//!
//! The ZooKeeper client is the `zookeeper-client` crate (async, sessions and one-shot
//! watches).

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use l5d_core::addr::{Addr, Address};
use l5d_core::binding::{Bound, Name, Namer};
use l5d_core::naming::{NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};
use serde_json::Value;
use zookeeper_client as zk;

/// Which namer reads the znodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Serversets: every ALIVE member.
    Serversets,
    /// The leader: the lowest member.
    Leader,
}

struct Watch {
    addr: Updater<Addr>,
    exists: Updater<State<bool>>,
}

/// A watched znode: its path and the serverset endpoint named, if any.
type Key = (String, Option<String>);

struct Inner {
    kind: Kind,
    hosts: String,
    mount: Path,
    client: tokio::sync::Mutex<Option<zk::Client>>,
    watches: Mutex<HashMap<Key, Arc<Watch>>>,
}

/// A ZooKeeper namer.
pub struct ZkNamer {
    inner: Arc<Inner>,
}

impl ZkNamer {
    /// A namer of `kind` over the ensemble `hosts` (`host:port,host:port`), mounted at
    /// `mount`.
    pub fn new(kind: Kind, hosts: String, mount: Path) -> ZkNamer {
        ZkNamer {
            inner: Arc::new(Inner {
                kind,
                hosts,
                mount,
                client: tokio::sync::Mutex::new(None),
                watches: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Namer for ZkNamer {
    fn state(&self) -> Option<Value> {
        let watches = lock(&self.inner.watches);
        let mut out = serde_json::Map::new();
        for ((znode, endpoint), w) in watches.iter() {
            let key = match endpoint {
                Some(e) => format!("{znode}:{e}"),
                None => znode.clone(),
            };
            out.insert(
                key,
                serde_json::json!({"addr": w.addr.subscribe().sample().to_json()}),
            );
        }
        Some(Value::Object(out))
    }

    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        if path.is_empty() {
            return Var::constant(State::Ok(NameTree::Neg));
        }
        let mut segments: Vec<String> = path
            .elems()
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        // A serverset's endpoint is named after a colon on its last segment.
        let mut endpoint = None;
        if self.inner.kind == Kind::Serversets {
            if let Some(last) = segments.last_mut() {
                if let Some((node, ep)) = last.split_once(':') {
                    endpoint = Some(ep.to_string());
                    *last = node.to_string();
                }
            }
        }
        let znode = format!("/{}", segments.join("/"));
        let watch = self.inner.watch(znode, endpoint);
        let id = self.inner.mount.concat(path);
        let addr = watch.addr.subscribe();
        let mut exists = watch.exists.subscribe();
        let to_tree = move |s: &State<bool>| match s {
            State::Ok(true) => State::Ok(NameTree::Leaf(Name::Bound(Bound {
                id: id.clone(),
                residual: Path::empty(),
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
                    changed = exists.changed() => if !changed { return },
                    _ = tx.closed() => return,
                }
                let state = exists.get_and_mark_seen().clone();
                tx.set(to_tree(&state));
            }
        });
        var
    }
}

/// Why a watch round ended.
enum Ended {
    /// A watch fired: read again.
    Changed,
    /// The session failed: make a new one.
    Session(String),
}

impl Inner {
    fn watch(self: &Arc<Self>, znode: String, endpoint: Option<String>) -> Arc<Watch> {
        let key = (znode, endpoint);
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

    /// The session, made anew when there is none or it failed.
    async fn client(&self, fresh: bool) -> Result<zk::Client, String> {
        let mut c = self.client.lock().await;
        if fresh {
            *c = None;
        }
        if let Some(client) = c.as_ref() {
            return Ok(client.clone());
        }
        let client = zk::Client::connector()
            .with_connection_timeout(Duration::from_secs(5))
            .connect(&self.hosts)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.hosts))?;
        *c = Some(client.clone());
        Ok(client)
    }

    /// One round: read the znode and its members, publish, and wait for the watch.
    async fn round(
        &self,
        client: &zk::Client,
        w: &Watch,
        znode: &str,
        endpoint: Option<&str>,
    ) -> Ended {
        let (children, watcher) = match client.get_and_watch_children(znode).await {
            Ok((children, _, watcher)) => (children, watcher),
            Err(zk::Error::NoNode) => {
                // Not there (yet): Neg until it is created.
                w.exists.set_if_changed(State::Ok(false));
                w.addr.set_if_changed(Addr::Neg);
                return match client.check_and_watch_stat(znode).await {
                    Ok((Some(_), _)) => Ended::Changed,
                    Ok((None, watcher)) => watched(watcher).await,
                    Err(e) => Ended::Session(e.to_string()),
                };
            }
            Err(e) => return Ended::Session(e.to_string()),
        };
        let mut members: Vec<&String> = children
            .iter()
            .filter(|c| c.starts_with("member_"))
            .collect();
        members.sort();
        let mut addrs = Vec::new();
        let chosen: Vec<&String> = match self.kind {
            Kind::Serversets => members,
            Kind::Leader => members.into_iter().take(1).collect(),
        };
        for m in chosen {
            let data = match client
                .get_data(&format!("{}/{m}", znode.trim_end_matches('/')))
                .await
            {
                Ok((data, _)) => data,
                // A member that left between the listing and the read.
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Ended::Session(e.to_string()),
            };
            let found = match self.kind {
                Kind::Serversets => member(&data, endpoint),
                Kind::Leader => leader(&data),
            };
            addrs.extend(found);
        }
        metrics::counter!("namer/io.l5d.serversets/updates").increment(1);
        let exists = !addrs.is_empty();
        w.addr.set_if_changed(if addrs.is_empty() {
            Addr::Neg
        } else {
            Addr::bound(addrs)
        });
        w.exists.set_if_changed(State::Ok(exists));
        watched(watcher).await
    }
}

async fn watched(watcher: zk::OneshotWatcher) -> Ended {
    let event = watcher.changed().await;
    if event.event_type == zk::EventType::Session {
        Ended::Session(format!("session {:?}", event.session_state))
    } else {
        Ended::Changed
    }
}

/// The address a serverset member offers (its `serviceEndpoint`, or the named additional
/// endpoint), if it is ALIVE.
fn member(data: &[u8], endpoint: Option<&str>) -> Option<Address> {
    let v: Value = serde_json::from_slice(data).ok()?;
    if v["status"].as_str().is_some_and(|s| s != "ALIVE") {
        return None;
    }
    let ep = match endpoint {
        Some(name) => &v["additionalEndpoints"][name],
        None => &v["serviceEndpoint"],
    };
    let host = ep["host"].as_str()?;
    let port = ep["port"].as_u64()? as u16;
    resolve(host, port)
}

/// The leader's address: its data, `host:port` (the first if several).
fn leader(data: &[u8]) -> Option<Address> {
    let text = String::from_utf8_lossy(data);
    let first = text.split(',').next()?.trim();
    let (host, port) = first.rsplit_once(':')?;
    resolve(host, port.parse().ok()?)
}

fn resolve(host: &str, port: u16) -> Option<Address> {
    let addr: SocketAddr = (host, port).to_socket_addrs().ok()?.next()?;
    Some(Address::new(addr))
}

/// Watches one znode for as long as anyone looks it up.
async fn follow(inner: Weak<Inner>, watch: Weak<Watch>, key: Key) {
    let (znode, endpoint) = key.clone();
    let mut backoff = Duration::from_millis(100);
    let mut fresh = false;
    loop {
        let Some(i) = inner.upgrade() else { return };
        let Some(w) = watch.upgrade() else { return };
        if w.exists.is_closed() && w.addr.is_closed() && Arc::strong_count(&w) <= 2 {
            let mut ws = lock(&i.watches);
            if ws.get(&key).is_some_and(|x| Arc::ptr_eq(x, &w)) {
                ws.remove(&key);
            }
            return;
        }
        let ended = match i.client(fresh).await {
            Ok(client) => i.round(&client, &w, &znode, endpoint.as_deref()).await,
            Err(e) => Ended::Session(e),
        };
        match ended {
            Ended::Changed => {
                backoff = Duration::from_millis(100);
                fresh = false;
            }
            Ended::Session(e) => {
                metrics::counter!("namer/io.l5d.serversets/watch_restarts").increment(1);
                tracing::info!(
                    "zookeeper {} ({znode}): {e}; the last set stays, retrying in {backoff:?}",
                    i.hosts
                );
                drop((i, w));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                fresh = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_leaders_are_read_as_linkerd_1_reads_them() {
        let m = br#"{"serviceEndpoint":{"host":"127.0.0.1","port":8081},"additionalEndpoints":{"admin":{"host":"127.0.0.1","port":9991}},"status":"ALIVE","shard":0}"#;
        assert_eq!(member(m, None).unwrap().addr.port(), 8081);
        assert_eq!(member(m, Some("admin")).unwrap().addr.port(), 9991);
        assert!(member(m, Some("nope")).is_none());
        let dead = br#"{"serviceEndpoint":{"host":"127.0.0.1","port":8081},"status":"DEAD"}"#;
        assert!(member(dead, None).is_none());
        assert_eq!(
            leader(b"127.0.0.1:5432,127.0.0.1:5433")
                .unwrap()
                .addr
                .port(),
            5432
        );
        assert!(leader(b"garbage").is_none());
    }
}
