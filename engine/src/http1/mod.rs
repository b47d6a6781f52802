//! The HTTP/1.1 client codec, pure: it encodes requests and parses responses
//! from byte slices and never touches a socket (the loop that runs it over a
//! connection is `crate::drive::http1`).
//!
//! [`ResponseReader`] ties head parsing and body framing together; it is fed
//! whatever bytes have arrived and reports how many it consumed and whether a
//! response is complete, so any split of the input gives the same result.

pub mod body;
pub mod request;
pub mod response;
pub mod status;
pub mod url;

use body::BodyDecoder;
use response::parse_head;

use crate::error::ParseErrorKind;

/// The end of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete {
    pub status: u16,
    /// False when the server asked to close or the body ran to the close.
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body {
        status: u16,
        keep_alive: bool,
        body: BodyDecoder,
    },
}

/// Incremental reader of one response at a time.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    phase: Phase,
    head_request: bool,
}

/// The result of feeding bytes to a [`ResponseReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advance {
    /// Bytes consumed from the front of the input; the rest must be fed again
    /// (with more appended) while the head is incomplete, or belongs to the
    /// next response once this one is complete.
    pub consumed: usize,
    pub complete: Option<Complete>,
    /// The status, as soon as the final head is parsed.
    pub status: Option<u16>,
}

impl ResponseReader {
    /// A reader for the response to a request; `head_request` for HEAD.
    pub fn new(head_request: bool) -> ResponseReader {
        ResponseReader {
            phase: Phase::Head,
            head_request,
        }
    }

    /// Forgets any partial response (before a new request).
    pub fn reset(&mut self) {
        self.phase = Phase::Head;
    }

    /// True once the head is parsed (a response has started).
    pub fn in_body(&self) -> bool {
        matches!(self.phase, Phase::Body { .. })
    }

    /// Feeds `data`; calls `on_tracked(status, i, value)` for tracked headers
    /// of the final head (see [`response::parse_head`]).
    pub fn advance<F: FnMut(u16, usize, &[u8])>(
        &mut self,
        data: &[u8],
        tracked: &[Box<[u8]>],
        mut on_tracked: F,
    ) -> Result<Advance, ParseErrorKind> {
        let mut consumed = 0;
        let mut status = None;
        loop {
            match &mut self.phase {
                Phase::Head => {
                    let rest = &data[consumed..];
                    let Some(head) = parse_head(rest, self.head_request, tracked, &mut on_tracked)?
                    else {
                        return Ok(Advance {
                            consumed,
                            complete: None,
                            status,
                        });
                    };
                    if head.is_interim() {
                        consumed += head.len;
                        continue;
                    }
                    consumed += head.len;
                    status = Some(head.status);
                    let body = BodyDecoder::new(head.body);
                    self.phase = Phase::Body {
                        status: head.status,
                        keep_alive: head.keep_alive,
                        body,
                    };
                }
                Phase::Body {
                    status: code,
                    keep_alive,
                    body,
                } => {
                    consumed += body.feed(&data[consumed..])?;
                    if body.is_done() {
                        let done = Complete {
                            status: *code,
                            keep_alive: *keep_alive,
                        };
                        self.phase = Phase::Head;
                        return Ok(Advance {
                            consumed,
                            complete: Some(done),
                            status,
                        });
                    }
                    return Ok(Advance {
                        consumed,
                        complete: None,
                        status,
                    });
                }
            }
        }
    }

    /// The connection closed: completes a read-to-close body, else `None`
    /// (the response was cut short).
    pub fn finish_on_eof(&mut self) -> Option<Complete> {
        let Phase::Body { status, body, .. } = &mut self.phase else {
            return None;
        };
        if !body.finish_on_eof() {
            return None;
        }
        let done = Complete {
            status: *status,
            keep_alive: false,
        };
        self.phase = Phase::Head;
        Some(done)
    }
}

#[cfg(test)]
mod tests;
