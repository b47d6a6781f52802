//! goto's control plane: a tokio + hyper server, on its own threads apart from
//! the engine's, that serves every listener: the admin API (one route table
//! per area, see [`api`]), the programmable responder, proxy and triggers on
//! runtime traffic, the client API on the load engine, jobs, and the
//! registry with its peers.
//!
//! Modules: vocabulary (`body`, `reuse`, `conn_cap`, `upstream_watch`, `error`, `timefmt`,
//! `histcodec`, `host`, `reqlog`, `rng`, `prom`); `api`; the per-port areas
//! (`responder`, `tracking`, `timeouts`, `proxy`, `triggers`, `grpc`) and
//! [`chaos`] (faults, toxics, tcp listeners); `port` (a listener's state and
//! runtime path); `listeners`; the instance-wide areas (`client`, `jobs`,
//! `registry`, `peer`, `probes`, `ui`). Their imports form no cycle, and
//! none imports the wiring: an area that needs more than its own state
//! says what in a trait or setup struct of its own.
//! [`app`] wires them into [`App`] and mounts every table; [`server`] runs
//! it. This file declares the modules and re-exports.

pub mod api;
pub mod app;
pub mod body;
pub mod bounded;
pub mod chaos;
pub mod client;
pub mod config;
pub mod conn_cap;
pub mod error;
pub mod grpc;
pub mod histcodec;
pub mod host;
pub mod jobs;
pub mod listeners;
pub mod peer;
pub mod port;
pub mod probes;
pub mod prom;
pub mod proxy;
pub mod registry;
pub mod reqlog;
pub mod responder;
pub mod reuse;
pub mod rng;
pub mod security;
pub mod server;
pub mod startup;
pub mod textfmt;
pub mod timefmt;
pub mod timeouts;
pub mod timer;
pub mod tracking;
pub mod triggers;
pub mod ui;
pub mod upstream_watch;

pub use app::{admin_api, App, Ctx};
pub use config::ServerConfig;
pub use server::run_server;
pub use startup::StartupError;
