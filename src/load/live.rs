//! Live results of `goto load`: the per-interval timeline (samples taken by
//! the progress loop), its outputs (`--interval` lines, the `--timeline`
//! file as JSON lines or CSV, the `--hdr-log` interval log), and the report
//! parts built on results: the `--latency` spectrum and `--threshold`
//! verdicts.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use goto_engine::timeline::DEFAULT_INTERVAL;
use goto_engine::{Histogram, Interval, TargetStats, Threshold, ThresholdVerdict, Timeline};
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder};
use hdrhistogram::serialization::V2DeflateSerializer;
use serde_json::{json, Value};

use super::config::OutputConfig;

/// Percentiles of `--latency`, as wrk2 prints them.
const SPECTRUM: [f64; 8] = [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0];

/// How `--timeline` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Csv,
}

/// The `--timeline` file, written one interval at a time.
pub(super) struct TimelineFile {
    out: BufWriter<File>,
    format: Format,
}

impl TimelineFile {
    /// Creates FILE; CSV when its name ends in `.csv`, else JSON lines.
    pub(super) fn create(path: &Path) -> io::Result<TimelineFile> {
        let format = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            Format::Csv
        } else {
            Format::JsonLines
        };
        let mut out = BufWriter::new(File::create(path)?);
        if format == Format::Csv {
            writeln!(
                out,
                "t,unix,seconds,requests,rps,errors,bytesRead,bytesWritten,p50Ms,p90Ms,p99Ms,maxMs,meanMs,countsByStatusCodes"
            )?;
        }
        out.flush()?;
        Ok(TimelineFile { out, format })
    }

    fn write(&mut self, i: &Interval) -> io::Result<()> {
        match self.format {
            Format::JsonLines => {
                serde_json::to_writer(&mut self.out, i)?;
                self.out.write_all(b"\n")?;
            }
            Format::Csv => {
                let status: Vec<String> = i
                    .counts_by_status_codes
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                let l = &i.latency_ms;
                writeln!(
                    self.out,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    i.t,
                    i.unix,
                    i.seconds,
                    i.requests,
                    i.rps,
                    i.error_count(),
                    i.bytes_read,
                    i.bytes_written,
                    l.p50,
                    l.p90,
                    l.p99,
                    l.max,
                    l.mean,
                    status.join(" ")
                )?;
            }
        }
        // Written live: a reader tailing the file sees each interval.
        self.out.flush()
    }
}

/// The `--hdr-log` file before its writer starts: headers written.
pub(super) struct HdrLogFile {
    file: File,
    serializer: V2DeflateSerializer,
}

/// The interval log writer borrowing a [`HdrLogFile`].
pub(super) type HdrLog<'a> = IntervalLogWriter<'a, 'a, File, V2DeflateSerializer>;

impl HdrLogFile {
    /// Creates FILE and writes the HdrHistogram log headers (StartTime and
    /// BaseTime are the run's start; interval timestamps are relative to it).
    pub(super) fn create(path: &Path, start: SystemTime) -> io::Result<HdrLogFile> {
        let mut file = File::create(path)?;
        let secs = start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        write!(
            file,
            "#[Logged with goto load]\n#[Histogram log format version 1.3]\n\
             #[Latency values in microseconds; Interval_Max in milliseconds]\n\
             #[StartTime: {secs:.3} (seconds since epoch)]\n\
             #[BaseTime: {secs:.3} (seconds since epoch)]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
        )?;
        Ok(HdrLogFile {
            file,
            serializer: V2DeflateSerializer::new(),
        })
    }

    /// The writer for the intervals (compressed V2 histograms, base64).
    pub(super) fn writer(&mut self) -> io::Result<HdrLog<'_>> {
        IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut self.file, &mut self.serializer)
    }
}

/// The files the live outputs write, opened before the run starts so a
/// bad path is a usage error.
pub(super) struct Outputs {
    start: SystemTime,
    timeline: Option<TimelineFile>,
    hdr: Option<HdrLogFile>,
}

impl Outputs {
    pub(super) fn open(out: &OutputConfig) -> Result<Outputs, String> {
        let start = SystemTime::now();
        let timeline = match &out.timeline {
            Some(p) => Some(
                TimelineFile::create(p).map_err(|e| format!("--timeline {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let hdr = match &out.hdr_log {
            Some(p) => Some(
                HdrLogFile::create(p, start)
                    .map_err(|e| format!("--hdr-log {}: {e}", p.display()))?,
            ),
            None => None,
        };
        Ok(Outputs {
            start,
            timeline,
            hdr,
        })
    }

    /// The recorder feeding these outputs (`--interval` is checked by
    /// the config).
    pub(super) fn recorder(&mut self, out: &OutputConfig) -> Result<Recorder<'_>, String> {
        let hdr = match &mut self.hdr {
            Some(h) => Some(h.writer().map_err(|e| format!("--hdr-log: {e}"))?),
            None => None,
        };
        let print = out.interval.map(|_| {
            if out.json {
                Printer::Stderr
            } else {
                Printer::Stdout
            }
        });
        Ok(Recorder::new(
            out.interval,
            print,
            self.start,
            self.timeline.take(),
            hdr,
        ))
    }
}

/// Samples a run into its timeline at each interval and feeds the outputs.
pub(super) struct Recorder<'a> {
    every: Duration,
    /// `--interval` given: print a line per interval.
    print: Option<Printer>,
    timeline: Timeline,
    next_at: Duration,
    start_wall: SystemTime,
    file: Option<TimelineFile>,
    hdr: Option<HdrLog<'a>>,
    /// The first write error; outputs stop after it, the run goes on.
    failed: Option<String>,
}

/// Where interval lines go: stdout, or stderr when stdout carries JSON.
#[derive(Debug, Clone, Copy)]
pub(super) enum Printer {
    Stdout,
    Stderr,
}

impl<'a> Recorder<'a> {
    pub(super) fn new(
        interval: Option<Duration>,
        print: Option<Printer>,
        start_wall: SystemTime,
        file: Option<TimelineFile>,
        hdr: Option<HdrLog<'a>>,
    ) -> Recorder<'a> {
        let every = interval.unwrap_or(DEFAULT_INTERVAL);
        Recorder {
            every,
            print,
            timeline: Timeline::default(),
            next_at: every,
            start_wall,
            file,
            hdr,
            failed: None,
        }
    }

    /// True when `--interval` lines replace the progress line.
    pub(super) fn prints(&self) -> bool {
        self.print.is_some()
    }

    /// How long until the next sample is due, at `elapsed`.
    pub(super) fn due_in(&self, elapsed: Duration) -> Duration {
        self.next_at.saturating_sub(elapsed)
    }

    /// Takes a sample if one is due at `elapsed`; `sample` reads the run.
    pub(super) fn tick(
        &mut self,
        elapsed: Duration,
        sample: impl FnOnce() -> (TargetStats, Duration),
    ) {
        if elapsed < self.next_at {
            return;
        }
        let (stats, at) = sample();
        // Next boundary after `at`, skipping any we slept through.
        while self.next_at <= at {
            self.next_at += self.every;
        }
        self.take(stats, at);
    }

    /// The last sample: the final results, so the intervals add up to them.
    pub(super) fn finish(&mut self, stats: TargetStats, elapsed: Duration) {
        self.take(stats, elapsed);
    }

    fn take(&mut self, stats: TargetStats, elapsed: Duration) {
        let prev_at = self.timeline.last().map_or(0.0, |i| i.t);
        let Some(h) = self
            .timeline
            .push(elapsed, self.start_wall + elapsed, stats)
        else {
            return;
        };
        let Some(interval) = self.timeline.last() else {
            return;
        };
        if let Some(p) = self.print {
            let line = interval_line(interval);
            match p {
                Printer::Stdout => {
                    let mut o = io::stdout().lock();
                    let _ = writeln!(o, "{line}");
                    let _ = o.flush();
                }
                Printer::Stderr => eprintln!("{line}"),
            }
        }
        if self.failed.is_some() {
            return;
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write(interval) {
                self.failed = Some(format!("--timeline: {e}"));
            }
        }
        if let Some(log) = &mut self.hdr {
            let start = Duration::from_secs_f64(prev_at);
            let len = Duration::from_secs_f64(interval.seconds);
            if let Err(e) = log.write_histogram(&h, start, len, None) {
                self.failed = Some(format!("--hdr-log: {e}"));
            }
        }
    }

    /// The first output error, if any.
    pub(super) fn error(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// The timeline as the JSON report's `"timeline"`.
    pub(super) fn json(&self) -> Value {
        serde_json::to_value(self.timeline.to_vec()).unwrap_or(Value::Null)
    }
}

/// One `--interval` line: time, answered req/s (as the summary's
/// Requests/sec), errors, p50, p99.
fn interval_line(i: &Interval) -> String {
    format!(
        "  [{:>7.1}s] {:>10.1} req/s answered  {:>6} errors  p50 {:>9.3}ms  p99 {:>9.3}ms",
        i.t,
        i.rps,
        i.error_count(),
        i.latency_ms.p50,
        i.latency_ms.p99
    )
}

/// `--latency`: the percentile spectrum in milliseconds.
pub(super) fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    SPECTRUM
        .iter()
        .map(|p| {
            let us = if h.is_empty() {
                0
            } else {
                h.value_at_percentile(*p)
            };
            (*p, us as f64 / 1000.0)
        })
        .collect()
}

pub(super) fn spectrum_text(h: &Histogram<u64>) -> String {
    let mut o = String::from("  Latency distribution (ms):\n");
    for (p, v) in spectrum(h) {
        let _ = writeln!(o, "    {:>8}%  {v:>10.3}", format!("{p}"));
    }
    o.push('\n');
    o
}

pub(super) fn spectrum_json(h: &Histogram<u64>) -> Value {
    let m: serde_json::Map<String, Value> = spectrum(h)
        .into_iter()
        .map(|(p, v)| (format!("{p}"), json!(v)))
        .collect();
    Value::Object(m)
}

/// Evaluates the thresholds on the final results.
pub(super) fn verdicts(
    ts: &[Threshold],
    stats: &TargetStats,
    elapsed: Duration,
) -> Vec<ThresholdVerdict> {
    ts.iter().map(|t| t.evaluate(stats, elapsed)).collect()
}

pub(super) fn verdicts_text(vs: &[ThresholdVerdict]) -> String {
    let mut o = String::from("  Thresholds:\n");
    for v in vs {
        let _ = writeln!(
            o,
            "    {:<28} actual {:>10.3} {:<6} {}",
            v.threshold,
            v.actual,
            v.unit,
            if v.ok { "ok" } else { "FAILED" }
        );
    }
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_covers_the_tail() {
        let mut h = goto_engine::stats::latency_histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let s = spectrum(&h);
        assert_eq!(s.len(), 8);
        assert_eq!(s[7].0, 100.0);
        assert!((s[7].1 - 10.0).abs() < 0.01);
        assert!(s[0].1 < s[3].1);
    }
}
