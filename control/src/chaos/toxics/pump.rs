//! Driving bytes through a chain of toxics: one direction of one connection
//! reads chunks from a [`Source`], delays, slices, paces, truncates or cuts
//! them, and writes what passes to a [`Sink`]. Raw TCP halves and HTTP
//! bodies are both sources and sinks, so the TCP proxy and the HTTP proxy
//! share this one loop.

use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{sleep, sleep_until, Instant};

use crate::timer::sleep_until_due;

use super::Kind;
use crate::rng::Rng;

/// A bandwidth schedule further behind than this restarts from now, so an
/// idle connection does not bank a burst.
const IDLE_RESTART: Duration = Duration::from_millis(50);

/// The toxics drawn for one direction of one connection.
#[derive(Debug, Clone)]
pub struct Chain {
    latency: Vec<(Duration, Duration)>,
    /// Bytes per second (the lowest of several bandwidth toxics).
    rate: Option<u64>,
    slicer: Option<(usize, usize, Duration)>,
    /// Absolute: measured from when the connection was drawn.
    reset_at: Option<Instant>,
    slow_close: Option<Duration>,
    timeout: Option<Duration>,
    limit: Option<u64>,
    rng: Rng,
    started: Instant,
}

/// How a direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The source ended: pass the end on (half-close).
    Eof,
    /// A toxic closed the connection (limit_data, timeout).
    Closed,
    /// A toxic resets the connection (reset_peer).
    Reset,
}

impl Chain {
    pub fn new(seed: u64, started: std::time::Instant) -> Chain {
        Chain {
            latency: Vec::new(),
            rate: None,
            slicer: None,
            reset_at: None,
            slow_close: None,
            timeout: None,
            limit: None,
            rng: Rng::seeded(seed),
            started: Instant::from_std(started),
        }
    }

    /// No toxic drawn: the caller may copy bytes straight through.
    pub fn is_empty(&self) -> bool {
        self.latency.is_empty()
            && self.rate.is_none()
            && self.slicer.is_none()
            && self.reset_at.is_none()
            && self.slow_close.is_none()
            && self.timeout.is_none()
            && self.limit.is_none()
    }

    pub(super) fn add(&mut self, k: &Kind) {
        match *k {
            Kind::Latency { latency, jitter } => self.latency.push((latency, jitter)),
            Kind::Bandwidth { rate } => self.rate = Some(self.rate.map_or(rate, |r| r.min(rate))),
            Kind::Slicer {
                average,
                variation,
                delay,
            } => self.slicer = Some((average, variation, delay)),
            Kind::ResetPeer { timeout } => {
                let at = self.started + timeout;
                self.reset_at = Some(self.reset_at.map_or(at, |r| r.min(at)));
            }
            Kind::SlowClose { delay } => self.slow_close = Some(delay),
            Kind::Timeout { timeout } => self.timeout = Some(timeout),
            Kind::LimitData { bytes } => {
                self.limit = Some(self.limit.map_or(bytes, |l| l.min(bytes)))
            }
        }
    }

    /// This chunk's latency: each latency toxic's value plus or minus its jitter.
    fn delay(&mut self) -> Duration {
        let mut total = Duration::ZERO;
        for i in 0..self.latency.len() {
            let (l, j) = self.latency[i];
            total += self.rng.duration(l.saturating_sub(j), l + j);
        }
        total
    }

    /// For an HTTP message head (no bytes of its own): when it may go out,
    /// or when the message is cut instead (timeout, a reset due before the
    /// head goes out, a zero data limit). Drawn now, so the body can start
    /// through the chain while the head waits: both then carry one latency.
    pub fn head(&mut self) -> Head {
        let now = Instant::now();
        if let Some(t) = self.timeout {
            return Head::Cut((!t.is_zero()).then(|| now + t));
        }
        if self.limit == Some(0) {
            return Head::Cut(Some(now));
        }
        let until = now + self.delay();
        match self.reset_at {
            Some(r) if r <= until => Head::Cut(Some(r)),
            _ => Head::Pass(until),
        }
    }

    /// Splits a chunk as the slicer asks (sizes average +- variation).
    fn slices(&mut self, mut chunk: Bytes) -> Vec<Bytes> {
        let Some((avg, var, _)) = self.slicer else {
            return vec![chunk];
        };
        let mut out = Vec::new();
        while !chunk.is_empty() {
            let n = self
                .rng
                .between((avg - var) as u64, (avg + var) as u64)
                .max(1) as usize;
            out.push(chunk.split_to(n.min(chunk.len())));
        }
        out
    }
}

/// The fate of an HTTP message head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Goes out at this instant.
    Pass(Instant),
    /// Cut at this instant (never, for a timeout of zero).
    Cut(Option<Instant>),
}

impl Head {
    /// Waits until the head's instant; true when it may go out.
    pub async fn wait(self) -> bool {
        match self {
            // Not plain sleeps: an empty chain's head is due now, and a plain
            // sleep would still wait for the next timer tick.
            Head::Pass(at) => {
                sleep_until_due(at).await;
                true
            }
            Head::Cut(Some(at)) => {
                sleep_until_due(at).await;
                false
            }
            Head::Cut(None) => std::future::pending().await,
        }
    }
}

/// Where a direction reads its bytes.
pub trait Source: Send {
    /// The next chunk; `None` at the end.
    fn next(&mut self) -> impl Future<Output = io::Result<Option<Bytes>>> + Send;
}

/// Where a direction writes what passes.
pub trait Sink: Send {
    fn send(&mut self, b: Bytes) -> impl Future<Output = io::Result<()>> + Send;
}

/// Drives one direction until its source ends or a toxic ends it; the
/// slow_close delay is waited out before returning.
pub async fn pump<S: Source, K: Sink>(
    chain: &mut Chain,
    src: &mut S,
    sink: &mut K,
) -> io::Result<End> {
    let reset_at = chain.reset_at;
    let slow_close = chain.slow_close;
    let run = run(chain, src, sink);
    let end = match reset_at {
        Some(at) => tokio::select! {
            r = run => r?,
            _ = sleep_until(at) => End::Reset,
        },
        None => run.await?,
    };
    if end != End::Reset {
        if let Some(d) = slow_close {
            sleep(d).await;
        }
    }
    Ok(end)
}

async fn run<S: Source, K: Sink>(chain: &mut Chain, src: &mut S, sink: &mut K) -> io::Result<End> {
    if let Some(t) = chain.timeout {
        // Nothing gets through; what arrives is read and dropped so the
        // sender is not stalled by a full buffer (toxiproxy does the same).
        let drain = async { while let Ok(Some(_)) = src.next().await {} };
        if t.is_zero() {
            drain.await;
        } else {
            tokio::select! {
                _ = drain => {}
                _ = sleep(t) => {}
            }
        }
        return Ok(End::Closed);
    }
    let mut sent = 0u64;
    let mut next_slot = Instant::now();
    // Bandwidth pieces carry at most 100 ms worth of bytes, so pacing is smooth.
    let piece_max = chain.rate.map(|r| (r / 10).max(1) as usize);
    loop {
        let Some(mut chunk) = src.next().await? else {
            return Ok(End::Eof);
        };
        let arrived = Instant::now();
        if !chain.latency.is_empty() {
            sleep_until_due(arrived + chain.delay()).await;
        }
        let mut last = false;
        if let Some(limit) = chain.limit {
            let room = limit.saturating_sub(sent);
            if chunk.len() as u64 >= room {
                chunk.truncate(room as usize);
                last = true;
            }
        }
        sent += chunk.len() as u64;
        let slice_delay = chain.slicer.map(|s| s.2).unwrap_or_default();
        for mut piece in chain.slices(chunk) {
            while !piece.is_empty() {
                let sub = match (chain.rate, piece_max) {
                    (Some(rate), Some(max)) => {
                        let sub = piece.split_to(max.min(piece.len()));
                        // Behind schedule by timer overshoot: keep the
                        // schedule (no lost credit); idle longer: restart it.
                        let now = Instant::now();
                        if now > next_slot + IDLE_RESTART {
                            next_slot = now;
                        }
                        next_slot += Duration::from_secs_f64(sub.len() as f64 / rate as f64);
                        sleep_until(next_slot).await;
                        sub
                    }
                    _ => std::mem::take(&mut piece),
                };
                sink.send(sub).await?;
            }
            if !slice_delay.is_zero() {
                sleep(slice_delay).await;
            }
        }
        if last {
            return Ok(End::Closed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::chaos::toxics::ends::wrap_body;
    use crate::chaos::toxics::{ToxicSpec, Toxics};
    use http_body_util::BodyExt;

    struct VecSource(Vec<Bytes>);
    impl Source for VecSource {
        async fn next(&mut self) -> io::Result<Option<Bytes>> {
            Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    #[derive(Default)]
    struct VecSink(Vec<(Instant, Bytes)>);
    impl Sink for VecSink {
        async fn send(&mut self, b: Bytes) -> io::Result<()> {
            self.0.push((Instant::now(), b));
            Ok(())
        }
    }

    fn chain(json: &str) -> Chain {
        let set = Toxics::default();
        set.add(serde_json::from_str::<ToxicSpec>(json).unwrap())
            .unwrap();
        set.select().downstream
    }

    async fn drive(c: &mut Chain, chunks: &[&'static [u8]]) -> (End, VecSink) {
        let mut src = VecSource(chunks.iter().map(|c| Bytes::from_static(c)).collect());
        let mut sink = VecSink::default();
        let end = pump(c, &mut src, &mut sink).await.unwrap();
        (end, sink)
    }

    fn joined(s: &VecSink) -> Vec<u8> {
        s.0.iter().flat_map(|(_, b)| b.to_vec()).collect()
    }

    #[tokio::test]
    async fn latency_delays_each_chunk() {
        let mut c = chain(r#"{"type":"latency","attributes":{"latency":"30ms"}}"#);
        let start = Instant::now();
        let (end, sink) = drive(&mut c, &[b"ab", b"cd"]).await;
        assert_eq!(end, End::Eof);
        assert_eq!(joined(&sink), b"abcd");
        assert!(sink.0[0].0 - start >= Duration::from_millis(30));
        assert!(sink.0[1].0 - start >= Duration::from_millis(60));
    }

    #[tokio::test]
    async fn limit_data_cuts_after_n_bytes() {
        let mut c = chain(r#"{"type":"limit_data","attributes":{"bytes":5}}"#);
        let (end, sink) = drive(&mut c, &[b"abc", b"defg", b"hij"]).await;
        assert_eq!(end, End::Closed);
        assert_eq!(joined(&sink), b"abcde");
    }

    #[tokio::test]
    async fn slicer_splits_into_small_pieces() {
        let mut c = chain(
            r#"{"type":"slicer","attributes":{"average_size":3,"size_variation":1,"delay":"1ms"}}"#,
        );
        let (_, sink) = drive(&mut c, &[b"0123456789abcdef"]).await;
        assert_eq!(joined(&sink), b"0123456789abcdef");
        assert!(sink.0.len() >= 4);
        assert!(sink
            .0
            .iter()
            .all(|(_, b)| (2..=4).contains(&b.len()) || b.len() < 2));
    }

    #[tokio::test]
    async fn bandwidth_paces_bytes() {
        // 10 KB/s: 3000 bytes take at least ~0.3 s.
        let mut c = chain(r#"{"type":"bandwidth","attributes":{"rate":10}}"#);
        let start = Instant::now();
        let (_, sink) = drive(&mut c, &[&[0u8; 3000]]).await;
        assert_eq!(joined(&sink).len(), 3000);
        assert!(start.elapsed() >= Duration::from_millis(290));
    }

    #[tokio::test]
    async fn timeout_passes_nothing_and_closes() {
        let mut c = chain(r#"{"type":"timeout","attributes":{"timeout":20}}"#);
        let (end, sink) = drive(&mut c, &[b"abc"]).await;
        assert_eq!(end, End::Closed);
        assert!(sink.0.is_empty());
    }

    #[tokio::test]
    async fn reset_peer_fires_after_its_timeout() {
        let mut c = chain(r#"{"type":"reset_peer","attributes":{"timeout":20}}"#);
        struct Slow;
        impl Source for Slow {
            async fn next(&mut self) -> io::Result<Option<Bytes>> {
                sleep(Duration::from_secs(5)).await;
                Ok(None)
            }
        }
        let end = pump(&mut c, &mut Slow, &mut VecSink::default())
            .await
            .unwrap();
        assert_eq!(end, End::Reset);
    }

    #[tokio::test]
    async fn wrapped_body_is_cut_with_an_error() {
        let c = chain(r#"{"type":"limit_data","attributes":{"bytes":2}}"#);
        let mut b = wrap_body(c, Body::from_bytes("hello"));
        let first = b.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "he");
        assert!(b.frame().await.unwrap().is_err());
    }
}
