//! Loading a namerd config and starting what it names.

use std::process::ExitCode;
use std::sync::Arc;

use l5d_core::admin::Admin;
use l5d_core::metrics::{register_admin, Registry};
use tokio::sync::Notify;

use l5d_core::binding::SharedNamer;
use l5d_core::config::{load_namerd, read_source, BuildContext, Kind, Loaded, NamerdConfig};
use l5d_core::naming::Path;

use crate::plugins::{EtcdStorage, HttpController, InMemoryStorage, ThriftNameInterpreter};
use crate::store::etcd::Etcd;
use crate::store::memory::InMemory;
use crate::store::DtabStore;

/// Reads and validates a namerd config with every built-in plugin registered.
pub fn load(path: &str) -> Result<Loaded<NamerdConfig>, String> {
    let text = read_source(path)?;
    let registry = crate::plugins::registry().map_err(|e| format!("plugin registry: {e}"))?;
    load_namerd(&text, &registry).map_err(|e| format!("{path}: {e}"))
}

/// One line per configured piece this build cannot run yet.
pub fn not_started(config: &NamerdConfig) -> Vec<String> {
    let mut out = build_namers(config).1;
    if store(config).is_err() {
        out.push(format!(
            "storage {}: not implemented in this build",
            config.storage.storage.kind
        ));
    }
    for i in &config.interfaces {
        let kind = i.interface.kind.as_str();
        if kind != HttpController::KIND && kind != ThriftNameInterpreter::KIND {
            out.push(format!(
                "interface {} on {}: not implemented in this build",
                i.interface.kind,
                i.addr()
            ));
        }
    }
    out
}

/// The configured namers that build, mounted, and a line for each that does not.
pub fn build_namers(config: &NamerdConfig) -> (Vec<(Path, SharedNamer)>, Vec<String>) {
    let ctx = BuildContext::new();
    let mut namers = Vec::new();
    let mut failed = Vec::new();
    for n in &config.namers {
        match n.namer.config.build(&n.mount(), &ctx) {
            Ok(namer) => namers.push((n.mount(), namer)),
            Err(e) => failed.push(format!(
                "namer {} at {}: {}",
                n.namer.kind,
                n.mount(),
                e.message()
            )),
        }
    }
    (namers, failed)
}

/// The configured dtab store (must be called within the runtime: a store may start
/// following its backend).
pub fn store(config: &NamerdConfig) -> Result<Arc<dyn DtabStore>, String> {
    let s = &config.storage.storage;
    if let Some(m) = s.config.downcast_ref::<InMemoryStorage>() {
        let seeds = m.namespaces.iter().map(|(ns, d)| (ns.clone(), d.0.clone()));
        return Ok(Arc::new(InMemory::new(seeds)));
    }
    if let Some(e) = s.config.downcast_ref::<EtcdStorage>() {
        if e.tls.is_some() {
            return Err("io.l5d.etcd with tls is not supported by this build".into());
        }
        let host = if e.host == "localhost" {
            "127.0.0.1"
        } else {
            &e.host
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, e.port))
            .map_err(|err| format!("io.l5d.etcd host {}: {err}", e.host))?
            .next()
            .ok_or_else(|| format!("io.l5d.etcd host {} has no address", e.host))?;
        return Ok(Arc::new(Etcd::new(addr, &e.path_prefix)));
    }
    Err(format!(
        "storage {} is not implemented in this build",
        s.kind
    ))
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
        let metrics = Registry::new();
        // Code using the `metrics` facade (the store, the interfaces) lands in the same
        // registry; installed before any of them starts.
        metrics.install_global();
        let store = match store(&config) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let (namers, _) = build_namers(&config);
        let controller = Arc::new(crate::http::Controller::new(store.clone(), namers.clone()));
        let service = Arc::new(crate::thrift::NamerService::new(store.clone(), namers));
        let drain = Arc::new(l5d_core::shutdown::Drain::new());
        for i in &config.interfaces {
            let started = match i.interface.kind.as_str() {
                HttpController::KIND => crate::http::start(controller.clone(), i.addr()).await,
                ThriftNameInterpreter::KIND => {
                    crate::thrift::start(service.clone(), i.addr(), drain.clone()).await
                }
                _ => continue,
            };
            match started {
                Ok(local) => tracing::info!("interface {} listening on {local}", i.interface.kind),
                Err(e) => {
                    eprintln!(
                        "error: interface {}: cannot listen on {}: {e}",
                        i.interface.kind,
                        i.addr()
                    );
                    return ExitCode::from(1);
                }
            }
        }
        let stop = Arc::new(Notify::new());
        let mut admin = Admin::new();
        admin
            .config_json(config.source.clone())
            .shutdown(stop.clone());
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
