//! A small seedable random number generator (SplitMix64) for fault and toxic
//! draws: fast, deterministic for a given seed (so a run can be replayed),
//! and free of a dependency. Not for anything secret.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// SplitMix64: every seed gives a full-period, well-mixed sequence.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator seeded from the clock and a process-wide counter, so two
    /// generators made in the same instant still differ.
    pub fn from_entropy() -> Rng {
        static SALT: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let salt = SALT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        Rng::seeded(t ^ salt.rotate_left(17))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: f64) -> bool {
        percent >= 100.0 || (percent > 0.0 && self.unit() * 100.0 < percent)
    }

    /// Uniform in [lo, hi] (inclusive; `lo` when the range is empty).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        lo + self.next_u64() % (span + 1)
    }

    /// Uniform duration in [lo, hi], at nanosecond resolution.
    pub fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (a, b) = (lo.as_nanos() as u64, hi.as_nanos() as u64);
        Duration::from_nanos(self.between(a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::seeded(42);
        let mut b = Rng::seeded(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::seeded(1).next_u64(), Rng::seeded(2).next_u64());
    }

    #[test]
    fn percent_share_is_close() {
        let mut r = Rng::seeded(7);
        let hits = (0..100_000).filter(|_| r.percent(10.0)).count();
        assert!((9_500..=10_500).contains(&hits), "{hits}");
        assert!(!r.percent(0.0));
        assert!(r.percent(100.0));
    }

    #[test]
    fn ranges_stay_inside() {
        let mut r = Rng::seeded(3);
        for _ in 0..1000 {
            let v = r.between(5, 9);
            assert!((5..=9).contains(&v));
            let d = r.duration(Duration::from_millis(100), Duration::from_millis(300));
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300));
        }
        assert_eq!(r.between(4, 4), 4);
    }
}
