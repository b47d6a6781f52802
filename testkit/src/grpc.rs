//! A tonic gRPC server for tests (`goto.test.Echo` from proto/echo.proto):
//! unary, server, client and bidi streaming, statuses and trailers forced
//! by the request, the request's metadata echoed and recorded, and server
//! reflection (v1 and v1alpha). It runs on its own thread and tokio
//! runtime, on a free loopback port, until dropped.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio_stream::{Stream, StreamExt};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status, Streaming};

/// The generated messages and service.
pub mod pb {
    tonic::include_proto!("goto.test");
}

use pb::echo_server::{Echo, EchoServer};
use pb::{EchoReply, EchoRequest};

/// The encoded descriptor set of proto/echo.proto (a protoset).
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/echo_descriptor.bin"));

/// The test proto's path on disk (for `--proto`).
pub fn proto_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto/echo.proto")
}

/// The test proto's text (for the API's `protoFiles`).
pub fn proto_text() -> &'static str {
    include_str!("../proto/echo.proto")
}

/// What the server saw: calls by method name, and `x-*` metadata values
/// by key (every call's, counted).
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub calls: BTreeMap<String, u64>,
    pub metadata: BTreeMap<String, BTreeMap<String, u64>>,
    /// Request messages received, over all calls.
    pub messages: u64,
}

#[derive(Clone, Default)]
struct Service {
    seen: Arc<Mutex<Seen>>,
}

impl Service {
    fn note(&self, method: &str, md: &MetadataMap, messages: u64) -> HashMap<String, String> {
        let mut echoed = HashMap::new();
        for kv in md.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(k, v) = kv {
                if let Ok(v) = v.to_str() {
                    echoed.insert(k.as_str().to_string(), v.to_string());
                }
            }
        }
        if let Ok(mut s) = self.seen.lock() {
            *s.calls.entry(method.to_string()).or_insert(0) += 1;
            s.messages += messages;
            for (k, v) in &echoed {
                if k.starts_with("x-") {
                    *s.metadata
                        .entry(k.clone())
                        .or_default()
                        .entry(v.clone())
                        .or_insert(0) += 1;
                }
            }
        }
        echoed
    }
}

/// The status a request asks for, with its trailers; None for OK.
fn forced(req: &EchoRequest) -> Option<Status> {
    if req.status == 0 {
        return None;
    }
    let mut md = MetadataMap::new();
    for (k, v) in &req.trailers {
        if let (Ok(k), Ok(v)) = (
            k.parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
            MetadataValue::try_from(v.as_str()),
        ) {
            md.insert(k, v);
        }
    }
    Some(Status::with_metadata(
        Code::from_i32(req.status),
        req.message.clone(),
        md,
    ))
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for Service {
    async fn unary(&self, req: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let metadata = self.note("Unary", req.metadata(), 1);
        let req = req.into_inner();
        if let Some(s) = forced(&req) {
            return Err(s);
        }
        Ok(Response::new(EchoReply {
            text: req.text,
            metadata,
            index: 0,
        }))
    }

    type ServerStreamStream = ReplyStream;

    async fn server_stream(
        &self,
        req: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let metadata = self.note("ServerStream", req.metadata(), 1);
        let req = req.into_inner();
        let n = req.count.clamp(1, 10_000);
        let end = forced(&req);
        let text = req.text.clone();
        let replies = (0..n).map(move |i| {
            Ok(EchoReply {
                text: text.clone(),
                metadata: metadata.clone(),
                index: i,
            })
        });
        let tail = end.map(Err);
        Ok(Response::new(Box::pin(
            tokio_stream::iter(replies).chain(tokio_stream::iter(tail)),
        )))
    }

    async fn client_stream(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoReply>, Status> {
        let md = req.metadata().clone();
        let mut stream = req.into_inner();
        let mut n = 0;
        let mut last = EchoRequest::default();
        while let Some(m) = stream.next().await {
            last = m?;
            n += 1;
        }
        let metadata = self.note("ClientStream", &md, n as u64);
        if let Some(s) = forced(&last) {
            return Err(s);
        }
        Ok(Response::new(EchoReply {
            text: last.text,
            metadata,
            index: n,
        }))
    }

    type BidiStream = ReplyStream;

    async fn bidi(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let metadata = self.note("Bidi", req.metadata(), 0);
        let seen = self.seen.clone();
        let mut i = 0;
        let out = req.into_inner().map(move |m| {
            let m = m?;
            if let Ok(mut s) = seen.lock() {
                s.messages += 1;
            }
            if let Some(s) = forced(&m) {
                return Err(s);
            }
            i += 1;
            Ok(EchoReply {
                text: m.text,
                metadata: metadata.clone(),
                index: i,
            })
        });
        Ok(Response::new(Box::pin(out)))
    }
}

/// A running tonic server; stops when dropped.
pub struct GrpcServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl GrpcServer {
    /// Starts the server on a free port of 127.0.0.1 (with reflection).
    pub fn spawn() -> std::io::Result<GrpcServer> {
        Self::spawn_on("127.0.0.1:0")
    }

    /// Starts the server on `addr` (`127.0.0.1:0` for a free port).
    pub fn spawn_on(addr: &str) -> std::io::Result<GrpcServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let service = Service::default();
        let seen = service.seen.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(DESCRIPTOR_SET)
            .build_v1()
            .map_err(std::io::Error::other)?;
        let v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(std::io::Error::other)?;
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                // No Nagle: a stream's small writes (messages, trailers)
                // must not wait for the client's delayed ACK.
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
                    s.inspect(|s| {
                        let _ = s.set_nodelay(true);
                    })
                });
                let _ = tonic::transport::Server::builder()
                    .add_service(EchoServer::new(service))
                    .add_service(v1)
                    .add_service(v1alpha)
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(GrpcServer {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the server saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
