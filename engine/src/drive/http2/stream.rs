//! One HTTP/2 replica: a loop of requests, each a stream on its slot's
//! shared connection. It drives the same [`Schedule`] as the HTTP/1.1
//! replica (pacing, limits, retries, where latency counts from) with the
//! same stop signal, per-core counters and outcome settling
//! ([`CoreStats::settle`]); only the exchange differs.

use std::future::poll_fn;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::io::{ExchangeError, Response};
use super::pool::{ConnSlot, Lease};
use crate::conn::{connect_deadline, timeout_at, Alarm, Watch};
use crate::error::ErrorKind;
use crate::local::{CoreTarget, LocalRun};
use crate::random::{next_random, seed};
use crate::run::StopSignal;
use crate::schedule::{Schedule, Step};
use crate::stats::{Attempted as Outcome, Attempts, CoreStats};

/// How many times one request goes again after the server refused it
/// unprocessed (each refusal came with a GOAWAY or REFUSED_STREAM).
const MAX_REFUSALS: u32 = 8;

pub(crate) struct Stream {
    run: Rc<LocalRun>,
    target: Rc<CoreTarget>,
    slot: Rc<ConnSlot>,
    stop: StopSignal,
    schedule: Schedule,
    lease: Lease,
    attempts: Attempts,
    /// This stream's copy of the request's header block (only the id is
    /// rewritten per request).
    block: Vec<u8>,
    /// The last response (its buffers are reused).
    response: Response,
    rng: u64,
    /// When the last attempt's request went out (time to first message).
    sent: Instant,
}

impl Stream {
    pub(crate) fn new(
        run: Rc<LocalRun>,
        target: Rc<CoreTarget>,
        slot: Rc<ConnSlot>,
        index: u32,
        start: Instant,
    ) -> Stream {
        let schedule = Schedule::new(&target.prepared.spec, index, start)
            .follow(target.prepared.live_rate.clone());
        let stop = StopSignal::new(run.shared.clone(), target.index, schedule.end());
        let block = target
            .prepared
            .h2
            .as_ref()
            .map_or_else(Vec::new, |t| t.block().to_vec());
        let attempts = target.stats.borrow().attempts();
        Stream {
            run,
            target,
            slot,
            stop,
            schedule,
            lease: None,
            attempts,
            block,
            response: Response::default(),
            rng: seed(index),
            sent: start,
        }
    }

    /// Runs until the count, the duration or a stop ends it.
    pub(crate) async fn run(mut self) {
        // The worker wakes this task when a stop is requested.
        poll_fn(|cx| {
            self.run.add_waker(cx.waker());
            Poll::Ready(())
        })
        .await;
        let at = Instant::now() + Duration::from_secs(3600);
        let timer = pin!(monoio::time::sleep_until(at.into()));
        let mut alarm = Alarm::new(timer, at);
        self.run_loop(&mut alarm).await;
        self.lease = None;
        self.run.replica_done(&self.target);
    }

    /// Drives the schedule: wait, send, count, until it says done.
    async fn run_loop(&mut self, alarm: &mut Alarm<'_>) {
        let mut now = Instant::now();
        loop {
            if self.stop.requested() {
                return;
            }
            match self.schedule.poll(now) {
                Step::Done => return,
                Step::Wait(until) => {
                    if !self.run.pause_until(alarm, &self.stop, until).await {
                        return;
                    }
                    now = Instant::now();
                }
                Step::Send(_) => {
                    self.attempts.start();
                    let outcome = self.exchange(now, alarm).await;
                    now = Instant::now();
                    let response = &self.response;
                    let sent = self.sent;
                    let grpc = self.target.prepared.spec.grpc.is_some();
                    let stats = &mut self.target.stats.borrow_mut();
                    // The tracked headers of the final response only (a
                    // retried one is not final).
                    let counted = stats.settle(&mut self.schedule, outcome, now, |s, _| {
                        track(s, response);
                        if grpc {
                            count_grpc(s, response, sent);
                        }
                    });
                    if !counted {
                        return;
                    }
                }
            }
        }
    }

    /// One attempt: a connection (shared), the request, the whole response.
    async fn exchange(&mut self, now: Instant, alarm: &mut Alarm<'_>) -> Outcome {
        let target = self.target.clone();
        let p = &target.prepared;
        let Some(template) = p.h2.as_ref() else {
            return Outcome::Error(ErrorKind::Closed);
        };
        self.response.tracked.clear();
        let spec = &p.spec;
        let deadline = timeout_at(now, spec.request_timeout);
        let mut watch = Watch::new(alarm, &self.stop, deadline);
        let mut may_retry_stale = true;
        let mut refusals = 0;
        let mut bytes_read = 0u64;
        let mut bytes_written = 0u64;
        let outcome = loop {
            let connect_deadline = connect_deadline(now, spec.connect_timeout, deadline);
            watch.set_deadline(connect_deadline, ErrorKind::ConnectTimeout);
            let got = self
                .slot
                .get(
                    &mut self.lease,
                    p,
                    &target.stats,
                    spec.idle_timeout,
                    &mut watch,
                )
                .await;
            watch.set_deadline(deadline, ErrorKind::Timeout);
            let opened = match got {
                Ok(o) => o,
                Err(f) => break Outcome::from(f),
            };
            if opened.reconnect {
                target.stats.borrow_mut().reconnected();
            }
            let Some((id, handle)) = self.lease.as_ref() else {
                break Outcome::Error(ErrorKind::Closed);
            };
            if template.sends_id() {
                template.write_id(&mut self.block, next_random(&mut self.rng));
            }
            bytes_written += template.request_bytes;
            let grpc = spec.grpc.is_some();
            self.sent = Instant::now();
            if let Some(call) = &spec.grpc {
                target
                    .stats
                    .borrow_mut()
                    .grpc_sent(u64::from(call.messages));
            }
            let r = handle
                .exchange(
                    &self.block,
                    template.indexed(),
                    &template.body,
                    grpc,
                    &mut watch,
                    &mut self.response,
                )
                .await;
            bytes_read += self.response.bytes;
            self.response.bytes = 0;
            match r {
                Ok(()) => break Outcome::Status(self.response.status),
                Err(ExchangeError::Watch(f)) => break Outcome::from(f),
                Err(ExchangeError::Stream(e)) => {
                    if e.fatal {
                        self.slot.discard(*id);
                        self.lease = None;
                    }
                    // A stream the server said it did not process (GOAWAY
                    // above it, REFUSED_STREAM) is safe to send again, on a
                    // new connection if this one is done, without counting
                    // it (a bounded number of times); so is, once, a request
                    // on a kept connection the server had already closed.
                    if e.refused && refusals < MAX_REFUSALS {
                        refusals += 1;
                        continue;
                    }
                    let stale = opened.reused && e.before_response && e.fatal;
                    if stale && may_retry_stale {
                        may_retry_stale = false;
                        continue;
                    }
                    break Outcome::Error(e.kind);
                }
            }
        };
        target
            .stats
            .borrow_mut()
            .add_bytes(bytes_read, bytes_written);
        outcome
    }
}

/// Counts a gRPC call's status: the trailers' `grpc-status`, else the
/// HTTP status mapped by the spec's table.
fn count_grpc(stats: &mut CoreStats, response: &Response, sent: Instant) {
    let status = match response.grpc_status {
        Some(s) if response.status == 200 => s,
        _ => crate::grpc::from_http_status(response.status),
    };
    stats.grpc_call(status, response.messages, &response.grpc_message);
    if let Some(at) = response.first_message {
        stats.first_message(at.saturating_duration_since(sent));
    }
}

/// Counts the tracked header values of a final response.
fn track(stats: &mut CoreStats, response: &Response) {
    for &(i, start, end) in &response.tracked {
        if let Some(v) = response.values.get(start as usize..end as usize) {
            stats.track(i, v);
        }
    }
}
