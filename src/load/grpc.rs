//! `goto load --grpc`: the call from `--call`, descriptors from `--proto`
//! (with `-I`) or `--protoset`, and the request message from the body
//! flags as JSON, built once before any traffic; every mistake is a usage
//! error naming the method, the field or the proto's file:line.

use goto_engine::grpc::{Descriptors, GrpcCall};

use super::flags::LoadArgs;

/// Most bytes a `--protoset` file may have.
const MAX_PROTOSET: u64 = 64 << 20;

/// The gRPC call of the run, or `None` without `--grpc`; `json` is the
/// request body as the body flags gave it.
pub(super) fn call(args: &LoadArgs, json: &[u8]) -> Result<Option<GrpcCall>, String> {
    if !args.grpc {
        if args.call.is_some() || !args.proto.is_empty() || args.protoset.is_some() {
            return Err("--call, --proto and --protoset need --grpc".into());
        }
        return Ok(None);
    }
    let Some(method) = &args.call else {
        return Err("--grpc needs --call package.Service/Method".into());
    };
    if args.method != "GET" {
        return Err("--grpc calls are POSTs: drop -m".into());
    }
    let descriptors = if let Some(path) = &args.protoset {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.len() > MAX_PROTOSET {
            return Err(format!(
                "{} is larger than {MAX_PROTOSET} bytes",
                path.display()
            ));
        }
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Descriptors::from_protoset(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
    } else if !args.proto.is_empty() {
        Descriptors::from_proto_files(&args.proto, &args.import_paths).map_err(|e| e.to_string())?
    } else {
        return Err("--grpc needs --proto FILE or --protoset FILE".into());
    };
    let json = std::str::from_utf8(json).map_err(|_| "the request JSON is not UTF-8")?;
    descriptors
        .call(method, json)
        .map(Some)
        .map_err(|e| e.to_string())
}
