//! Calls to the services of the user's protos: unary and client-streaming
//! methods answer the response set for them (`POST
//! /grpc/responses/set/{service}/{method}`) or an empty message of the
//! output type; server-streaming ones send it once, bidirectional ones once
//! per request.

use hyper::body::Incoming;

use super::call::Call;
use super::descriptors::find_method;
use super::frame::{self, Reader};
use super::status::{self, Status};
use crate::body::Body;

pub async fn serve(call: Call, body: Incoming) -> http::Response<Body> {
    let (method, response) = {
        let p = call.state.protos.read();
        let m = find_method(&p.pool(), call.method());
        (m, p.response(call.method()))
    };
    let Some(m) = method else {
        let msg = format!(
            "no method {}: add its proto (POST /grpc/protos/add/{{name}})",
            call.method()
        );
        return call.fail(Status::new(status::UNIMPLEMENTED, msg));
    };
    let answer = frame::encode_raw(&response);
    let mut r = Reader::new(body);
    match (m.is_client_streaming(), m.is_server_streaming()) {
        (false, false) => match call.read_one_from(&mut r).await {
            Ok(_) => call.unary(Ok(answer)),
            Err(s) => call.fail(s),
        },
        (true, false) => loop {
            match r.next().await {
                Ok(Some(_)) => {}
                Ok(None) => break call.unary(Ok(answer)),
                Err(s) => break call.fail(s),
            }
        },
        (false, true) => match call.read_one_from(&mut r).await {
            Ok(_) => call.streaming(move |sink| async move { sink.send_framed(answer).await }),
            Err(s) => call.fail(s),
        },
        (true, true) => call.streaming(move |sink| async move {
            loop {
                let next = tokio::select! {
                    m = r.next() => m?,
                    _ = sink.closed() => return Ok(()),
                };
                if next.is_none() {
                    return Ok(());
                }
                sink.send_framed(answer.clone()).await?;
            }
        }),
    }
}
