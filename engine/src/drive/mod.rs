//! The loops that drive each protocol on a core: a replica's connection
//! (HTTP/1.1, `http1`) or stream (HTTP/2, `http2`) runs its schedule
//! (pacing, limits, retries) over a connection from `crate::conn`, with the
//! protocol's codec and the target's prepared request, and counts into its
//! core's counters.
//!
//! They sit above the run's state (`plan`, `local`, `run`), while the
//! protocols' codecs and request templates (`crate::http1`, `crate::http2`)
//! sit below `plan`, which prepares the templates: keeping the two apart
//! keeps the module graph free of cycles.

pub(crate) mod http1;
pub(crate) mod http2;
