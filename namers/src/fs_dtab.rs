//! The `io.l5d.fs` interpreter: the default interpreter (configured namers, then the
//! system namers) with its dtab read from a file and followed as the file changes, before
//! the router's own dtab. A file that stops parsing keeps the last good dtab in force.

use std::path::PathBuf;

use l5d_core::binding::{Bound, ConfiguredNamers, Delegator, NameInterpreter, SharedNamer};
use l5d_core::naming::{Dtab, NameTree, Path};
use l5d_core::var::{Activity, Var};
use notify::Watcher;

/// How long after a change the file is read (an editor writes in several steps).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// An interpreter whose dtab comes from a watched file.
pub struct DtabFile {
    interpreter: ConfiguredNamers,
    _watcher: notify::RecommendedWatcher,
}

fn read(file: &std::path::Path) -> Result<Dtab, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    Dtab::read(&text).map_err(|e| format!("{}: {e}", file.display()))
}

impl DtabFile {
    /// Follows the dtab in `file` over `namers`; the file must hold a valid dtab now.
    pub fn new(
        file: impl Into<PathBuf>,
        namers: Vec<(Path, SharedNamer)>,
    ) -> Result<DtabFile, String> {
        let file = file.into();
        let (tx, var) = Var::new(read(&file)?);
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "no runtime to watch the dtab file from".to_string())?;
        let (notify_tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut watcher = notify::recommended_watcher(move |_e: notify::Result<notify::Event>| {
            let _ = notify_tx.try_send(());
        })
        .map_err(|e| e.to_string())?;
        // The directory, not the file: editors replace a file rather than write it.
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf();
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        runtime.spawn(async move {
            while rx.recv().await.is_some() {
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
                match read(&file) {
                    Ok(d) => {
                        tx.set_if_changed(d);
                    }
                    Err(e) => tracing::warn!("io.l5d.fs interpreter: keeping the last dtab: {e}"),
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(DtabFile {
            interpreter: ConfiguredNamers::new(namers).with_base_dtab(var),
            _watcher: watcher,
        })
    }
}

impl NameInterpreter for DtabFile {
    fn bind(&self, dtab: &Dtab, path: &Path) -> Activity<NameTree<Bound>> {
        self.interpreter.bind(dtab, path)
    }

    fn delegator(&self) -> Option<&dyn Delegator> {
        self.interpreter.delegator()
    }
}
