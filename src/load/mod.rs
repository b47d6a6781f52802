//! `goto load`: the command-line face of the load engine (flags, progress
//! line, report), in the habits of wrk and oha. The engine does the work;
//! this module turns flags into one target, shows progress from periodic
//! snapshots and prints the final report as text or JSON.
//!
//! Layout: `flags` (clap flags, their defaults and `--help`), `config`
//! (the flags become the run's configuration once; nothing past it reads
//! them), `target` (flags into validated targets: URLs, body, auth,
//! endpoints, for `config`), `preflight` (fail-fast
//! checks), `runner` (starts the engine or the HTTP/2 runner and picks the
//! exit code), `progress` (the live line and signals), `summary` (figures
//! shared by both reports), `text` and `json` (the two report formats),
//! `duration` (the Go-duration flag parser), `live` (the timeline,
//! its outputs, the latency spectrum and thresholds), and `report` (the
//! `--report` HTML file).

mod config;
mod duration;
mod flags;
mod grpc;
mod json;
mod live;
mod preflight;
mod progress;
mod report;
mod runner;
mod summary;
mod target;
mod text;

pub use flags::LoadArgs;
pub use runner::run;
