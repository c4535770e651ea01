//! `io.l5d.fs`: service discovery from a directory, one file per service.
//!
//! `/#/io.l5d.fs/users/v1` binds to the file `users` under `rootDir` (subdirectories nest:
//! `/#/io.l5d.fs/prod/users` is `prod/users`), with residual `/v1`. A file lists one
//! endpoint per line, `host port`, `#` starting a comment; a malformed line makes the whole
//! address set `Failed`, as in Linkerd 1. A name with no file is `Neg`, so a dtab
//! alternative can fall through to another namer.
//!
//! The directory is watched through the operating system (inotify on Linux, via the
//! `notify` crate): an edit, a new file or a deleted one is published to every binding that
//! uses it without a restart. Each change rescans the whole tree, which is what Linkerd 1
//! did too and is cheap for the small directories this namer is meant for (Linkerd's docs
//! steer production users to a real discovery backend).

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use l5d_core::addr::{Addr, Address};
use l5d_core::binding::{parse_ip, Bound, Name, Namer};
use l5d_core::naming::{NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};
use notify::Watcher;

/// How long to wait after a change event for the burst it belongs to (an editor's write,
/// rename and chmod) before rescanning.
const SETTLE: Duration = Duration::from_millis(20);

/// A directory tree as last scanned: files with their parsed address sets.
#[derive(Clone, Debug, Default, PartialEq)]
struct Dir(BTreeMap<String, Entry>);

#[derive(Clone, Debug, PartialEq)]
enum Entry {
    File(Addr),
    Dir(Dir),
}

/// The `io.l5d.fs` namer.
pub struct FsNamer {
    shared: Arc<Shared>,
    /// Keeps the OS watch alive as long as the namer.
    _watcher: Option<notify::RecommendedWatcher>,
}

struct Shared {
    root: PathBuf,
    mount: Path,
    tree: Mutex<Dir>,
    /// Every lookup still watched, by the path it was asked for.
    lookups: Mutex<HashMap<Path, Updater<State<NameTree<Name>>>>>,
    /// The address set of every file a bound name refers to, by its path under the root.
    addrs: Mutex<HashMap<Vec<String>, Updater<Addr>>>,
}

/// Parses one endpoint line, `host port`.
fn parse_line(line: &str) -> Result<SocketAddr, String> {
    let malformed = || format!("malformed address: {line}");
    let mut parts = line.split_whitespace();
    let (Some(host), Some(port), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let port: u16 = port.parse().ok().filter(|&p| p > 0).ok_or_else(malformed)?;
    if let Some(ip) = parse_ip(host) {
        return Ok(SocketAddr::new(ip, port));
    }
    // Resolved once per scan, as Linkerd 1 did; scans run on a blocking thread.
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))
}

/// Parses a service file.
fn parse_file(text: &str) -> Addr {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(a) => out.push(Address::new(a)),
            Err(e) => return Addr::Failed(e.into()),
        }
    }
    Addr::bound(out)
}

/// Reads the directory tree under `dir`. Unreadable entries are skipped; an unreadable
/// file is a failed address set.
fn scan(dir: &FsPath) -> Dir {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Dir::default();
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            out.insert(name, Entry::Dir(scan(&path)));
        } else if meta.is_file() {
            let addr = match std::fs::read_to_string(&path) {
                Ok(text) => parse_file(&text),
                Err(e) => Addr::Failed(format!("{}: {e}", path.display()).into()),
            };
            out.insert(name, Entry::File(addr));
        }
    }
    Dir(out)
}

impl Dir {
    /// The file a path names: its path under the root and the rest of the path.
    fn resolve(&self, path: &Path) -> Option<(Vec<String>, Path)> {
        let mut dir = self;
        let mut file = Vec::new();
        for (i, elem) in path.strs().enumerate() {
            match dir.0.get(elem.as_ref())? {
                Entry::File(_) => {
                    file.push(elem.into_owned());
                    return Some((file, path.drop(i + 1)));
                }
                Entry::Dir(d) => {
                    file.push(elem.into_owned());
                    dir = d;
                }
            }
        }
        None
    }

    fn addr(&self, file: &[String]) -> Addr {
        let mut dir = self;
        for (i, elem) in file.iter().enumerate() {
            match dir.0.get(elem) {
                Some(Entry::File(a)) if i + 1 == file.len() => return a.clone(),
                Some(Entry::Dir(d)) => dir = d,
                _ => break,
            }
        }
        Addr::Neg
    }
}

impl Shared {
    fn addr_var(&self, tree: &Dir, file: &[String]) -> Var<Addr> {
        let mut addrs = lock(&self.addrs);
        match addrs.get(file) {
            Some(tx) if !tx.is_closed() => tx.subscribe(),
            _ => {
                let (tx, var) = Var::new(tree.addr(file));
                addrs.insert(file.to_vec(), tx);
                var
            }
        }
    }

    fn answer(&self, tree: &Dir, path: &Path) -> State<NameTree<Name>> {
        match tree.resolve(path) {
            None => State::Ok(NameTree::Neg),
            Some((file, residual)) => {
                let id = self.mount.concat(&Path::from_elems(&file));
                let addr = self.addr_var(tree, &file);
                State::Ok(NameTree::Leaf(Name::Bound(Bound::new(id, residual, addr))))
            }
        }
    }

    /// Publishes a new scan to every watched lookup and address set, and forgets the ones
    /// nobody watches any more.
    fn publish(&self, tree: Dir) {
        *lock(&self.tree) = tree.clone();
        // Lock order everywhere: lookups, then addrs (taken inside `answer`).
        let mut lookups = lock(&self.lookups);
        lookups.retain(|_, tx| !tx.is_closed());
        for (path, tx) in lookups.iter() {
            tx.set_if_changed(self.answer(&tree, path));
        }
        drop(lookups);
        let mut addrs = lock(&self.addrs);
        addrs.retain(|_, tx| !tx.is_closed());
        for (file, tx) in addrs.iter() {
            tx.set_if_changed(tree.addr(file));
        }
    }
}

impl FsNamer {
    /// Watches `root` and names what it holds under `mount` (`/#/io.l5d.fs`).
    ///
    /// The first scan happens here, so lookups answer at once. Watching needs a tokio
    /// runtime; without one (or if the OS refuses the watch) the namer serves that first
    /// scan and logs why it cannot follow changes.
    pub fn new(root: impl Into<PathBuf>, mount: Path) -> FsNamer {
        let root = root.into();
        let shared = Arc::new(Shared {
            tree: Mutex::new(scan(&root)),
            root,
            mount,
            lookups: Mutex::new(HashMap::new()),
            addrs: Mutex::new(HashMap::new()),
        });
        let watcher = match Self::watch(&shared) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("io.l5d.fs: not watching {}: {e}", shared.root.display());
                None
            }
        };
        FsNamer {
            shared,
            _watcher: watcher,
        }
    }

    fn watch(shared: &Arc<Shared>) -> Result<notify::RecommendedWatcher, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "no runtime to watch from".to_string())?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut watcher =
            notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
                // A full channel already holds a pending rescan, which will see this change too.
                let _ = tx.try_send(());
            })
            .map_err(|e| e.to_string())?;
        watcher
            .watch(&shared.root, notify::RecursiveMode::Recursive)
            .map_err(|e| e.to_string())?;
        let weak = Arc::downgrade(shared);
        runtime.spawn(async move {
            while rx.recv().await.is_some() {
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
                let Some(shared) = weak.upgrade() else { return };
                let root = shared.root.clone();
                let Ok(tree) = tokio::task::spawn_blocking(move || scan(&root)).await else {
                    return;
                };
                shared.publish(tree);
            }
        });
        Ok(watcher)
    }
}

impl Namer for FsNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        let shared = &self.shared;
        let mut lookups = lock(&shared.lookups);
        if let Some(tx) = lookups.get(path).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let tree = lock(&shared.tree).clone();
        let (tx, var) = Var::new(shared.answer(&tree, path));
        lookups.insert(path.clone(), tx);
        var
    }
}

#[cfg(test)]
mod tests;
