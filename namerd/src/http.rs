//! `io.l5d.httpController`: Linkerd 1's namerd HTTP API, the one `namerctl`, scripts and
//! linkerd's `io.l5d.namerd.http` interpreter use.
//!
//! * `/api/1/dtabs` (GET, `watch`), `/api/1/dtabs/<ns>` (GET with `Accept` negotiation and
//!   `ETag`, HEAD, POST to create, PUT to update — with `If-Match` only if still at that
//!   version, DELETE), with JSON (`[{"prefix":..,"dst":..}]`) and `application/dtab` bodies;
//! * `/api/1/bind/<ns>`, `/api/1/addr/<ns>`, `/api/1/resolve/<ns>`, `/api/1/delegate/<ns>`
//!   and `/api/1/bound-names`.
//!
//! With `watch=1` (or `true`) a GET streams one document per change, each followed by a
//! newline, consecutive duplicates suppressed.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use l5d_core::addr::Addr;
use l5d_core::binding::{Bound, ConfiguredNamers, NameInterpreter, SharedNamer};
use l5d_core::naming::{Dentry, Dtab, NameTree, Path};
use l5d_core::var::{Activity, State, Updater, Var};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::store::{dtab_var, DtabStore, StoreError, Versioned};

/// A response body: whole, or streamed.
type Body = Either<Full<Bytes>, StreamBody<BoxStream<'static, Result<Frame<Bytes>, Infallible>>>>;

/// How long a bind or resolve waits for a non-pending answer.
const BIND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delegation may take (Linkerd 1 answers 503 after 2 s).
const DELEGATE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most bound ids `/api/1/bound-names` remembers.
const MAX_BOUND_NAMES: usize = 10_000;

/// What the controller serves from.
pub struct Controller {
    store: Arc<dyn DtabStore>,
    namers: Vec<(Path, SharedNamer)>,
    bound_names: (Updater<BTreeSet<String>>, Var<BTreeSet<String>>),
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r
}

/// A request refused with this response (boxed: responses are large).
type Refusal = Box<Response<Body>>;

fn refuse(status: StatusCode, body: impl Into<Bytes>) -> Refusal {
    Box::new(respond(status, body))
}

fn json_response(v: &Value) -> Response<Body> {
    let mut r = respond(StatusCode::OK, format!("{v}\n"));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The dtab as Linkerd 1's JSON: `[{"prefix": ..., "dst": ...}]`.
pub fn dtab_json(d: &Dtab) -> Value {
    Value::Array(
        d.dentries()
            .iter()
            .map(|e| json!({"prefix": e.prefix.to_string(), "dst": e.dst.to_string()}))
            .collect(),
    )
}

/// An ETag: the version, base64-encoded.
pub fn etag(version: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(version)
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn watching(q: &[(String, String)]) -> bool {
    matches!(param(q, "watch"), Some("1" | "true"))
}

/// The media type a dtab is answered in: the first acceptable one the client lists.
fn negotiate(req: &Request<Incoming>) -> &'static str {
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for t in accept.split(',') {
        match t.split(';').next().unwrap_or("").trim() {
            "application/json" => return "application/json",
            "application/dtab" => return "application/dtab",
            "text/plain" => return "text/plain",
            _ => {}
        }
    }
    "application/json"
}

fn show_dtab(d: &Dtab, media: &str) -> String {
    if media == "application/json" {
        dtab_json(d).to_string()
    } else {
        d.show()
    }
}

/// Reads a request body as a dtab of the declared type.
fn read_dtab(content_type: Option<&str>, body: &[u8]) -> Result<Dtab, Refusal> {
    let text = String::from_utf8_lossy(body);
    match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
        Some("application/json") => {
            let entries: Vec<Value> = serde_json::from_str(&text).map_err(|_| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    format!("The dtab contains invalid dentries: {text}"),
                )
            })?;
            let mut dentries = Vec::new();
            for e in &entries {
                let (Some(p), Some(d)) = (e["prefix"].as_str(), e["dst"].as_str()) else {
                    return Err(refuse(
                        StatusCode::BAD_REQUEST,
                        format!("The dtab contains invalid dentries: {text}"),
                    ));
                };
                dentries.push(
                    Dentry::read(&format!("{p}=>{d}")).map_err(|e| {
                        refuse(StatusCode::BAD_REQUEST, format!("Invalid dtab: {e}"))
                    })?,
                );
            }
            Ok(Dtab::new(dentries))
        }
        Some("application/dtab" | "text/plain") => Dtab::read(&text)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("Invalid dtab: {e}"))),
        other => Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("Invalid Content-Type \"{}\". ", other.unwrap_or("")),
        )),
    }
}

fn store_error(e: StoreError) -> Response<Body> {
    match e {
        StoreError::NotFound => respond(StatusCode::NOT_FOUND, ""),
        StoreError::Exists => respond(StatusCode::CONFLICT, ""),
        StoreError::VersionMismatch => respond(StatusCode::PRECONDITION_FAILED, ""),
        StoreError::Other(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The first non-pending state of an activity, within `timeout`.
async fn settled<T: Clone>(act: &mut Activity<T>, timeout: Duration) -> Option<State<T>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let s = act.get_and_mark_seen().clone();
        if !matches!(s, State::Pending) {
            return Some(s);
        }
        match tokio::time::timeout_at(deadline, act.changed()).await {
            Ok(true) => {}
            _ => return None,
        }
    }
}

/// A bound tree as Linkerd 1's JSON.
fn tree_json(t: &NameTree<Bound>) -> Value {
    match t {
        NameTree::Leaf(b) => json!({
            "type": "leaf",
            "bound": {"addr": b.addr_now().to_json(), "id": b.id.show(), "path": b.residual.show()},
        }),
        NameTree::Alt(ts) => {
            json!({"type": "alt", "alt": ts.iter().map(tree_json).collect::<Vec<_>>()})
        }
        NameTree::Union(ws) => json!({
            "type": "union",
            "union": ws.iter().map(|w| json!({"weight": w.weight, "tree": tree_json(&w.tree)})).collect::<Vec<_>>(),
        }),
        NameTree::Neg => json!({"type": "neg"}),
        NameTree::Fail => json!({"type": "fail"}),
        NameTree::Empty => json!({"type": "empty"}),
    }
}

fn leaves<'t>(t: &'t NameTree<Bound>, out: &mut Vec<&'t Bound>) {
    match t {
        NameTree::Leaf(b) => out.push(b),
        NameTree::Alt(ts) => ts.iter().for_each(|t| leaves(t, out)),
        NameTree::Union(ws) => ws.iter().for_each(|w| leaves(&w.tree, out)),
        _ => {}
    }
}

/// Whether every leaf's address is known (Linkerd 1's bind answers wait for that).
fn addrs_known(t: &NameTree<Bound>) -> bool {
    let mut ls = Vec::new();
    leaves(t, &mut ls);
    ls.iter().all(|b| !matches!(&*b.addr.get(), Addr::Pending))
}

/// The address a resolved tree routes to: the first resolvable alternative, a weighted
/// member of a union.
fn resolve_addr(t: &NameTree<Bound>) -> Option<Addr> {
    match t {
        NameTree::Leaf(b) => Some(b.addr_now()),
        NameTree::Alt(ts) => ts.iter().find_map(resolve_addr),
        NameTree::Union(ws) => {
            let total: f64 = ws.iter().map(|w| w.weight.max(0.0)).sum();
            let mut x = rand_unit() * total;
            for w in ws {
                x -= w.weight.max(0.0);
                if x < 0.0 {
                    return resolve_addr(&w.tree);
                }
            }
            ws.last().and_then(|w| resolve_addr(&w.tree))
        }
        _ => None,
    }
}

fn rand_unit() -> f64 {
    thread_local! {
        static RNG: l5d_core::balance::Rng = l5d_core::balance::Rng::from_entropy();
    }
    RNG.with(|r| r.unit())
}

/// Sends each new document of a watch down a streamed response, until the client goes.
fn stream_response<F>(mut next: F) -> Response<Body>
where
    F: FnMut() -> futures::future::BoxFuture<'static, Option<String>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        let mut last: Option<String> = None;
        loop {
            let doc = tokio::select! {
                d = next() => d,
                _ = tx.closed() => return,
            };
            let Some(doc) = doc else { return };
            // Nothing to say yet (a namespace that does not exist), or nothing new.
            if doc.is_empty() || last.as_ref() == Some(&doc) {
                continue;
            }
            if tx
                .send(Ok(Frame::data(Bytes::from(format!("{doc}\n")))))
                .await
                .is_err()
            {
                return;
            }
            last = Some(doc);
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    })
    .boxed();
    let mut r = Response::new(Either::Right(StreamBody::new(frames)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A var's successive values, each after it changes (the first at once).
fn successive<T: Clone + Send + Sync + 'static>(
    var: Var<T>,
) -> impl FnMut() -> futures::future::BoxFuture<'static, Option<T>> {
    let var = Arc::new(tokio::sync::Mutex::new((var, true)));
    move || {
        let var = var.clone();
        Box::pin(async move {
            let mut g = var.lock().await;
            let (v, first) = &mut *g;
            if !*first && !v.changed().await {
                // A value that can never change again: the stream stays open, quiet,
                // until the client leaves (as Linkerd 1's does).
                std::future::pending::<()>().await;
            }
            *first = false;
            let value = v.get_and_mark_seen().clone();
            Some(value)
        })
    }
}

impl Controller {
    /// A controller over `store`, binding with `namers`.
    pub fn new(store: Arc<dyn DtabStore>, namers: Vec<(Path, SharedNamer)>) -> Controller {
        Controller {
            store,
            namers,
            bound_names: Var::new(BTreeSet::new()),
        }
    }

    /// The interpreter of namespace `ns`: its stored dtab over namerd's namers.
    pub fn interpreter(&self, ns: &str) -> ConfiguredNamers {
        ConfiguredNamers::new(self.namers.clone()).with_base_dtab(dtab_var(&*self.store, ns))
    }

    fn remember(&self, t: &NameTree<Bound>) {
        let mut ls = Vec::new();
        leaves(t, &mut ls);
        self.bound_names.0.modify(|names| {
            let mut added = false;
            for b in &ls {
                if names.len() < MAX_BOUND_NAMES {
                    added |= names.insert(b.id.show());
                }
            }
            added
        });
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let rsp = self.answer(req).await;
        metrics::counter!("namerd/http/requests").increment(1);
        metrics::counter!(format!("namerd/http/status/{}", rsp.status().as_u16())).increment(1);
        rsp
    }

    async fn answer(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/api/1/") else {
            return respond(StatusCode::NOT_FOUND, "");
        };
        let (what, ns) = match rest.split_once('/') {
            Some((w, ns)) => (w, Some(ns.to_string())),
            None => (rest, None),
        };
        let q = query(&req);
        let ns = ns.filter(|n| !n.is_empty()).map(|n| percent_decode(&n));
        match (what, ns, req.method().clone()) {
            ("dtabs", None, Method::GET) => self.list(&q),
            ("dtabs", Some(ns), Method::GET) => self.get_dtab(&req, &ns, &q, false).await,
            ("dtabs", Some(ns), Method::HEAD) => self.get_dtab(&req, &ns, &q, true).await,
            ("dtabs", Some(ns), Method::POST | Method::PUT | Method::DELETE) => {
                self.change(req, &ns).await
            }
            ("bind", Some(ns), Method::GET) => self.bind(&ns, &q).await,
            ("addr", Some(ns), Method::GET) => self.addr(&ns, &q).await,
            ("resolve", Some(ns), Method::GET) => self.resolve(&ns, &q).await,
            ("delegate", Some(ns), Method::GET) => self.delegate(&ns, &q).await,
            // As /delegator.json: the namespace is a parameter.
            ("delegate", None, Method::GET) => {
                let ns = param(&q, "namespace").unwrap_or("default").to_string();
                self.delegate(&ns, &q).await
            }
            ("bound-names", None, Method::GET) => {
                let names = self.bound_names.1.clone();
                if watching(&q) {
                    let mut next = successive(names);
                    return stream_response(move || {
                        let n = next();
                        Box::pin(async move { n.await.map(|s| json!(s).to_string()) })
                    });
                }
                json_response(&json!(names.sample()))
            }
            (_, _, Method::GET | Method::HEAD) => respond(StatusCode::NOT_FOUND, ""),
            _ => respond(StatusCode::METHOD_NOT_ALLOWED, ""),
        }
    }

    fn list(&self, q: &[(String, String)]) -> Response<Body> {
        let list = self.store.list();
        if watching(q) {
            let mut next = successive(list);
            return stream_response(move || {
                let n = next();
                Box::pin(async move {
                    n.await.map(|s| match s {
                        State::Ok(names) => json!(names).to_string(),
                        _ => String::new(),
                    })
                })
            });
        }
        match list.sample() {
            State::Ok(names) => json_response(&json!(names)),
            State::Pending => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "the dtab store has not answered yet",
            ),
            State::Failed(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }

    async fn get_dtab(
        &self,
        req: &Request<Incoming>,
        ns: &str,
        q: &[(String, String)],
        head: bool,
    ) -> Response<Body> {
        let media = negotiate(req);
        let mut observed = self.store.observe(ns);
        if watching(q) && !head {
            let mut next = successive(observed);
            return stream_response(move || {
                let n = next();
                Box::pin(async move {
                    match n.await? {
                        State::Ok(Some(v)) => Some(show_dtab(&v.dtab, media)),
                        // Nothing until the namespace exists.
                        _ => Some(String::new()),
                    }
                })
            });
        }
        match settled(&mut observed, BIND_TIMEOUT).await {
            Some(State::Ok(Some(Versioned { dtab, version }))) => {
                let body = if head {
                    String::new()
                } else {
                    format!("{}\n", show_dtab(&dtab, media))
                };
                let mut r = respond(StatusCode::OK, body);
                r.headers_mut()
                    .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(media));
                if let Ok(v) = HeaderValue::try_from(etag(&version)) {
                    r.headers_mut().insert(http::header::ETAG, v);
                }
                r
            }
            Some(State::Ok(None)) => respond(StatusCode::NOT_FOUND, ""),
            Some(State::Failed(e)) => respond(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            _ => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "the dtab store has not answered yet",
            ),
        }
    }

    async fn change(&self, req: Request<Incoming>, ns: &str) -> Response<Body> {
        let method = req.method().clone();
        if method == Method::DELETE {
            return match self.store.delete(ns).await {
                Ok(()) => respond(StatusCode::NO_CONTENT, ""),
                Err(e) => store_error(e),
            };
        }
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let if_match = req
            .headers()
            .get(http::header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_string());
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return respond(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let dtab = match read_dtab(content_type.as_deref(), &body) {
            Ok(d) => d,
            Err(r) => return *r,
        };
        let result = match (method, if_match) {
            (Method::POST, _) => self.store.create(ns, dtab).await,
            (_, Some(tag)) => {
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(tag.as_bytes()) {
                    Ok(version) => self.store.update(ns, dtab, version).await,
                    Err(_) => Err(StoreError::VersionMismatch),
                }
            }
            (_, None) => self.store.put(ns, dtab).await,
        };
        match result {
            Ok(()) => respond(StatusCode::NO_CONTENT, ""),
            Err(e) => store_error(e),
        }
    }

    /// The path and extra dtab of a bind-like request, or the 400 they deserve.
    fn name(q: &[(String, String)]) -> Result<(Path, Dtab), Refusal> {
        let p = param(q, "path").unwrap_or("");
        let path = Path::read(p)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("Invalid path: {p} / {e}")))?;
        let d = param(q, "dtab").unwrap_or("");
        let dtab = Dtab::read(d)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("Invalid dtab: {e}")))?;
        Ok((path, dtab))
    }

    async fn bind(self: &Arc<Self>, ns: &str, q: &[(String, String)]) -> Response<Body> {
        let (path, dtab) = match Controller::name(q) {
            Ok(n) => n,
            Err(r) => return *r,
        };
        let mut act = self.interpreter(ns).bind(&dtab, &path);
        if watching(q) {
            return self.watch_tree(act, |t| tree_json(t).to_string());
        }
        match settled(&mut act, BIND_TIMEOUT).await {
            Some(State::Ok(t)) => {
                // Leaves wait for their addresses, as Linkerd 1's do.
                let deadline = tokio::time::Instant::now() + BIND_TIMEOUT;
                let mut ls = Vec::new();
                leaves(&t, &mut ls);
                for b in ls {
                    let mut a = b.addr.clone();
                    while matches!(&*a.get_and_mark_seen(), Addr::Pending) {
                        if !matches!(
                            tokio::time::timeout_at(deadline, a.changed()).await,
                            Ok(true)
                        ) {
                            break;
                        }
                    }
                }
                self.remember(&t);
                let mut r = respond(StatusCode::OK, format!("{}\n", tree_json(&t)));
                r.headers_mut().remove(http::header::CONTENT_TYPE);
                r
            }
            Some(State::Failed(e)) => respond(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            _ => respond(StatusCode::SERVICE_UNAVAILABLE, "binding timed out"),
        }
    }

    /// Streams `render` of each new state of a binding (and of its leaves' addresses).
    fn watch_tree(
        self: &Arc<Self>,
        act: Activity<NameTree<Bound>>,
        render: fn(&NameTree<Bound>) -> String,
    ) -> Response<Body> {
        let this = self.clone();
        let act = Arc::new(tokio::sync::Mutex::new((act, true)));
        stream_response(move || {
            let (act, this) = (act.clone(), this.clone());
            Box::pin(async move {
                let mut g = act.lock().await;
                let (act, first) = &mut *g;
                loop {
                    if !*first {
                        // The tree, or any leaf's addresses, change.
                        let tree = act.get().clone();
                        let mut addrs: Vec<Var<Addr>> = Vec::new();
                        if let State::Ok(t) = &tree {
                            let mut ls = Vec::new();
                            leaves(t, &mut ls);
                            addrs = ls.iter().map(|b| b.addr.clone()).collect();
                        }
                        // Values that can never change again (a constant address)
                        // are not waited on; with none left, the stream stays open,
                        // quiet, until the client leaves.
                        let mut changes: Vec<futures::future::BoxFuture<'_, bool>> = Vec::new();
                        if !act.is_final() {
                            changes.push(Box::pin(act.changed()));
                        }
                        for a in addrs.iter_mut().filter(|a| !a.is_final()) {
                            changes.push(Box::pin(a.changed()));
                        }
                        if changes.is_empty() {
                            std::future::pending::<()>().await;
                        }
                        futures::future::select_all(changes).await;
                    }
                    *first = false;
                    match act.get_and_mark_seen().clone() {
                        State::Ok(t) if addrs_known(&t) => {
                            this.remember(&t);
                            return Some(render(&t));
                        }
                        State::Failed(e) => {
                            return Some(json!({"error": e.to_string()}).to_string())
                        }
                        _ => {}
                    }
                }
            })
        })
    }

    async fn addr(&self, ns: &str, q: &[(String, String)]) -> Response<Body> {
        let p = param(q, "path").unwrap_or("");
        let Ok(mut id) = Path::read(p) else {
            return respond(StatusCode::BAD_REQUEST, format!("Invalid path: {p}"));
        };
        // Transformers' ids start with /%/<prefix>; the namers know the id without it.
        if id.elems().first().is_some_and(|e| &e[..] == b"%") && id.len() > 1 {
            id = id.drop(2);
        }
        let mut act = ConfiguredNamers::new(self.namers.clone()).bind(&Dtab::empty(), &id);
        let _ = ns;
        let state = settled(&mut act, BIND_TIMEOUT).await;
        let addr_var = match state {
            Some(State::Ok(NameTree::Leaf(b))) => b.addr.clone(),
            Some(State::Ok(NameTree::Neg)) => return json_response(&Addr::Neg.to_json()),
            Some(State::Ok(NameTree::Empty)) => {
                return json_response(&json!({"type": "bound", "addrs": [], "meta": {}}))
            }
            Some(State::Ok(_)) => {
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{} is not a concrete bound id", id.show()),
                )
            }
            Some(State::Failed(e)) => {
                return respond(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            _ => return respond(StatusCode::SERVICE_UNAVAILABLE, "binding timed out"),
        };
        if watching(q) {
            let mut next = successive(addr_var);
            return stream_response(move || {
                let n = next();
                Box::pin(async move { n.await.map(|a| a.to_json().to_string()) })
            });
        }
        let mut a = addr_var;
        let deadline = tokio::time::Instant::now() + BIND_TIMEOUT;
        while matches!(&*a.get_and_mark_seen(), Addr::Pending) {
            if !matches!(
                tokio::time::timeout_at(deadline, a.changed()).await,
                Ok(true)
            ) {
                break;
            }
        }
        let addr = a.sample();
        json_response(&addr.to_json())
    }

    async fn resolve(self: &Arc<Self>, ns: &str, q: &[(String, String)]) -> Response<Body> {
        let (path, dtab) = match Controller::name(q) {
            Ok(n) => n,
            Err(r) => return *r,
        };
        let mut act = self.interpreter(ns).bind(&dtab, &path);
        if watching(q) {
            return self.watch_tree(act, |t| {
                resolve_addr(t).unwrap_or(Addr::Neg).to_json().to_string()
            });
        }
        match settled(&mut act, BIND_TIMEOUT).await {
            Some(State::Ok(t)) => {
                let addr = resolve_addr(&t).unwrap_or(Addr::Neg);
                json_response(&addr.to_json())
            }
            Some(State::Failed(e)) => respond(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            _ => respond(StatusCode::SERVICE_UNAVAILABLE, "binding timed out"),
        }
    }

    async fn delegate(&self, ns: &str, q: &[(String, String)]) -> Response<Body> {
        let (path, dtab) = match Controller::name(q) {
            Ok(n) => n,
            Err(r) => return *r,
        };
        let interpreter = self.interpreter(ns);
        let Some(delegator) = interpreter.delegator() else {
            return respond(StatusCode::NOT_IMPLEMENTED, "");
        };
        match tokio::time::timeout(
            DELEGATE_TIMEOUT,
            delegator.delegate(&dtab, &path, DELEGATE_TIMEOUT),
        )
        .await
        {
            Ok(Ok(tree)) => json_response(&tree.to_json()),
            Ok(Err(e)) => respond(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(_) => respond(StatusCode::SERVICE_UNAVAILABLE, "Request timed out."),
        }
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Serves the controller on `addr`; the address bound.
pub async fn start(controller: Arc<Controller>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::task::yield_now().await;
                continue;
            };
            let controller = controller.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let c = controller.clone();
                    async move { Ok::<_, Infallible>(c.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(local)
}
