//! Sleeps for injected delays (responder delays, latency toxics) that end
//! at their deadline, not a tick later. tokio's timer rounds a deadline up
//! to the next whole millisecond and its driver parks in whole milliseconds,
//! so a plain sleep ends about 1.1 ms late on an idle box, and a deadline
//! already reached still waits for the next tick (another ~1.1 ms). Measured
//! on the 2-core box: plain 20 ms sleeps +1.14 ms at p50; timer aimed half a
//! tick early, +0.26 ms.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};

/// Half a timer tick: the timer is aimed this much early, and the rest is
/// waited out by yielding (never early; at most this long of polling).
const AIM_EARLY: Duration = Duration::from_micros(500);

/// Waits until `at`; returns at once when it has passed.
pub async fn sleep_until_due(at: Instant) {
    if let Some(aim) = at.checked_sub(AIM_EARLY) {
        if aim > Instant::now() {
            sleep_until(aim).await;
        }
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

/// Waits `d` from now (nothing for zero).
pub async fn sleep_for(d: Duration) {
    if !d.is_zero() {
        sleep_until_due(Instant::now() + d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lands_near_the_deadline_and_skips_past_ones() {
        let start = Instant::now();
        sleep_until_due(start).await;
        sleep_for(Duration::ZERO).await;
        // No timer tick was waited for.
        assert!(start.elapsed() < Duration::from_millis(50));
        let start = Instant::now();
        sleep_for(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
