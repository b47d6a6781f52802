//! Polling with a deadline, the tests' alternative to fixed sleeps.

use std::time::{Duration, Instant};

/// Polls `f` every 10 ms until it returns true or `within` elapses; returns
/// whether it did (the last call is made at or after the deadline).
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
