//! The programmable responder: per-port state for forced status, delay,
//! headers, payloads, URI bypass and URI counts, the decision taken for each
//! runtime request, and the admin routes that configure it.

pub mod payload;
pub mod routes;
pub mod state;

pub use state::Responder;
