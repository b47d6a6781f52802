//! The descriptors a listener serves: the built-in services' set (compiled
//! by build.rs with protox and embedded), plus the user's `.proto` files,
//! compiled at run time, and the JSON responses set for their methods.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::GrpcError;
use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use protox::file::{File, FileResolver, GoogleFileResolver};

static BUILTIN_FDS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin.fds"));

/// Services every listener serves, whatever the user adds.
pub const BUILTIN_SERVICES: [&str; 4] = [
    "goto.Goto",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Most user proto files one listener keeps.
pub(super) const MAX_FILES: usize = 64;

/// The built-in descriptors, decoded once.
pub fn builtin() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    // The set is checked when built (build.rs); an empty pool is the
    // impossible fallback rather than a panic in the server.
    POOL.get_or_init(|| DescriptorPool::decode(BUILTIN_FDS).unwrap_or_default())
}

/// The user's proto files and responses, and the pool they make with the built-ins.
pub struct Protos {
    /// `(file name, source)`, in the order added.
    sources: Vec<(String, String)>,
    pool: DescriptorPool,
    /// Encoded responses by method path (`/pkg.Svc/Method`).
    responses: BTreeMap<String, Bytes>,
}

impl Default for Protos {
    fn default() -> Protos {
        Protos {
            sources: Vec::new(),
            pool: builtin().clone(),
            responses: BTreeMap::new(),
        }
    }
}

/// Serves the user's sources to protox (then Google's well-known types).
struct Sources(Vec<(String, String)>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.iter().find(|(n, _)| n == name) {
            Some((n, s)) => File::from_source(n, s),
            None => GoogleFileResolver::new().open_file(name),
        }
    }
}

/// `greeter` or `greeter.proto` -> `greeter.proto`.
pub fn file_name(name: &str) -> Result<String, GrpcError> {
    let n = name.trim();
    if n.is_empty() || n.contains("..") || n.starts_with('/') || n.contains('\\') {
        return Err(GrpcError::ProtoName(name.to_string()));
    }
    Ok(if n.ends_with(".proto") {
        n.to_string()
    } else {
        format!("{n}.proto")
    })
}

impl Protos {
    /// The pool calls and reflection use (cheap to clone).
    pub fn pool(&self) -> DescriptorPool {
        self.pool.clone()
    }

    /// Compiles `source` as `name` with every file added before (it may
    /// import them); on success replaces the pool. Returns the services the
    /// file defines. Errors name the file and line.
    pub fn add(&mut self, name: &str, source: &str) -> Result<Vec<String>, GrpcError> {
        let file = file_name(name)?;
        let mut sources = self.sources.clone();
        let count = sources.len();
        match sources.iter_mut().find(|(n, _)| *n == file) {
            Some(s) => s.1 = source.to_string(),
            None if count >= MAX_FILES => return Err(GrpcError::TooManyFiles),
            None => sources.push((file.clone(), source.to_string())),
        }
        let names: Vec<String> = sources.iter().map(|(n, _)| n.clone()).collect();
        let mut c = protox::Compiler::with_file_resolver(Sources(sources.clone()));
        c.include_imports(true);
        c.open_files(&names)
            .map_err(|e| GrpcError::Compile(compile_error(&e)))?;
        let mut pool = builtin().clone();
        let fresh: Vec<_> = c
            .file_descriptor_set()
            .file
            .into_iter()
            .filter(|f| pool.get_file_by_name(f.name()).is_none())
            .collect();
        pool.add_file_descriptor_protos(fresh)
            .map_err(|source| GrpcError::Descriptor {
                file: file.clone(),
                source,
            })?;
        let services = pool
            .get_file_by_name(&file)
            .map(|f| f.services().map(|s| s.full_name().to_string()).collect())
            .unwrap_or_default();
        self.sources = sources;
        self.pool = pool;
        // Responses of methods that no longer exist go.
        let pool = &self.pool;
        self.responses
            .retain(|path, _| find_method(pool, path).is_some());
        Ok(services)
    }

    pub fn clear(&mut self) {
        *self = Protos::default();
    }

    /// Sets the response of `service`/`method` from JSON (in the method's
    /// output type's JSON mapping).
    pub fn set_response(
        &mut self,
        service: &str,
        method: &str,
        json: &[u8],
    ) -> Result<String, GrpcError> {
        let path = format!("/{service}/{method}");
        let m = find_method(&self.pool, &path).ok_or_else(|| GrpcError::NoMethod {
            service: service.to_string(),
            method: method.to_string(),
        })?;
        if BUILTIN_SERVICES.contains(&service) {
            return Err(GrpcError::BuiltIn(service.to_string()));
        }
        let text = std::str::from_utf8(json).map_err(|_| GrpcError::ResponseNotUtf8)?;
        let text = if text.trim().is_empty() { "{}" } else { text };
        let mut de = serde_json::Deserializer::from_str(text);
        let msg = DynamicMessage::deserialize(m.output(), &mut de).map_err(|source| {
            GrpcError::Response {
                path: path.clone(),
                output: m.output().full_name().to_string(),
                source,
            }
        })?;
        use prost::Message as _;
        self.responses
            .insert(path.clone(), Bytes::from(msg.encode_to_vec()));
        Ok(path)
    }

    /// The encoded response set for a method path (none: an empty message).
    pub fn response(&self, path: &str) -> Bytes {
        self.responses.get(path).cloned().unwrap_or_default()
    }

    /// `GET /grpc/protos`: files, their services and methods, set responses.
    pub fn view(&self) -> serde_json::Value {
        let files: Vec<serde_json::Value> = self
            .sources
            .iter()
            .map(|(n, _)| {
                let services: Vec<serde_json::Value> = self
                    .pool
                    .get_file_by_name(n)
                    .map(|f| {
                        f.services()
                            .map(|s| {
                                let methods: Vec<String> =
                                    s.methods().map(|m| m.name().to_string()).collect();
                                serde_json::json!({"name": s.full_name(), "methods": methods})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({"file": n, "services": services})
            })
            .collect();
        let responses: Vec<&String> = self.responses.keys().collect();
        serde_json::json!({"files": files, "responses": responses})
    }
}

/// The method of a path `/pkg.Svc/Method` in `pool`.
pub fn find_method(pool: &DescriptorPool, path: &str) -> Option<MethodDescriptor> {
    let (svc, method) = path.strip_prefix('/')?.split_once('/')?;
    pool.get_service_by_name(svc)?
        .methods()
        .find(|m| m.name() == method)
}

/// protox's error with its file and line (its Debug form carries the
/// position; its Display only the message).
fn compile_error(e: &protox::Error) -> String {
    let dbg = format!("{e:?}");
    let text = if dbg.contains(':') {
        dbg
    } else {
        e.to_string()
    };
    match e.file() {
        Some(f) if !text.starts_with(f) => format!("{f}: {text}"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_decode_with_every_service() {
        let pool = builtin();
        for s in BUILTIN_SERVICES {
            assert!(pool.get_service_by_name(s).is_some(), "{s} missing");
        }
        assert!(find_method(pool, "/goto.Goto/StreamInOut").is_some());
    }

    #[test]
    fn user_protos_compile_and_errors_name_file_and_line() {
        let mut p = Protos::default();
        let src = "syntax = \"proto3\";\npackage demo;\nimport \"google/protobuf/empty.proto\";\nservice Greeter { rpc Hi(google.protobuf.Empty) returns (Reply); }\nmessage Reply { string text = 1; }\n";
        assert_eq!(
            p.add("greeter", src).map_err(|e| e.to_string()),
            Ok(vec!["demo.Greeter".to_string()])
        );
        assert!(p
            .set_response("demo.Greeter", "Hi", br#"{"text":"hey"}"#)
            .is_ok());
        assert!(!p.response("/demo.Greeter/Hi").is_empty());
        assert!(p
            .set_response("demo.Greeter", "Hi", br#"{"nope":1}"#)
            .is_err());
        let err = p
            .add(
                "bad",
                "syntax = \"proto3\";\nmessage X {\n  strin a = 1;\n}\n",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.proto"), "{err}");
        assert!(err.contains(":3:"), "{err}");
        // A failed add leaves the pool as it was.
        assert!(p.pool().get_service_by_name("demo.Greeter").is_some());
    }
}
