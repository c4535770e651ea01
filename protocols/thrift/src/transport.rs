//! Thrift transports on a byte stream: framed (`len:i32` then one message) and buffered
//! (bare messages, whose ends are found by skipping their structs). Messages are split
//! off the read buffer without copying.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{self, DecodeError, Encoding, Header, MAX_FRAME};

/// Why no message could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The stream failed.
    Io(std::io::Error),
    /// The stream ended part way through a message.
    Truncated,
    /// A frame (or a buffered message) larger than [`MAX_FRAME`]; the header is there
    /// when it could be read.
    TooLarge(usize, Option<Header>),
    /// The bytes are not a Thrift message.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Truncated => f.write_str("the connection closed part way through a message"),
            ReadError::TooLarge(n, _) => write!(
                f,
                "a message of {n} bytes is larger than the {MAX_FRAME} bytes linkerd accepts"
            ),
            ReadError::Malformed(e) => write!(f, "not a Thrift message: {e}"),
        }
    }
}

/// Reads whole messages from one connection.
pub struct MessageReader {
    framed: bool,
    /// Whether each message starts with a TTwitter header struct (buffered transport on
    /// an upgraded connection: the struct is part of the message).
    pub prefixed: Option<Encoding>,
    buf: BytesMut,
}

impl MessageReader {
    /// A reader for the framed transport, or else the buffered one.
    pub fn new(framed: bool) -> MessageReader {
        MessageReader {
            framed,
            prefixed: None,
            buf: BytesMut::with_capacity(4096),
        }
    }

    /// A reader whose first bytes, already read from the connection, are `prefix`.
    pub fn with_prefix(framed: bool, prefix: BytesMut) -> MessageReader {
        MessageReader {
            framed,
            prefixed: None,
            buf: prefix,
        }
    }

    /// Whether bytes past the last message have been read.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next message (without its frame length), or `None` when the stream ends
    /// between messages.
    pub async fn read<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
    ) -> Result<Option<Bytes>, ReadError> {
        loop {
            match self.split()? {
                Some(m) => return Ok(Some(m)),
                None => {
                    if self.buf.capacity() - self.buf.len() < 1024 {
                        self.buf.reserve(8192);
                    }
                    let n = io.read_buf(&mut self.buf).await.map_err(ReadError::Io)?;
                    if n == 0 {
                        return if self.buf.is_empty() {
                            Ok(None)
                        } else {
                            Err(ReadError::Truncated)
                        };
                    }
                }
            }
        }
    }

    /// Splits the first whole message off the buffer, if it holds one.
    fn split(&mut self) -> Result<Option<Bytes>, ReadError> {
        if self.framed {
            if self.buf.len() < 4 {
                return Ok(None);
            }
            let n = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
            if n < 0 || n as usize > MAX_FRAME {
                let header = codec::header(&self.buf[4..]).ok();
                return Err(ReadError::TooLarge(n as u32 as usize, header));
            }
            let n = n as usize;
            if self.buf.len() < 4 + n {
                self.buf.reserve(4 + n - self.buf.len());
                return Ok(None);
            }
            self.buf.advance(4);
            return Ok(Some(self.buf.split_to(n).freeze()));
        }
        let len = match self.prefixed {
            None => codec::message_len(&self.buf),
            Some(enc) => codec::struct_len(&self.buf, enc)
                .and_then(|h| Ok(h + codec::message_len(&self.buf[h..])?)),
        };
        match len {
            Ok(n) => Ok(Some(self.buf.split_to(n).freeze())),
            Err(DecodeError::Incomplete) if self.buf.len() > MAX_FRAME => Err(ReadError::TooLarge(
                self.buf.len(),
                codec::header(&self.buf).ok(),
            )),
            Err(DecodeError::Incomplete) => Ok(None),
            Err(DecodeError::Invalid(e)) => Err(ReadError::Malformed(e)),
        }
    }
}

/// Writes one message made of `parts` (a TTwitter header and the message, say), framed
/// or bare, in as few writes as the stream allows.
pub async fn write_message<W: AsyncWrite + Unpin>(
    io: &mut W,
    framed: bool,
    parts: &[&[u8]],
) -> std::io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let prefix = (len as u32).to_be_bytes();
    let prefix: &[u8] = if framed { &prefix } else { &[] };
    let mut chain = Buf::chain(prefix, parts.first().copied().unwrap_or_default());
    match parts.get(1) {
        None => io.write_all_buf(&mut chain).await?,
        Some(second) => io.write_all_buf(&mut Buf::chain(chain, *second)).await?,
    }
    for rest in parts.iter().skip(2) {
        io.write_all(rest).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: &[u8] =
        b"\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x02hi\x00";

    #[tokio::test]
    async fn messages_come_whole_in_both_transports_however_the_bytes_arrive() {
        for framed in [true, false] {
            let mut wire = Vec::new();
            for _ in 0..3 {
                write_message(&mut wire, framed, &[CALL]).await.unwrap();
            }
            // Delivered one byte at a time.
            let (mut a, mut b) = tokio::io::duplex(1);
            let sender = tokio::spawn(async move {
                b.write_all(&wire).await.unwrap();
            });
            let mut r = MessageReader::new(framed);
            for _ in 0..3 {
                assert_eq!(r.read(&mut a).await.unwrap().unwrap(), CALL);
            }
            sender.await.unwrap();
            assert!(r.read(&mut a).await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn oversized_truncated_and_malformed_input_are_errors() {
        let mut big = &b"\x7f\xff\xff\xff\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x00\x07"[..];
        match MessageReader::new(true).read(&mut big).await {
            Err(ReadError::TooLarge(n, Some(h))) => {
                assert_eq!((n, h.name.as_str(), h.seqid), (0x7fff_ffff, "ping", 7))
            }
            other => panic!("{other:?}"),
        }
        let mut short = &CALL[..10];
        assert!(matches!(
            MessageReader::new(false).read(&mut short).await,
            Err(ReadError::Truncated)
        ));
        let mut junk = &b"GET / HTTP/1.1\r\n\r\n"[..];
        assert!(matches!(
            MessageReader::new(false).read(&mut junk).await,
            Err(ReadError::Malformed(_))
        ));
    }
}
