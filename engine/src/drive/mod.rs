//! The loops that drive each protocol on a core. Every replica is the one
//! generic loop of `replica` (its schedule: pacing, limits, retries, and
//! the outcome counted into its core's counters) over a protocol's
//! exchange: a connection of its own (HTTP/1.1, `http1`) or a stream on a
//! shared one (HTTP/2, `http2`), over a connection from `crate::conn`, with
//! the protocol's codec and the target's prepared request.
//!
//! They sit above the run's state (`plan`, `local`, `run`), while the
//! protocols' codecs and request templates (`crate::http1`, `crate::http2`)
//! sit below `plan`, which prepares the templates: keeping the two apart
//! keeps the module graph free of cycles.

pub(crate) mod http1;
pub(crate) mod http2;
mod replica;
