//! ThriftMux as an API: a client that sends Thrift messages over a Mux session and a
//! server that answers them, for linkerd's and namerd's own ThriftMux interfaces (namerd's
//! `io.l5d.thriftNameInterpreter`, linkerd's `io.l5d.namerd` interpreter).
//!
//! A ThriftMux payload is one Thrift message (no frame length) in a Tdispatch body, and its
//! reply in the Rdispatch body; a NACK or ERROR reply is a failure of the call, not a
//! Thrift exception.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::client::Session;
use crate::codec::{Rdispatch, Status, Tdispatch};
use crate::server::{error, Handler};

/// A ThriftMux client of one server.
#[derive(Clone)]
pub struct ThriftMuxClient {
    session: Session,
}

impl ThriftMuxClient {
    /// Connects to `addr` and negotiates the session, within `timeout`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<ThriftMuxClient, String> {
        Ok(ThriftMuxClient {
            session: Session::connect(addr, timeout).await?,
        })
    }

    /// Whether the session still takes calls (not closed, not drained).
    pub fn is_available(&self) -> bool {
        self.session.is_available()
    }

    /// Sends one Thrift call and waits for its reply message; dropping the future
    /// discards the call (the server is told, and may stop working on it).
    pub async fn call(&self, message: Bytes) -> Result<Bytes, String> {
        let req = Tdispatch {
            contexts: Vec::new(),
            dst: Bytes::new(),
            dtab: Vec::new(),
            body: message,
        };
        let rsp = self
            .session
            .dispatch(req)
            .await
            .map_err(|e| e.to_string())?;
        match rsp.status {
            Status::Ok => Ok(rsp.body),
            Status::Error => Err(format!(
                "the server failed the call: {}",
                String::from_utf8_lossy(&rsp.body)
            )),
            Status::Nack => Err("the server refused the call (NACK)".into()),
        }
    }
}

/// Serves ThriftMux calls with a function from a Thrift call message to its reply message
/// (or why there is none, sent as an ERROR reply).
pub struct ThriftMuxService<F>(pub Arc<F>);

impl<F, Fut> Handler for ThriftMuxService<F>
where
    F: Fn(Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Bytes, String>> + Send + 'static,
{
    fn dispatch(&self, req: Tdispatch) -> impl Future<Output = Rdispatch> + Send + 'static {
        let fut = (self.0)(req.body);
        async move {
            match fut.await {
                Ok(body) => Rdispatch {
                    status: Status::Ok,
                    contexts: Vec::new(),
                    body,
                },
                Err(why) => error(why),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{serve, SessionSettings};

    #[tokio::test]
    async fn a_client_calls_a_server_over_a_real_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = Arc::new(ThriftMuxService(Arc::new(|call: Bytes| async move {
            if &call[..] == b"fail" {
                return Err("asked to fail".to_string());
            }
            let mut reply = b"reply to ".to_vec();
            reply.extend_from_slice(&call);
            Ok(Bytes::from(reply))
        })));
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let settings = SessionSettings {
                admission: None,
                drain: Arc::new(l5d_core::shutdown::Drain::new()),
            };
            let _ = serve(stream, bytes::BytesMut::new(), service, settings).await;
        });
        let client = ThriftMuxClient::connect(addr, Duration::from_secs(5))
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            client.call(Bytes::from_static(b"one")),
            client.call(Bytes::from_static(b"two"))
        );
        assert_eq!(&a.unwrap()[..], b"reply to one");
        assert_eq!(&b.unwrap()[..], b"reply to two");
        let err = client.call(Bytes::from_static(b"fail")).await.unwrap_err();
        assert!(err.contains("asked to fail"), "{err}");
        assert!(client.is_available());
    }
}
