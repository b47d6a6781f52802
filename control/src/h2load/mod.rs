//! HTTP/2 load for `protocol: "HTTP/2.0"` client targets (h2c with prior
//! knowledge for http URLs, ALPN h2 for https), counted into the engine's
//! `TargetStats` so results merge with HTTP/1.1 targets.
