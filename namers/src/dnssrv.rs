//! `io.l5d.dnssrv` (experimental): a service's instances from DNS SRV records, named
//! `/#/io.l5d.dnssrv/<record name>` (`_http._tcp.web.example.com`), asked every
//! `refreshIntervalSeconds` of the `dnsHosts` name servers (port 53, or `host:port`, our
//! addition) or of the system's. Targets are resolved with the system resolver, as Linkerd
//! 1 does. A name with no records (NXDOMAIN or an empty answer) is `Neg`; a failed lookup
//! keeps the last set.
//!
//! DNS is spoken by the `hickory-resolver` crate.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use l5d_core::addr::{Addr, Address};
use l5d_core::binding::{Bound, Name, Namer};
use l5d_core::naming::{NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};

struct Watch {
    addr: Updater<Addr>,
    exists: Updater<State<bool>>,
}

struct Inner {
    resolver: TokioResolver,
    refresh: Duration,
    mount: Path,
    watches: Mutex<HashMap<String, Arc<Watch>>>,
}

/// The DNS SRV namer.
pub struct DnsSrvNamer {
    inner: Arc<Inner>,
}

/// The name servers `dns_hosts` names (`host` for port 53, or `host:port`).
fn name_servers(dns_hosts: &[String]) -> Result<Vec<NameServerConfig>, String> {
    let mut out = Vec::new();
    for h in dns_hosts {
        let (host, port) = match h.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.starts_with('[') => (
                host.trim_matches(['[', ']']).to_string(),
                port.parse::<u16>()
                    .map_err(|_| format!("dnsHosts {h}: bad port"))?,
            ),
            _ => (h.clone(), 53),
        };
        let ip: IpAddr = match host.parse() {
            Ok(ip) => ip,
            Err(_) => (host.as_str(), port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
                .ok_or_else(|| format!("dnsHosts {h}: cannot resolve"))?,
        };
        let mut udp = ConnectionConfig::udp();
        udp.port = port;
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = port;
        let mut ns = NameServerConfig::udp_and_tcp(ip);
        ns.connections = vec![udp, tcp];
        out.push(ns);
    }
    Ok(out)
}

impl DnsSrvNamer {
    /// A namer mounted at `mount` asking `dns_hosts` (or the system's servers) every
    /// `refresh`.
    pub fn new(
        dns_hosts: &[String],
        refresh: Duration,
        mount: Path,
    ) -> Result<DnsSrvNamer, String> {
        let resolver = if dns_hosts.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|e| format!("the system's resolver: {e}"))?
                .build()
        } else {
            let config = ResolverConfig::from_name_servers(name_servers(dns_hosts)?);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::new()).build()
        }
        .map_err(|e| format!("a DNS resolver: {e}"))?;
        Ok(DnsSrvNamer {
            inner: Arc::new(Inner {
                resolver,
                refresh: refresh.max(Duration::from_millis(100)),
                mount,
                watches: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl Namer for DnsSrvNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        let Some(first) = path.elems().first() else {
            return Var::constant(State::Ok(NameTree::Neg));
        };
        let record = String::from_utf8_lossy(first).into_owned();
        let watch = self.inner.watch(record);
        let id = self.inner.mount.concat(&path.take(1));
        let residual = path.drop(1);
        let addr = watch.addr.subscribe();
        let mut exists = watch.exists.subscribe();
        let to_tree = move |s: &State<bool>| match s {
            State::Ok(true) => State::Ok(NameTree::Leaf(Name::Bound(Bound {
                id: id.clone(),
                residual: residual.clone(),
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

impl Inner {
    fn watch(self: &Arc<Self>, record: String) -> Arc<Watch> {
        let mut watches = lock(&self.watches);
        if let Some(w) = watches.get(&record) {
            return w.clone();
        }
        let (addr, _) = Var::new(Addr::Pending);
        let (exists, _) = Var::new(State::Pending);
        let w = Arc::new(Watch { addr, exists });
        watches.insert(record.clone(), w.clone());
        tokio::spawn(follow(Arc::downgrade(self), Arc::downgrade(&w), record));
        w
    }

    /// The instances the record names now: `None` when the lookup failed.
    async fn instances(&self, record: &str) -> Option<Vec<Address>> {
        let name = if record.ends_with('.') {
            record.to_string()
        } else {
            format!("{record}.")
        };
        let lookup = match self.resolver.srv_lookup(name.as_str()).await {
            Ok(l) => l,
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => return Some(Vec::new()),
            Err(e) => {
                metrics::counter!("namer/io.l5d.dnssrv/errors").increment(1);
                tracing::info!("io.l5d.dnssrv {record}: {e}");
                return None;
            }
        };
        let mut out = Vec::new();
        for r in lookup.answers() {
            let RData::SRV(srv) = &r.data else { continue };
            let target = srv.target.to_utf8();
            let target = target.trim_end_matches('.');
            // Targets are resolved by the system, as Linkerd 1 resolves them.
            let found = tokio::task::spawn_blocking({
                let target = target.to_string();
                let port = srv.port;
                move || {
                    (target.as_str(), port)
                        .to_socket_addrs()
                        .map(|a| a.collect::<Vec<SocketAddr>>())
                }
            })
            .await;
            match found {
                Ok(Ok(addrs)) => out.extend(
                    addrs
                        .into_iter()
                        .filter(|a| a.is_ipv4())
                        .take(1)
                        .map(Address::new),
                ),
                _ => tracing::info!("io.l5d.dnssrv {record}: cannot resolve target {target}"),
            }
        }
        Some(out)
    }
}

/// Asks for the record every refresh interval, for as long as anyone looks it up.
async fn follow(inner: Weak<Inner>, watch: Weak<Watch>, record: String) {
    loop {
        let Some(i) = inner.upgrade() else { return };
        let Some(w) = watch.upgrade() else { return };
        if w.exists.is_closed() && w.addr.is_closed() && Arc::strong_count(&w) <= 2 {
            let mut ws = lock(&i.watches);
            if ws.get(&record).is_some_and(|x| Arc::ptr_eq(x, &w)) {
                ws.remove(&record);
            }
            return;
        }
        if let Some(instances) = i.instances(&record).await {
            metrics::counter!("namer/io.l5d.dnssrv/lookups").increment(1);
            let exists = !instances.is_empty();
            w.addr.set_if_changed(if instances.is_empty() {
                Addr::Neg
            } else {
                Addr::bound(instances)
            });
            w.exists.set_if_changed(State::Ok(exists));
        }
        let refresh = i.refresh;
        drop((i, w));
        tokio::time::sleep(refresh).await;
    }
}
