//! The fuzz crate's library: the harness bodies, shared word for word with
//! the stable smoke test (tests/fuzz_smoke.rs includes the same file).

pub mod harness;
