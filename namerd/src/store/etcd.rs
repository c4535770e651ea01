//! `io.l5d.etcd`: dtabs in etcd, through the v2 keys API as Linkerd 1 uses it — one key
//! per namespace under `pathPrefix` holding the dtab's text, its `modifiedIndex` as the
//! version; writes are compare-and-set (`prevExist=false` to create, `prevIndex` to
//! update), so concurrent edits are refused rather than lost.
//!
//! The store keeps a mirror of every namespace, refreshed by long polls (`wait=true`) on
//! the prefix. When etcd cannot be reached, the mirror keeps its last state (routing goes
//! on) and the poll is retried with backoff until etcd answers again; a listing older
//! than what namerd has already seen is never applied.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::Method;
use l5d_core::http_client::{encode, request, Response};
use l5d_core::naming::Dtab;
use l5d_core::sync::lock;
use l5d_core::var::Activity;
use serde_json::Value;

use super::{DtabStore, Published, StoreError, StoreResult, Versioned};

/// How long one call may take (a long poll is given longer).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a long poll is held before it is asked again.
const POLL_TIMEOUT: Duration = Duration::from_secs(300);

struct Mirror {
    dtabs: HashMap<String, Versioned>,
    /// The newest etcd index applied.
    index: u64,
}

struct Inner {
    addr: SocketAddr,
    prefix: String,
    mirror: Mutex<Mirror>,
    published: Published,
}

/// Dtabs in etcd.
pub struct Etcd {
    inner: Arc<Inner>,
}

fn etcd_index(rsp: &Response) -> u64 {
    rsp.header("x-etcd-index")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn error_code(rsp: &Response) -> Option<i64> {
    serde_json::from_slice::<Value>(&rsp.body)
        .ok()
        .and_then(|v| v["errorCode"].as_i64())
}

impl Etcd {
    /// A store at `addr` under `prefix` (`/namerd/dtabs`); starts following it.
    pub fn new(addr: SocketAddr, prefix: &str) -> Etcd {
        let inner = Arc::new(Inner {
            addr,
            prefix: format!("/{}", prefix.trim_matches('/')),
            mirror: Mutex::new(Mirror {
                dtabs: HashMap::new(),
                index: 0,
            }),
            published: Published::pending(),
        });
        tokio::spawn(follow(Arc::downgrade(&inner)));
        Etcd { inner }
    }
}

impl Inner {
    fn key(&self, ns: &str) -> String {
        format!("/v2/keys{}/{}", self.prefix, encode(ns))
    }

    /// Reads every namespace; the index the listing is at.
    async fn list(&self) -> Result<(HashMap<String, Versioned>, u64), String> {
        let target = format!("/v2/keys{}?recursive=true", self.prefix);
        let rsp = request(
            self.addr,
            Method::GET,
            &target,
            &[],
            Bytes::new(),
            CALL_TIMEOUT,
        )
        .await?;
        let index = etcd_index(&rsp);
        if rsp.status == 404 {
            return Ok((HashMap::new(), index));
        }
        if rsp.status != 200 {
            return Err(format!("etcd answered {}: {}", rsp.status, rsp.text()));
        }
        let v: Value = serde_json::from_slice(&rsp.body).map_err(|e| format!("etcd: {e}"))?;
        let mut out = HashMap::new();
        for node in v["node"]["nodes"].as_array().into_iter().flatten() {
            if let Some((ns, versioned)) = self.entry(node) {
                out.insert(ns, versioned);
            }
        }
        Ok((out, index))
    }

    /// A namespace and its dtab from an etcd node.
    fn entry(&self, node: &Value) -> Option<(String, Versioned)> {
        let key = node["key"].as_str()?;
        let ns = key.strip_prefix(&self.prefix)?.trim_start_matches('/');
        let text = node["value"].as_str()?;
        let index = node["modifiedIndex"].as_u64()?;
        let ns = form_urlencoded::parse(format!("n={ns}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        match Dtab::read(text) {
            Ok(dtab) => Some((
                ns,
                Versioned {
                    dtab,
                    version: index.to_be_bytes().to_vec(),
                },
            )),
            Err(e) => {
                tracing::warn!("etcd: namespace {ns} holds an invalid dtab, ignored: {e}");
                None
            }
        }
    }

    /// Applies a listing at `index` unless a newer state was applied already.
    fn apply(&self, dtabs: HashMap<String, Versioned>, index: u64) {
        let mut m = lock(&self.mirror);
        if index < m.index {
            return;
        }
        m.index = index;
        m.dtabs = dtabs;
        self.published.publish_all(&m.dtabs);
    }

    /// Applies one write's result.
    fn apply_one(&self, ns: &str, value: Option<Versioned>, index: u64) {
        let mut m = lock(&self.mirror);
        m.index = m.index.max(index);
        match &value {
            Some(v) => m.dtabs.insert(ns.to_string(), v.clone()),
            None => m.dtabs.remove(ns),
        };
        self.published.publish(ns, value);
    }

    async fn write(&self, ns: &str, dtab: &Dtab, condition: &str) -> Result<Response, StoreError> {
        let body = format!("value={}{condition}", encode(&dtab.show()));
        let rsp = request(
            self.addr,
            Method::PUT,
            &self.key(ns),
            &[("content-type", "application/x-www-form-urlencoded")],
            Bytes::from(body),
            CALL_TIMEOUT,
        )
        .await
        .map_err(StoreError::Other)?;
        match (rsp.status, error_code(&rsp)) {
            (200 | 201, _) => Ok(rsp),
            (_, Some(100)) => Err(StoreError::NotFound),
            (_, Some(101)) => Err(StoreError::VersionMismatch),
            (_, Some(105)) => Err(StoreError::Exists),
            (s, _) => Err(StoreError::Other(format!(
                "etcd answered {s}: {}",
                rsp.text()
            ))),
        }
    }

    async fn written(&self, ns: &str, dtab: Dtab, condition: String) -> StoreResult {
        let rsp = self.write(ns, &dtab, &condition).await?;
        let v: Value = serde_json::from_slice(&rsp.body).unwrap_or(Value::Null);
        let index = v["node"]["modifiedIndex"].as_u64().unwrap_or(0);
        let versioned = Versioned {
            dtab,
            version: index.to_be_bytes().to_vec(),
        };
        self.apply_one(ns, Some(versioned), etcd_index(&rsp).max(index));
        Ok(())
    }
}

/// Follows etcd: list, long-poll for the next change, list again; on failure keep what
/// was known and retry with backoff.
async fn follow(inner: std::sync::Weak<Inner>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(store) = inner.upgrade() else { return };
        let listed = store.list().await;
        let next = match listed {
            Ok((dtabs, index)) => {
                metrics::counter!("namerd/storage/io.l5d.etcd/reads").increment(1);
                store.apply(dtabs, index);
                backoff = Duration::from_millis(100);
                Some(index + 1)
            }
            Err(e) => {
                metrics::counter!("namerd/storage/io.l5d.etcd/errors").increment(1);
                tracing::warn!("etcd at {}: {e}; retrying in {backoff:?}", store.addr);
                None
            }
        };
        let (addr, prefix) = (store.addr, store.prefix.clone());
        drop(store);
        match next {
            Some(wait_index) => {
                let target =
                    format!("/v2/keys{prefix}?recursive=true&wait=true&waitIndex={wait_index}");
                if let Err(e) =
                    request(addr, Method::GET, &target, &[], Bytes::new(), POLL_TIMEOUT).await
                {
                    tracing::debug!("etcd watch at {addr}: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            None => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

impl DtabStore for Etcd {
    fn list(&self) -> Activity<BTreeSet<String>> {
        self.inner.published.list()
    }

    fn observe(&self, ns: &str) -> Activity<Option<Versioned>> {
        self.inner.published.observe(ns)
    }

    fn create(&self, ns: &str, dtab: Dtab) -> BoxFuture<'_, StoreResult> {
        let ns = ns.to_string();
        Box::pin(async move {
            self.inner
                .written(&ns, dtab, "&prevExist=false".into())
                .await
        })
    }

    fn update(&self, ns: &str, dtab: Dtab, version: Vec<u8>) -> BoxFuture<'_, StoreResult> {
        let ns = ns.to_string();
        Box::pin(async move {
            let index = <[u8; 8]>::try_from(&version[..])
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::VersionMismatch)?;
            self.inner
                .written(&ns, dtab, format!("&prevIndex={index}"))
                .await
        })
    }

    fn put(&self, ns: &str, dtab: Dtab) -> BoxFuture<'_, StoreResult> {
        let ns = ns.to_string();
        Box::pin(async move { self.inner.written(&ns, dtab, String::new()).await })
    }

    fn delete(&self, ns: &str) -> BoxFuture<'_, StoreResult> {
        let ns = ns.to_string();
        Box::pin(async move {
            let inner = &self.inner;
            let rsp = request(
                inner.addr,
                Method::DELETE,
                &inner.key(&ns),
                &[],
                Bytes::new(),
                CALL_TIMEOUT,
            )
            .await
            .map_err(StoreError::Other)?;
            match (rsp.status, error_code(&rsp)) {
                (200, _) => {
                    inner.apply_one(&ns, None, etcd_index(&rsp));
                    Ok(())
                }
                (_, Some(100)) => Err(StoreError::NotFound),
                (s, _) => Err(StoreError::Other(format!(
                    "etcd answered {s}: {}",
                    rsp.text()
                ))),
            }
        })
    }
}
