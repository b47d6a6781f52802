//! The gRPC area: every listener answers calls whose `content-type` is
//! `application/grpc` (h2c prior knowledge on `http` listeners, ALPN `h2`
//! on `https` ones) with the built-in services (`goto.Goto`'s echo in the
//! four call shapes, `grpc.health.v1.Health`, server reflection v1 and
//! v1alpha), the user's protos, and gRPC faults. It owns the per-port gRPC
//! state (health, protos, faults, counts), the `/grpc/...` admin routes and
//! the serving path; the listener only routes a call here.

pub mod call;
pub mod chaos;
pub mod counts;
pub mod descriptors;
pub mod error;
pub mod frame;
pub mod goto_svc;
pub mod health;
pub mod pb;
pub mod reflection;
pub mod routes;
pub mod status;
pub mod user;

use http::HeaderMap;
use parking_lot::RwLock;

pub use call::{serve, Identity};
pub use error::GrpcError;

/// One listener's gRPC state.
pub struct GrpcState {
    pub health: health::Health,
    pub protos: RwLock<descriptors::Protos>,
    pub faults: chaos::GrpcFaults,
    pub counts: counts::Counts,
}

impl Default for GrpcState {
    fn default() -> GrpcState {
        GrpcState {
            health: health::Health::default(),
            protos: RwLock::new(descriptors::Protos::default()),
            faults: chaos::GrpcFaults::default(),
            counts: counts::Counts::default(),
        }
    }
}

/// Whether a request is a gRPC call: `application/grpc`, alone or with a
/// `+codec` or `;` parameters (not `application/grpc-web`, which is HTTP/1
/// framing). The one header look-up HTTP traffic pays for gRPC.
#[inline]
pub fn is_grpc(h: &HeaderMap) -> bool {
    match h.get(http::header::CONTENT_TYPE) {
        Some(v) => {
            let b = v.as_bytes();
            b.len() >= 16
                && b[..16].eq_ignore_ascii_case(b"application/grpc")
                && matches!(b.get(16), None | Some(b'+' | b';'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types_are_told_apart() {
        let is = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            is_grpc(&h)
        };
        assert!(is("application/grpc"));
        assert!(is("application/grpc+proto"));
        assert!(is("application/grpc; charset=utf-8"));
        assert!(!is("application/grpc-web"));
        assert!(!is("application/json"));
        assert!(!is_grpc(&HeaderMap::new()));
    }
}
