//! Waiting for the operator's request to stop: SIGTERM (what process supervisors and
//! Kubernetes send) or SIGINT (Ctrl-C).

/// Resolves when the process receives SIGTERM or SIGINT.
///
/// If SIGTERM cannot be listened for (no signal driver), only SIGINT stops the process,
/// and the failure is logged.
pub async fn requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Graceful shutdown of servers: once [`Drain::start`] is called, servers stop accepting
/// and ask each connection to close after the request it is serving; [`Drain::finished`]
/// resolves when the last connection has closed.
#[derive(Debug)]
pub struct Drain {
    signal: tokio::sync::watch::Sender<bool>,
    active: std::sync::atomic::AtomicUsize,
    closed: tokio::sync::Notify,
}

impl Default for Drain {
    fn default() -> Drain {
        Drain {
            signal: tokio::sync::watch::channel(false).0,
            active: std::sync::atomic::AtomicUsize::new(0),
            closed: tokio::sync::Notify::new(),
        }
    }
}

/// A connection counted by a [`Drain`] until it drops.
#[derive(Debug)]
pub struct Tracked<'a>(&'a Drain);

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.0.active.fetch_sub(1, SeqCst) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

impl Drain {
    /// A drain not yet started.
    pub fn new() -> Drain {
        Drain::default()
    }

    /// Starts draining.
    pub fn start(&self) {
        self.signal.send_replace(true);
    }

    /// Whether draining has started.
    pub fn is_draining(&self) -> bool {
        *self.signal.borrow()
    }

    /// Resolves once draining has started.
    pub async fn started(&self) {
        let mut rx = self.signal.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Counts a connection until the returned guard drops.
    pub fn track(&self) -> Tracked<'_> {
        self.active
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Tracked(self)
    }

    /// Connections open.
    pub fn active(&self) -> usize {
        self.active.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves when no connection is open.
    pub async fn finished(&self) {
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.active() == 0 {
                return;
            }
            closed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_finishes_when_the_last_connection_closes() {
        let drain = Drain::new();
        assert!(!drain.is_draining());
        let a = drain.track();
        let b = drain.track();
        drain.start();
        drain.started().await;
        assert!(drain.is_draining());
        drop(a);
        assert_eq!(drain.active(), 1);
        let finished = drain.finished();
        tokio::pin!(finished);
        assert!(futures::poll!(finished.as_mut()).is_pending());
        drop(b);
        finished.await;
        assert_eq!(drain.active(), 0);
    }
}
