//! Loading a namerd config and starting what it names.

use std::process::ExitCode;
use std::sync::Arc;

use l5d_core::admin::Admin;
use l5d_core::metrics::{register_admin, Registry};
use tokio::sync::Notify;

use l5d_core::config::{load_namerd, read_source, BuildContext, Loaded, NamerdConfig};

/// Reads and validates a namerd config with every built-in plugin registered.
pub fn load(path: &str) -> Result<Loaded<NamerdConfig>, String> {
    let text = read_source(path)?;
    let registry = crate::plugins::registry().map_err(|e| format!("plugin registry: {e}"))?;
    load_namerd(&text, &registry).map_err(|e| format!("{path}: {e}"))
}

/// One line per configured piece this build cannot run yet.
pub fn not_started(config: &NamerdConfig) -> Vec<String> {
    let ctx = BuildContext::new();
    let mut out = Vec::new();
    for n in &config.namers {
        if let Err(e) = n.namer.config.build(&n.mount(), &ctx) {
            out.push(format!(
                "namer {} at {}: {}",
                n.namer.kind,
                n.mount(),
                e.message()
            ));
        }
    }
    out.push(format!(
        "storage {}: not implemented in this build",
        config.storage.storage.kind
    ));
    for i in &config.interfaces {
        out.push(format!(
            "interface {} on {}: not implemented in this build",
            i.interface.kind,
            i.addr()
        ));
    }
    out
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NAMERD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs namerd with the config at `path` until SIGTERM or SIGINT.
pub fn main(path: &str) -> ExitCode {
    init_logging();
    let loaded = match load(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{path}: {w}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let config = loaded.config;
    runtime.block_on(async move {
        for line in not_started(&config) {
            tracing::warn!("not started: {line}");
        }
        let stop = Arc::new(Notify::new());
        let mut admin = Admin::new();
        admin
            .config_json(config.source.clone())
            .shutdown(stop.clone());
        let metrics = Registry::new();
        // Code using the `metrics` facade lands in the same registry.
        metrics.install_global();
        register_admin(&mut admin, metrics);
        match admin.start(config.admin.addr()).await {
            Ok(local) => tracing::info!("admin server listening on {local}"),
            Err(e) => {
                eprintln!(
                    "error: admin server: cannot listen on {}: {e}",
                    config.admin.addr()
                );
                return ExitCode::from(1);
            }
        }
        tracing::info!("namerd is running with {path}; stop it with SIGTERM or SIGINT");
        tokio::select! {
            _ = l5d_core::shutdown::requested() => {}
            _ = stop.notified() => {}
        }
        tracing::info!("namerd is stopping");
        ExitCode::SUCCESS
    })
}
