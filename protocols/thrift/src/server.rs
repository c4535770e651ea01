//! Accepting Thrift connections for a router. A connection's calls are answered in the
//! order they came, one at a time, as Finagle's Thrift servers do (and as Thrift clients,
//! which match replies by order, rely on even when every seqid is 0).
//!
//! The server accepts the TTwitter upgrade on every connection; on an upgraded one each
//! call's `RequestHeader` is peeled off (its `dest` and delegations name the call) and each
//! reply starts with an empty `ResponseHeader`.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use l5d_core::router::stats::ServerStats;
use l5d_core::router::{Admitted, Open};
use l5d_core::shutdown::Drain;
use tokio::net::{TcpListener, TcpStream};

use crate::codec::{self, app_error, Encoding, MessageType};
use crate::router::{Call, CallRouter, ThriftRouter};
use crate::transport::{write_message, MessageReader, ReadError};
use crate::ttwitter;

/// One `servers[]` entry's settings.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `thriftFramed`.
    pub framed: bool,
    /// `thriftProtocol`: how linkerd writes what it says before it knows a call's own
    /// encoding.
    pub encoding: Encoding,
    /// `maxConcurrentRequests`: calls beyond it are answered with an exception at once.
    pub max_concurrent: Option<usize>,
    /// `timeoutMs`: the most a call may take here to its reply.
    pub timeout: Option<Duration>,
    /// Graceful shutdown: the server stops accepting, and each connection closes once
    /// the call it serves is answered.
    pub drain: Arc<Drain>,
}

/// Binds the server's address and serves `router` on it in the background; returns the
/// address bound.
pub async fn start(
    router: Arc<ThriftRouter>,
    settings: ServerSettings,
    registry: &l5d_core::metrics::Registry,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(settings.addr).await?;
    let local = listener.local_addr()?;
    let stats = Arc::new(ServerStats::new(registry, router.label(), local));
    tokio::spawn(accept(listener, router, Arc::new(settings), stats));
    Ok(local)
}

async fn accept(
    listener: TcpListener,
    router: Arc<ThriftRouter>,
    settings: Arc<ServerSettings>,
    stats: Arc<ServerStats>,
) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = settings.drain.started() => {
                tracing::info!("router {}: server {} stops accepting", router.label(), settings.addr);
                return;
            }
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("router {}: accept failed: {e}", router.label());
                tokio::task::yield_now().await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            router: router.clone(),
            settings: settings.clone(),
            stats: stats.clone(),
            in_flight: in_flight.clone(),
        };
        tokio::spawn(async move {
            let _tracked = conn.settings.drain.track();
            let _open = Open::new(conn.stats.clone());
            conn.run(stream, bytes::BytesMut::new()).await;
        });
    }
}

/// One client connection of a Thrift server.
pub struct Connection<R> {
    /// The router calls go to.
    pub router: Arc<R>,
    /// The server's settings.
    pub settings: Arc<ServerSettings>,
    /// The server's metrics.
    pub stats: Arc<ServerStats>,
    /// Calls in flight on the server (`maxConcurrentRequests`).
    pub in_flight: Arc<AtomicUsize>,
}

impl<R: CallRouter> Connection<R> {
    /// Serves the connection until it closes, starting with `prefix` (bytes already read
    /// from it: a ThriftMux server hands over a client it found speaking plain Thrift).
    pub async fn run(&self, stream: TcpStream, prefix: bytes::BytesMut) {
        if let Err(e) = self.serve(stream, prefix).await {
            tracing::debug!("router {}: thrift connection: {e}", self.router.label());
        }
    }

    async fn serve(&self, mut stream: TcpStream, prefix: bytes::BytesMut) -> std::io::Result<()> {
        let settings = &self.settings;
        let mut reader = MessageReader::with_prefix(settings.framed, prefix);
        let mut upgraded = false;
        loop {
            if settings.drain.is_draining() {
                return Ok(());
            }
            let read = tokio::select! {
                read = reader.read(&mut stream) => read,
                _ = settings.drain.started() => return Ok(()),
            };
            let message = match read {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(ReadError::Io(e)) => return Err(e),
                Err(ReadError::Truncated) => return Ok(()),
                Err(e @ ReadError::TooLarge(_, _)) => {
                    // The rest of the message is not read: answer it and close.
                    let header = match &e {
                        ReadError::TooLarge(_, h) => h.clone(),
                        _ => None,
                    };
                    let (enc, name, seqid) = header
                        .map_or((settings.encoding, String::new(), 0), |h| {
                            (h.encoding, h.name, h.seqid)
                        });
                    self.refuse(&mut stream, upgraded, enc, &name, seqid, &e.to_string())
                        .await?;
                    return Ok(());
                }
                Err(e @ ReadError::Malformed(_)) => {
                    // Where the next message starts is unknown: answer and close.
                    self.refuse(
                        &mut stream,
                        upgraded,
                        settings.encoding,
                        "",
                        0,
                        &e.to_string(),
                    )
                    .await?;
                    return Ok(());
                }
            };
            let start = Instant::now();
            let (ttwitter, message) = if upgraded {
                match ttwitter::read_request_header(&message, settings.encoding) {
                    Ok((h, n)) => (Some(h), message.slice(n..)),
                    Err(e) => {
                        let why = format!("not a TTwitter request header: {e}");
                        self.refuse(&mut stream, upgraded, settings.encoding, "", 0, &why)
                            .await?;
                        if settings.framed {
                            continue;
                        }
                        return Ok(());
                    }
                }
            } else {
                (None, message)
            };
            let header = match codec::header(&message) {
                Ok(h) => h,
                Err(e) => {
                    let why = format!("not a Thrift message: {e}");
                    self.refuse(&mut stream, upgraded, settings.encoding, "", 0, &why)
                        .await?;
                    // A frame's end is known, so the next call can still be read.
                    if settings.framed {
                        continue;
                    }
                    return Ok(());
                }
            };
            if !upgraded && header.kind == MessageType::Call && header.name == ttwitter::UPGRADE {
                let reply = ttwitter::upgrade_reply(header.encoding, header.seqid);
                write_message(&mut stream, settings.framed, &[&reply]).await?;
                upgraded = true;
                if !settings.framed {
                    reader.prefixed = Some(settings.encoding);
                }
                continue;
            }
            if header.kind != MessageType::Call && header.kind != MessageType::Oneway {
                let why = format!("expected a call, got a {:?} message", header.kind);
                self.refuse(
                    &mut stream,
                    upgraded,
                    header.encoding,
                    &header.name,
                    header.seqid,
                    &why,
                )
                .await?;
                continue;
            }
            let call = Call {
                header,
                message,
                ttwitter,
                local_dtab: l5d_core::naming::Dtab::empty(),
            };
            let result = self.route(&call).await;
            self.stats.requests.record(result.is_ok(), start.elapsed());
            if call.header.kind == MessageType::Oneway {
                if let Err(e) = result {
                    tracing::info!(
                        "router {}: oneway {} failed: {e}",
                        self.router.label(),
                        call.header.name
                    );
                }
                continue;
            }
            let reply = match result {
                Ok(Some(reply)) => reply,
                Ok(None) => Bytes::new(),
                Err(why) => codec::application_exception(
                    call.header.encoding,
                    &call.header.name,
                    call.header.seqid,
                    app_error::INTERNAL_ERROR,
                    &why,
                ),
            };
            self.reply(&mut stream, upgraded, &reply).await?;
        }
    }

    /// The reply to one call, or why linkerd could not get one.
    async fn route(&self, call: &Call) -> Result<Option<Bytes>, String> {
        let max = self.settings.max_concurrent;
        let Some(_admitted) = Admitted::new(&self.in_flight, max) else {
            self.stats.rejected.incr();
            return Err(format!(
                "linkerd rejected the call: {} calls in flight (maxConcurrentRequests)",
                max.unwrap_or(0)
            ));
        };
        let routed = self.router.route(call);
        let result = match self.settings.timeout {
            None => routed.await,
            Some(t) => match tokio::time::timeout(t, routed).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(format!(
                        "linkerd: exceeded {}ms (server timeoutMs) while waiting for a reply",
                        t.as_millis()
                    ))
                }
            },
        };
        result.map_err(|e| format!("linkerd could not route {}: {}", call.header.name, e.0))
    }

    async fn reply(
        &self,
        stream: &mut TcpStream,
        upgraded: bool,
        reply: &[u8],
    ) -> std::io::Result<()> {
        let parts: &[&[u8]] = if upgraded {
            &[ttwitter::EMPTY_RESPONSE_HEADER, reply]
        } else {
            &[reply]
        };
        write_message(stream, self.settings.framed, parts).await
    }

    /// Answers a message linkerd cannot serve with a protocol error exception.
    async fn refuse(
        &self,
        stream: &mut TcpStream,
        upgraded: bool,
        encoding: Encoding,
        name: &str,
        seqid: i32,
        why: &str,
    ) -> std::io::Result<()> {
        tracing::info!("router {}: refused a message: {why}", self.router.label());
        self.stats.requests.record_failure(Duration::ZERO);
        let reply = codec::application_exception(
            encoding,
            name,
            seqid,
            app_error::PROTOCOL_ERROR,
            &format!("linkerd: {why}"),
        );
        self.reply(stream, upgraded, &reply).await
    }
}
