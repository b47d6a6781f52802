//! goto-engine: the data plane of goto's load client.
//!
//! A thread-per-core HTTP/1.1 and HTTP/2 load engine on monoio: one pinned worker per
//! core, each with its own io_uring (or legacy epoll) runtime; replicas
//! (connections) are spread over the cores; each core counts into its own
//! counters and latency histograms, merged only when someone reads. No tokio
//! inside; the control plane drives it through [`Engine`] and [`RunHandle`]
//! from blocking code.
//!
//! ```no_run
//! use goto_engine::{Engine, EngineConfig, Plan, TargetSpec};
//! let engine = Engine::start(EngineConfig::default())?;
//! let mut t = TargetSpec::try_new("t1", "http://127.0.0.1:8080/")?;
//! t.replicas = 10;
//! t.requests_per_replica = Some(100);
//! let run = engine.submit(Plan { targets: vec![t] })?;
//! run.wait(None);
//! let snap = run.snapshot();
//! println!("{} requests", snap.targets["t1"].requests);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: one folder per protocol for what the protocol is, without I/O:
//! [`http1`] (the codec) and `http2` ([`h2codec`], frames and HPACK, and the
//! request template); `drive` the loops that run them on a core (one folder
//! per protocol: HTTP/1.1 connections, HTTP/2 connections and streams).
//! [`schedule`] is the I/O-free request schedule (pacing, limits, retries,
//! where latency counts from) that every protocol's loop drives; `conn` the
//! connection and its timeouts; `engine` the workers and plan dealing;
//! `random` request-id randomness; `worker` the pinned runtimes and `local`
//! a core's share of a run; [`stats`] the counters; `plan` validation and
//! preparation; `resolve` addresses and their refresh; `limits` the
//! bounds; `run` the handle, commands and stop
//! flags; `timer` the per-worker microsecond pacing timer; `tls` rustls
//! set-up; [`timeline`] per-interval results from snapshots; [`threshold`]
//! pass/fail checks; [`stages`] load shapes (rate ramps).

mod conn;
pub mod cpus;
mod drive;
pub mod duration;
mod engine;
mod error;
pub mod grpc;
pub mod http1;
mod http2;
mod limits;
mod local;
mod plan;
mod random;
mod resolve;
mod run;
pub mod schedule;
pub mod stages;
pub mod stats;
pub mod threshold;
pub mod timeline;
mod timer;
mod tls;
mod worker;

/// Re-exported so users of [`TargetSpec::body`] and [`TargetStats`] need no extra dependencies.
pub use bytes::Bytes;
pub use hdrhistogram::Histogram;

pub use error::{EngineError, ErrorKind, ParseErrorKind, PlanError, TlsErrorKind};
pub use http1::status::canonical_reason;
/// The HTTP/2 client codec (frames, HPACK) without I/O, public for the fuzz
/// targets.
pub use http2::codec as h2codec;
pub use limits::{
    raise_nofile_limit, MAX_BODY, MAX_REPLICAS, MAX_REQUEST_HEADERS, MAX_RETRIES,
    MAX_STREAMS_PER_CONNECTION,
};
pub use plan::{Plan, TargetSpec, TlsTarget};
pub use resolve::{resolve_all, Endpoint, RESOLVE_TTL};
pub use run::{RunHandle, RunSnapshot};
pub use schedule::{Attempt, Counted, Pacer, Schedule, Step, Verdict};
pub use stages::{LiveRate, Stage, Stages, StagesError};
pub use stats::TargetStats;
pub use threshold::{Figures, Threshold, ThresholdError, ThresholdVerdict};
pub use timeline::{Interval, LatencySummary, Timeline};
pub use tls::{check_handshake, client_config, load_ca_dir, tls_server_name, CaDir, TlsConfig};

pub(crate) use engine::EngineShared;
pub use engine::{Engine, EngineConfig, IoDriver, IoDriverChoice};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<RunHandle>();
        assert_send_sync::<RunSnapshot>();
    }
}
