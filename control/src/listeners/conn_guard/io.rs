//! [`GuardedIo`]: a connection's stream that tells its [`Clock`] when bytes
//! arrive and leave (HTTP/2: only response frames count as use), and answers
//! 431 when the listener's head budget is spent.

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Clock;

/// A stream that tells its [`Clock`] when bytes arrive and leave.
pub struct GuardedIo<S> {
    inner: S,
    clock: Arc<Clock>,
    frames: WrittenFrames,
}

impl<S> GuardedIo<S> {
    pub fn new(inner: S, clock: Arc<Clock>) -> Self {
        GuardedIo {
            inner,
            clock,
            frames: WrittenFrames::default(),
        }
    }

    /// `n` bytes of `bufs` were written: use, unless this is HTTP/2 and
    /// none of them belongs to a response frame.
    fn wrote<'a>(&mut self, n: usize, bufs: impl Iterator<Item = &'a [u8]>) {
        if n == 0 {
            return;
        }
        if !self.clock.h2.load(Ordering::Relaxed) {
            self.clock.on_write();
            return;
        }
        let mut left = n;
        let mut progress = false;
        for b in bufs {
            if left == 0 {
                break;
            }
            let take = b.len().min(left);
            progress |= self.frames.feed(&b[..take]);
            left -= take;
        }
        if progress {
            self.clock.on_write();
        }
    }
}

/// Follows the frame boundaries of what the server writes on an HTTP/2
/// connection (a frame may be split over writes), to tell response frames
/// from control frames.
#[derive(Default)]
pub(super) struct WrittenFrames {
    head: [u8; 9],
    head_len: usize,
    /// Payload bytes of the current frame not yet written.
    payload_left: usize,
    /// Whether the current frame is a response frame.
    response: bool,
}

impl WrittenFrames {
    /// Feeds written bytes; true when some belong to a response frame.
    pub(super) fn feed(&mut self, mut b: &[u8]) -> bool {
        let mut progress = false;
        while !b.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(b.len());
                self.payload_left -= n;
                progress |= self.response;
                b = &b[n..];
                continue;
            }
            let n = (9 - self.head_len).min(b.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&b[..n]);
            self.head_len += n;
            b = &b[n..];
            if self.head_len == 9 {
                self.head_len = 0;
                let h = &self.head;
                self.payload_left =
                    (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
                // DATA, HEADERS, CONTINUATION.
                self.response = matches!(h[3], 0x0 | 0x1 | 0x9);
                progress |= self.response;
            }
        }
        progress
    }
}

/// What a connection whose head passed the listener's budget is told.
const HEADS_OVER_CAP: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\nunfinished request heads on this port are over their memory cap\n";

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for GuardedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            if !self.clock.on_read(&buf.filled()[before..]) {
                buf.set_filled(before);
                // Best effort: nothing is in flight, so the 431 cannot cut
                // into a response; a full send buffer just means no answer.
                let inner = Pin::new(&mut self.inner);
                let _ = inner.poll_write(cx, HEADS_OVER_CAP);
                let _ = Pin::new(&mut self.inner).poll_flush(cx);
                return Poll::Ready(Err(io::Error::other(
                    "unfinished request heads over the listener's memory cap",
                )));
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n, std::iter::once(buf));
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n, bufs.iter().map(|b| &**b));
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
