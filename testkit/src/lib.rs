//! Test-only support shared by the workspace's test suites: implementations
//! of peers that goto did not write (tonic gRPC servers and clients), so
//! goto's own protocol code is checked against someone else's.
//!
//! Never a dependency of a shipped crate: only `[dev-dependencies]` name it.

pub mod goto_client;
pub mod grpc;
pub mod pki;
pub mod poll;

pub use pki::{pki, Pki};
pub use poll::eventually;
