//! Counters and latency histograms.
//!
//! [`CoreStats`] (in `per_core`) is what one core records into for one target of
//! one run: plain integers, arrays and a histogram, touched by that core
//! only, so the hot path has no lock, no atomic and no allocation (except the
//! first time a tracked header value is seen). [`TargetStats`] (in `merged`)
//! is the public, merged view built from it when someone reads. This module
//! holds what both share: the histogram bounds and the tracked-value limits.

use hdrhistogram::Histogram;

mod merged;
mod per_core;
#[cfg(test)]
mod tests;

pub use merged::TargetStats;
pub(crate) use per_core::{Attempted, Attempts, CoreStats, OpenConn};

/// Highest latency a histogram holds (1 hour, in microseconds); more saturates.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Distinct values kept per tracked header per core; more are counted under
/// [`OTHER_VALUES`] so a header carrying ids cannot grow memory without end.
pub const MAX_TRACKED_VALUES: usize = 10_000;
/// The key that collects tracked values beyond [`MAX_TRACKED_VALUES`].
pub const OTHER_VALUES: &str = "<other>";

/// A new, empty latency histogram in microseconds (3 significant figures).
pub fn latency_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts: no input can make this fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

/// Adds `from` into `into` (shared by the merge and the per-core snapshot).
fn add_histogram(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both sides use the same bounds, so add cannot fail; if it ever did,
    // fall back to per-value saturating records rather than lose the data.
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}
