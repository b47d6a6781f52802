//! The raw TCP proxy: each accepted connection is relayed to the upstream,
//! both directions through the listener's toxics. A direction that reaches
//! its end half-closes the other side; a toxic that closes ends both, and
//! reset_peer resets both sockets (SO_LINGER 0).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{TcpCounts, TcpState};
use crate::chaos::toxics::ends::{TcpSink, TcpSource};
use crate::chaos::toxics::pump::{pump, Chain, End};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One direction: pump, then pass the end on as a half-close.
async fn direction(chain: &mut Chain, src: &mut TcpSource, sink: &mut TcpSink) -> End {
    match pump(chain, src, sink).await {
        Ok(End::Eof) => {
            let _ = sink.half.shutdown().await;
            End::Eof
        }
        Ok(end) => end,
        // A broken side ends the relay like a close.
        Err(_) => End::Closed,
    }
}

/// Relays `client` to `upstream` until both directions end or a toxic cuts them.
pub async fn relay(state: &TcpState, client: TcpStream, upstream: &str) -> std::io::Result<()> {
    let c = &state.counts;
    let up = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            TcpCounts::add(&c.upstream_failures, 1);
            return Err(e);
        }
        Err(_) => {
            TcpCounts::add(&c.upstream_failures, 1);
            return Err(std::io::ErrorKind::TimedOut.into());
        }
    };
    let _ = up.set_nodelay(true);
    let (mut to_up, mut to_down) = if state.toxics.active() {
        let s = state.toxics.select();
        (s.upstream, s.downstream)
    } else {
        let now = std::time::Instant::now();
        (Chain::new(0, now), Chain::new(0, now))
    };
    let (cr, cw) = client.into_split();
    let (ur, uw) = up.into_split();
    let (mut c_src, mut c_sink) = (TcpSource::new(cr), TcpSink::new(cw));
    let (mut u_src, mut u_sink) = (TcpSource::new(ur), TcpSink::new(uw));
    let end = {
        let a = direction(&mut to_up, &mut c_src, &mut u_sink);
        let b = direction(&mut to_down, &mut u_src, &mut c_sink);
        tokio::pin!(a, b);
        let (first, a_done) = tokio::select! {
            e = &mut a => (e, true),
            e = &mut b => (e, false),
        };
        match first {
            End::Eof if a_done => b.await,
            End::Eof => a.await,
            cut => cut,
        }
    };
    TcpCounts::add(&c.bytes_in, u_sink.written);
    TcpCounts::add(&c.bytes_out, c_sink.written);
    match end {
        End::Eof => {}
        End::Closed => TcpCounts::add(&c.closed_by_toxics, 1),
        End::Reset => {
            TcpCounts::add(&c.reset_by_toxics, 1);
            // Abortive close: the peers see a reset, not an orderly end.
            for s in [
                c_src.half.reunite(c_sink.half),
                u_src.half.reunite(u_sink.half),
            ]
            .into_iter()
            .flatten()
            {
                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                drop(s);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;

    use super::super::tests::listen;
    use super::super::{Mode, TcpSpec, TcpState};
    use super::*;
    use bytes::Bytes;

    fn proxy_to(port: u16) -> Arc<TcpState> {
        Arc::new(TcpState::new(
            0,
            TcpSpec {
                mode: Mode::Proxy(format!("127.0.0.1:{port}")),
                payload: Bytes::new(),
                interval: Duration::from_millis(100),
            },
        ))
    }

    async fn echo_server() -> (u16, tokio::sync::watch::Sender<bool>) {
        let spec = TcpSpec {
            mode: Mode::Echo,
            payload: Bytes::new(),
            interval: Duration::from_millis(100),
        };
        listen(Arc::new(TcpState::new(0, spec))).await
    }

    #[tokio::test]
    async fn relays_and_applies_toxics() {
        let (echo, _e) = echo_server().await;
        let state = proxy_to(echo);
        let (p, _stop) = listen(state.clone()).await;
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        drop(s);

        state
            .toxics
            .add(
                serde_json::from_str(r#"{"type":"latency","attributes":{"latency":"50ms"}}"#)
                    .unwrap(),
            )
            .unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        let t = tokio::time::Instant::now();
        s.write_all(b"pong").await.unwrap();
        s.read_exact(&mut got).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(50));
        drop(s);

        state.toxics.clear();
        state
            .toxics
            .add(serde_json::from_str(r#"{"type":"limit_data","attributes":{"bytes":3}}"#).unwrap())
            .unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        s.write_all(b"abcdef").await.unwrap();
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut all)).await;
        assert_eq!(all, b"abc");
        assert_eq!(state.counts.view().closed_by_toxics, 1);
    }

    #[tokio::test]
    async fn reset_peer_resets_the_client() {
        let (echo, _e) = echo_server().await;
        let state = proxy_to(echo);
        state
            .toxics
            .add(
                serde_json::from_str(r#"{"type":"reset_peer","attributes":{"timeout":30}}"#)
                    .unwrap(),
            )
            .unwrap();
        let (p, _stop) = listen(state.clone()).await;
        let mut s = TcpStream::connect(("127.0.0.1", p)).await.unwrap();
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap();
        assert_eq!(
            r.map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::ConnectionReset)
        );
    }
}
