//! One client HTTP/2 connection's protocol state, without I/O: the streams
//! (a slab of slots, reused), both directions' flow-control windows, the
//! peer's settings, the HPACK decoder, which of our requests' fields the
//! peer's HPACK table holds, and the bytes to send next. The
//! reader feeds it what arrives ([`Conn::receive`]); streams open requests
//! and wait on their slot; the writer takes [`Conn::out`]. Single-threaded:
//! the I/O tasks and streams share it through a `RefCell`, never borrowed
//! across an await.
//!
//! This file holds the state and the sending side (opening streams, bodies,
//! release, failure, close); `receive` applies the peer's frames.

use std::task::Waker;

use super::frame::{self, FrameError};
use super::hpack::{put_size_update, Decoder, Indexed, TABLE_SIZE};
pub use super::slot::{Outcome, Slot, StreamError};
use crate::error::ErrorKind;

mod receive;

/// The windows we give the peer: large, so bodies of a few MB flow without
/// waiting for our updates.
pub const STREAM_WINDOW: u32 = 1 << 20;
pub const CONNECTION_WINDOW: u32 = 8 << 20;
/// The last client stream id.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;
/// SETTINGS and PING acks queued in `out` and not yet taken by the writer.
/// A peer that floods them and never reads would otherwise grow `out`
/// without end; past this it gets GOAWAY ENHANCE_YOUR_CALM, as servers do.
pub const MAX_QUEUED_ACKS: u32 = 1024;

/// A connection error: its GOAWAY code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnError(pub u32);

impl From<FrameError> for ConnError {
    fn from(e: FrameError) -> Self {
        ConnError(e.code())
    }
}

pub struct Conn {
    /// Bytes for the writer to send.
    pub out: Vec<u8>,
    pub writer: Option<Waker>,
    pub reader: Option<Waker>,
    /// Streams waiting for the concurrency limit.
    capacity: Vec<Waker>,
    pub slots: Vec<Slot>,
    free: Vec<usize>,
    /// Open streams: (stream id, slot), sorted by id.
    open: Vec<(u32, usize)>,
    next_id: u32,
    peer_max_streams: u32,
    peer_window: i64,
    peer_max_frame: u32,
    send_window: i64,
    recv_unacked: u32,
    goaway: Option<u32>,
    /// Why the connection can carry no more streams.
    dead: Option<ErrorKind>,
    /// Every handle is gone: the writer says GOAWAY and both tasks end.
    pub closing: bool,
    /// A header block in progress: (stream, END_STREAM).
    continuing: Option<(u32, bool)>,
    block: Vec<u8>,
    decoder: Decoder,
    /// Lower-case names of the headers the target tracks.
    tracked_names: Vec<Box<[u8]>>,
    /// Acks queued since the writer last took `out`.
    queued_acks: u32,
    /// gRPC: read `grpc-status`/`grpc-message` and count body messages.
    grpc: bool,
    /// The [`Indexed`] (by id) whose fields the peer's HPACK table holds:
    /// its `first` went out on this connection, so `later` may follow.
    primed: Option<u64>,
    /// What we may put in the peer's table: its SETTINGS_HEADER_TABLE_SIZE
    /// once lower than the default.
    table_limit: usize,
    /// A lowered limit, to signal at the start of the next header block.
    size_update: Option<usize>,
}

impl Conn {
    /// A connection with its preface, SETTINGS and connection window
    /// update queued.
    pub fn new(tracked_names: Vec<Box<[u8]>>) -> Conn {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(frame::PREFACE);
        frame::put_settings(
            &mut out,
            &[
                (frame::SETTINGS_ENABLE_PUSH, 0),
                (frame::SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
            ],
        );
        frame::put_window_update(&mut out, 0, CONNECTION_WINDOW - 65_535);
        Conn {
            out,
            writer: None,
            reader: None,
            capacity: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            open: Vec::new(),
            next_id: 1,
            peer_max_streams: u32::MAX,
            peer_window: 65_535,
            peer_max_frame: frame::DEFAULT_MAX_FRAME,
            send_window: 65_535,
            recv_unacked: 0,
            goaway: None,
            dead: None,
            closing: false,
            continuing: None,
            block: Vec::new(),
            decoder: Decoder::new(),
            tracked_names,
            queued_acks: 0,
            grpc: false,
            primed: None,
            table_limit: TABLE_SIZE,
            size_update: None,
        }
    }

    /// Makes this a gRPC connection (see [`Slot::grpc_status`]).
    pub fn set_grpc(&mut self, on: bool) {
        self.grpc = on;
    }

    /// Hands the queued bytes to the writer (swapped with its empty buffer).
    pub fn take_out(&mut self, into: &mut Vec<u8>) {
        std::mem::swap(&mut self.out, into);
        self.queued_acks = 0;
    }

    /// Counts one more queued ack; an error past [`MAX_QUEUED_ACKS`].
    fn queue_ack(&mut self) -> Result<(), ConnError> {
        self.queued_acks += 1;
        if self.queued_acks > MAX_QUEUED_ACKS {
            return Err(ConnError(frame::ENHANCE_YOUR_CALM));
        }
        Ok(())
    }

    pub fn wake_writer(&mut self) {
        if !self.out.is_empty() || self.closing || self.dead.is_some() {
            if let Some(w) = &self.writer {
                w.wake_by_ref();
            }
        }
    }

    /// Whether new streams may open here.
    pub fn usable(&self) -> bool {
        self.dead.is_none() && self.goaway.is_none() && self.next_id <= MAX_STREAM_ID
    }

    pub fn is_dead(&self) -> bool {
        self.dead.is_some()
    }

    /// Whether a stream may open now: `Err` when never on this connection.
    pub fn can_open(&self) -> Result<bool, StreamError> {
        if !self.usable() {
            return Err(StreamError {
                kind: self.dead.unwrap_or(ErrorKind::Closed),
                before_response: true,
                refused: self.dead.is_none(),
                fatal: true,
            });
        }
        Ok((self.open.len() as u64) < u64::from(self.peer_max_streams))
    }

    /// Registers a stream waiting for [`Conn::can_open`].
    pub fn wait_capacity(&mut self, w: &Waker) {
        if !self.capacity.iter().any(|x| x.will_wake(w)) {
            self.capacity.push(w.clone());
        }
    }

    fn wake_capacity(&mut self) {
        for w in self.capacity.drain(..) {
            w.wake();
        }
    }

    /// Opens a stream with header block `block` (END_STREAM when there is
    /// no body) and returns its slot. Check [`Conn::can_open`] first.
    pub fn open(&mut self, block: &[u8], end_stream: bool) -> usize {
        self.open_indexed(block, None, end_stream)
    }

    /// [`Conn::open`] for a request whose fields are also encoded for the
    /// peer's dynamic table: the first such request on this connection
    /// sends `indexed.first`, the ones after it `indexed.later`; `plain`
    /// when the table cannot hold them (or holds another request's).
    pub fn open_indexed(
        &mut self,
        plain: &[u8],
        indexed: Option<&Indexed>,
        end_stream: bool,
    ) -> usize {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let id = self.next_id;
        self.next_id += 2;
        let s = &mut self.slots[slot];
        s.stream = id;
        s.outcome = Some(Outcome::Pending);
        s.status = 0;
        s.bytes = 0;
        s.tracked.clear();
        s.values.clear();
        s.send_window = self.peer_window;
        s.recv_unacked = 0;
        s.local_done = end_stream;
        s.grpc_status = None;
        s.grpc_message.clear();
        s.deframer.reset();
        s.first_message = None;
        self.open.push((id, slot));
        // Header blocks reach the peer's decoder in the order they enter
        // `out`, so the table holds `first`'s entries from here on.
        let block: &[u8] = match indexed {
            Some(ix) if self.primed == Some(ix.id) => &ix.later,
            Some(ix) if self.primed.is_none() && ix.size <= self.table_limit => {
                self.primed = Some(ix.id);
                &ix.first
            }
            _ => plain,
        };
        match self.size_update.take() {
            None => frame::put_headers(&mut self.out, id, block, end_stream, self.peer_max_frame),
            Some(limit) => {
                // Emptying the table first keeps our entries' indexes ours
                // to choose again (RFC 7541 4.2 allows two updates).
                let mut b = Vec::with_capacity(block.len() + 8);
                put_size_update(&mut b, 0);
                put_size_update(&mut b, limit);
                b.extend_from_slice(block);
                frame::put_headers(&mut self.out, id, &b, end_stream, self.peer_max_frame);
            }
        }
        slot
    }

    /// Sends as much of `body[*sent..]` as the windows allow; true when all
    /// of it is out (END_STREAM set) or the stream ended anyway.
    pub fn send_body(&mut self, slot: usize, body: &[u8], sent: &mut usize) -> bool {
        self.send_body_part(slot, body, sent, true)
    }

    /// [`Conn::send_body`] of a body released in parts (paced gRPC
    /// messages): `body` is what may go so far, and only with `last` does
    /// its end end the stream.
    pub fn send_body_part(
        &mut self,
        slot: usize,
        body: &[u8],
        sent: &mut usize,
        last: bool,
    ) -> bool {
        let max_frame = self.peer_max_frame as usize;
        let s = &mut self.slots[slot];
        if s.local_done || !matches!(s.outcome, Some(Outcome::Pending)) {
            return true;
        }
        loop {
            let left = body.len() - *sent;
            if left == 0 && !last {
                return false;
            }
            let room = self.send_window.min(s.send_window).max(0) as usize;
            let n = left.min(room).min(max_frame);
            if n == 0 && left > 0 {
                return false;
            }
            let end = last && n == left;
            frame::put_data(&mut self.out, s.stream, &body[*sent..*sent + n], end);
            *sent += n;
            self.send_window -= n as i64;
            s.send_window -= n as i64;
            if end {
                s.local_done = true;
                return true;
            }
        }
    }

    /// Frees a slot after its exchange; a stream still open is cancelled.
    pub fn release(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        let id = s.stream;
        let open = matches!(s.outcome, Some(Outcome::Pending)) || !s.local_done;
        s.stream = 0;
        s.outcome = None;
        s.waker = None;
        if let Ok(i) = self.open.binary_search_by_key(&id, |(sid, _)| *sid) {
            self.open.remove(i);
            if open && self.dead.is_none() {
                frame::put_rst_stream(&mut self.out, id, frame::CANCEL);
            }
        }
        self.free.push(slot);
        self.wake_capacity();
    }

    fn slot_of(&self, stream: u32) -> Option<usize> {
        self.open
            .binary_search_by_key(&stream, |(sid, _)| *sid)
            .ok()
            .map(|i| self.open[i].1)
    }

    /// Ends a stream's exchange and forgets its id (later frames on it are
    /// ignored).
    fn end(&mut self, slot: usize, outcome: Outcome) {
        let s = &mut self.slots[slot];
        s.finish(outcome);
        if let Ok(i) = self.open.binary_search_by_key(&s.stream, |(sid, _)| *sid) {
            if s.local_done || matches!(outcome, Outcome::Failed(_)) {
                self.open.remove(i);
            }
        }
    }

    /// The connection is over (I/O error, EOF, protocol error): every
    /// stream fails with `kind`.
    pub fn fail(&mut self, kind: ErrorKind) {
        if self.dead.is_none() {
            self.dead = Some(kind);
        }
        for (_, slot) in std::mem::take(&mut self.open) {
            let s = &mut self.slots[slot];
            let before_response = s.status == 0;
            s.finish(Outcome::Failed(StreamError {
                kind,
                before_response,
                refused: false,
                fatal: true,
            }));
        }
        self.wake_capacity();
        self.wake_writer();
        if let Some(w) = &self.reader {
            w.wake_by_ref();
        }
    }

    /// Says GOAWAY as the last frame (every handle is gone).
    pub fn close(&mut self) {
        if !self.closing {
            self.closing = true;
            if self.dead.is_none() {
                frame::put_goaway(&mut self.out, 0, frame::NO_ERROR);
            }
            self.wake_writer();
            if let Some(w) = &self.reader {
                w.wake_by_ref();
            }
        }
    }
}

#[cfg(test)]
mod tests;
