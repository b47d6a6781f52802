//! A minimal tonic `goto.Goto/Echo` server: the baseline goto's own gRPC
//! echo is measured against (CPU per unary call, same load, same host).
//!
//! `cargo run --release -p goto-testkit --example tonic_goto_echo -- 18932`

use goto_testkit::goto_client::{pb, tonic};
use tonic::{Request, Response, Status, Streaming};

struct Echo;

type Out = std::pin::Pin<
    Box<dyn tonic::codegen::tokio_stream::Stream<Item = Result<pb::EchoResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl pb::goto_server::Goto for Echo {
    async fn echo(
        &self,
        r: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        Ok(Response::new(pb::EchoResponse {
            payload: r.into_inner().payload,
            ..Default::default()
        }))
    }
    type StreamOutStream = Out;
    async fn stream_out(&self, _: Request<pb::StreamOutRequest>) -> Result<Response<Out>, Status> {
        Err(Status::unimplemented("baseline serves Echo only"))
    }
    async fn stream_in(
        &self,
        _: Request<Streaming<pb::EchoRequest>>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        Err(Status::unimplemented("baseline serves Echo only"))
    }
    type StreamInOutStream = Out;
    async fn stream_in_out(
        &self,
        _: Request<Streaming<pb::EchoRequest>>,
    ) -> Result<Response<Out>, Status> {
        Err(Status::unimplemented("baseline serves Echo only"))
    }
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18932);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(pb::goto_server::GotoServer::new(Echo))
            .serve(addr)
            .await
        {
            eprintln!("tonic_goto_echo: {e}");
            std::process::exit(1);
        }
    });
}
