//! The admin pages over a [`Registry`]: `/admin/metrics.json` and
//! `/admin/metrics/prometheus`.

use http::StatusCode;

use super::{render_json, render_prometheus, Registry};
use crate::admin::{Admin, Request, Response};

/// Serves `/admin/metrics.json` (params `pretty`, `tree`, `q`; an unknown `q` gets 404
/// `{"error": "No such subtree: <q>"}`) and `/admin/metrics/prometheus` from `registry`.
pub fn register_admin(admin: &mut Admin, registry: Registry) {
    let json_registry = registry.clone();
    admin.route("/admin/metrics.json", move |req: Request| {
        let registry = json_registry.clone();
        async move {
            let flag = |name: &str| matches!(req.param(name), Some("1" | "true"));
            let snapshot = registry.snapshot();
            match render_json(&snapshot, req.param("q"), flag("tree"), flag("pretty")) {
                Ok(body) => Response {
                    status: StatusCode::OK,
                    content_type: "application/json",
                    body: body.into(),
                },
                Err(e) => {
                    let mut r = Response::json(&serde_json::json!({ "error": e.to_string() }));
                    r.status = StatusCode::NOT_FOUND;
                    r
                }
            }
        }
    });
    admin.route("/admin/metrics/prometheus", move |_req: Request| {
        let registry = registry.clone();
        async move { Response::prometheus(render_prometheus(&registry.snapshot())) }
    });
}
