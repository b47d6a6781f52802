//! Locker dumps streamed: `/registry/peers/lockers` and its spellings are
//! written a piece at a time (one instance's locker, or one label's for the
//! flat spelling) by a blocking task that takes the registry's lock per
//! piece, so a large dump neither builds one string nor holds the lock
//! while it is sent. The text is the same as the whole document's; each
//! piece is read whole at its turn (changes between pieces may show).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body as HttpBody, Frame};
use tokio::sync::mpsc;

use super::Registry;
use crate::body::{Body, BoxError};

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 << 10;

/// The receiving end as a response body.
struct Chunks(mpsc::Receiver<Bytes>);

impl HttpBody for Chunks {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

/// Gathers pieces and sends them in chunks; false once the client is gone.
struct Out {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
}

impl Out {
    fn push(&mut self, b: &[u8]) -> bool {
        self.buf.extend_from_slice(b);
        self.buf.len() < CHUNK || self.flush()
    }

    fn value(&mut self, v: &impl serde::Serialize) -> bool {
        // Serializing a Value or a str into a Vec does not fail.
        let _ = serde_json::to_writer(&mut self.buf, v);
        self.buf.len() < CHUNK || self.flush()
    }

    fn flush(&mut self) -> bool {
        let b = Bytes::from(std::mem::take(&mut self.buf));
        b.is_empty() || self.tx.blocking_send(b).is_ok()
    }
}

/// What a dump lists.
#[derive(Clone, Copy)]
pub enum Dump {
    /// `{label: {address: locker}}`.
    All,
    /// `{label: {key: entry}}` (the scenarios' spelling).
    AllFlat,
}

/// A streamed 200 with the dump's JSON (and a final newline, as
/// [`crate::body::json`] writes).
pub fn stream(reg: &Arc<Registry>, what: Dump) -> Response<Body> {
    let (tx, rx) = mpsc::channel(4);
    let a = reg.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Out {
            buf: Vec::with_capacity(CHUNK),
            tx,
        };
        let _ = write(&a, what, &mut out) && out.push(b"}\n") && out.flush();
    });
    let mut r = Response::new(Body::Stream(UnsyncBoxBody::new(Chunks(rx))));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Writes all but the closing brace; false once the client is gone.
fn write(reg: &Registry, what: Dump, out: &mut Out) -> bool {
    let labels: Vec<String> = {
        let st = reg.inner.lock();
        st.lockers.by_label.keys().cloned().collect()
    };
    if !out.push(b"{") {
        return false;
    }
    let mut first_label = true;
    for label in labels {
        match what {
            Dump::AllFlat => {
                let v = reg.inner.lock().lockers.label_flat_json(&label);
                let Some(v) = v else { continue };
                let sep: &[u8] = if first_label { b"" } else { b"," };
                first_label = false;
                if !(out.push(sep) && out.value(&label) && out.push(b":") && out.value(&v)) {
                    return false;
                }
            }
            Dump::All => {
                let addrs: Option<Vec<String>> = {
                    let st = reg.inner.lock();
                    st.lockers
                        .by_label
                        .get(&label)
                        .map(|m| m.keys().cloned().collect())
                };
                let Some(addrs) = addrs else { continue };
                let sep: &[u8] = if first_label { b"" } else { b"," };
                first_label = false;
                if !(out.push(sep) && out.value(&label) && out.push(b":{")) {
                    return false;
                }
                let mut first = true;
                for addr in addrs {
                    let v = reg.inner.lock().lockers.instance_json(&label, &addr);
                    let Some(v) = v else { continue };
                    let sep: &[u8] = if first { b"" } else { b"," };
                    first = false;
                    if !(out.push(sep) && out.value(&addr) && out.push(b":") && out.value(&v)) {
                        return false;
                    }
                }
                if !out.push(b"}") {
                    return false;
                }
            }
        }
    }
    true
}
