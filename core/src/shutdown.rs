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
