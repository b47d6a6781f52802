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
//! hyper's own header timeout is not used: it also runs between keep-alive
//! requests, so it could not give a short header timeout and a longer idle
//! one, and it does not apply to HTTP/2.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The timing state of one connection (milliseconds since its accept, plus
/// one so that zero means "not set").
#[derive(Debug)]
pub struct Clock {
    /// [`coarse_ms`] at the accept.
    start: u64,
    in_flight: AtomicU32,
    /// When the current request head started to be awaited with bytes (or
    /// the accept, for the first); 0 while none is pending.
    head_since: AtomicU64,
    /// The last request end or response byte written.
    last_use: AtomicU64,
    /// HTTP/2: streams are counted, heads are hyper's business.
    h2: AtomicBool,
    first_read: AtomicBool,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            start: coarse_ms(),
            in_flight: AtomicU32::new(0),
            head_since: AtomicU64::new(1),
            last_use: AtomicU64::new(1),
            h2: AtomicBool::new(false),
            first_read: AtomicBool::new(true),
        }
    }
}

impl Clock {
    fn now(&self) -> u64 {
        coarse_ms().saturating_sub(self.start) + 1
    }

    /// A request's head is complete and its handler runs.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_since.store(0, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn on_read(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // A plain load first: the swap (a locked instruction) runs once.
        if self.first_read.load(Ordering::Relaxed) && self.first_read.swap(false, Ordering::SeqCst)
        {
            let n = bytes.len().min(H2_PREFACE.len());
            if bytes[..n] == H2_PREFACE[..n] {
                self.h2.store(true, Ordering::SeqCst);
                self.head_since.store(0, Ordering::SeqCst);
                return;
            }
        }
        if self.h2.load(Ordering::Relaxed) || self.in_flight.load(Ordering::SeqCst) > 0 {
            return;
        }
        let now = self.now();
        let _ = self
            .head_since
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
    }

    fn on_write(&self) {
        self.last_use.store(self.now(), Ordering::Relaxed);
    }

    /// `Err` when the connection has expired, else how long until it may.
    pub fn check(&self, t: &ConnTimeouts) -> Result<Duration, Expired> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            // Handlers have their own timeouts; look again later.
            return Ok(t.header.min(t.idle));
        }
        let now = self.now();
        let left = |since: u64, limit: Duration| {
            let limit = limit.as_millis() as u64;
            (since + limit).checked_sub(now).filter(|l| *l > 0)
        };
        let head_since = self.head_since.load(Ordering::SeqCst);
        if head_since != 0 {
            return left(head_since, t.header)
                .map(Duration::from_millis)
                .ok_or(Expired::Header);
        }
        let last = self.last_use.load(Ordering::Relaxed);
        left(last, t.idle)
            .map(Duration::from_millis)
            .ok_or(Expired::Idle)
    }
}

/// Milliseconds of a monotonic clock with the resolution these timeouts
/// need. On Linux the coarse clock (the kernel's tick, 1-4 ms) is read
/// without the TSC: a connection reads it about three times a request, and
/// its timeouts are seconds.
#[cfg(target_os = "linux")]
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } == 0 {
        return ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000;
    }
    instant_ms()
}

#[cfg(not(target_os = "linux"))]
fn coarse_ms() -> u64 {
    instant_ms()
}

/// Milliseconds since the first call (the fallback clock).
fn instant_ms() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Held while a request is handled; its end counts as use.
#[derive(Debug)]
pub struct InFlight(Arc<Clock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.on_write();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
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

/// Which of [`first_of`]'s futures finished.
pub enum First<A, B> {
    Main(A),
    Side(B),
}

/// Runs `main` and `side` until one finishes, polling `main` on every wake
/// but `side` only after one of its own wakers fired. A connection's
/// timeout watch and close signal are `side`: with `tokio::select!` they
/// were polled on every wake of the connection, about 300 instructions a
/// request for futures that fire once a connection at most.
pub fn first_of<'a, A, B>(main: Pin<&'a mut A>, side: Pin<&'a mut B>) -> FirstOf<'a, A, B>
where
    A: Future + ?Sized,
    B: Future + ?Sized,
{
    FirstOf {
        main,
        side,
        wake: Arc::new(SideWake {
            // The first poll polls `side` too, so it can arm its wakers.
            fired: AtomicBool::new(true),
            task: Mutex::new(None),
        }),
    }
}

pub struct FirstOf<'a, A: ?Sized, B: ?Sized> {
    main: Pin<&'a mut A>,
    side: Pin<&'a mut B>,
    wake: Arc<SideWake>,
}

/// The waker `side` sees: notes that it fired, then wakes the task.
struct SideWake {
    fired: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::SeqCst);
        if let Some(w) = self.task.lock().as_ref() {
            w.wake_by_ref();
        }
    }
}

impl<A, B> Future for FirstOf<'_, A, B>
where
    A: Future + ?Sized,
    B: Future + ?Sized,
{
    type Output = First<A::Output, B::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(v) = this.main.as_mut().poll(cx) {
            return Poll::Ready(First::Main(v));
        }
        // Stored before `fired` is read: a wake in between then finds the task.
        {
            let mut task = this.wake.task.lock();
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if this.wake.fired.swap(false, Ordering::SeqCst) {
            let waker = Waker::from(this.wake.clone());
            if let Poll::Ready(v) = this.side.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(First::Side(v));
            }
        }
        Poll::Pending
    }
}

/// A stream that tells its [`Clock`] when bytes arrive and leave.
pub struct GuardedIo<S> {
    inner: S,
    clock: Arc<Clock>,
    frames: WrittenFrames,
}

impl<S> GuardedIo<S> {
    pub fn new(inner: S, clock: Arc<Clock>) -> Self {
        GuardedIo {
            inner,
            clock,
            frames: WrittenFrames::default(),
        }
    }

    /// `n` bytes of `bufs` were written: use, unless this is HTTP/2 and
    /// none of them belongs to a response frame.
    fn wrote<'a>(&mut self, n: usize, bufs: impl Iterator<Item = &'a [u8]>) {
        if n == 0 {
            return;
        }
        if !self.clock.h2.load(Ordering::Relaxed) {
            self.clock.on_write();
            return;
        }
        let mut left = n;
        let mut progress = false;
        for b in bufs {
            if left == 0 {
                break;
            }
            let take = b.len().min(left);
            progress |= self.frames.feed(&b[..take]);
            left -= take;
        }
        if progress {
            self.clock.on_write();
        }
    }
}

/// Follows the frame boundaries of what the server writes on an HTTP/2
/// connection (a frame may be split over writes), to tell response frames
/// from control frames.
#[derive(Default)]
struct WrittenFrames {
    head: [u8; 9],
    head_len: usize,
    /// Payload bytes of the current frame not yet written.
    payload_left: usize,
    /// Whether the current frame is a response frame.
    response: bool,
}

impl WrittenFrames {
    /// Feeds written bytes; true when some belong to a response frame.
    fn feed(&mut self, mut b: &[u8]) -> bool {
        let mut progress = false;
        while !b.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(b.len());
                self.payload_left -= n;
                progress |= self.response;
                b = &b[n..];
                continue;
            }
            let n = (9 - self.head_len).min(b.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&b[..n]);
            self.head_len += n;
            b = &b[n..];
            if self.head_len == 9 {
                self.head_len = 0;
                let h = &self.head;
                self.payload_left =
                    (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
                // DATA, HEADERS, CONTINUATION.
                self.response = matches!(h[3], 0x0 | 0x1 | 0x9);
                progress |= self.response;
            }
        }
        progress
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.clock.on_read(&buf.filled()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n, std::iter::once(buf));
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n, bufs.iter().map(|b| &**b));
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: ConnTimeouts = ConnTimeouts {
        header: Duration::from_millis(40),
        idle: Duration::from_millis(400),
        body: Duration::from_secs(1),
        h2_ping: Duration::from_secs(1),
    };

    fn wait(ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    #[test]
    fn a_new_connection_owes_its_head_within_the_header_timeout() {
        let c = Clock::default();
        assert!(c.check(&T).is_ok());
        wait(60);
        assert_eq!(c.check(&T), Err(Expired::Header));
    }

    #[test]
    fn between_requests_the_idle_timeout_applies_until_bytes_arrive() {
        let c = Arc::new(Clock::default());
        c.on_read(b"GET / HTTP/1.1\r\n\r\n");
        drop(c.request_started());
        wait(60);
        // Idle, not mid-head: still fine past the header timeout.
        assert!(c.check(&T).is_ok());
        c.on_read(b"GET /");
        wait(60);
        assert_eq!(c.check(&T), Err(Expired::Header));
    }

    #[test]
    fn requests_in_flight_never_expire_and_idle_ends_it() {
        let c = Arc::new(Clock::default());
        c.on_read(b"GET / HTTP/1.1\r\n\r\n");
        let req = c.request_started();
        wait(60);
        assert!(c.check(&T).is_ok());
        drop(req);
        assert!(c.check(&T).is_ok());
        let t = ConnTimeouts {
            idle: Duration::from_millis(30),
            ..T
        };
        wait(50);
        assert_eq!(c.check(&t), Err(Expired::Idle));
    }

    #[tokio::test]
    async fn first_of_polls_the_side_only_when_it_woke() {
        let polls = std::sync::atomic::AtomicU32::new(0);
        let side = std::pin::pin!(async {
            polls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            polls.fetch_add(1, Ordering::SeqCst);
            "side"
        });
        // The main future wakes itself 20 times before the side fires.
        let mut spins = 0;
        let main = std::pin::pin!(std::future::poll_fn(|cx| {
            spins += 1;
            if spins < 20 {
                cx.waker().wake_by_ref();
            }
            Poll::<()>::Pending
        }));
        match tokio::time::timeout(Duration::from_secs(5), first_of(main, side)).await {
            Ok(First::Side(v)) => assert_eq!(v, "side"),
            _ => panic!("the side future never finished"),
        }
        // Once to arm its timer, once when the timer fired.
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        let mut ready = std::pin::pin!(async { 7 });
        let never = std::pin::pin!(std::future::pending::<()>());
        assert!(matches!(
            first_of(ready.as_mut(), never).await,
            First::Main(7)
        ));
    }

    #[test]
    fn only_http2_response_frames_count_as_use_even_when_split() {
        let mut f = WrittenFrames::default();
        // PING (8 bytes), split inside its head and its payload.
        let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        assert!(!f.feed(&ping[..4]));
        assert!(!f.feed(&ping[4..12]));
        assert!(!f.feed(&ping[12..]));
        // SETTINGS ack then WINDOW_UPDATE in one write: control only.
        let mut w = vec![0, 0, 0, 4, 1, 0, 0, 0, 0];
        w.extend_from_slice(&[0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert!(!f.feed(&w));
        // DATA (3 bytes) after a PING, then its payload alone.
        let mut d = ping.to_vec();
        d.extend_from_slice(&[0, 0, 3, 0, 1, 0, 0, 0, 1]);
        assert!(f.feed(&d));
        assert!(f.feed(b"abc"));
        assert!(!f.feed(&ping));
    }

    #[test]
    fn http2_pings_do_not_start_a_head() {
        let c = Clock::default();
        c.on_read(&H2_PREFACE[..10]);
        c.on_read(b"ping frame bytes");
        wait(60);
        assert!(c.check(&T).is_ok());
        let t = ConnTimeouts {
            idle: Duration::from_millis(30),
            ..T
        };
        assert_eq!(c.check(&t), Err(Expired::Idle));
    }
}
