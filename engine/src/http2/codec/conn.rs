//! One client HTTP/2 connection's protocol state, without I/O: the streams
//! (a slab of slots, reused), both directions' flow-control windows, the
//! peer's settings, the HPACK decoder, which of our requests' fields the
//! peer's HPACK table holds, and the bytes to send next. The
//! reader feeds it what arrives ([`Conn::receive`]); streams open requests
//! and wait on their slot; the writer takes [`Conn::out`]. Single-threaded:
//! the I/O tasks and streams share it through a `RefCell`, never borrowed
//! across an await.

use std::task::Waker;

use super::frame::{self, Frame, FrameError};
use super::hpack::{put_size_update, Decoder, Indexed, TABLE_SIZE};
pub use super::slot::{Outcome, Slot, StreamError};
use crate::error::{ErrorKind, ParseErrorKind};

/// The windows we give the peer: large, so bodies of a few MB flow without
/// waiting for our updates.
pub const STREAM_WINDOW: u32 = 1 << 20;
pub const CONNECTION_WINDOW: u32 = 8 << 20;
/// Header blocks (HEADERS + CONTINUATION) longer than this are refused.
const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// REFUSED_STREAM: the peer did not process the stream; safe to retry.
const REFUSED_STREAM: u32 = 0x7;
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
        let max_frame = self.peer_max_frame as usize;
        let s = &mut self.slots[slot];
        if s.local_done || !matches!(s.outcome, Some(Outcome::Pending)) {
            return true;
        }
        loop {
            let left = body.len() - *sent;
            let room = self.send_window.min(s.send_window).max(0) as usize;
            let n = left.min(room).min(max_frame);
            if n == 0 && left > 0 {
                return false;
            }
            let end = n == left;
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

    /// Handles the frames at the start of `buf`; returns how many bytes
    /// were used (a partial frame waits for more).
    pub fn receive(&mut self, buf: &[u8]) -> Result<usize, ConnError> {
        let mut used = 0;
        let r = loop {
            match frame::parse(&buf[used..], frame::DEFAULT_MAX_FRAME) {
                Ok(Some((f, n))) => {
                    used += n;
                    if let Err(e) = self.handle(f) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(used),
                Err(e) => break Err(e.into()),
            }
        };
        self.flush_window();
        if let Err(ConnError(code)) = r {
            let last = self.open.last().map_or(0, |(sid, _)| *sid);
            frame::put_goaway(&mut self.out, last, code);
            self.fail(ErrorKind::Parse(ParseErrorKind::InvalidHead));
        }
        self.wake_writer();
        r
    }

    fn handle(&mut self, f: Frame<'_>) -> Result<(), ConnError> {
        if let Some((sid, _)) = self.continuing {
            if !matches!(f, Frame::Continuation { stream, .. } if stream == sid) {
                return Err(ConnError(frame::PROTOCOL_ERROR));
            }
        }
        match f {
            Frame::Data {
                stream,
                data,
                flow,
                end,
            } => self.data(stream, data, flow, end),
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
            } => {
                if end_headers {
                    return self.headers(stream, block, end_stream);
                }
                self.block.clear();
                self.block.extend_from_slice(block);
                self.continuing = Some((stream, end_stream));
                Ok(())
            }
            Frame::Continuation {
                block, end_headers, ..
            } => {
                let Some((stream, end_stream)) = self.continuing else {
                    return Err(ConnError(frame::PROTOCOL_ERROR));
                };
                if self.block.len() + block.len() > MAX_HEADER_BLOCK {
                    return Err(ConnError(frame::PROTOCOL_ERROR));
                }
                self.block.extend_from_slice(block);
                if !end_headers {
                    return Ok(());
                }
                self.continuing = None;
                let whole = std::mem::take(&mut self.block);
                let r = self.headers(stream, &whole, end_stream);
                self.block = whole;
                r
            }
            Frame::RstStream { stream, code } => {
                if let Some(slot) = self.slot_of(stream) {
                    let before_response = self.slots[slot].status == 0;
                    self.end(
                        slot,
                        Outcome::Failed(StreamError {
                            kind: ErrorKind::Reset,
                            before_response,
                            refused: code == REFUSED_STREAM,
                            fatal: false,
                        }),
                    );
                }
                Ok(())
            }
            Frame::Settings { ack: true, .. } => Ok(()),
            Frame::Settings { ack: false, pairs } => self.settings(pairs),
            Frame::Ping { ack: false, data } => {
                self.queue_ack()?;
                frame::put_ping_ack(&mut self.out, &data);
                Ok(())
            }
            Frame::Ping { ack: true, .. } | Frame::Other => Ok(()),
            // We said SETTINGS_ENABLE_PUSH 0.
            Frame::PushPromise { .. } => Err(ConnError(frame::PROTOCOL_ERROR)),
            Frame::GoAway { last_stream, .. } => {
                self.goaway = Some(self.goaway.map_or(last_stream, |l| l.min(last_stream)));
                // Rare: a small allocation is fine here.
                let above: Vec<usize> = self
                    .open
                    .iter()
                    .filter(|(sid, _)| *sid > last_stream)
                    .map(|(_, s)| *s)
                    .collect();
                for slot in above {
                    self.end(
                        slot,
                        Outcome::Failed(StreamError {
                            kind: ErrorKind::Closed,
                            before_response: true,
                            refused: true,
                            fatal: true,
                        }),
                    );
                }
                self.wake_capacity();
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => self.window_update(stream, increment),
        }
    }

    fn data(&mut self, stream: u32, data: &[u8], flow: u32, end: bool) -> Result<(), ConnError> {
        self.recv_unacked += flow;
        let Some(slot) = self.slot_of(stream) else {
            return Ok(());
        };
        let s = &mut self.slots[slot];
        if s.status == 0 {
            // DATA before the response head.
            return Err(ConnError(frame::PROTOCOL_ERROR));
        }
        s.bytes += data.len() as u64;
        s.recv_unacked += flow;
        if self.grpc {
            s.deframer.feed(data);
            if s.first_message.is_none() && s.deframer.messages > 0 {
                s.first_message = Some(std::time::Instant::now());
            }
        }
        if end {
            self.end(slot, Outcome::Done);
        } else if s.recv_unacked >= STREAM_WINDOW / 2 {
            // The body is consumed as it arrives: give the window back.
            let n = std::mem::take(&mut s.recv_unacked);
            frame::put_window_update(&mut self.out, stream, n);
        }
        Ok(())
    }

    /// Returns the connection window in batches of half of it.
    fn flush_window(&mut self) {
        if self.recv_unacked >= CONNECTION_WINDOW / 2 && self.dead.is_none() {
            frame::put_window_update(&mut self.out, 0, self.recv_unacked);
            self.recv_unacked = 0;
        }
    }

    fn headers(&mut self, stream: u32, block: &[u8], end_stream: bool) -> Result<(), ConnError> {
        let slot = self.slot_of(stream);
        let mut status = 0u16;
        let mut bytes = 0u64;
        let Conn {
            decoder,
            slots,
            tracked_names,
            grpc,
            ..
        } = self;
        let grpc = *grpc;
        let mut s = slot.map(|i| &mut slots[i]);
        let had_head = s.as_ref().is_some_and(|s| s.status != 0);
        if let Some(s) = s.as_deref_mut() {
            if !had_head {
                s.tracked.clear();
                s.values.clear();
            }
        }
        decoder
            .decode(block, |name, value| {
                bytes += (name.len() + value.len()) as u64;
                if name == b":status" {
                    status = parse_status(value);
                    return;
                }
                let Some(s) = s.as_deref_mut() else { return };
                // gRPC status comes in the trailers, or in the only head.
                if grpc && name == b"grpc-status" {
                    s.grpc_status = crate::grpc::parse_status(value);
                    return;
                }
                if grpc && name == b"grpc-message" {
                    s.grpc_message.clear();
                    s.grpc_message.extend_from_slice(value);
                    return;
                }
                if had_head {
                    return;
                }
                if let Some(i) = tracked_names.iter().position(|n| **n == *name) {
                    let start = s.values.len() as u32;
                    s.values.extend_from_slice(value);
                    s.tracked.push((i, start, s.values.len() as u32));
                }
            })
            .map_err(|_| ConnError(frame::COMPRESSION_ERROR))?;
        let Some(slot) = slot else {
            return Ok(());
        };
        let s = &mut self.slots[slot];
        s.bytes += bytes;
        if !had_head {
            if (100..200).contains(&status) {
                // An informational head: the final one follows, so it
                // cannot end the stream.
                if end_stream {
                    return Err(ConnError(frame::PROTOCOL_ERROR));
                }
                s.tracked.clear();
                s.values.clear();
                return Ok(());
            }
            if status == 0 {
                return Err(ConnError(frame::PROTOCOL_ERROR));
            }
            s.status = status;
        }
        if end_stream {
            self.end(slot, Outcome::Done);
        }
        Ok(())
    }

    fn settings(&mut self, pairs: &[u8]) -> Result<(), ConnError> {
        self.queue_ack()?;
        for (id, value) in frame::settings(pairs) {
            match id {
                frame::SETTINGS_MAX_CONCURRENT_STREAMS => self.peer_max_streams = value,
                frame::SETTINGS_INITIAL_WINDOW_SIZE => {
                    if value > frame::MAX_WINDOW {
                        return Err(ConnError(frame::FLOW_CONTROL_ERROR));
                    }
                    let delta = i64::from(value) - self.peer_window;
                    self.peer_window = i64::from(value);
                    for (_, slot) in &self.open {
                        self.slots[*slot].send_window += delta;
                    }
                }
                frame::SETTINGS_MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME..=frame::MAX_MAX_FRAME).contains(&value) {
                        return Err(ConnError(frame::PROTOCOL_ERROR));
                    }
                    self.peer_max_frame = value;
                }
                frame::SETTINGS_HEADER_TABLE_SIZE => {
                    let limit = value as usize;
                    if limit < self.table_limit {
                        // The next block empties the table and says so;
                        // requests index again only if they still fit.
                        self.table_limit = limit;
                        self.size_update = Some(limit);
                        self.primed = None;
                    }
                }
                _ => {}
            }
        }
        frame::put_settings_ack(&mut self.out);
        self.wake_capacity();
        self.wake_senders();
        Ok(())
    }

    fn window_update(&mut self, stream: u32, increment: u32) -> Result<(), ConnError> {
        if stream == 0 {
            self.send_window += i64::from(increment);
            if self.send_window > i64::from(frame::MAX_WINDOW) {
                return Err(ConnError(frame::FLOW_CONTROL_ERROR));
            }
            self.wake_senders();
        } else if let Some(slot) = self.slot_of(stream) {
            let s = &mut self.slots[slot];
            s.send_window += i64::from(increment);
            if let Some(w) = &s.waker {
                w.wake_by_ref();
            }
        }
        Ok(())
    }

    /// Wakes the streams that may be waiting for window to send a body.
    fn wake_senders(&mut self) {
        for (_, slot) in &self.open {
            let s = &self.slots[*slot];
            if !s.local_done {
                if let Some(w) = &s.waker {
                    w.wake_by_ref();
                }
            }
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

fn parse_status(v: &[u8]) -> u16 {
    match v {
        [a, b, c] if v.iter().all(u8::is_ascii_digit) && *a != b'0' => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => 0,
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
