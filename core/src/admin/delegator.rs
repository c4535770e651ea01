//! `/delegator.json`: Linkerd 1's dtab playground API (`DelegateApiHandler`).
//!
//! `GET ?namespace=<router label>&path=<path>&dtab=<dtab>` or `POST` a JSON body
//! `{"namespace", "dtab", "path"}` (Content-Type exactly `application/json`). The dtab is
//! the one supplied, nothing else: Linkerd's UI sends the router's dtab itself. Without a
//! namespace only the system namers are used.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde::Deserialize;

use super::{Request, Response};
use crate::binding::{ConfiguredNamers, NameInterpreter};
use crate::delegate::{DelegateError, DELEGATE_TIMEOUT};
use crate::naming::{Dtab, Path};

#[derive(Deserialize)]
struct Body {
    namespace: Option<String>,
    dtab: Option<String>,
    path: Option<String>,
}

/// Answers `/delegator.json` with the interpreters of the routers, by label.
pub fn delegator_json(
    interpreters: HashMap<String, Arc<dyn NameInterpreter>>,
) -> impl Fn(Request) -> futures::future::BoxFuture<'static, Response> + Send + Sync + 'static {
    let interpreters = Arc::new(interpreters);
    move |req: Request| {
        let interpreters = interpreters.clone();
        Box::pin(async move { answer(&interpreters, req).await })
    }
}

fn bad(msg: String) -> Response {
    Response::text(StatusCode::BAD_REQUEST, msg)
}

async fn answer(
    interpreters: &HashMap<String, Arc<dyn NameInterpreter>>,
    req: Request,
) -> Response {
    let (namespace, dtab, path) = match req.method {
        Method::GET => (
            req.param("namespace").map(str::to_string),
            req.param("dtab").unwrap_or("").to_string(),
            req.param("path").unwrap_or("").to_string(),
        ),
        Method::POST => {
            if req.content_type.as_deref() != Some("application/json") {
                return Response::text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Content-Type must be application/json",
                );
            }
            match serde_json::from_slice::<Body>(&req.body) {
                Ok(Body {
                    namespace,
                    dtab: Some(dtab),
                    path: Some(path),
                }) => (namespace, dtab, path),
                _ => {
                    return bad(format!(
                        "Malformed delegation request: {}",
                        String::from_utf8_lossy(&req.body)
                    ))
                }
            }
        }
        _ => return Response::text(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST"),
    };
    let path = match Path::read(&path) {
        Ok(p) => p,
        Err(e) => return bad(format!("Invalid path: {e}")),
    };
    let dtab = match Dtab::read(&dtab) {
        Ok(d) => d,
        Err(e) => return bad(format!("Invalid dtab: {e}")),
    };
    let system;
    let interpreter: &dyn NameInterpreter = match &namespace {
        None => {
            system = ConfiguredNamers::system_only();
            &system
        }
        Some(ns) => match interpreters.get(ns) {
            Some(i) => i.as_ref(),
            None => return Response::text(StatusCode::NOT_FOUND, format!("No router named {ns}")),
        },
    };
    let Some(delegator) = interpreter.delegator() else {
        let ns = namespace.unwrap_or_default();
        return Response::text(
            StatusCode::NOT_IMPLEMENTED,
            format!("Name Interpreter for {ns} cannot show delegations"),
        );
    };
    match delegator.delegate(&dtab, &path, DELEGATE_TIMEOUT).await {
        Ok(tree) => Response::json(&tree.to_json()),
        Err(DelegateError::Timeout) => {
            Response::text(StatusCode::SERVICE_UNAVAILABLE, "Request timed out.")
        }
        Err(DelegateError::Failed(msg)) => Response::text(StatusCode::INTERNAL_SERVER_ERROR, msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::Bound;
    use crate::naming::NameTree;
    use crate::var::{Activity, State, Var};

    /// An interpreter that binds but cannot explain (as a remote one may not).
    struct Opaque;

    impl NameInterpreter for Opaque {
        fn bind(&self, _: &Dtab, _: &Path) -> Activity<NameTree<Bound>> {
            Var::constant(State::Pending)
        }
    }

    fn get(query: &[(&str, &str)]) -> Request {
        Request {
            method: Method::GET,
            path: "/delegator.json".into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            content_type: None,
            body: bytes::Bytes::new(),
        }
    }

    #[tokio::test]
    async fn interpreters_that_cannot_delegate_answer_501() {
        let mut interpreters: HashMap<String, Arc<dyn NameInterpreter>> = HashMap::new();
        interpreters.insert("remote".into(), Arc::new(Opaque));
        let rsp = answer(
            &interpreters,
            get(&[("namespace", "remote"), ("path", "/a")]),
        )
        .await;
        assert_eq!(rsp.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            rsp.body,
            "Name Interpreter for remote cannot show delegations"
        );
        let rsp = answer(&interpreters, get(&[("path", "/$/inet/127.0.0.1/1")])).await;
        assert_eq!(
            rsp.status,
            StatusCode::OK,
            "no namespace: the system namers explain"
        );
    }
}
