//! Server reflection, v1 and v1alpha (the same messages on the wire): the
//! services served (built-ins and the user's), and the file descriptors
//! that define a file name or a symbol, with their imports, as grpcurl,
//! Postman and grpcui ask for them.

use std::collections::HashSet;

use hyper::body::Incoming;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor};

use super::call::Call;
use super::frame::Reader;
use super::pb::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    ReflectionAnswer, ReflectionQuery, ReflectionRequest, ReflectionResponse, ServiceResponse,
};
use super::status::{self, Status};
use crate::body::Body;

pub fn serve(call: Call, body: Incoming) -> http::Response<Body> {
    let state = call.state.clone();
    let mut r = Reader::new(body);
    call.streaming(move |sink| async move {
        loop {
            let next = tokio::select! {
                m = r.next() => m?,
                _ = sink.closed() => return Ok(()),
            };
            let Some(m) = next else { return Ok(()) };
            let req = ReflectionRequest::decode(m).map_err(|e| {
                Status::new(
                    status::INVALID_ARGUMENT,
                    format!("cannot decode the request: {e}"),
                )
            })?;
            let pool = state.protos.read().pool();
            let answer = answer(&pool, req.query.clone());
            sink.send(&ReflectionResponse {
                valid_host: req.host.clone(),
                original_request: Some(req),
                answer: Some(answer),
            })
            .await?;
        }
    })
}

fn not_found(what: String) -> ReflectionAnswer {
    ReflectionAnswer::Error(ErrorResponse {
        error_code: i32::from(status::NOT_FOUND),
        error_message: what,
    })
}

/// The answer to one query against `pool`.
pub fn answer(pool: &DescriptorPool, q: Option<ReflectionQuery>) -> ReflectionAnswer {
    match q {
        Some(ReflectionQuery::ListServices(_)) => ReflectionAnswer::Services(ListServiceResponse {
            service: pool
                .services()
                .map(|s| ServiceResponse {
                    name: s.full_name().to_string(),
                })
                .collect(),
        }),
        Some(ReflectionQuery::FileByFilename(name)) => match pool.get_file_by_name(&name) {
            Some(f) => files(f),
            None => not_found(format!("no file {name:?}")),
        },
        Some(ReflectionQuery::FileContainingSymbol(sym)) => match file_of_symbol(pool, &sym) {
            Some(f) => files(f),
            None => not_found(format!("no symbol {sym:?}")),
        },
        Some(ReflectionQuery::FileContainingExtension(e)) => {
            let found = pool.get_message_by_name(&e.containing_type).and_then(|m| {
                m.extensions()
                    .find(|x| x.number() as i32 == e.extension_number)
                    .map(|x| x.parent_file())
            });
            match found {
                Some(f) => files(f),
                None => not_found(format!(
                    "no extension {} of {:?}",
                    e.extension_number, e.containing_type
                )),
            }
        }
        Some(ReflectionQuery::AllExtensionNumbersOfType(t)) => match pool.get_message_by_name(&t) {
            Some(m) => ReflectionAnswer::ExtensionNumbers(ExtensionNumberResponse {
                base_type_name: t,
                extension_number: m.extensions().map(|x| x.number() as i32).collect(),
            }),
            None => not_found(format!("no message type {t:?}")),
        },
        None => ReflectionAnswer::Error(ErrorResponse {
            error_code: i32::from(status::INVALID_ARGUMENT),
            error_message: "the request asks nothing".into(),
        }),
    }
}

/// The file that defines `sym` (a service, method, message, field, enum,
/// enum value or extension, by full name).
fn file_of_symbol(pool: &DescriptorPool, sym: &str) -> Option<FileDescriptor> {
    let sym = sym.trim_start_matches('.');
    if let Some(s) = pool.get_service_by_name(sym) {
        return Some(s.parent_file());
    }
    if let Some(m) = pool.get_message_by_name(sym) {
        return Some(m.parent_file());
    }
    if let Some(e) = pool.get_enum_by_name(sym) {
        return Some(e.parent_file());
    }
    if let Some(x) = pool.get_extension_by_name(sym) {
        return Some(x.parent_file());
    }
    // A member: `pkg.Service.Method`, `pkg.Message.field`, `pkg.Enum.VALUE`.
    let (parent, _) = sym.rsplit_once('.')?;
    if let Some(s) = pool.get_service_by_name(parent) {
        return Some(s.parent_file());
    }
    if let Some(m) = pool.get_message_by_name(parent) {
        return Some(m.parent_file());
    }
    pool.get_enum_by_name(parent).map(|e| e.parent_file())
}

/// `f` and everything it imports, transitively, each once.
fn files(f: FileDescriptor) -> ReflectionAnswer {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut todo = vec![f];
    while let Some(f) = todo.pop() {
        if !seen.insert(f.name().to_string()) {
            continue;
        }
        out.push(f.file_descriptor_proto().encode_to_vec());
        todo.extend(f.dependencies());
    }
    ReflectionAnswer::Files(FileDescriptorResponse {
        file_descriptor_proto: out,
    })
}
