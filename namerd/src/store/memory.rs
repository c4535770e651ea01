//! `io.l5d.inMemory`: dtabs in this process, seeded from the config's `namespaces`; gone
//! when namerd stops. A namespace's version is an 8-byte big-endian counter from 1 (so its
//! first ETag is `AAAAAAAAAAE=`, as in Linkerd 1).

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use l5d_core::naming::Dtab;
use l5d_core::sync::lock;
use l5d_core::var::Activity;

use super::{DtabStore, Published, StoreError, StoreResult, Versioned};

/// Dtabs kept in memory.
pub struct InMemory {
    dtabs: Mutex<HashMap<String, (Dtab, u64)>>,
    published: Published,
}

impl InMemory {
    /// A store holding `seeds`.
    pub fn new(seeds: impl IntoIterator<Item = (String, Dtab)>) -> InMemory {
        let store = InMemory {
            dtabs: Mutex::new(seeds.into_iter().map(|(ns, d)| (ns, (d, 1))).collect()),
            published: Published::pending(),
        };
        store.publish();
        store
    }

    fn publish(&self) {
        let all: HashMap<String, Versioned> = lock(&self.dtabs)
            .iter()
            .map(|(ns, (dtab, v))| {
                (
                    ns.clone(),
                    Versioned {
                        dtab: dtab.clone(),
                        version: v.to_be_bytes().to_vec(),
                    },
                )
            })
            .collect();
        self.published.publish_all(&all);
    }

    fn change(
        &self,
        f: impl FnOnce(&mut HashMap<String, (Dtab, u64)>) -> StoreResult,
    ) -> StoreResult {
        let result = f(&mut lock(&self.dtabs));
        if result.is_ok() {
            self.publish();
        }
        result
    }
}

impl DtabStore for InMemory {
    fn list(&self) -> Activity<std::collections::BTreeSet<String>> {
        self.published.list()
    }

    fn observe(&self, ns: &str) -> Activity<Option<Versioned>> {
        self.published.observe(ns)
    }

    fn create(&self, ns: &str, dtab: Dtab) -> BoxFuture<'_, StoreResult> {
        let r = self.change(|m| {
            if m.contains_key(ns) {
                return Err(StoreError::Exists);
            }
            m.insert(ns.to_string(), (dtab, 1));
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn update(&self, ns: &str, dtab: Dtab, version: Vec<u8>) -> BoxFuture<'_, StoreResult> {
        let r = self.change(|m| match m.get_mut(ns) {
            None => Err(StoreError::NotFound),
            Some((_, v)) if v.to_be_bytes()[..] != version[..] => Err(StoreError::VersionMismatch),
            Some(entry) => {
                *entry = (dtab, entry.1 + 1);
                Ok(())
            }
        });
        Box::pin(async move { r })
    }

    fn put(&self, ns: &str, dtab: Dtab) -> BoxFuture<'_, StoreResult> {
        let r = self.change(|m| {
            let next = m.get(ns).map_or(1, |(_, v)| v + 1);
            m.insert(ns.to_string(), (dtab, next));
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn delete(&self, ns: &str) -> BoxFuture<'_, StoreResult> {
        let r = self.change(|m| m.remove(ns).map(drop).ok_or(StoreError::NotFound));
        Box::pin(async move { r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use l5d_core::var::State;

    fn d(s: &str) -> Dtab {
        Dtab::read(s).unwrap()
    }

    #[tokio::test]
    async fn versions_guard_updates_and_watchers_see_changes() {
        let store = InMemory::new([("default".to_string(), d("/svc=>/a"))]);
        let mut seen = store.observe("default");
        let v1 = match &*seen.get_and_mark_seen() {
            State::Ok(Some(v)) => v.version.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(v1, 1u64.to_be_bytes());
        store
            .update("default", d("/svc=>/b"), v1.clone())
            .await
            .unwrap();
        assert!(seen.changed().await);
        assert_eq!(
            store.update("default", d("/svc=>/c"), v1).await,
            Err(StoreError::VersionMismatch)
        );
        assert_eq!(
            store.create("default", d("/x=>/y")).await,
            Err(StoreError::Exists)
        );
        assert_eq!(store.delete("nope").await, Err(StoreError::NotFound));
        let mut absent = store.observe("later");
        assert_eq!(absent.get_and_mark_seen().clone(), State::Ok(None));
        store.put("later", d("/l=>/m")).await.unwrap();
        assert!(absent.changed().await);
        let names = store.list().sample();
        assert_eq!(
            names,
            State::Ok(
                ["default".to_string(), "later".to_string()]
                    .into_iter()
                    .collect()
            )
        );
    }
}
