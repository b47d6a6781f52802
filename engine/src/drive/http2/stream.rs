//! One HTTP/2 replica's exchange: each request a stream on its slot's
//! shared connection. The replica itself is the generic loop
//! (`crate::drive::replica`), the same as HTTP/1.1's: schedule, pacing,
//! limits, retries, stop signal, outcome settling; only this differs.

use std::rc::Rc;
use std::time::Instant;

use super::io::{ExchangeError, Response};
use super::pool::{ConnSlot, Lease};
use crate::conn::{connect_deadline, timeout_at, Alarm, Watch};
use crate::drive::replica::Exchange;
use crate::error::ErrorKind;
use crate::local::CoreTarget;
use crate::random::{next_random, seed};
use crate::run::StopSignal;
use crate::schedule::Attempt;
use crate::stats::{Attempted as Outcome, CoreStats};

/// How many times one request goes again after the server refused it
/// unprocessed (each refusal came with a GOAWAY or REFUSED_STREAM).
const MAX_REFUSALS: u32 = 8;

/// The HTTP/2 side of a replica: a stream at a time on its slot's shared
/// connection.
pub(crate) struct Stream {
    slot: Rc<ConnSlot>,
    lease: Lease,
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
        target: &CoreTarget,
        slot: Rc<ConnSlot>,
        index: u32,
        start: Instant,
    ) -> Stream {
        let block = target
            .prepared
            .h2
            .as_ref()
            .map_or_else(Vec::new, |t| t.block().to_vec());
        Stream {
            slot,
            lease: None,
            block,
            response: Response::default(),
            rng: seed(index),
            sent: start,
        }
    }
}

impl Exchange for Stream {
    /// One attempt: a connection (shared), the request, the whole response.
    async fn attempt(
        &mut self,
        target: &CoreTarget,
        stop: &StopSignal,
        _attempt: Attempt,
        now: Instant,
        alarm: &mut Alarm<'_>,
    ) -> Outcome {
        let p = &target.prepared;
        let Some(template) = p.h2.as_ref() else {
            return Outcome::Error(ErrorKind::Closed);
        };
        self.response.tracked.clear();
        let spec = &p.spec;
        let deadline = timeout_at(now, spec.request_timeout);
        let mut watch = Watch::new(alarm, stop, deadline);
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
            if let Some(call) = &spec.grpc {
                // Only gRPC times the first message: HTTP pays no clock read.
                self.sent = Instant::now();
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
                    spec.grpc.as_ref().and_then(|c| c.pace()),
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

    /// The tracked headers of the final response only (a retried one is
    /// not final), and its gRPC status.
    fn count(&self, target: &CoreTarget, stats: &mut CoreStats) {
        track(stats, &self.response);
        if target.prepared.spec.grpc.is_some() {
            count_grpc(stats, &self.response, self.sent);
        }
    }

    fn close(&mut self) {
        self.lease = None;
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
