//! The receive side of [`Conn`]: parsing what the peer sent and applying
//! each frame to the streams, windows, settings and HPACK state. The reader
//! task calls [`Conn::receive`]; everything here runs inside it.

use super::frame::{self, Frame};
use super::{Conn, ConnError, Outcome, StreamError, CONNECTION_WINDOW, STREAM_WINDOW};
use crate::error::{ErrorKind, ParseErrorKind};

/// Header blocks (HEADERS + CONTINUATION) longer than this are refused.
const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// REFUSED_STREAM: the peer did not process the stream; safe to retry.
const REFUSED_STREAM: u32 = 0x7;

impl Conn {
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
        // Most responses need only the status and the size: no gRPC, and
        // no tracked header (or a trailer block, where none is tracked).
        // That case gets its own small callback, not the checks per field.
        if !grpc && (had_head || tracked_names.is_empty()) {
            decoder
                .decode(block, |name, value| {
                    bytes += (name.len() + value.len()) as u64;
                    if name == b":status" {
                        status = parse_status(value);
                    }
                })
                .map_err(|_| ConnError(frame::COMPRESSION_ERROR))?;
            return self.head_done(slot, status, bytes, had_head, end_stream);
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
        self.head_done(slot, status, bytes, had_head, end_stream)
    }

    /// Settles a decoded header block of `slot`'s stream: a first head's
    /// status (an informational one waits for the next), the size, the end.
    fn head_done(
        &mut self,
        slot: Option<usize>,
        status: u16,
        bytes: u64,
        had_head: bool,
        end_stream: bool,
    ) -> Result<(), ConnError> {
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
}

fn parse_status(v: &[u8]) -> u16 {
    match v {
        [a, b, c] if v.iter().all(u8::is_ascii_digit) && *a != b'0' => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => 0,
    }
}
