//! One HTTP/2 replica: a loop of requests, each a stream on its slot's
//! shared connection. It drives the same [`Schedule`] as the HTTP/1.1
//! replica (pacing, limits, retries, where latency counts from) with the
//! same stop signal and per-core counters; only the exchange differs.

use std::future::poll_fn;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use http::HeaderMap;

use super::connect::{breaks_connection, h2_error};
use super::pool::{Lease, Slot};
use crate::conn::{Alarm, Fail, Watch};
use crate::error::ErrorKind;
use crate::local::{CoreTarget, LocalRun};
use crate::replica::{next_random, seed};
use crate::run::StopSignal;
use crate::schedule::{Schedule, Step, Verdict};

/// The outcome of one attempt.
enum Outcome {
    Status(u16),
    Error(ErrorKind),
    Aborted,
}

pub(crate) struct Stream {
    run: Rc<LocalRun>,
    target: Rc<CoreTarget>,
    slot: Rc<Slot>,
    stop: StopSignal,
    schedule: Schedule,
    lease: Lease,
    /// The last response's headers, counted once its outcome is final.
    head: Option<HeaderMap>,
    rng: u64,
}

impl Stream {
    pub(crate) fn new(
        run: Rc<LocalRun>,
        target: Rc<CoreTarget>,
        slot: Rc<Slot>,
        index: u32,
        start: Instant,
    ) -> Stream {
        let schedule = Schedule::new(&target.prepared.spec, index, start)
            .follow(target.prepared.live_rate.clone());
        let stop = StopSignal::new(run.shared.clone(), target.index, schedule.end());
        Stream {
            run,
            target,
            slot,
            stop,
            schedule,
            lease: None,
            head: None,
            rng: seed(index),
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
                    let result = match self.exchange(now, alarm).await {
                        Outcome::Status(code) => Ok(code),
                        Outcome::Error(kind) => Err(kind),
                        Outcome::Aborted => return,
                    };
                    now = Instant::now();
                    if let Verdict::Count(c) = self.schedule.complete(result, now) {
                        self.count(c.result, c.latency, c.uncorrected, c.lag, now);
                    }
                }
            }
        }
    }

    /// Counts a final outcome, and the tracked headers of its response (a
    /// response that is retried is not final, so its headers do not count).
    fn count(
        &mut self,
        result: Result<u16, ErrorKind>,
        latency: Duration,
        uncorrected: Duration,
        lag: Duration,
        now: Instant,
    ) {
        let p = &self.target.prepared;
        let mut stats = self.target.stats.borrow_mut();
        stats.record(result, latency, uncorrected, lag, now);
        if let (Ok(_), Some(head)) = (result, self.head.take()) {
            for (i, name) in p.tracked_names.iter().enumerate() {
                for value in head.get_all(name.as_str()) {
                    stats.track(i, value.as_bytes());
                }
            }
        }
    }

    /// One attempt: a connection (shared), the request, the whole response.
    async fn exchange(&mut self, now: Instant, alarm: &mut Alarm<'_>) -> Outcome {
        self.head = None;
        let target = self.target.clone();
        let p = &target.prepared;
        let Some(template) = p.h2.as_ref() else {
            return Outcome::Error(ErrorKind::Closed);
        };
        let spec = &p.spec;
        let deadline = timeout_at(now, spec.request_timeout);
        let mut watch = Watch::new(alarm, &self.stop, deadline);
        let mut may_retry_stale = true;
        let mut bytes_read = 0u64;
        let mut bytes_written = 0u64;
        let outcome = loop {
            let connect_deadline = match (timeout_at(now, spec.connect_timeout), deadline) {
                (Some(c), Some(d)) => Some(c.min(d)),
                (c, d) => c.or(d),
            };
            watch.set_deadline(connect_deadline, ErrorKind::ConnectTimeout);
            let got = self
                .slot
                .get(&mut self.lease, p, spec.idle_timeout, &mut watch)
                .await;
            watch.set_deadline(deadline, ErrorKind::Timeout);
            let reused = match got {
                Ok(r) => r,
                Err(f) => break fail_outcome(f),
            };
            let Some((id, sender)) = self.lease.as_mut() else {
                break Outcome::Error(ErrorKind::Closed);
            };
            let id = *id;
            let rng = &mut self.rng;
            let request = template.request(|| next_random(rng));
            bytes_written += template.request_bytes;
            let r = send(
                sender,
                request,
                &template.body,
                &mut watch,
                &mut bytes_read,
                &mut self.head,
            )
            .await;
            match r {
                Ok(status) => break Outcome::Status(status),
                Err(Err(f)) => break Outcome::from(f),
                Err(Ok((e, before_response))) => {
                    if breaks_connection(&e) {
                        self.slot.discard(id);
                        self.lease = None;
                        // A kept connection the server already closed:
                        // reconnect and resend once, without counting it.
                        if reused && before_response && may_retry_stale {
                            may_retry_stale = false;
                            continue;
                        }
                    }
                    break Outcome::Error(h2_error(&e));
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

/// An h2 failure and whether it came before any response; or the watch's.
type SendError = Result<(h2::Error, bool), Fail>;

/// Opens a stream, sends the request (and body), reads the response head
/// into `head` and drains its body.
async fn send(
    sender: &mut super::connect::Sender,
    request: http::Request<()>,
    body: &bytes::Bytes,
    watch: &mut Watch<'_, '_>,
    bytes_read: &mut u64,
    head: &mut Option<HeaderMap>,
) -> Result<u16, SendError> {
    // Waits while the connection is at its concurrent-stream limit.
    let ready = pin!(poll_fn(|cx| sender.poll_ready(cx)));
    watch
        .race(ready)
        .await
        .map_err(Err)?
        .map_err(|e| Ok((e, true)))?;
    let (response, mut stream) = sender
        .send_request(request, body.is_empty())
        .map_err(|e| Ok((e, true)))?;
    if !body.is_empty() {
        // h2 queues the data and sends it as the peer's window allows.
        stream
            .send_data(body.clone(), true)
            .map_err(|e| Ok((e, true)))?;
    }
    let response = pin!(response);
    let response = watch
        .race(response)
        .await
        .map_err(Err)?
        .map_err(|e| Ok((e, true)))?;
    let (parts, mut body) = response.into_parts();
    for (k, v) in &parts.headers {
        *bytes_read += (k.as_str().len() + v.len()) as u64;
    }
    *head = Some(parts.headers);
    while !body.is_end_stream() {
        let data = pin!(poll_fn(|cx| body.poll_data(cx)));
        match watch.race(data).await.map_err(Err)? {
            None => break,
            Some(Ok(chunk)) => {
                *bytes_read += chunk.len() as u64;
                // Returning the window lets the server keep sending.
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            Some(Err(e)) => return Err(Ok((e, false))),
        }
    }
    Ok(parts.status.as_u16())
}

impl From<Fail> for Outcome {
    fn from(f: Fail) -> Outcome {
        fail_outcome(f)
    }
}

fn fail_outcome(f: Fail) -> Outcome {
    match f {
        Fail::Aborted => Outcome::Aborted,
        Fail::Error(k) => Outcome::Error(k),
    }
}

fn timeout_at(now: Instant, t: Duration) -> Option<Instant> {
    if t.is_zero() {
        None
    } else {
        now.checked_add(t)
    }
}
