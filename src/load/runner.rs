//! Runs a load test: checks before the run, starts the engine (HTTP/1.1 or
//! HTTP/2 alike), watches it and prints the report; owns the exit code.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use goto_engine::{Engine, EngineConfig, EngineError, ErrorKind, Plan, RunSnapshot, TargetStats};

use super::config::{LoadConfig, OutputConfig};
use super::flags::LoadArgs;
use super::json::json_report;
use super::live::{self, Outputs, Recorder};
use super::preflight::{cap_cores, fit_open_files, probe, Fatal};
use super::progress::{watch, Goal, Signals};
use super::summary::{Counts, RunInfo};
use super::text::text_report;

/// The run completed and at least one request was answered.
const EXIT_DONE: u8 = 0;
/// No request was answered at all, or the run could not start.
const EXIT_FAILED: u8 = 1;
/// A bad flag, URL or file.
const EXIT_USAGE: u8 = 2;
/// The run answered requests but its results failed a `--threshold`.
const EXIT_THRESHOLDS: u8 = 3;

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("goto load: {msg}");
    ExitCode::from(code)
}

/// Runs a load test and prints its report; returns the process exit code.
pub fn run(args: LoadArgs) -> ExitCode {
    // First, so a signal during the checks also ends with a report.
    let signals = Signals::install();
    let cfg = match LoadConfig::try_from(args) {
        Ok(c) => c,
        Err(msg) => return fail(EXIT_USAGE, msg),
    };
    let LoadConfig {
        targets,
        cores,
        io_driver,
        tls,
        connect_timeout,
        requests,
        rate,
        http2,
        grpc,
        output,
    } = cfg;
    let mut outputs = match Outputs::open(&output) {
        Ok(o) => o,
        Err(msg) => return fail(EXIT_USAGE, msg),
    };
    let mut rec = match outputs.recorder(&output) {
        Ok(r) => r,
        Err(msg) => return fail(EXIT_USAGE, msg),
    };
    if let Err(msg) = super::report::check(output.report.as_deref()) {
        return fail(EXIT_USAGE, msg);
    }
    let urls: Vec<String> = targets
        .iter()
        .flat_map(|t| std::iter::once(&t.url).chain(&t.more_urls))
        .cloned()
        .collect();
    let connections: u32 = targets.iter().map(|t| t.replicas).sum();
    let streams = targets[0].streams_per_connection.max(1);
    // HTTP/2 replicas are streams, sharing connections.
    let sockets = if http2 {
        connections.div_ceil(streams)
    } else {
        connections
    };
    let (cores, capped) = cap_cores(cores);
    if let Some(n) = capped {
        eprintln!("goto load: --cores capped at the {n} cores available");
    }
    let mut info = RunInfo {
        url: &urls[0],
        urls: urls.clone(),
        url_groups: targets.len(),
        http2: http2.then_some(streams),
        grpc,
        connections,
        cores: cores.unwrap_or(0),
        io_driver: String::new(),
        rate,
        stages: targets[0].stages.clone(),
        interrupted: None,
        fatal: None,
    };
    if let Err(msg) = fit_open_files(u64::from(sockets)) {
        return fail(EXIT_FAILED, msg);
    }
    let engine_cfg = EngineConfig {
        cores,
        io_driver,
        tls: tls.clone(),
    };
    let engine = match Engine::start(engine_cfg) {
        Ok(e) => e,
        // A bad --cacert is a bad flag.
        Err(EngineError::Plan(e)) => return fail(EXIT_USAGE, e),
        Err(e) => return fail(EXIT_FAILED, e),
    };
    info.cores = engine.cores();
    info.io_driver = engine.io_driver().to_string();
    if let Err(f) = probe(&targets, connect_timeout, &tls) {
        return not_started(&output, info, f, &mut rec);
    }
    let goal = Goal {
        duration: targets.iter().filter_map(|t| t.duration).max(),
        requests,
    };
    let run = match engine.submit(Plan { targets }) {
        Ok(r) => r,
        Err(EngineError::Plan(e)) => return fail(EXIT_USAGE, e),
        Err(e) => return fail(EXIT_FAILED, e),
    };
    let show_progress = output.progress && std::io::stderr().is_terminal();
    watch(&run, &signals, show_progress, goal, &mut rec);
    let snap = run.snapshot();
    rec.finish(merged(&snap), snap.elapsed);
    info.interrupted = signals.caught();
    report(&output, &info, &snap, &rec)
}

/// The checks failed: say why, and print a report with the probe's error
/// counted, so `--json` readers get an object either way.
fn not_started(
    output: &OutputConfig,
    mut info: RunInfo<'_>,
    f: Fatal,
    rec: &mut Recorder<'_>,
) -> ExitCode {
    eprintln!("goto load: {}", f.message);
    let stats = TargetStats {
        requests: 1,
        status_counts: BTreeMap::from([(0, 1)]),
        errors: BTreeMap::from([(f.error.unwrap_or(ErrorKind::Connect(0)), 1)]),
        finished: true,
        ..TargetStats::default()
    };
    info.fatal = Some(f.message);
    let snap = RunSnapshot {
        targets: BTreeMap::from([("load".to_string(), stats)]),
        finished: true,
        elapsed: Duration::ZERO,
    };
    rec.finish(merged(&snap), snap.elapsed);
    report(output, &info, &snap, rec);
    ExitCode::from(EXIT_FAILED)
}

/// Every target's results merged into one.
fn merged(snap: &RunSnapshot) -> TargetStats {
    let mut it = snap.targets.values();
    let mut out = it.next().cloned().unwrap_or_default();
    for t in it {
        out.merge(t);
    }
    out
}

fn report(
    output: &OutputConfig,
    info: &RunInfo<'_>,
    snap: &RunSnapshot,
    rec: &Recorder<'_>,
) -> ExitCode {
    let stats = merged(snap);
    let verdicts = live::verdicts(&output.thresholds, &stats, snap.elapsed);
    if let Some(e) = rec.error() {
        eprintln!("goto load: warning: {e}");
    }
    if let Err(e) = super::report::write(output.report.as_deref(), info, snap, &stats, rec.json()) {
        eprintln!("goto load: warning: {e}");
    }
    let out = if output.json {
        let mut v = json_report(info, snap, &stats);
        v["timeline"] = rec.json();
        if output.latency {
            v["latencyPercentilesMs"] = live::spectrum_json(&stats.latency);
        }
        if !verdicts.is_empty() {
            v["thresholds"] = serde_json::to_value(&verdicts).unwrap_or_default();
        }
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    } else {
        let mut s = text_report(info, snap, &stats);
        if output.latency {
            s.push_str(&live::spectrum_text(&stats.latency));
        }
        if !verdicts.is_empty() {
            s.push_str(&live::verdicts_text(&verdicts));
        }
        s
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    ExitCode::from(exit_code(&stats, verdicts.iter().any(|v| !v.ok)))
}

/// 1 when nothing was answered (whatever the thresholds say), else 3 when a
/// threshold failed, else 0.
fn exit_code(stats: &TargetStats, threshold_failed: bool) -> u8 {
    if Counts::of(stats).answered == 0 {
        EXIT_FAILED
    } else if threshold_failed {
        EXIT_THRESHOLDS
    } else {
        EXIT_DONE
    }
}
