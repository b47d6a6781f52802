//! The live progress line of `goto load` and the signals that stop a run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goto_engine::{RunHandle, TargetStats};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

use super::live::Recorder;

/// How often the progress line is redrawn (and a signal noticed).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the progress loop needs of a run.
pub(super) trait Progress {
    /// True once finished; waits at most `timeout`.
    fn wait(&self, timeout: Duration) -> bool;
    fn stop(&self);
    /// (requests, errors, elapsed).
    fn totals(&self) -> (u64, u64, Duration);
    /// The target's cumulative results and the time since the start.
    fn sample(&self) -> (TargetStats, Duration);
}

impl Progress for RunHandle {
    fn wait(&self, timeout: Duration) -> bool {
        RunHandle::wait(self, Some(timeout))
    }

    fn stop(&self) {
        RunHandle::stop(self)
    }

    fn totals(&self) -> (u64, u64, Duration) {
        let snap = self.snapshot();
        let (r, e) = snap
            .targets
            .values()
            .fold((0, 0), |(r, e), t| (r + t.requests, e + t.error_count()));
        (r, e, snap.elapsed)
    }

    fn sample(&self) -> (TargetStats, Duration) {
        let snap = self.snapshot();
        let stats = snap.targets.into_values().next().unwrap_or_default();
        (stats, snap.elapsed)
    }
}

/// SIGINT and SIGTERM as flags the progress loop polls: the first stops
/// the run (the report still prints), a second ends the process at once.
pub(super) struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers; a failure leaves the default dispositions
    /// (the run then simply ends on a signal, without a report).
    pub(super) fn install() -> Signals {
        let s = Signals {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
        };
        for (sig, flag) in [(SIGINT, &s.int), (SIGTERM, &s.term)] {
            // Registered first, so it sees the flag before this signal sets it:
            // a second signal (of either kind) exits with 130 / 143.
            let _ = flag::register_conditional_shutdown(sig, 128 + sig, s.int.clone());
            let _ = flag::register_conditional_shutdown(sig, 128 + sig, s.term.clone());
            let _ = flag::register(sig, flag.clone());
        }
        s
    }

    /// The signal that interrupted the run, if any.
    pub(super) fn caught(&self) -> Option<&'static str> {
        if self.term.load(Ordering::Relaxed) {
            Some("SIGTERM")
        } else if self.int.load(Ordering::Relaxed) {
            Some("SIGINT")
        } else {
            None
        }
    }
}

/// Where a run ends, for the progress line's total and time left.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Goal {
    /// -d (or the stages' sum, or the default duration).
    pub(super) duration: Option<Duration>,
    /// -n.
    pub(super) requests: Option<u64>,
}

/// The progress line (without its terminal control codes): answered
/// req/s as the summary counts them, and for -d/-n the total and the
/// time left (-n's from the current rate; the earlier end wins).
pub(super) fn progress_line(
    requests: u64,
    errors: u64,
    rate: f64,
    elapsed: Duration,
    goal: Goal,
) -> String {
    let secs = elapsed.as_secs_f64();
    let mut line = match goal.requests {
        Some(n) => format!("{requests}/{n} requests"),
        None => format!("{requests} requests"),
    };
    line.push_str(&format!(
        "  {rate:.0} req/s answered  {errors} errors  {secs:.1}s"
    ));
    if let Some(d) = goal.duration {
        line.push_str(&format!("/{:.0}s", d.as_secs_f64()));
    }
    let by_time = goal.duration.map(|d| (d.as_secs_f64() - secs).max(0.0));
    let by_count = goal
        .requests
        .and_then(|n| (rate > 0.0).then(|| n.saturating_sub(requests) as f64 / rate));
    let left = match (by_time, by_count) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(left) = left {
        line.push_str(&format!("  {left:.1}s left"));
    }
    line
}

/// Waits for the run, drawing the progress line when asked and feeding the
/// timeline at each interval (whose lines, when printed, replace the
/// progress line).
pub(super) fn watch(
    run: &impl Progress,
    signals: &Signals,
    show_progress: bool,
    goal: Goal,
    rec: &mut Recorder<'_>,
) {
    let show_progress = show_progress && !rec.prints();
    let started = Instant::now();
    let mut last = (started, 0u64);
    let mut stopping = false;
    while !run.wait(PROGRESS_EVERY.min(rec.due_in(started.elapsed()))) {
        rec.tick(started.elapsed(), || run.sample());
        if signals.caught().is_some() && !stopping {
            stopping = true;
            run.stop();
        }
        if show_progress {
            let (requests, errors, elapsed) = run.totals();
            let now = Instant::now();
            // Answered, as the summary's Requests/sec.
            let answered = requests.saturating_sub(errors);
            let rate = (answered - last.1.min(answered)) as f64
                / now.duration_since(last.0).as_secs_f64().max(1e-9);
            last = (now, answered);
            let line = progress_line(requests, errors, rate, elapsed, goal);
            eprint!("\r\x1b[2K{line}");
        }
    }
    if show_progress {
        eprint!("\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_shows_total_and_time_left() {
        let d = Goal {
            duration: Some(Duration::from_secs(30)),
            requests: None,
        };
        let l = progress_line(100, 2, 50.0, Duration::from_secs(10), d);
        assert_eq!(
            l,
            "100 requests  50 req/s answered  2 errors  10.0s/30s  20.0s left"
        );
        let n = Goal {
            duration: None,
            requests: Some(1000),
        };
        let l = progress_line(400, 0, 100.0, Duration::from_secs(4), n);
        assert_eq!(
            l,
            "400/1000 requests  100 req/s answered  0 errors  4.0s  6.0s left"
        );
        let open = progress_line(1, 0, 0.0, Duration::ZERO, Goal::default());
        assert!(!open.contains("left"), "{open}");
    }
}
