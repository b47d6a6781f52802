//! Folding old invocations: past [`KEPT_INVOCATIONS`] finished ones, the
//! oldest are merged into one record of per-target totals and dropped, so a
//! long-lived client's memory stays bounded however often it is invoked.
//! A finished invocation kept one by one holds its final stats (three
//! latency histograms per target, [`compact`]ed from about 0.55 MB to what
//! their values need, often some tens of kB) and its intervals; the record
//! holds one set of stats per target for all the folded ones.

use goto_engine::TargetStats;
use hdrhistogram::Histogram;

use super::state::{Inner, Invocation};

/// Finished invocations kept one by one (in `/client/results/invocations`,
/// with their timelines); past it the oldest are merged into the folded
/// record, which `/client/results` and `/metrics` still count.
pub const KEPT_INVOCATIONS: usize = 50;

/// The folded record's id; invocations count from 1.
pub const FOLDED_ID: u64 = 0;

impl Inner {
    /// Settles the finished invocations (letting their runs go) and folds
    /// the oldest past [`KEPT_INVOCATIONS`] into the record; true when some
    /// memory was let go.
    pub(super) fn fold_old(&mut self) -> bool {
        let mut finished = Vec::new();
        let mut settled = false;
        for (id, inv) in &self.invocations {
            let mut g = inv.lock();
            settled |= g.settle();
            if g.is_finished() {
                finished.push(*id);
            }
        }
        let excess = finished.len().saturating_sub(KEPT_INVOCATIONS);
        if excess > 0 {
            let mut record = self.folded.lock();
            for id in &finished[..excess] {
                if let Some(inv) = self.invocations.remove(id) {
                    record.absorb(&mut inv.lock());
                }
            }
        }
        settled || excess > 0
    }
}

impl Invocation {
    /// The empty record the folded invocations are merged into.
    pub(super) fn folded_record() -> Invocation {
        Invocation::finished(FOLDED_ID)
    }
}

/// Shrinks a finished target's histograms to the buckets their values
/// reach: the engine's span a full hour at 3 significant figures (23,552
/// counters, 184 KB each) whatever they hold. Same low bound and precision,
/// so every count and percentile reads the same, and merging them into
/// full-size ones is exact.
pub(super) fn compact(stats: &mut TargetStats) {
    shrink(&mut stats.latency);
    shrink(&mut stats.latency_uncorrected);
    shrink(&mut stats.schedule_lag);
    if let Some(h) = &mut stats.time_to_first_message {
        shrink(h);
    }
}

fn shrink(h: &mut Histogram<u64>) {
    if h.low() != 1 {
        return;
    }
    // `new` sizes itself to the values added (auto-resize).
    let Ok(mut small) = Histogram::<u64>::new(h.sigfig()) else {
        return;
    };
    if small.add(&*h).is_ok() && small.len() == h.len() && small.high() < h.high() {
        *h = small;
    }
}

/// Hands freed memory back to the system: glibc keeps the freed blocks of
/// folded histograms (and of the per-thread arenas the cores and samplers
/// allocated them in) mapped otherwise, so RSS would not go down.
pub(super) fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; it
    // touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_histograms_read_the_same_and_merge_exactly() {
        let mut st = TargetStats::new();
        for v in [120, 950, 1_000, 4_321, 77_000] {
            st.latency.record(v).ok();
            st.schedule_lag.record(v / 10).ok();
        }
        let before = st.clone();
        compact(&mut st);
        assert!(st.latency.high() < before.latency.high() / 1000);
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                st.latency.value_at_quantile(q),
                before.latency.value_at_quantile(q)
            );
        }
        assert_eq!(st.schedule_lag.len(), 5);
        assert_eq!(st.latency_uncorrected.len(), 0);
        let mut total = TargetStats::new();
        total.merge(&st);
        total.merge(&before);
        assert_eq!(total.latency.len(), 10);
        assert_eq!(total.latency.max(), before.latency.max());
    }
}
