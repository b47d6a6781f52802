//! One HTTP/2 replica: a loop of requests on a shared connection, paced as
//! the engine paces (a delay after each response, or a fixed schedule under
//! a rate), bounded by its request count and the target's duration, with
//! retries and timeouts; every final outcome is counted.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use goto_engine::{ErrorKind, Pacer};
use http::HeaderMap;
use tokio::sync::watch;
use tokio::time::sleep_until;

use super::conn::{breaks_connection, deadline, h2_error, Pool};
use super::stats::{Record, RunStats};
use super::target::H2Target;

/// What every replica of a run shares.
pub(crate) struct Shared {
    pub target: Arc<H2Target>,
    pub pool: Pool,
    pub stats: Arc<RunStats>,
    pub start: Instant,
    /// The end of the target's duration, if it has one.
    pub end: Option<Instant>,
}

enum Outcome {
    Status(u16),
    Error(ErrorKind),
    Aborted,
}

pub(crate) struct Replica {
    shared: Arc<Shared>,
    index: u32,
    slot: usize,
    stop: watch::Receiver<bool>,
}

impl Replica {
    pub(crate) fn new(shared: Arc<Shared>, index: u32, stop: watch::Receiver<bool>) -> Replica {
        let slot = shared.pool.slot_for(index);
        Replica {
            shared,
            index,
            slot,
            stop,
        }
    }

    /// Runs until the count, the duration or a stop ends it.
    pub(crate) async fn run(mut self) {
        let initial = self.shared.target.spec.initial_delay;
        if !initial.is_zero() && !self.pause_until(Instant::now() + initial).await {
            return;
        }
        let mut remaining = self.shared.target.spec.requests_for_replica(self.index);
        let mut pacer = Pacer::new(&self.shared.target.spec, self.index, self.shared.start);
        let mut now = Instant::now();
        loop {
            let due = pacer.next(now);
            let past_end = self.shared.end.is_some_and(|end| due >= end);
            if remaining == Some(0) || past_end || self.stopped() {
                return;
            }
            if due > now {
                if !self.pause_until(due).await {
                    return;
                }
                now = Instant::now();
            }
            let Some(done) = self.with_retries(due, now).await else {
                return;
            };
            now = done;
            if let Some(r) = &mut remaining {
                *r = r.saturating_sub(1);
            }
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs `f` unless a stop or the end of the duration comes first.
    async fn abortable<F: Future>(&mut self, f: F) -> Option<F::Output> {
        let end = self.shared.end;
        let ended = async move {
            match end {
                Some(end) => sleep_until(end.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            // A dropped sender (the run handle is gone) also means stop.
            _ = self.stop.wait_for(|s| *s) => None,
            _ = ended => None,
            r = f => Some(r),
        }
    }

    /// Sleeps until `until`; false when stopped (or the duration ended) first.
    async fn pause_until(&mut self, until: Instant) -> bool {
        self.abortable(sleep_until(until.into())).await.is_some()
    }

    /// Sends one request (first attempt at `now`), retrying as configured,
    /// and counts the final outcome. Returns when it ended, or `None` if
    /// aborted.
    async fn with_retries(&mut self, due: Instant, now: Instant) -> Option<Instant> {
        let target = self.shared.target.clone();
        let spec = &target.spec;
        let mut attempt = 0;
        let mut sent = now;
        loop {
            let last = attempt >= spec.retries;
            let mut head: Option<HeaderMap> = None;
            let outcome = match self.abortable(self.exchange(sent, &mut head)).await {
                Some(o) => o,
                None => Outcome::Aborted,
            };
            let done = Instant::now();
            let retry = !last
                && match outcome {
                    Outcome::Status(code) => spec.retriable_status.contains(&code),
                    Outcome::Error(_) => true,
                    Outcome::Aborted => false,
                };
            if !retry {
                let outcome = match outcome {
                    Outcome::Status(code) => Ok(code),
                    Outcome::Error(kind) => Err(kind),
                    Outcome::Aborted => return None,
                };
                self.shared.stats.record(
                    self.index,
                    Record {
                        outcome,
                        // Under a rate, latency runs from when the request was due.
                        corrected: done.saturating_duration_since(due.min(sent)),
                        uncorrected: done.saturating_duration_since(sent),
                        headers: head.as_ref(),
                        tracked: &target.tracked,
                    },
                );
                return Some(done);
            }
            attempt += 1;
            if !self.pause_until(done + spec.retry_delay).await {
                return None;
            }
            sent = Instant::now();
        }
    }

    /// One attempt within the request timeout; the response's headers go
    /// into `head`.
    fn exchange<'a>(
        &self,
        sent: Instant,
        head: &'a mut Option<HeaderMap>,
    ) -> impl Future<Output = Outcome> + 'a {
        let shared = self.shared.clone();
        let (index, slot) = (self.index, self.slot);
        async move {
            let spec = &shared.target.spec;
            let request_deadline = deadline(sent, spec.request_timeout);
            let attempt = attempt(&shared, index, slot, sent, head);
            match request_deadline {
                None => attempt.await,
                Some(d) => tokio::time::timeout_at(d.into(), attempt)
                    .await
                    .unwrap_or(Outcome::Error(ErrorKind::Timeout)),
            }
        }
    }
}

/// Gets a connection (within the connect timeout), sends the request and
/// reads the whole response. A reused connection that turns out closed is
/// replaced once without counting, as the engine does for stale keep-alives.
async fn attempt(
    shared: &Shared,
    index: u32,
    slot: usize,
    sent: Instant,
    head: &mut Option<HeaderMap>,
) -> Outcome {
    let target = &shared.target;
    let mut may_retry_stale = true;
    loop {
        let connect = shared.pool.acquire(slot, target);
        let lease = match deadline(sent, target.spec.connect_timeout) {
            None => connect.await,
            Some(d) => tokio::time::timeout_at(d.into(), connect)
                .await
                .unwrap_or(Err(ErrorKind::ConnectTimeout)),
        };
        let lease = match lease {
            Ok(l) => l,
            Err(kind) => return Outcome::Error(kind),
        };
        let stale_ok = lease.reused && may_retry_stale;
        match send(shared, index, lease.sender, head).await {
            Ok(code) => return Outcome::Status(code),
            Err((e, before_response)) => {
                if breaks_connection(&e) {
                    shared.pool.discard(slot, lease.id).await;
                    if stale_ok && before_response {
                        may_retry_stale = false;
                        continue;
                    }
                }
                return Outcome::Error(h2_error(&e));
            }
        }
    }
}

/// Sends one request and reads its response. On failure, also says whether
/// it failed before any response arrived.
async fn send(
    shared: &Shared,
    index: u32,
    sender: super::conn::Sender,
    head: &mut Option<HeaderMap>,
) -> Result<u16, (h2::Error, bool)> {
    let target = &shared.target;
    let request = match target.request() {
        Ok(r) => r,
        // The template was validated; a failure here can only come from the
        // generated request id, which is always a valid query value.
        Err(e) => {
            tracing::warn!("cannot build HTTP/2 request: {e}");
            return Err((h2::Error::from(h2::Reason::INTERNAL_ERROR), true));
        }
    };
    let body = target.body();
    let mut sender = sender.ready().await.map_err(|e| (e, true))?;
    let (response, mut stream) = sender
        .send_request(request, body.is_empty())
        .map_err(|e| (e, true))?;
    if !body.is_empty() {
        // h2 queues the data and sends it as the peer's window allows.
        stream
            .send_data(body.clone(), true)
            .map_err(|e| (e, true))?;
    }
    let mut read = 0u64;
    let result = async {
        let response = response.await.map_err(|e| (e, true))?;
        let (parts, mut body) = response.into_parts();
        for (k, v) in &parts.headers {
            read += (k.as_str().len() + v.len()) as u64;
        }
        // Kept for every attempt; only the final one's are counted.
        *head = Some(parts.headers);
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| (e, false))?;
            read += chunk.len() as u64;
            // Returning the window lets the server keep sending.
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        Ok(parts.status.as_u16())
    }
    .await;
    shared.stats.add_bytes(index, read, target.request_bytes());
    result
}
