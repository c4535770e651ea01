//! The server side of a Mux session, as Finagle's clients (and scales-rpc, which sends no
//! handshake) expect it: the `tinit check` probe echoed and Tinit answered with Rinit,
//! dispatches served concurrently and answered in whatever order they finish, pings
//! answered at once, Tdiscarded cancelling its dispatch (Rdiscarded, and its reply is never
//! sent), Treq served for old clients, Tdrain on shutdown with new dispatches nacked, and
//! an unexpected message answered with Rerr rather than ending the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use l5d_core::sync::lock;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::codec::{
    split_frame, types, DecodeError, Message, Rdispatch, Reassembly, Status, Tdispatch, CONTROL_TAG,
};

/// What a server does with each dispatch.
pub trait Handler: Send + Sync + 'static {
    /// Serves one dispatch; dropping the future cancels it (the client discarded it).
    fn dispatch(
        &self,
        req: Tdispatch,
    ) -> impl std::future::Future<Output = Rdispatch> + Send + 'static;
}

/// The probe a Finagle client sends first.
pub const PROBE: &[u8] = b"tinit check";

/// How one session is served.
#[derive(Clone)]
pub struct SessionSettings {
    /// Dispatches answered NACK beyond this many in flight on the session's server
    /// (`maxConcurrentRequests`), with the counter they share.
    pub admission: Option<(Arc<std::sync::atomic::AtomicUsize>, usize)>,
    /// When it starts, the session sends Tdrain, nacks new dispatches, and ends once the
    /// ones in flight are answered.
    pub drain: Arc<l5d_core::shutdown::Drain>,
}

/// The Rinit headers linkerd sends (Finagle 21.4's server defaults).
pub fn default_headers() -> Vec<(Bytes, Bytes)> {
    vec![
        (
            Bytes::from_static(b"mux-framer"),
            Bytes::copy_from_slice(&0x7fff_ffffu32.to_be_bytes()),
        ),
        (Bytes::from_static(b"tls"), Bytes::from_static(b"off")),
    ]
}

/// The fragment size a peer asked for in its init headers (`mux-framer`), if any.
pub fn framer(headers: &[(Bytes, Bytes)]) -> Option<usize> {
    headers
        .iter()
        .find(|(k, _)| &k[..] == b"mux-framer")
        .and_then(|(_, v)| <[u8; 4]>::try_from(&v[..]).ok())
        .map(|v| u32::from_be_bytes(v) as usize)
        .filter(|n| *n > 0)
}

/// A dispatch's refusal: NACK with no body.
pub fn nack() -> Rdispatch {
    Rdispatch {
        status: Status::Nack,
        contexts: Vec::new(),
        body: Bytes::new(),
    }
}

/// A dispatch's failure: ERROR with `why`.
pub fn error(why: impl Into<String>) -> Rdispatch {
    Rdispatch {
        status: Status::Error,
        contexts: Vec::new(),
        body: Bytes::from(why.into()),
    }
}

/// Frames to write, and the fragment size the peer asked for.
struct Writer {
    tx: mpsc::UnboundedSender<(u32, Message)>,
}

impl Writer {
    fn send(&self, tag: u32, m: Message) {
        let _ = self.tx.send((tag, m));
    }
}

/// Writes queued messages, fragmenting dispatches to the peer's `mux-framer`.
pub(crate) async fn write_frames<W: AsyncWrite + Unpin>(
    mut io: W,
    mut rx: mpsc::UnboundedReceiver<(u32, Message)>,
    framer: Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut out = BytesMut::with_capacity(8192);
    while let Some((tag, m)) = rx.recv().await {
        let max = framer.load(std::sync::atomic::Ordering::Relaxed);
        m.encode(tag, max, &mut out);
        // Batch what else is queued into one write.
        while let Ok((tag, m)) = rx.try_recv() {
            m.encode(tag, max, &mut out);
            if out.len() > 64 << 10 {
                break;
            }
        }
        if io.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
    let _ = io.shutdown().await;
}

/// In-flight dispatches by tag: whoever removes a tag answers it (the dispatch with its
/// reply, or a Tdiscarded with Rdiscarded), so it is answered exactly once.
type InFlight = Arc<Mutex<HashMap<u32, AbortHandle>>>;

/// Serves one session on `io` with `handler`, starting with `prefix` (bytes already read
/// from the connection, for a server that looked at them first).
pub async fn serve<IO, H>(
    io: IO,
    prefix: BytesMut,
    handler: Arc<H>,
    settings: SessionSettings,
) -> Result<(), DecodeError>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
    H: Handler,
{
    let (mut rd, wr) = tokio::io::split(io);
    let (tx, rx) = mpsc::unbounded_channel();
    let framer = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let writer_task = tokio::spawn(write_frames(wr, rx, framer.clone()));
    let writer = Writer { tx };
    let in_flight: InFlight = Arc::default();
    let mut reassembly = Reassembly::default();
    let mut buf = prefix;
    let mut first = true;
    let mut draining = false;
    let drain = settings.drain.clone();
    let result = 'session: loop {
        // Every whole frame in the buffer, then more bytes.
        loop {
            let frame = match split_frame(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => break 'session Err(e),
            };
            let (typ, tag, body) = match reassembly.push(frame) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => break 'session Err(e),
            };
            let msg = match Message::decode(typ, body) {
                Ok(m) => m,
                // An undecodable message ends the session, as it does Finagle's.
                Err(e) => break 'session Err(DecodeError(format!("{e} [tag={tag}]"))),
            };
            let was_first = std::mem::replace(&mut first, false);
            match msg {
                Message::Rerr(why) if was_first && tag == CONTROL_TAG && &why[..] == PROBE => {
                    writer.send(tag, Message::Rerr(why));
                    first = true;
                }
                Message::Tinit { version, headers } => {
                    if version != 1 {
                        writer.send(
                            tag,
                            Message::Rerr(Bytes::from(format!(
                                "Unsupported Mux version: {version}"
                            ))),
                        );
                        break 'session Ok(());
                    }
                    if let Some(n) = framer_of(&headers) {
                        framer.store(n, std::sync::atomic::Ordering::Relaxed);
                    }
                    writer.send(
                        tag,
                        Message::Rinit {
                            version: 1,
                            headers: default_headers(),
                        },
                    );
                }
                Message::Tping => writer.send(tag, Message::Rping),
                // A dispatch on the marker tag expects no reply (scales-rpc's oneway
                // calls): it is served, and its reply dropped.
                Message::Tdispatch(d) if tag == 0 => {
                    if !draining {
                        let fut = handler.dispatch(d);
                        tokio::spawn(fut);
                    }
                }
                Message::Tdispatch(d) => {
                    dispatch(&handler, &settings, &writer, &in_flight, tag, d, draining)
                }
                Message::Treq { body, .. } => {
                    // Served as a dispatch with nothing but its body; answered as Rreq.
                    let d = Tdispatch {
                        contexts: Vec::new(),
                        dst: Bytes::new(),
                        dtab: Vec::new(),
                        body,
                    };
                    let h = handler.clone();
                    let tx = writer.tx.clone();
                    tokio::spawn(async move {
                        let r = h.dispatch(d).await;
                        let _ = tx.send((tag, Message::Rreq(r.status, r.body)));
                    });
                }
                Message::Tdiscarded { tag: which, .. } => {
                    reassembly.discard(which);
                    if let Some(task) = lock(&in_flight).remove(&which) {
                        task.abort();
                        writer.send(which, Message::Rdiscarded);
                    }
                }
                Message::Rdrain => {
                    draining = true;
                }
                // Replies to pings linkerd sends; nothing else is asked of clients.
                Message::Rping => {}
                other => {
                    let t = if tag == 0 { CONTROL_TAG } else { tag };
                    writer.send(
                        t,
                        Message::Rerr(Bytes::from(format!(
                            "Unexpected mux message type {}",
                            other.typ()
                        ))),
                    );
                }
            }
        }
        if draining && lock(&in_flight).is_empty() {
            break Ok(());
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 << 10);
        }
        tokio::select! {
            n = rd.read_buf(&mut buf) => match n {
                Ok(0) | Err(_) => break Ok(()),
                Ok(_) => {}
            },
            _ = drain.started(), if !draining => {
                draining = true;
                writer.send(CONTROL_TAG, Message::Tdrain);
            }
            _ = idle(&in_flight), if draining => {}
        }
    };
    // Dispatches still running have no one to answer.
    for (_, task) in lock(&in_flight).drain() {
        task.abort();
    }
    drop(writer);
    let _ = writer_task.await;
    result
}

fn framer_of(headers: &[(Bytes, Bytes)]) -> Option<usize> {
    framer(headers)
}

/// Resolves once no dispatch is in flight (checked as dispatches finish).
async fn idle(in_flight: &InFlight) {
    loop {
        if lock(in_flight).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Starts serving one dispatch in its own task, answered when it finishes unless it was
/// discarded first.
fn dispatch<H: Handler>(
    handler: &Arc<H>,
    settings: &SessionSettings,
    writer: &Writer,
    in_flight: &InFlight,
    tag: u32,
    d: Tdispatch,
    draining: bool,
) {
    if draining || settings.drain.is_draining() {
        writer.send(tag, Message::Rdispatch(nack()));
        return;
    }
    let admitted = match &settings.admission {
        None => None,
        Some((n, max)) => match l5d_core::router::Admitted::new(n, Some(*max)) {
            Some(a) => Some(a),
            None => {
                writer.send(tag, Message::Rdispatch(nack()));
                return;
            }
        },
    };
    let fut = handler.dispatch(d);
    let tx = writer.tx.clone();
    let map = in_flight.clone();
    // Registered before the task can finish, under the same lock it finishes with.
    let mut guard = lock(in_flight);
    let task = tokio::spawn(async move {
        let r = fut.await;
        drop(admitted);
        if lock(&map).remove(&tag).is_some() {
            let _ = tx.send((tag, Message::Rdispatch(r)));
        }
    });
    guard.insert(tag, task.abort_handle());
}

/// Whether a first frame is Thrift rather than Mux (Finagle's `MuxDowngradingNegotiator`):
/// it does not decode, or it decodes as an Rerr whose tag is a strict-binary Thrift CALL
/// or ONEWAY header (`80 01 00 01` / `80 01 00 04`).
pub fn is_thrift(first: &crate::codec::Frame) -> bool {
    match Message::decode(first.typ, first.body.clone()) {
        Err(_) => true,
        Ok(Message::Rerr(_)) => {
            first.typ == types::RERR && (first.tag == 0x01_0001 || first.tag == 0x01_0004)
        }
        Ok(_) => false,
    }
}
