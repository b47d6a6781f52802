//! A stream's slot in a connection ([`Slot`]), reused request after
//! request, and how its exchange ended ([`Outcome`], [`StreamError`]).

use std::task::Waker;

use crate::error::ErrorKind;
use crate::grpc::Deframer;

/// How a stream's exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    /// The whole response arrived.
    Done,
    Failed(StreamError),
}

/// Why a stream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamError {
    pub kind: ErrorKind,
    /// No response head had arrived.
    pub before_response: bool,
    /// The peer said it did not process the stream (GOAWAY above it,
    /// REFUSED_STREAM): safe to send again on another connection.
    pub refused: bool,
    /// The connection is unusable.
    pub fatal: bool,
}

/// One stream's slot. Its buffers are kept across requests.
#[derive(Default)]
pub struct Slot {
    /// The stream id; 0 while the slot is free.
    pub stream: u32,
    pub outcome: Option<Outcome>,
    /// The final status; 0 until the response head.
    pub status: u16,
    /// Header field and body bytes received.
    pub bytes: u64,
    /// Tracked header values: (tracked index, range in `values`).
    pub tracked: Vec<(usize, u32, u32)>,
    pub values: Vec<u8>,
    pub waker: Option<Waker>,
    /// gRPC connections only: `grpc-status` from the trailers (or a
    /// trailers-only response), its `grpc-message` as sent, and the
    /// response messages counted as DATA arrives.
    pub grpc_status: Option<u8>,
    pub grpc_message: Vec<u8>,
    pub deframer: Deframer,
    /// When the first response message's prefix arrived (gRPC).
    pub first_message: Option<std::time::Instant>,
    pub(super) send_window: i64,
    pub(super) recv_unacked: u32,
    /// END_STREAM sent.
    pub(super) local_done: bool,
}

impl Slot {
    pub(super) fn finish(&mut self, outcome: Outcome) {
        if matches!(self.outcome, Some(Outcome::Pending)) {
            self.outcome = Some(outcome);
            if let Some(w) = &self.waker {
                w.wake_by_ref();
            }
        }
    }
}
