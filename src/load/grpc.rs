//! `goto load --grpc`: the call from `--call`, descriptors from `--proto`
//! (with `-I`), `--protoset` or `--reflect` (the server's reflection), and the request message from the body
//! flags as JSON, built once before any traffic; every mistake is a usage
//! error naming the method, the field or the proto's file:line.

use goto_engine::grpc::{Descriptors, GrpcCall};

use super::flags::LoadArgs;

/// Most bytes a `--protoset` file may have.
const MAX_PROTOSET: u64 = 64 << 20;
/// Most messages `--stream-messages` may ask a call to send.
const MAX_STREAM_MESSAGES: u32 = 100_000;

/// The gRPC call of the run, or `None` without `--grpc`; `json` is the
/// request body as the body flags gave it.
pub(super) fn call(args: &LoadArgs, json: &[u8]) -> Result<Option<GrpcCall>, String> {
    if !args.grpc {
        if args.stream_messages.is_some() || args.stream_interval.is_some() {
            return Err("--stream-messages and --stream-interval need --grpc".into());
        }
        if args.call.is_some() || !args.proto.is_empty() || args.protoset.is_some() || args.reflect
        {
            return Err("--call, --proto, --protoset and --reflect need --grpc".into());
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
    } else if args.reflect {
        let Some(url) = &args.url else {
            return Err("--reflect takes one URL, not --urls-from-file".into());
        };
        let service = method
            .trim()
            .trim_start_matches('/')
            .rsplit_once('/')
            .map_or(method.as_str(), |(s, _)| s);
        goto_control::client::reflect::fetch_blocking(url.trim(), service, args.connect_timeout.0)
            .map_err(|e| e.to_string())?
    } else {
        return Err("--grpc needs --proto FILE, --protoset FILE or --reflect".into());
    };
    let json = std::str::from_utf8(json).map_err(|_| "the request JSON is not UTF-8")?;
    let call = descriptors.call(method, json).map_err(|e| e.to_string())?;
    let call = with_messages(args, method, call)?;
    let Some(every) = args.stream_interval else {
        return Ok(call);
    };
    if !call.as_ref().is_some_and(GrpcCall::client_streams) {
        return Err(format!(
            "--stream-interval needs a client or bidi streaming method; {method} is not"
        ));
    }
    Ok(call.map(|c| c.with_interval(every)))
}

/// `call` with `--stream-messages` applied (checked against the method).
fn with_messages(
    args: &LoadArgs,
    method: &str,
    call: GrpcCall,
) -> Result<Option<GrpcCall>, String> {
    match args.stream_messages {
        None => Ok(Some(call)),
        Some(n) if !(1..=MAX_STREAM_MESSAGES).contains(&n) => Err(format!(
            "--stream-messages must be 1 to {MAX_STREAM_MESSAGES}"
        )),
        Some(_) if !call.client_streams() => Err(format!(
            "--stream-messages needs a client or bidi streaming method; {method} is not"
        )),
        Some(n) => {
            let one = call.framed.len() as u64;
            if one * u64::from(n) > goto_engine::MAX_BODY as u64 {
                return Err(format!(
                    "--stream-messages {n} x {one} bytes is more than {} bytes a call",
                    goto_engine::MAX_BODY
                ));
            }
            Ok(Some(call.with_messages(n)))
        }
    }
}
