//! The ends a [`Chain`] pumps between: the halves of a TCP connection, and
//! HTTP bodies ([`wrap_body`] runs one through a chain on its own task and
//! yields what passes as a new body).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::pump::{pump, Chain, End, Sink, Source};
use crate::body::{Body, BoxError};

/// Largest piece one read takes from a TCP source.
const READ_SIZE: usize = 32 * 1024;

/// The reading half of a TCP connection as a source.
pub struct TcpSource {
    pub half: OwnedReadHalf,
    buf: BytesMut,
}

impl TcpSource {
    pub fn new(half: OwnedReadHalf) -> TcpSource {
        TcpSource {
            half,
            buf: BytesMut::new(),
        }
    }
}

impl Source for TcpSource {
    async fn next(&mut self) -> io::Result<Option<Bytes>> {
        self.buf.reserve(READ_SIZE);
        let n = self.half.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(self.buf.split().freeze()))
    }
}

/// The writing half of a TCP connection as a sink.
pub struct TcpSink {
    pub half: OwnedWriteHalf,
    /// Bytes written, for the listener's counts.
    pub written: u64,
}

impl TcpSink {
    pub fn new(half: OwnedWriteHalf) -> TcpSink {
        TcpSink { half, written: 0 }
    }
}

impl Sink for TcpSink {
    async fn send(&mut self, b: Bytes) -> io::Result<()> {
        self.half.write_all(&b).await?;
        self.written += b.len() as u64;
        Ok(())
    }
}

/// An HTTP body's data frames as a source (trailers are dropped).
pub struct BodySource<B>(pub B);

impl<B> Source for BodySource<B>
where
    B: HttpBody<Data = Bytes> + Send + Unpin,
    B::Error: Into<BoxError>,
{
    async fn next(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            match self.0.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(io::Error::other(e.into())),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        if !d.is_empty() {
                            return Ok(Some(d));
                        }
                    }
                }
            }
        }
    }
}

type Item = Result<Frame<Bytes>, BoxError>;

struct ChannelSink(mpsc::Sender<Item>);

impl Sink for ChannelSink {
    async fn send(&mut self, b: Bytes) -> io::Result<()> {
        self.0
            .send(Ok(Frame::data(b)))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

/// The receiving end of a pumped body.
struct ChannelBody(mpsc::Receiver<Item>);

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// Runs an HTTP body through `chain` on its own task and returns the body
/// that yields what passes. A toxic that closes or resets ends it with an
/// error, so the peer sees a cut message rather than a complete one.
pub fn wrap_body<B>(mut chain: Chain, body: B) -> Body
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut src = BodySource(body);
        let mut sink = ChannelSink(tx.clone());
        let err: BoxError = match pump(&mut chain, &mut src, &mut sink).await {
            Ok(End::Eof) => return,
            Ok(End::Closed) => "connection closed by a toxic".into(),
            Ok(End::Reset) => "connection reset by a toxic".into(),
            Err(e) => Box::new(e),
        };
        let _ = tx.send(Err(err)).await;
    });
    Body::Stream(ChannelBody(rx).boxed_unsync())
}
