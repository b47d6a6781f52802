//! Per-connection timeouts of the listeners, for HTTP/1.1 and HTTP/2 alike:
//! [`GuardedIo`] wraps a connection's stream and notes when bytes move,
//! [`Clock`] counts the requests in flight, and [`watch`] resolves when the
//! connection must go:
//! - a request head (from the accept, or from the first byte after the last
//!   response) not complete within the header timeout (slowloris);
//! - nothing in flight and no byte written for the idle timeout (idle
//!   keep-alive). On HTTP/2 only response frames (HEADERS, DATA,
//!   CONTINUATION) count as use, not PING, SETTINGS or WINDOW_UPDATE: a
//!   client that opens a stream, advertises a zero window and answers pings
//!   is cut like an idle one (its stalled response makes no progress).
//!
//! [`Clock`] also tells the connection cap whether the connection is idle
//! (so it may be closed to make room), and charges the bytes of an
//! unfinished request head past [`HEAD_FREE`] to the listener's
//! [`HeadBudget`]: a read that would pass it fails the connection, which
//! [`GuardedIo`] answers with a 431 before closing.
//!
//! hyper's own header timeout is not used: it also runs between keep-alive
//! requests, so it could not give a short header timeout and a longer idle
//! one, and it does not apply to HTTP/2.

mod clock;
mod first;
mod io;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use clock::{Clock, HeadBudget, InFlight, HEAD_FREE};
pub use first::{first_of, First, FirstOf};
pub use io::GuardedIo;

/// The listeners' timeouts (`--header-timeout`, `--idle-timeout`,
/// `--body-timeout`, `--h2-ping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnTimeouts {
    /// From the accept (or the first byte after a response) to a complete head.
    pub header: Duration,
    /// Nothing in flight and nothing written.
    pub idle: Duration,
    /// A runtime or admin request body, from its head to its last byte.
    pub body: Duration,
    /// HTTP/2 keep-alive ping interval; a peer not answering one within the
    /// same time is dropped.
    pub h2_ping: Duration,
}

/// `--header-timeout`'s default.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// `--idle-timeout`'s default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// `--body-timeout`'s default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// `--h2-ping`'s default.
pub const H2_PING: Duration = Duration::from_secs(30);

impl Default for ConnTimeouts {
    fn default() -> Self {
        ConnTimeouts {
            header: HEADER_TIMEOUT,
            idle: IDLE_TIMEOUT,
            body: BODY_TIMEOUT,
            h2_ping: H2_PING,
        }
    }
}

/// Why [`watch`] ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    Header,
    Idle,
}

/// Resolves when the connection has expired; re-checks at each deadline.
pub async fn watch(clock: Arc<Clock>, t: ConnTimeouts) -> Expired {
    loop {
        match clock.check(&t) {
            Ok(wait) => tokio::time::sleep(wait.max(Duration::from_millis(10))).await,
            Err(why) => return why,
        }
    }
}
