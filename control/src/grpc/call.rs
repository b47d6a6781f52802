//! One gRPC call's path: its faults, then the service that owns its path;
//! the response shapes (one message then trailers, trailers-only for an
//! error, a stream fed by a task); and its end: one request-log line with
//! the method and `grpc-status`, and the counts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::frame::{self, GrpcBody, Out, Reader, CONTENT_TYPE_GRPC};
use super::status::{self, Status};
use super::GrpcState;
use crate::body::Body;
use crate::reqlog::{Entry, RequestLog, CLIENT_GAVE_UP};

/// Who serves the call: the listener's identity and settings.
pub struct Identity {
    pub port: u16,
    pub label: String,
    pub host: String,
    /// The client's address as `Display` writes it (the request log's text).
    pub remote: String,
    pub reqlog: Option<RequestLog>,
    /// The port's `goto-fault-*` headers are on.
    pub fault_headers: bool,
    /// How long a unary request's message may take to arrive.
    pub body_timeout: Duration,
}

/// A call being served: logged and counted once when it ends, or as
/// cancelled if dropped first (the client went away).
pub struct Call {
    pub state: Arc<GrpcState>,
    pub who: Identity,
    pub parts: Parts,
    started: Instant,
    done: bool,
}

impl Call {
    /// The method path, `/pkg.Service/Method`.
    pub fn method(&self) -> &str {
        self.parts.uri.path()
    }

    pub fn finish(mut self, code: u8) {
        self.done = true;
        self.record(code, false);
    }

    fn record(&self, code: u8, aborted: bool) {
        self.state.counts.record(self.method(), code);
        if let Some(log) = &self.who.reqlog {
            log.log(&Entry {
                port: self.who.port,
                remote: &self.who.remote,
                parts: &self.parts,
                status: if aborted { CLIENT_GAVE_UP } else { 200 },
                duration: self.started.elapsed(),
                bytes: None,
                aborted,
                grpc_status: Some(code),
            });
        }
    }

    /// Ends the call with `s` as a trailers-only response.
    pub fn fail(self, s: Status) -> Response<Body> {
        let r = trailers_only(&s);
        self.finish(s.code);
        r
    }

    /// Ends the call with one message (already framed) and OK, or an error.
    pub fn unary(self, r: Result<Bytes, Status>) -> Response<Body> {
        match r {
            Ok(data) => {
                self.finish(status::OK);
                response(GrpcBody::Unary {
                    data: Some(data),
                    trailers: Some(frame::trailers(status::OK, "")),
                })
            }
            Err(s) => self.fail(s),
        }
    }

    /// Reads the request's single message (within the body timeout).
    pub async fn read_one(&self, body: Incoming) -> Result<Bytes, Status> {
        self.read_one_from(&mut Reader::new(body)).await
    }

    /// Reads the next message off `r`, which must come (within the body timeout).
    pub async fn read_one_from(&self, r: &mut Reader<Incoming>) -> Result<Bytes, Status> {
        match tokio::time::timeout(self.who.body_timeout, r.next()).await {
            Ok(Ok(Some(m))) => Ok(m),
            Ok(Ok(None)) => Err(Status::new(
                status::INVALID_ARGUMENT,
                "the request has no message",
            )),
            Ok(Err(s)) => Err(s),
            Err(_) => Err(Status::new(
                status::DEADLINE_EXCEEDED,
                "the request message did not arrive within the body timeout",
            )),
        }
    }

    /// Answers with a stream that `f` feeds from a task; the trailers carry
    /// what `f` returns.
    pub fn streaming<F, Fut>(self, f: F) -> Response<Body>
    where
        F: FnOnce(Sink) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Status>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(16);
        let sink = Sink(tx.clone());
        tokio::spawn(async move {
            let r = f(sink).await;
            let (code, msg) = match &r {
                Ok(()) => (status::OK, ""),
                Err(s) => (s.code, s.message.as_str()),
            };
            match r.as_ref().err().filter(|s| s.code == RESET) {
                Some(_) => {
                    let _ = tx.send(Out::Reset).await;
                    self.finish(status::CANCELLED);
                }
                None => {
                    if tx
                        .send(Out::Trailers(frame::trailers(code, msg)))
                        .await
                        .is_ok()
                    {
                        self.finish(code);
                    }
                    // Otherwise the client went away: dropped, the call logs so.
                }
            }
        });
        response(GrpcBody::Channel(rx))
    }
}

/// Not a gRPC code: a stream task returns it to reset the stream instead.
pub const RESET: u8 = 255;

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            self.record(status::CANCELLED, true);
        }
    }
}

/// A stream's sending half.
pub struct Sink(mpsc::Sender<Out>);

impl Sink {
    pub async fn send(&self, m: &impl prost::Message) -> Result<(), Status> {
        self.send_framed(frame::encode(m)).await
    }

    pub async fn send_framed(&self, b: Bytes) -> Result<(), Status> {
        self.0
            .send(Out::Data(b))
            .await
            .map_err(|_| Status::new(status::CANCELLED, "the client went away"))
    }

    /// Resolves when the client has gone (the response body was dropped).
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

fn response(b: GrpcBody) -> Response<Body> {
    let mut r = Response::new(Body::Stream(UnsyncBoxBody::new(b)));
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, CONTENT_TYPE_GRPC.clone());
    r
}

/// An error answered in the headers alone (gRPC's trailers-only form).
pub fn trailers_only(s: &Status) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, CONTENT_TYPE_GRPC.clone());
    frame::put_status(h, s.code, &s.message);
    r
}

/// Serves one gRPC call on a listener; notifying `goaway` shuts the call's
/// connection down gracefully (GOAWAY) once in-flight calls are done.
pub async fn serve(
    state: &Arc<GrpcState>,
    who: Identity,
    parts: Parts,
    body: Incoming,
    goaway: &tokio::sync::Notify,
) -> Response<Body> {
    let call = Call {
        state: state.clone(),
        who,
        parts,
        started: Instant::now(),
        done: false,
    };
    let plan = match state
        .faults
        .draw(call.method(), &call.parts.headers, call.who.fault_headers)
    {
        Ok(p) => p,
        Err(s) => return call.fail(s),
    };
    if plan.goaway {
        // The call is still answered; the connection then goes (GOAWAY).
        goaway.notify_one();
    }
    if !plan.delay.is_zero() {
        crate::timer::sleep_for(plan.delay).await;
    }
    if let Some(code) = plan.reset {
        call.finish(status::CANCELLED);
        return response(GrpcBody::Reset(code));
    }
    if let Some(s) = plan.status {
        return call.fail(s);
    }
    let Some((service, method)) = call
        .method()
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .map(|(s, m)| (s.to_string(), m.to_string()))
    else {
        let m = format!("malformed method path {:?}", call.method());
        return call.fail(Status::new(status::UNIMPLEMENTED, m));
    };
    match service.as_str() {
        "goto.Goto" => super::goto_svc::serve(call, &method, body).await,
        "grpc.health.v1.Health" => super::health::serve(call, &method, body).await,
        "grpc.reflection.v1.ServerReflection" | "grpc.reflection.v1alpha.ServerReflection" => {
            super::reflection::serve(call, body)
        }
        _ => super::user::serve(call, body).await,
    }
}
