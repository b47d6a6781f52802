//! Descriptors for gRPC calls, read once at plan time: `.proto` files from
//! disk (with include dirs) or from text (the API's `protoFiles`),
//! compiled in-process by protox (no `protoc`), or a descriptor set
//! (`protoset`); then a method looked up by `package.Service/Method` and
//! its request message turned from JSON into protobuf bytes by
//! prost-reflect. Every failure is a [`GrpcError`] whose text names what
//! to fix (the file and line, the method, the field).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::{CallKind, GrpcCall};

/// Why a gRPC call could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrpcError {
    /// A proto file that does not compile: protox's `file:line:col: why`.
    #[error("proto does not compile: {0}")]
    Proto(String),
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("protoset is not a valid descriptor set: {0}")]
    Protoset(String),
    #[error("call {0:?} is not package.Service/Method")]
    CallSyntax(String),
    #[error("unknown service {service:?} (known: {known})")]
    UnknownService { service: String, known: String },
    #[error("unknown method {method:?} in service {service} (known: {known})")]
    UnknownMethod {
        service: String,
        method: String,
        known: String,
    },
    /// The JSON does not fit the request message; serde names the field.
    #[error("request JSON does not fit {message}: {why}")]
    Json { message: String, why: String },
    #[error("no descriptors: give --proto, --protoset or --reflect")]
    NoDescriptors,
}

/// The descriptors a call is looked up in.
#[derive(Debug, Clone)]
pub struct Descriptors {
    pool: DescriptorPool,
}

impl Descriptors {
    /// Compiles `.proto` files from disk; imports are looked up in
    /// `includes`, then beside each file, then Google's well-known types.
    pub fn from_proto_files(files: &[PathBuf], includes: &[PathBuf]) -> Result<Self, GrpcError> {
        let mut dirs: Vec<PathBuf> = includes.to_vec();
        for f in files {
            let dir = f.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        for f in files {
            if !f.is_file() {
                return Err(GrpcError::Read {
                    path: f.display().to_string(),
                    why: "no such file".into(),
                });
            }
        }
        let mut compiler = protox::Compiler::new(&dirs).map_err(proto_error)?;
        compiler.include_imports(true);
        compiler.open_files(files).map_err(proto_error)?;
        Self::from_set(compiler.file_descriptor_set())
    }

    /// Compiles `.proto` sources given as text, by file name (imports name
    /// each other by those names).
    pub fn from_proto_texts(files: &BTreeMap<String, String>) -> Result<Self, GrpcError> {
        let mut chain = ChainFileResolver::new();
        chain.add(TextResolver(files.clone()));
        chain.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(chain);
        compiler.include_imports(true);
        for name in files.keys() {
            compiler.open_file(name).map_err(proto_error)?;
        }
        Self::from_set(compiler.file_descriptor_set())
    }

    /// A serialized `FileDescriptorSet` (what `protoc -o` and
    /// `buf build -o` write, and what ghz's `--protoset` takes).
    pub fn from_protoset(bytes: &[u8]) -> Result<Self, GrpcError> {
        let pool = DescriptorPool::decode(bytes).map_err(|e| GrpcError::Protoset(e.to_string()))?;
        Ok(Descriptors { pool })
    }

    /// Serialized `FileDescriptorProto`s (what server reflection answers).
    pub fn from_file_protos(files: &[Vec<u8>]) -> Result<Self, GrpcError> {
        let mut set = prost_types::FileDescriptorSet::default();
        for f in files {
            let fd = prost_types::FileDescriptorProto::decode(f.as_slice())
                .map_err(|e| GrpcError::Protoset(e.to_string()))?;
            if !set.file.iter().any(|x| x.name == fd.name) {
                set.file.push(fd);
            }
        }
        Self::from_set(set)
    }

    fn from_set(set: prost_types::FileDescriptorSet) -> Result<Self, GrpcError> {
        let pool = DescriptorPool::from_file_descriptor_set(set)
            .map_err(|e| GrpcError::Proto(e.to_string()))?;
        Ok(Descriptors { pool })
    }

    /// Builds the call `package.Service/Method` (a leading `/` and a `.`
    /// instead of the `/` are accepted too) with the request message from
    /// `json` (an object; empty means the default message).
    pub fn call(&self, call: &str, json: &str) -> Result<GrpcCall, GrpcError> {
        let trimmed = call.trim().trim_start_matches('/');
        let (service, method) = trimmed
            .rsplit_once('/')
            .or_else(|| trimmed.rsplit_once('.'))
            .filter(|(s, m)| !s.is_empty() && !m.is_empty())
            .ok_or_else(|| GrpcError::CallSyntax(call.to_string()))?;
        let svc = self.pool.get_service_by_name(service).ok_or_else(|| {
            let known: Vec<String> = self
                .pool
                .services()
                .map(|s| s.full_name().to_string())
                .collect();
            GrpcError::UnknownService {
                service: service.to_string(),
                known: list(&known),
            }
        })?;
        let m = svc.methods().find(|m| m.name() == method).ok_or_else(|| {
            let known: Vec<String> = svc.methods().map(|m| m.name().to_string()).collect();
            GrpcError::UnknownMethod {
                service: service.to_string(),
                method: method.to_string(),
                known: list(&known),
            }
        })?;
        let input = m.input();
        let json = if json.trim().is_empty() { "{}" } else { json };
        let mut de = serde_json::Deserializer::from_str(json);
        let json_error = |e: serde_json::Error| GrpcError::Json {
            message: input.full_name().to_string(),
            why: e.to_string(),
        };
        let msg = DynamicMessage::deserialize(input.clone(), &mut de).map_err(json_error)?;
        de.end().map_err(json_error)?;
        let kind = match (m.is_client_streaming(), m.is_server_streaming()) {
            (false, false) => CallKind::Unary,
            (false, true) => CallKind::ServerStreaming,
            (true, false) => CallKind::ClientStreaming,
            (true, true) => CallKind::Bidi,
        };
        Ok(GrpcCall::new(
            format!("/{service}/{method}"),
            &msg.encode_to_vec(),
            kind,
        ))
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// protox's Debug form is `file:line:col: message`; Display lacks the place.
fn proto_error(e: protox::Error) -> GrpcError {
    GrpcError::Proto(format!("{e:?}"))
}

/// Proto sources held in memory, by name.
struct TextResolver(BTreeMap<String, String>);

impl FileResolver for TextResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(text) => File::from_source(name, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = r#"syntax = "proto3";
package demo;
message Req { string name = 1; int32 n = 2; }
message Rep { string text = 1; }
service Echo { rpc Say(Req) returns (Rep); rpc Many(Req) returns (stream Rep); }
"#;

    fn texts(text: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("demo.proto".to_string(), text.to_string())])
    }

    #[test]
    fn call_from_json() {
        let d = Descriptors::from_proto_texts(&texts(PROTO)).unwrap();
        let c = d.call("demo.Echo/Say", r#"{"name":"x","n":3}"#).unwrap();
        assert_eq!(c.path, "/demo.Echo/Say");
        assert_eq!(&c.framed[..], &[0, 0, 0, 0, 5, 10, 1, b'x', 16, 3]);
        assert_eq!(
            d.call("demo.Echo/Many", "").unwrap().kind,
            CallKind::ServerStreaming
        );
    }

    #[test]
    fn errors_name_what_to_fix() {
        let d = Descriptors::from_proto_texts(&texts(PROTO)).unwrap();
        let e = d.call("demo.Echo/Nope", "{}").unwrap_err().to_string();
        assert!(e.contains("\"Nope\""), "{e}");
        let e = d
            .call("demo.Echo/Say", r#"{"nmae":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nmae"), "{e}");
        let e = Descriptors::from_proto_texts(&texts("syntax = \"proto3\";\nmessage {"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("demo.proto:2:"), "{e}");
    }
}
