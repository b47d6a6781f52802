//! Runs a load test: starts the engine (HTTP/1.1 or HTTP/2 alike), watches
//! it and prints the report; owns the exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use goto_engine::{Engine, EngineConfig, IoDriverChoice, Plan, RunSnapshot, TlsConfig};

use super::flags::{build_target, DriverArg, LoadArgs};
use super::json::json_report;
use super::live::{self, Outputs, Recorder};
use super::progress::{install_sigint, watch};
use super::summary::RunInfo;
use super::text::text_report;

/// File descriptors kept free beyond one per connection.
const SPARE_FDS: u64 = 64;

/// Runs a load test and prints its report; returns the process exit code.
pub fn run(args: LoadArgs) -> ExitCode {
    let target = match build_target(&args) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("goto load: {msg}");
            return ExitCode::from(2);
        }
    };
    let mut outputs = match Outputs::open(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("goto load: {msg}");
            return ExitCode::from(2);
        }
    };
    let mut rec = match outputs.recorder(&args) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("goto load: {msg}");
            return ExitCode::from(2);
        }
    };
    let needed = u64::from(target.replicas) + SPARE_FDS;
    if let Err(e) = goto_engine::raise_nofile_limit(needed) {
        eprintln!("goto load: warning: cannot raise the open-files limit to {needed}: {e}");
    }
    let cfg = EngineConfig {
        cores: args.cores,
        io_driver: match args.io_driver {
            DriverArg::Auto => IoDriverChoice::Auto,
            DriverArg::Uring => IoDriverChoice::Uring,
            DriverArg::Epoll => IoDriverChoice::Epoll,
        },
        tls: TlsConfig {
            extra_roots: args.cacert.clone(),
            use_system_roots: true,
        },
    };
    let engine = match Engine::start(cfg) {
        Ok(e) => e,
        // A bad --cacert is a bad flag.
        Err(goto_engine::EngineError::Plan(e)) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(1);
        }
    };
    let replicas = target.replicas;
    let streams_per_connection = target.streams_per_connection;
    let run = match engine.submit(Plan {
        targets: vec![target],
    }) {
        Ok(r) => r,
        Err(goto_engine::EngineError::Plan(e)) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(1);
        }
    };
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    install_sigint();
    watch(&run, show_progress, &mut rec);
    let snap = run.snapshot();
    if let Some(stats) = snap.targets.values().next() {
        rec.finish(stats.clone(), snap.elapsed);
    }
    let info = RunInfo {
        url: &args.url,
        http2: args.http2.then_some(streams_per_connection),
        connections: replicas,
        cores: engine.cores(),
        io_driver: engine.io_driver().to_string(),
        rate: args.rate,
    };
    report(&args, &info, &snap, &rec)
}

fn report(args: &LoadArgs, info: &RunInfo<'_>, snap: &RunSnapshot, rec: &Recorder<'_>) -> ExitCode {
    let stats = snap.targets.values().next().cloned().unwrap_or_default();
    let verdicts = live::verdicts(&args.thresholds, &stats, snap.elapsed);
    if let Some(e) = rec.error() {
        eprintln!("goto load: warning: {e}");
    }
    let out = if args.json {
        let mut v = json_report(info, snap, &stats);
        v["timeline"] = rec.json();
        if args.latency {
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
        if args.latency {
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
    if verdicts.iter().any(|v| !v.ok) {
        // 3: the run went fine but the results failed a threshold.
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}
