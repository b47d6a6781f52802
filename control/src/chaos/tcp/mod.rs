//! Raw TCP listeners: a mode (echo, close at the first byte, silent,
//! payload, stream) or a raw TCP proxy to an `upstream` with toxics, and
//! their connection and byte counts.

pub mod proxy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::chaos::toxics::Toxics;
use crate::conn_cap::ConnCap;
use goto_engine::duration;

/// What a TCP listener does with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Writes back whatever arrives.
    Echo,
    /// Closes the connection when the first byte arrives.
    Close,
    /// Reads and never answers.
    Silent,
    /// Answers every read with the payload.
    Payload,
    /// Sends the payload every interval until the peer closes.
    Stream,
    /// Relays to `host:port`, through the listener's toxics.
    Proxy(String),
}

/// The TCP fields of a listener's JSON.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TcpFields {
    pub mode: Option<String>,
    pub upstream: Option<String>,
    pub payload: Option<String>,
    pub interval: Option<String>,
}

impl TcpFields {
    pub fn is_empty(&self) -> bool {
        self.mode.is_none()
            && self.upstream.is_none()
            && self.payload.is_none()
            && self.interval.is_none()
    }
}

/// Why a TCP listener's fields do not make a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpError {
    #[error("invalid upstream {0:?}: must be host:port")]
    Upstream(String),
    #[error("a tcp listener takes either a mode or an upstream, not both")]
    ModeAndUpstream,
    #[error("mode proxy needs an upstream (host:port)")]
    NoUpstream,
    #[error("unknown tcp mode {0:?}: echo, close, silent, payload or stream (or an upstream)")]
    UnknownMode(String),
    /// An interval that does not parse (the reason is the parser's).
    #[error("{0}")]
    Interval(String),
    #[error("interval must be above 0")]
    ZeroInterval,
}

/// A validated TCP listener configuration.
#[derive(Debug, Clone)]
pub struct TcpSpec {
    pub mode: Mode,
    pub payload: Bytes,
    pub interval: Duration,
}

const DEFAULT_PAYLOAD: &str = "goto\n";
const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

impl TcpSpec {
    pub fn new(f: &TcpFields) -> Result<TcpSpec, TcpError> {
        let m = f.mode.as_deref().map(str::to_ascii_lowercase);
        let mode = match (m.as_deref(), &f.upstream) {
            (None | Some("proxy"), Some(u)) => {
                if u.trim().is_empty() || !u.contains(':') {
                    return Err(TcpError::Upstream(u.clone()));
                }
                Mode::Proxy(u.trim().to_string())
            }
            (Some(_), Some(_)) => return Err(TcpError::ModeAndUpstream),
            (None, None) => Mode::Echo,
            (Some("echo"), None) => Mode::Echo,
            (Some("close"), None) => Mode::Close,
            (Some("silent"), None) => Mode::Silent,
            (Some("payload"), None) => Mode::Payload,
            (Some("stream"), None) => Mode::Stream,
            (Some("proxy"), None) => return Err(TcpError::NoUpstream),
            (Some(m), None) => return Err(TcpError::UnknownMode(m.to_string())),
        };
        let interval = match &f.interval {
            None => DEFAULT_INTERVAL,
            Some(s) => match duration::parse(s).map_err(TcpError::Interval)? {
                d if d.is_zero() => return Err(TcpError::ZeroInterval),
                d => d,
            },
        };
        Ok(TcpSpec {
            mode,
            payload: Bytes::from(f.payload.clone().unwrap_or_else(|| DEFAULT_PAYLOAD.into())),
            interval,
        })
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Echo => "echo",
            Mode::Close => "close",
            Mode::Silent => "silent",
            Mode::Payload => "payload",
            Mode::Stream => "stream",
            Mode::Proxy(_) => "proxy",
        }
    }

    pub fn upstream(&self) -> Option<&str> {
        match &self.mode {
            Mode::Proxy(u) => Some(u),
            _ => None,
        }
    }
}

/// Connection and byte counts of one TCP listener.
#[derive(Debug, Default)]
pub struct TcpCounts {
    connections: AtomicU64,
    /// Open connections and refusals at `--max-conns` (as HTTP listeners).
    conns: ConnCap,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    upstream_failures: AtomicU64,
    closed_by_toxics: AtomicU64,
    reset_by_toxics: AtomicU64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpCountsView {
    pub connections: u64,
    pub active: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub upstream_failures: u64,
    pub closed_by_toxics: u64,
    pub reset_by_toxics: u64,
    pub refused_at_limit: u64,
}

impl TcpCounts {
    pub fn view(&self) -> TcpCountsView {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TcpCountsView {
            connections: g(&self.connections),
            active: self.conns.open() as u64,
            bytes_in: g(&self.bytes_in),
            bytes_out: g(&self.bytes_out),
            upstream_failures: g(&self.upstream_failures),
            closed_by_toxics: g(&self.closed_by_toxics),
            reset_by_toxics: g(&self.reset_by_toxics),
            refused_at_limit: self.conns.refused(),
        }
    }

    pub fn clear(&self) {
        for a in [
            &self.connections,
            &self.bytes_in,
            &self.bytes_out,
            &self.upstream_failures,
            &self.closed_by_toxics,
            &self.reset_by_toxics,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.conns.clear_counts();
    }

    fn add(a: &AtomicU64, n: u64) {
        a.fetch_add(n, Ordering::Relaxed);
    }
}

/// One TCP listener's configuration, toxics and counts.
pub struct TcpState {
    pub port: u16,
    pub spec: TcpSpec,
    pub toxics: Toxics,
    pub counts: TcpCounts,
    /// Most connections open at once (`--max-conns`, as HTTP listeners).
    pub max_conns: usize,
}

impl TcpState {
    pub fn new(port: u16, spec: TcpSpec) -> TcpState {
        TcpState {
            port,
            spec,
            toxics: Toxics::default(),
            counts: TcpCounts::default(),
            max_conns: usize::MAX,
        }
    }

    /// Caps the connections open at once.
    pub fn with_max_conns(mut self, max: usize) -> TcpState {
        self.max_conns = max.max(1);
        self
    }
}

/// Accepts connections until `close` flips, serving each on its own task.
pub async fn accept_loop(
    state: Arc<TcpState>,
    listener: TcpListener,
    mut close: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    // Past the cap the connection is closed at once: a flood
                    // of silent connections must not use up the descriptors
                    // the rest of the process needs. No eviction: a silent
                    // connection may be just what the test wants.
                    let Some(slot) = state.counts.conns.admit(state.port, state.max_conns, false) else {
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    TcpCounts::add(&state.counts.connections, 1);
                    let (state, mut close) = (state.clone(), close.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = serve_mode(&state, stream) => {}
                            _ = close.changed() => {}
                        }
                        drop(slot);
                    });
                }
                Err(e) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    tracing::warn!(port = state.port, "tcp accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = close.changed() => break,
        }
    }
    tracing::info!(port = state.port, "tcp listener closed");
}

/// Serves one connection in the listener's mode.
async fn serve_mode(state: &TcpState, mut s: TcpStream) -> std::io::Result<()> {
    let c = &state.counts;
    let spec = &state.spec;
    let mut buf = vec![0u8; 16 * 1024];
    match &spec.mode {
        Mode::Proxy(up) => proxy::relay(state, s, up).await,
        Mode::Stream => {
            let mut tick = tokio::time::interval(spec.interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        s.write_all(&spec.payload).await?;
                        TcpCounts::add(&c.bytes_out, spec.payload.len() as u64);
                    }
                    r = s.read(&mut buf) => match r? {
                        0 => return Ok(()),
                        n => TcpCounts::add(&c.bytes_in, n as u64),
                    },
                }
            }
        }
        mode => loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            TcpCounts::add(&c.bytes_in, n as u64);
            let out: &[u8] = match mode {
                Mode::Echo => &buf[..n],
                Mode::Payload => &spec.payload,
                Mode::Close => return Ok(()),
                _ => &[],
            };
            if !out.is_empty() {
                s.write_all(out).await?;
                TcpCounts::add(&c.bytes_out, out.len() as u64);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: Option<&str>, upstream: Option<&str>) -> Result<TcpSpec, TcpError> {
        TcpSpec::new(&TcpFields {
            mode: mode.map(Into::into),
            upstream: upstream.map(Into::into),
            ..Default::default()
        })
    }

    #[test]
    fn modes_validate() {
        assert_eq!(spec(None, None).unwrap().mode, Mode::Echo);
        assert_eq!(spec(Some("SILENT"), None).unwrap().mode, Mode::Silent);
        assert_eq!(
            spec(None, Some("127.0.0.1:80")).unwrap().mode,
            Mode::Proxy("127.0.0.1:80".into())
        );
        assert!(spec(Some("proxy"), Some("h:1")).is_ok());
        assert!(spec(Some("echo"), Some("h:1")).is_err());
        assert!(spec(Some("proxy"), None).is_err());
        assert!(spec(Some("loud"), None).is_err());
        assert!(spec(None, Some("nohost")).is_err());
    }

    /// Serves `state` on a loopback port; returns the port.
    pub(crate) async fn listen(state: Arc<TcpState>) -> (u16, watch::Sender<bool>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(false);
        tokio::spawn(accept_loop(state, l, rx));
        (port, tx)
    }

    #[tokio::test]
    async fn echo_payload_and_close_modes() {
        let echo = Arc::new(TcpState::new(0, spec(Some("echo"), None).unwrap()));
        let (p, _stop) = listen(echo.clone()).await;
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        s.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        drop(s);

        let pay = Arc::new(TcpState::new(0, spec(Some("payload"), None).unwrap()));
        let (p, _stop2) = listen(pay).await;
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        s.write_all(b"x").await.unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"goto\n");

        let close = Arc::new(TcpState::new(0, spec(Some("close"), None).unwrap()));
        let (p, _stop3) = listen(close.clone()).await;
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        s.write_all(b"x").await.unwrap();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0);
        assert_eq!(close.counts.view().connections, 1);
        assert_eq!(echo.counts.view().bytes_in, 5);
    }
}
