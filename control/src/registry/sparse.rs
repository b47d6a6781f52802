//! A compact latency histogram for folded aggregates: only the buckets
//! that hold counts, as (bucket value, count) sorted by value. A second of
//! a merged timeline holds a few hundred buckets, not the tens of thousands
//! a dense HDR histogram allocates; counts add and subtract exactly, and a
//! read takes percentiles straight from the buckets, with the very figures
//! a dense histogram holding the same counts would give.

use goto_engine::{Histogram, LatencySummary};

/// Sorted (highest equivalent value of a bucket, count) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sparse {
    buckets: Vec<(u64, u64)>,
}

impl Sparse {
    /// The recorded buckets of a dense histogram.
    pub fn of(h: &Histogram<u64>) -> Sparse {
        Sparse {
            buckets: h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Adds (`sign` true) or takes out `other`'s counts; a bucket that
    /// reaches zero goes away, so adding then taking out restores exactly.
    pub fn apply(&mut self, other: &Sparse, add: bool) {
        if other.buckets.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.buckets.len().max(other.buckets.len()));
        let (mut a, mut b) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&(va, ca)), Some(&&(vb, cb))) if va == vb => {
                    a.next();
                    b.next();
                    (
                        va,
                        if add {
                            ca.saturating_add(cb)
                        } else {
                            ca.saturating_sub(cb)
                        },
                    )
                }
                (Some(&&(va, ca)), Some(&&(vb, _))) if va < vb => {
                    a.next();
                    (va, ca)
                }
                (_, Some(&&(vb, cb))) => {
                    b.next();
                    (vb, if add { cb } else { 0 })
                }
                (Some(&&x), None) => {
                    a.next();
                    x
                }
                (None, None) => break,
            };
            if next.1 > 0 {
                out.push(next);
            }
        }
        self.buckets = out;
    }

    /// The latency figures [`LatencySummary::of`] gives for a dense
    /// histogram holding these counts, computed from the buckets alone: a
    /// dense histogram is tens of thousands of counters to clear and scan,
    /// and a merged timeline read summarises one per second (3,600 for an
    /// hour). `geometry` is any histogram of the same bounds; only its
    /// bucket layout is read (for the mean's median-equivalent values).
    pub fn summary(&self, geometry: &Histogram<u64>) -> LatencySummary {
        let total: u64 = self.buckets.iter().map(|&(_, c)| c).sum();
        let Some(&(max, _)) = self.buckets.last() else {
            return LatencySummary::default();
        };
        if total == 0 {
            return LatencySummary::default();
        }
        // hdrhistogram's value_at_quantile: the first bucket whose running
        // count reaches ceil(q * total) (at least 1), reported as the
        // highest value equivalent to it, which is what each pair holds.
        let at = |q: f64| {
            let target = ((q * total as f64).ceil() as u64).max(1);
            let mut run = 0u64;
            for &(v, c) in &self.buckets {
                run += c;
                if run >= target {
                    return v;
                }
            }
            max
        };
        // hdrhistogram's mean, folded in the same order with the same terms,
        // so the float comes out bit for bit the same.
        let mean = self.buckets.iter().fold(0.0_f64, |acc, &(v, c)| {
            acc + geometry.median_equivalent(v) as f64 * c as f64 / total as f64
        });
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            p50: ms(at(0.5)),
            p90: ms(at(0.9)),
            p99: ms(at(0.99)),
            // The last bucket's highest equivalent value, as max() reports.
            max: ms(max),
            // Rounded as LatencySummary::of rounds it.
            mean: (mean / 1000.0 * 1000.0).round() / 1000.0,
        }
    }

    /// Replays the counts into `into` (cleared first).
    #[cfg(test)]
    pub fn fill(&self, into: &mut Histogram<u64>) {
        into.reset();
        for &(v, c) in &self.buckets {
            // Values came out of a histogram of the same bounds.
            into.saturating_record_n(v, c);
        }
    }

    /// Bytes held on the heap (for the simulator's accounting).
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<(u64, u64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket-only summary equals the dense one on spread-out values,
    /// repeats, one value, and values past the first bucket's precision.
    #[test]
    fn summary_equals_the_dense_histograms() {
        let mut cases: Vec<Vec<u64>> = vec![
            vec![1],
            vec![0, 0, 0],
            vec![7; 1000],
            (1..=2000).map(|i| i * 37 % 100_003).collect(),
            (0..5000).map(|i| (i * i) % 3_000_000 + 1).collect(),
        ];
        cases.push((0..997).map(|i| 1u64 << (i % 30)).collect());
        let geometry = goto_engine::stats::latency_histogram();
        for vals in cases {
            let h = hist(&vals);
            assert_eq!(
                Sparse::of(&h).summary(&geometry),
                LatencySummary::of(&h),
                "{vals:?}"
            );
        }
        assert_eq!(
            Sparse::default().summary(&geometry),
            LatencySummary::default()
        );
    }

    fn hist(vals: &[u64]) -> Histogram<u64> {
        let mut h = goto_engine::stats::latency_histogram();
        for v in vals {
            h.record(*v).ok();
        }
        h
    }

    #[test]
    fn add_then_take_out_is_exact() {
        let a = Sparse::of(&hist(&[10, 20, 20, 5000]));
        let b = Sparse::of(&hist(&[20, 7000, 1_000_000]));
        let mut s = Sparse::default();
        s.apply(&a, true);
        s.apply(&b, true);
        let mut d = goto_engine::stats::latency_histogram();
        s.fill(&mut d);
        let mut want = hist(&[10, 20, 20, 5000]);
        want.add(hist(&[20, 7000, 1_000_000])).ok();
        assert_eq!(d.len(), 7);
        assert_eq!(d.value_at_quantile(0.5), want.value_at_quantile(0.5));
        assert_eq!(d.max(), want.max());
        assert_eq!(d.mean(), want.mean());
        assert_eq!(s.summary(&d), LatencySummary::of(&want));
        s.apply(&b, false);
        assert_eq!(s, a);
        s.apply(&a, false);
        assert!(s.is_empty());
    }
}
