//! The connection guard's unit tests.

use std::sync::atomic::Ordering;
use std::task::Poll;

use super::clock::{H2_PREFACE, HEAD_STEP};
use super::io::WrittenFrames;
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
fn big_unfinished_heads_are_charged_to_the_listener_until_they_complete() {
    let budget = Arc::new(HeadBudget::new(1, 64 * 1024));
    let a = Arc::new(Clock::with_head_budget(budget.clone()));
    let b = Arc::new(Clock::with_head_budget(budget.clone()));
    // Small heads cost nothing shared.
    assert!(a.on_read(&[b'a'; HEAD_FREE]));
    assert_eq!(budget.held(), 0);
    // Past the free part, charges come in steps; the budget caps them.
    assert!(a.on_read(&[b'a'; 40 * 1024]));
    assert_eq!(budget.held(), 48 * 1024);
    assert!(b.on_read(&[b'b'; HEAD_FREE + 1]));
    assert_eq!(budget.held(), 64 * 1024);
    assert!(!b.on_read(&[b'b'; HEAD_STEP]));
    // A finished head gives its charge back; so does a closed connection.
    drop(a.request_started());
    assert_eq!(budget.held(), 16 * 1024);
    assert!(b.on_read(&[b'b'; HEAD_STEP]));
    drop(b);
    assert_eq!(budget.held(), 0);
}

#[test]
fn idle_means_nothing_in_flight_and_no_partial_head() {
    let c = Arc::new(Clock::default());
    assert!(c.idle_since().is_some(), "silent since the accept");
    c.on_read(b"GET / HTTP/1.1\r\n");
    assert!(c.idle_since().is_none(), "mid-head");
    let req = c.request_started();
    assert!(c.idle_since().is_none(), "in flight");
    drop(req);
    assert!(c.idle_since().is_some(), "keep-alive, between requests");
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
