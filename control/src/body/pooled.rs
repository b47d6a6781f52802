//! A response body read over a pooled upstream connection: read to the end,
//! it hands the connection back to the pool that lent it (the proxy's,
//! through the function the pool gave), without allocating; dropped before
//! that, the connection closes.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;

use super::{Body, BoxError};
use crate::upstream_watch::Watch;

/// One pooled connection's sender and what it shares with its watchdog
/// (idle time, the request deadline).
pub struct Lent {
    pub tx: SendRequest<Body>,
    pub watch: Arc<Watch>,
}

/// Takes a connection back into the pool of upstream `id`.
pub type GiveBack = fn(usize, Lent);

/// An upstream response body that gives its connection back when read to
/// the end.
pub struct PooledBody {
    inner: Incoming,
    back: Option<(usize, Lent)>,
    give_back: GiveBack,
}

impl PooledBody {
    pub fn new(inner: Incoming, id: usize, c: Lent, give_back: GiveBack) -> PooledBody {
        let mut b = PooledBody {
            inner,
            back: Some((id, c)),
            give_back,
        };
        if b.inner.is_end_stream() {
            b.release();
        }
        b
    }

    fn release(&mut self) {
        if let Some((id, c)) = self.back.take() {
            (self.give_back)(id, c);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.release(),
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ => {}
        }
        r.map(|f| f.map(|f| f.map_err(|e| Box::new(e) as BoxError)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
