//! Loading a config and starting what it names.
//!
//! Every key is validated before anything starts: a bad config exits with code 1 and one
//! message naming the key and its line. Then each namer and router is built; a plugin whose
//! runtime this build does not have yet is reported by name, once, and the rest starts.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::Notify;

use std::collections::HashMap;

use l5d_core::admin::{delegator_json, Admin};
use l5d_core::binding::{ConfiguredNamers, NameInterpreter, SharedNamer};
use l5d_core::config::{
    load_linkerd, read_source, BuildContext, InterpreterContext, LinkerdConfig, Loaded,
};
use l5d_core::metrics::{register_admin, Registry};
use l5d_core::naming::Path;

use crate::dtab::CliError;

/// Reads and validates a linkerd config with every built-in plugin registered.
pub fn load(path: &str) -> Result<Loaded<LinkerdConfig>, String> {
    let text = read_source(path)?;
    let registry = crate::plugins::registry().map_err(|e| format!("plugin registry: {e}"))?;
    load_linkerd(&text, &registry).map_err(|e| format!("{path}: {e}"))
}

/// The namers of a config that this build can run, each at its mount path; the others are
/// returned as messages.
pub fn build_namers(config: &LinkerdConfig) -> (Vec<(Path, SharedNamer)>, Vec<String>) {
    let ctx = BuildContext::new();
    let mut built = Vec::new();
    let mut skipped = Vec::new();
    for n in &config.namers {
        // With its transformers; an error names the transformer when it is one.
        match n.build(&ctx) {
            Ok(namer) => built.push((n.mount(), namer)),
            Err(e) if e.path() == &n.namer.path => skipped.push(format!(
                "namer {} at {}: {}",
                n.namer.kind,
                n.mount(),
                e.message()
            )),
            Err(e) => skipped.push(format!("namer {} at {}: {e}", n.namer.kind, n.mount())),
        }
    }
    (built, skipped)
}

/// Builds the interpreter over the namers a config file configures, for `linkerd dtab`.
pub fn namers_from_config(path: &str) -> Result<ConfiguredNamers, CliError> {
    let loaded = load(path).map_err(CliError)?;
    let (namers, skipped) = build_namers(&loaded.config);
    if let Some(first) = skipped.first() {
        return Err(CliError(format!("{path}: cannot use {first}")));
    }
    Ok(ConfiguredNamers::new(namers))
}

/// A router's clients, by bound id, with their state (`/client_state.json`).
pub type ClientStates = Arc<dyn Fn() -> Vec<(String, serde_json::Value)> + Send + Sync>;

/// What starting a config brought up, and what this build could not start.
pub struct Started {
    /// Each router's interpreter, by label (what `/delegator.json` explains with).
    pub interpreters: HashMap<String, Arc<dyn NameInterpreter>>,
    /// Stops every server gracefully.
    pub drain: Arc<l5d_core::shutdown::Drain>,
    /// The configured namers, by mount (what `/namer_state/<prefix>.json` shows).
    pub namers: Vec<(Path, SharedNamer)>,
    /// Each router's client states (what `/client_state.json` reports).
    pub client_states: Vec<ClientStates>,
    /// One line per server that is serving.
    pub serving: Vec<String>,
    /// One line per configured piece this build cannot run yet.
    pub not_started: Vec<String>,
}

/// Starts what `config` names, recording into `metrics`; a server that cannot listen is
/// an error.
pub async fn start(config: &LinkerdConfig, metrics: &Registry) -> Result<Started, String> {
    let (namers, mut not_started) = build_namers(config);
    let ctx = BuildContext::new();
    let mut interpreters = HashMap::new();
    let mut serving = Vec::new();
    let mut client_states: Vec<ClientStates> = Vec::new();
    let drain = Arc::new(l5d_core::shutdown::Drain::new());
    for router in &config.routers {
        let interp = router.interpreter.build(&InterpreterContext {
            namers: &namers,
            build: &ctx,
        });
        let interp = match interp {
            Ok(i) => i,
            Err(e) => {
                not_started.push(format!("router '{}': interpreter: {e}", router.label));
                continue;
            }
        };
        interpreters.insert(router.label.clone(), interp.clone());
        let addrs = match router.protocol.as_str() {
            "http" => {
                let http = l5d_http::start::start(router, interp, metrics, &drain).await?;
                let r = http.router;
                client_states.push(Arc::new(move || r.client_state()));
                Some(http.addrs)
            }
            "thrift" => {
                let thrift = l5d_thrift::start::start(router, interp, metrics, &drain).await?;
                let r = thrift.router;
                client_states.push(Arc::new(move || r.client_state()));
                Some(thrift.addrs)
            }
            "mux" => {
                let mux = l5d_mux::start::start_mux(router, interp, metrics, &drain).await?;
                let states = mux.client_state;
                client_states.push(Arc::new(move || states()));
                Some(mux.addrs)
            }
            "thriftmux" => {
                let tm = l5d_mux::start::start_thriftmux(router, interp, metrics, &drain).await?;
                let states = tm.client_state;
                client_states.push(Arc::new(move || states()));
                Some(tm.addrs)
            }
            _ => None,
        };
        if let Some(addrs) = addrs {
            for addr in addrs {
                serving.push(format!(
                    "router '{}' (protocol {}) on {addr}",
                    router.label, router.protocol
                ));
            }
            continue;
        }
        let servers: Vec<String> = router
            .servers
            .iter()
            .map(|s| s.addr().to_string())
            .collect();
        not_started.push(format!(
            "router '{}' (protocol {}, servers {}): the {} router is not implemented in this build",
            router.label,
            router.protocol,
            servers.join(", "),
            router.protocol
        ));
    }
    Ok(Started {
        interpreters,
        client_states,
        namers,
        drain,
        serving,
        not_started,
    })
}

/// The admin pages linkerd serves: `/admin/ping`, `/delegator.json` over the routers'
/// interpreters, `/config.json` (the config as written), and `POST /admin/shutdown`, which
/// notifies `shutdown`; `/admin/metrics.json` and `/admin/metrics/prometheus` over `metrics`.
pub fn admin(
    config: &LinkerdConfig,
    started: &Started,
    shutdown: Arc<Notify>,
    metrics: Registry,
) -> Admin {
    let mut admin = Admin::new();
    admin
        .route(
            "/delegator.json",
            delegator_json(started.interpreters.clone()),
        )
        .route(
            "/client_state.json",
            client_state(started.client_states.clone()),
        )
        .route(
            "/bound-names.json",
            bound_names(started.client_states.clone()),
        )
        .config_json(config.source.clone())
        .shutdown(shutdown);
    // `/namer_state/io.l5d.consul.json`: what each namer that can tell is watching.
    for (mount, namer) in &started.namers {
        if namer.state().is_none() {
            continue;
        }
        let prefix = mount.show();
        let prefix = prefix.strip_prefix("/#").unwrap_or(&prefix).to_string();
        let namer = namer.clone();
        admin.route(
            &format!("/namer_state{prefix}.json"),
            move |_req: l5d_core::admin::Request| {
                let state = namer.state().unwrap_or(serde_json::Value::Null);
                async move { l5d_core::admin::Response::json(&state) }
            },
        );
    }
    register_admin(&mut admin, metrics);
    admin
}

/// `/bound-names.json`: the bound ids linkerd routes to now, sorted.
fn bound_names(routers: Vec<ClientStates>) -> impl l5d_core::admin::Handler {
    move |_req: l5d_core::admin::Request| {
        let mut ids: Vec<String> = routers.iter().flat_map(|s| s()).map(|(id, _)| id).collect();
        ids.sort();
        ids.dedup();
        let rsp = l5d_core::admin::Response::json(&serde_json::json!(ids));
        async move { rsp }
    }
}

/// `/client_state.json`: every client of every router, by bound id, with its state and
/// addresses (Linkerd 1's `ClientStateHandler`).
fn client_state(routers: Vec<ClientStates>) -> impl l5d_core::admin::Handler {
    move |_req: l5d_core::admin::Request| {
        let mut all = serde_json::Map::new();
        for states in &routers {
            for (id, state) in states() {
                all.insert(id, state);
            }
        }
        let rsp = l5d_core::admin::Response::json(&serde_json::Value::Object(all));
        async move { rsp }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LINKERD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs linkerd with the config at `path` until SIGTERM or SIGINT.
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
    // One thread serves everything, as the performance targets assume: no work stealing,
    // no cross-thread wake-ups on the request path. Blocking work (file scans, DNS) goes to
    // tokio's blocking pool.
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
    let config = Arc::new(loaded.config);
    let metrics = Registry::new();
    // Code using the `metrics` facade lands in the same registry; only the first
    // recorder installed in a process is kept, which is this one.
    metrics.install_global();
    runtime.block_on(async move {
        let started = match start(&config, &metrics).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        for line in &started.serving {
            tracing::info!("serving {line}");
        }
        for line in &started.not_started {
            tracing::warn!("not started: {line}");
        }
        let stop = Arc::new(Notify::new());
        let local = match admin(&config, &started, stop.clone(), metrics)
            .start(config.admin.addr())
            .await
        {
            Ok(local) => local,
            Err(e) => {
                eprintln!(
                    "error: admin server: cannot listen on {}: {e}",
                    config.admin.addr()
                );
                return ExitCode::from(1);
            }
        };
        tracing::info!("admin server listening on {local}");
        let released = crate::memory::release_startup_code();
        tracing::debug!("released {} KiB of startup code pages", released / 1024);
        tracing::info!(
            "linkerd is running with {} ({} routers, {} namers); stop it with SIGTERM or SIGINT",
            path,
            config.routers.len(),
            config.namers.len()
        );
        tokio::select! {
            _ = l5d_core::shutdown::requested() => {}
            _ = stop.notified() => {}
        }
        // Stop accepting, let requests in flight finish (up to admin.shutdownGraceMs),
        // then exit.
        let grace = std::time::Duration::from_millis(config.admin.shutdown_grace_ms);
        tracing::info!(
            "linkerd is stopping: draining {} connections for up to {grace:?}",
            started.drain.active()
        );
        started.drain.start();
        if tokio::time::timeout(grace, started.drain.finished())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} connections still open after {grace:?}; closing them",
                started.drain.active()
            );
        }
        tracing::info!("linkerd stopped");
        ExitCode::SUCCESS
    })
}
