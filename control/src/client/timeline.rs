//! Timelines as the client keeps and reports them: the engine's bounded
//! [`Timeline`] of a target plus each kept interval's latency histogram,
//! encoded, so that a registry can merge peers' intervals with exact
//! percentiles. Bounded like the timeline itself (3,600 intervals). Also
//! the sampler thread that feeds an invocation's timelines.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use goto_engine::{Interval, RunHandle, TargetStats, Timeline};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::histcodec;

/// A target's timeline as a peer reports it to its locker: the intervals
/// and, at the same positions, their encoded latency histograms
/// ([`histcodec`]; absent from older peers, whose merged intervals then
/// carry no percentiles). Two lists rather than one of flattened entries:
/// serde's flatten cannot read the intervals' numeric map keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportedTimeline {
    pub intervals: Vec<Interval>,
    pub histograms: Vec<Option<String>>,
}

impl ReportedTimeline {
    /// Adds this timeline of `target` into `out`, by the wall-clock minute
    /// (Unix seconds / 60) each interval ended in.
    pub fn split_by_minute(
        self,
        target: &str,
        out: &mut BTreeMap<u64, BTreeMap<String, ReportedTimeline>>,
    ) {
        let mut hists = self.histograms.into_iter();
        for i in self.intervals {
            let h = hists.next().flatten();
            let minute = (i.unix.max(0.0) / 60.0).floor() as u64;
            let slot = out
                .entry(minute)
                .or_default()
                .entry(target.to_string())
                .or_default();
            slot.intervals.push(i);
            slot.histograms.push(h);
        }
    }
}

/// A target's timeline with its intervals' histograms, oldest first.
#[derive(Debug, Default)]
pub struct TargetTimeline {
    timeline: Feed,
    /// One entry per kept interval of `timeline`, in the same order.
    histograms: VecDeque<Option<String>>,
}

/// The intervals while the run feeds them, then just the intervals: a live
/// [`Timeline`] keeps the last cumulative snapshot (three full latency
/// histograms, about half a megabyte) to diff the next one against, which a
/// finished invocation no longer needs.
#[derive(Debug)]
enum Feed {
    Live(Box<Timeline>),
    Frozen(Vec<Interval>),
}

impl Default for Feed {
    fn default() -> Self {
        Feed::Live(Box::default())
    }
}

impl TargetTimeline {
    /// Takes in a cumulative snapshot (see [`Timeline::push`]); `keep`
    /// also keeps the interval's histogram, encoded (only an instance that
    /// reports to a registry's locker needs it, so others pay nothing).
    /// A frozen timeline ignores it.
    pub fn push(&mut self, elapsed: Duration, wall: SystemTime, now: TargetStats, keep: bool) {
        let Feed::Live(timeline) = &mut self.timeline else {
            return;
        };
        let dropped = timeline.dropped();
        let Some(h) = timeline.push(elapsed, wall, now) else {
            return;
        };
        if timeline.dropped() > dropped {
            self.histograms.pop_front();
        }
        self.histograms
            .push_back(keep.then(|| histcodec::encode_plain(&h)).flatten());
    }

    /// Keeps the intervals and lets the rest go (the run has ended).
    pub fn freeze(&mut self) {
        if let Feed::Live(t) = &self.timeline {
            self.timeline = Feed::Frozen(t.to_vec());
            self.histograms.shrink_to_fit();
        }
    }

    /// The kept intervals.
    pub fn intervals(&self) -> Vec<Interval> {
        match &self.timeline {
            Feed::Live(t) => t.to_vec(),
            Feed::Frozen(v) => v.clone(),
        }
    }

    /// The kept intervals with their histograms.
    pub fn reported(&self) -> ReportedTimeline {
        ReportedTimeline {
            intervals: self.intervals(),
            histograms: self.histograms.iter().cloned().collect(),
        }
    }
}

/// Feeds an invocation's timelines from its run on a thread of its own:
/// each target sampled at its interval, then once more at the end so the
/// intervals add up to the final results. Ends with the run.
pub(super) fn sample(
    run: RunHandle,
    intervals: Vec<(String, Duration)>,
    timelines: Arc<Mutex<BTreeMap<String, TargetTimeline>>>,
    keep_histograms: bool,
) {
    let wall = SystemTime::now();
    let tick = intervals
        .iter()
        .map(|(_, d)| *d)
        .min()
        .unwrap_or(goto_engine::timeline::DEFAULT_INTERVAL);
    let mut next: Vec<Duration> = intervals.iter().map(|(_, d)| *d).collect();
    let spawned = std::thread::Builder::new()
        .name("goto-timeline".into())
        .spawn(move || loop {
            let finished = run.wait(Some(tick));
            let snap = run.snapshot();
            let mut tl = timelines.lock();
            for (i, (name, every)) in intervals.iter().enumerate() {
                if !finished && snap.elapsed < next[i] {
                    continue;
                }
                while next[i] <= snap.elapsed {
                    next[i] += *every;
                }
                if let Some(stats) = snap.targets.get(name) {
                    tl.entry(name.clone()).or_default().push(
                        snap.elapsed,
                        wall + snap.elapsed,
                        stats.clone(),
                        keep_histograms,
                    );
                }
            }
            if finished {
                tl.values_mut().for_each(TargetTimeline::freeze);
                return;
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no timeline for this invocation: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_follow_the_bounded_intervals() {
        let mut t = TargetTimeline {
            timeline: Feed::Live(Box::new(Timeline::new(2))),
            histograms: VecDeque::new(),
        };
        let wall = SystemTime::UNIX_EPOCH;
        for i in 1..=3u64 {
            let mut s = TargetStats::new();
            s.requests = i;
            // Cumulative, as the engine's counters are: one more at i ms.
            for k in 1..=i {
                s.latency.record(k * 1000).ok();
            }
            t.push(Duration::from_secs(i), wall, s, true);
        }
        let r = t.reported();
        assert_eq!((r.intervals.len(), r.histograms.len()), (2, 2));
        let h = histcodec::decode(r.histograms[1].as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.max() / 1000, 3);
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(v["intervals"][0]["requests"], 1);
        assert!(v["histograms"][0].is_string());
        let back: ReportedTimeline = serde_json::from_value(v).unwrap_or_default();
        assert_eq!(back, r);
        let mut by_minute = BTreeMap::new();
        r.split_by_minute("t", &mut by_minute);
        assert_eq!(by_minute.len(), 1, "both at the epoch's first minute");
        assert_eq!(by_minute[&0]["t"].intervals.len(), 2);
        assert_eq!(by_minute[&0]["t"].histograms.len(), 2);
    }
}
