//! A tonic client of goto's built-in gRPC services: `goto.Goto` generated
//! from control/proto/goto.proto, health and reflection from tonic's own
//! crates (so the server is checked against code goto did not write).

pub use tonic;
pub use tonic_health::pb as health;
pub use tonic_reflection::pb::v1 as reflection_v1;
pub use tonic_reflection::pb::v1alpha as reflection_v1alpha;

/// The generated `goto` package.
pub mod pb {
    tonic::include_proto!("goto");
}

pub use pb::goto_client::GotoClient;

/// A plaintext (h2c prior knowledge) channel to 127.0.0.1:`port`.
pub async fn channel(port: u16) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(20))
        .connect()
        .await
}

pub use prost;
/// What reflection answers carry, to decode them in tests.
pub use prost_types::FileDescriptorProto;
pub use tokio_stream;
/// tonic's prost codec, for calling methods with no generated client.
pub use tonic_prost::ProstCodec;

/// tonic's own health service, as an upstream goto did not write.
pub use tonic_health::server::health_reporter as tonic_health_server;
pub use tonic_health::ServingStatus;
