//! A load run's configuration: `goto load`'s raw flags ([`LoadArgs`])
//! become typed, checked values here, once ([`LoadConfig::try_from`]): the
//! engine targets (through `target`), the engine's settings, and what the
//! outputs and the report need ([`OutputConfig`]). The runner, the live
//! outputs and the reports take these, never the flags.

use std::path::PathBuf;
use std::time::Duration;

use goto_engine::{IoDriverChoice, TargetSpec, Threshold, TlsConfig};

use super::flags::LoadArgs;
use super::target::build_targets;

/// Shortest `--interval`: each sample merges every core's histograms.
pub(super) const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Everything one `goto load` run needs, checked.
#[derive(Debug)]
pub(super) struct LoadConfig {
    /// One per group of URLs sharing a destination (see `target`).
    pub(super) targets: Vec<TargetSpec>,
    /// Worker threads asked for (`-t`); capped to the cores there are by
    /// the runner.
    pub(super) cores: Option<usize>,
    pub(super) io_driver: IoDriverChoice,
    pub(super) tls: TlsConfig,
    /// For the preflight probe (the targets carry it too).
    pub(super) connect_timeout: Duration,
    /// `-n`: the run's total, for the progress line.
    pub(super) requests: Option<u64>,
    /// `-r`: the total rate, for the report.
    pub(super) rate: Option<f64>,
    /// HTTP/2 (`--http2`, or `--grpc`, which rides on it).
    pub(super) http2: bool,
    pub(super) grpc: bool,
    pub(super) output: OutputConfig,
}

/// What the live outputs and the final report show, and where.
#[derive(Debug, Default)]
pub(super) struct OutputConfig {
    /// One JSON object instead of the text report.
    pub(super) json: bool,
    /// The live progress line (when stderr is a terminal).
    pub(super) progress: bool,
    /// The `--latency` spectrum in the report.
    pub(super) latency: bool,
    /// `--interval`: a line per interval, and the timeline's step.
    pub(super) interval: Option<Duration>,
    pub(super) timeline: Option<PathBuf>,
    pub(super) hdr_log: Option<PathBuf>,
    /// The `--report` HTML file.
    pub(super) report: Option<PathBuf>,
    pub(super) thresholds: Vec<Threshold>,
}

impl TryFrom<LoadArgs> for LoadConfig {
    type Error = String;

    /// The one place raw flags become the run's configuration; an error is
    /// a usage error (exit 2).
    fn try_from(args: LoadArgs) -> Result<LoadConfig, String> {
        let targets = build_targets(&args)?;
        if args.interval.is_some_and(|d| d < MIN_INTERVAL) {
            return Err(format!(
                "--interval must be at least {} ms",
                MIN_INTERVAL.as_millis()
            ));
        }
        Ok(LoadConfig {
            targets,
            cores: args.cores,
            io_driver: args.io_driver,
            tls: TlsConfig {
                extra_roots: args.cacert,
                extra_certs: Vec::new(),
                use_system_roots: true,
            },
            connect_timeout: args.connect_timeout.0,
            requests: args.requests,
            rate: args.rate,
            http2: args.http2 || args.grpc,
            grpc: args.grpc,
            output: OutputConfig {
                json: args.json,
                progress: !args.no_progress,
                latency: args.latency,
                interval: args.interval,
                timeline: args.timeline,
                hdr_log: args.hdr_log,
                report: args.report,
                thresholds: args.thresholds,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::flags::{
        DEFAULT_CONNECTIONS, DEFAULT_CONNECT_TIMEOUT, DEFAULT_METHOD, DEFAULT_TIMEOUT,
    };
    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn config(args: &[&str]) -> Result<LoadConfig, String> {
        let argv = std::iter::once("load").chain(args.iter().copied());
        let w = Wrap::try_parse_from(argv).map_err(|e| e.to_string())?;
        LoadConfig::try_from(w.load)
    }

    /// The flags' defaults are the named constants: one source.
    #[test]
    fn no_flags_give_the_named_defaults() {
        let c = config(&["http://127.0.0.1:1/"]).expect("config");
        let t = &c.targets[0];
        assert_eq!(t.replicas, DEFAULT_CONNECTIONS);
        assert_eq!(t.method, DEFAULT_METHOD);
        assert_eq!(t.request_timeout, DEFAULT_TIMEOUT);
        assert_eq!(t.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.io_driver, IoDriverChoice::Auto);
        assert!(c.output.progress && !c.output.json);
        assert!(!c.http2 && !c.grpc);
    }

    #[test]
    fn flags_become_typed_values_once() {
        let c = config(&[
            "http://127.0.0.1:1/",
            "--timeout",
            "0",
            "--connect-timeout",
            "1m30s",
            "--interval",
            "250ms",
            "--no-progress",
            "--threshold",
            "p99 < 50ms",
        ])
        .expect("config");
        assert_eq!(c.targets[0].request_timeout, Duration::ZERO);
        assert_eq!(c.connect_timeout, Duration::from_secs(90));
        assert_eq!(c.output.interval, Some(Duration::from_millis(250)));
        assert!(!c.output.progress);
        assert_eq!(c.output.thresholds.len(), 1);
        let e = config(&["http://127.0.0.1:1/", "--interval", "10ms"]).unwrap_err();
        assert!(e.contains("--interval must be at least 100 ms"), "{e}");
    }
}
