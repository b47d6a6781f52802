//! Opening an HTTP/2 connection on a worker: TCP (and for https the TLS
//! handshake with ALPN h2) exactly as HTTP/1.1 connections open, then the
//! codec's reader and writer tasks start on the worker's runtime and the
//! streams share the connection through the returned [`Handle`].

use std::net::SocketAddr;

use super::io::{self, Handle};
use crate::conn::{Fail, Transport, Watch};
use crate::error::{ErrorKind, TlsErrorKind};
use crate::plan::TlsTarget;

/// Connects to `addr` (TLS when `tls`) under `watch` and starts the
/// connection's tasks; `tracked` are the header names the target counts.
pub(crate) async fn connect(
    addr: SocketAddr,
    tls: Option<&TlsTarget>,
    tracked: &[Box<[u8]>],
    watch: &mut Watch<'_, '_>,
) -> Result<Handle, Fail> {
    match Transport::connect(addr, tls, watch).await? {
        Transport::Plain(tcp) => Ok(io::start(tcp, None, tracked.to_vec())),
        Transport::Tls(stream) => {
            let (tcp, session, early) = (*stream).into_parts();
            // A server that picked another protocol (http/1.1) cannot speak
            // h2 here; one that picked none may still speak it with prior
            // knowledge.
            match session.alpn_protocol() {
                Some(p) if p != b"h2" => Err(Fail::Error(ErrorKind::Tls(TlsErrorKind::Protocol))),
                _ => Ok(io::start(tcp, Some((session, early)), tracked.to_vec())),
            }
        }
        // HTTP/2 runs over TCP only.
        Transport::Unix(_) => Err(Fail::Error(ErrorKind::Connect(libc::EPROTONOSUPPORT))),
    }
}
