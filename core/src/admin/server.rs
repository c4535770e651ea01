//! Serving [`Admin`] over HTTP/1.1 with hyper.

use std::convert::Infallible;
use std::future::Future;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Admin, Request, Response, MAX_BODY};

fn query(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

async fn answer(admin: &Admin, req: http::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Response::text(http::StatusCode::PAYLOAD_TOO_LARGE, format!("{e}\n")),
    };
    let request = Request {
        path: parts.uri.path().to_string(),
        query: query(&parts.uri),
        method: parts.method,
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
    };
    admin.handle(request).await
}

/// Serves `admin` on `listener` until `shutdown` resolves; then stops accepting.
pub async fn serve(admin: Admin, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors, say: keep serving the connections we have.
                    tracing::warn!("admin server: accept failed: {e}");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let admin = admin.clone();
                async move {
                    let r = answer(&admin, req).await;
                    let mut rsp = http::Response::new(Full::new(r.body));
                    *rsp.status_mut() = r.status;
                    rsp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(r.content_type),
                    );
                    Ok::<_, Infallible>(rsp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("admin connection: {e}");
            }
        });
    }
}
