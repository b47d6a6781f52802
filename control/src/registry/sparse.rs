//! A compact latency histogram for folded aggregates: only the buckets
//! that hold counts, as (bucket value, count) sorted by value. A second of
//! a merged timeline holds a few hundred buckets, not the tens of thousands
//! a dense HDR histogram allocates; counts add and subtract exactly, and a
//! read replays them into one reused dense histogram for percentiles.

use goto_engine::Histogram;

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

    /// Replays the counts into `into` (cleared first).
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
        s.apply(&b, false);
        assert_eq!(s, a);
        s.apply(&a, false);
        assert!(s.is_empty());
    }
}
