//! The admin HTTP server: Linkerd 1's admin port (9990 for linkerd, 9991 for namerd).
//!
//! It is a table of exact paths to handlers. The binaries and plugins add their pages
//! (`/delegator.json`, `/config.json`, later the metrics and state pages) before it starts;
//! `/admin/ping` and the index `/admin` are always there. Request bodies are read whole,
//! up to [`MAX_BODY`], since admin requests are small JSON documents.

mod delegator;
mod server;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, StatusCode};

pub use delegator::delegator_json;

/// The largest request body the admin server reads.
pub const MAX_BODY: usize = 1 << 20;

/// An admin request, read whole.
#[derive(Debug)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An admin response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: StatusCode, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain",
            body: Bytes::from(body.into()),
        }
    }

    /// A 200 response in Prometheus' text exposition format (version 0.0.4).
    pub fn prometheus(body: impl Into<String>) -> Response {
        Response {
            status: StatusCode::OK,
            content_type: "text/plain; version=0.0.4",
            body: Bytes::from(body.into()),
        }
    }

    /// A 200 JSON response.
    pub fn json(value: &serde_json::Value) -> Response {
        Response {
            status: StatusCode::OK,
            content_type: "application/json",
            body: Bytes::from(value.to_string()),
        }
    }
}

/// Answers admin requests for one path.
pub trait Handler: Send + Sync + 'static {
    /// The response to `req`.
    fn handle(&self, req: Request) -> BoxFuture<'static, Response>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn handle(&self, req: Request) -> BoxFuture<'static, Response> {
        Box::pin(self(req))
    }
}

/// The admin server's pages, by exact path.
#[derive(Clone)]
pub struct Admin {
    routes: BTreeMap<String, Arc<dyn Handler>>,
}

impl Default for Admin {
    fn default() -> Admin {
        Admin::new()
    }
}

impl Admin {
    /// An admin server with `/admin/ping` (answers `pong`, the health check load balancers
    /// and Kubernetes probes use).
    pub fn new() -> Admin {
        let mut admin = Admin {
            routes: BTreeMap::new(),
        };
        admin.route("/admin/ping", |_req: Request| async {
            Response::text(StatusCode::OK, "pong")
        });
        admin
    }

    /// Serves `handler` at `path`, replacing any handler already there.
    pub fn route(&mut self, path: &str, handler: impl Handler) -> &mut Admin {
        self.routes.insert(path.to_string(), Arc::new(handler));
        self
    }

    /// Serves `/config.json`: the config as it was written, as JSON.
    pub fn config_json(&mut self, source: serde_json::Value) -> &mut Admin {
        let source = Arc::new(source);
        self.route("/config.json", move |_req: Request| {
            let source = source.clone();
            async move { Response::json(&source) }
        })
    }

    /// Serves `POST /admin/shutdown`, which notifies `stop` (the binary then drains and
    /// exits); other methods get 405.
    pub fn shutdown(&mut self, stop: Arc<tokio::sync::Notify>) -> &mut Admin {
        self.route("/admin/shutdown", move |req: Request| {
            let stop = stop.clone();
            async move {
                if req.method != Method::POST {
                    return Response::text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
                }
                stop.notify_one();
                Response::text(StatusCode::OK, "shutting down\n")
            }
        })
    }

    /// Listens on `addr` and serves in the background until the runtime stops; returns
    /// the address bound (the port is chosen when `addr`'s is 0).
    pub async fn start(self, addr: std::net::SocketAddr) -> std::io::Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tokio::spawn(serve(self, listener, std::future::pending()));
        Ok(local)
    }

    /// The paths served, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.routes.keys().cloned().collect();
        paths.push("/admin".into());
        paths.sort();
        paths
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request) -> Response {
        if req.path == "/admin" || req.path == "/admin/" {
            return Response::text(StatusCode::OK, self.paths().join("\n") + "\n");
        }
        match self.routes.get(&req.path) {
            Some(h) => h.handle(req).await,
            None => Response::text(
                StatusCode::NOT_FOUND,
                format!("no admin page at {}\n", req.path),
            ),
        }
    }
}

pub use server::serve;
