//! Descriptors from a server's reflection service (`grpc.reflection.v1`,
//! then `v1alpha`), fetched once at plan time over one h2c connection
//! (hyper's HTTP/2 client, already a dependency): the file that defines
//! the service, then any imported file the answer left out, by name.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::{Buf, Bytes};
use goto_engine::grpc::{frame_message, Descriptors};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message as _;

/// Most files one reflection fetch follows (imports included).
const MAX_FILES: usize = 256;
/// Most bytes one reflection answer may have.
const MAX_ANSWER: usize = 16 << 20;

const PATHS: [&str; 2] = [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

#[derive(Clone, PartialEq, prost::Message)]
struct Request {
    #[prost(string, tag = "1")]
    host: String,
    #[prost(oneof = "Ask", tags = "3, 4")]
    ask: Option<Ask>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Ask {
    #[prost(string, tag = "3")]
    FileByFilename(String),
    #[prost(string, tag = "4")]
    FileContainingSymbol(String),
}

#[derive(Clone, PartialEq, prost::Message)]
struct Response {
    #[prost(oneof = "Answer", tags = "4, 7")]
    answer: Option<Answer>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Answer {
    #[prost(message, tag = "4")]
    Files(FileAnswer),
    #[prost(message, tag = "7")]
    Error(ErrorAnswer),
}

#[derive(Clone, PartialEq, prost::Message)]
struct FileAnswer {
    #[prost(bytes = "vec", repeated, tag = "1")]
    files: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ErrorAnswer {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Fetches the descriptors of `service` from the server at `url` (an
/// `http://host:port` URL: h2c), within `timeout`. Blocking: runs its own
/// small runtime, so call it from plain threads only.
pub fn fetch_blocking(url: &str, service: &str, timeout: Duration) -> Result<Descriptors, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("reflection: {e}"))?;
    let timeout = if timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        timeout
    };
    rt.block_on(async {
        tokio::time::timeout(timeout, fetch(url, service))
            .await
            .map_err(|_| format!("reflection: no answer from {url} within {timeout:?}"))?
    })
}

/// Fetches the descriptors of `service` from the server at `url`.
pub async fn fetch(url: &str, service: &str) -> Result<Descriptors, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("reflection: bad URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("--reflect speaks h2c only: use an http:// URL, or --proto/--protoset".into());
    }
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .ok_or_else(|| format!("reflection: no host in {url:?}"))?;
    let port = uri.port_u16().unwrap_or(80);
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("reflection: cannot connect to {authority}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .map_err(|e| format!("reflection: HTTP/2 handshake with {authority}: {e}"))?;
    tokio::spawn(conn);
    let mut path = None;
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut wanted = vec![Ask::FileContainingSymbol(service.to_string())];
    while let Some(ask) = wanted.pop() {
        if files.len() >= MAX_FILES {
            return Err(format!("reflection: more than {MAX_FILES} files"));
        }
        let (p, got) = ask_any(&mut sender, &authority, path, ask).await?;
        path = Some(p);
        for f in got {
            let fd = prost_types::FileDescriptorProto::decode(f.as_slice())
                .map_err(|e| format!("reflection: bad file descriptor: {e}"))?;
            if names.insert(fd.name().to_string()) {
                files.push(f);
                for dep in &fd.dependency {
                    wanted.push(Ask::FileByFilename(dep.clone()));
                }
            }
        }
        wanted.retain(|a| !matches!(a, Ask::FileByFilename(n) if names.contains(n)));
    }
    Descriptors::from_file_protos(&files).map_err(|e| format!("reflection: {e}"))
}

type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// Asks on the known reflection path, or v1 then v1alpha.
async fn ask_any(
    sender: &mut Sender,
    authority: &str,
    known: Option<usize>,
    ask: Ask,
) -> Result<(usize, Vec<Vec<u8>>), String> {
    let paths = match known {
        Some(i) => i..i + 1,
        None => 0..PATHS.len(),
    };
    let mut last = String::new();
    for i in paths {
        match ask_one(sender, authority, PATHS[i], ask.clone()).await {
            Ok(Some(files)) => return Ok((i, files)),
            Ok(None) => last = format!("the server has no reflection service ({})", PATHS[i]),
            Err(e) => return Err(e),
        }
    }
    Err(format!("reflection: {last}"))
}

/// One reflection call; `None` when the server does not implement `path`.
async fn ask_one(
    sender: &mut Sender,
    authority: &str,
    path: &str,
    ask: Ask,
) -> Result<Option<Vec<Vec<u8>>>, String> {
    let what = match &ask {
        Ask::FileByFilename(n) | Ask::FileContainingSymbol(n) => n.clone(),
    };
    let req = Request {
        host: String::new(),
        ask: Some(ask),
    };
    let body = frame_message(&req.encode_to_vec());
    let request = http::Request::post(format!("http://{authority}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(body))
        .map_err(|e| format!("reflection: {e}"))?;
    sender
        .ready()
        .await
        .map_err(|e| format!("reflection: connection lost: {e}"))?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| format!("reflection: {e}"))?;
    if resp.status() == http::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let head_status = grpc_status(resp.headers());
    let collected = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| format!("reflection: {e}"))?;
    let status = collected
        .trailers()
        .and_then(grpc_status)
        .or(head_status)
        .unwrap_or(0);
    if status == 12 {
        return Ok(None);
    }
    let mut data = collected.to_bytes();
    if status != 0 && data.is_empty() {
        let name = u8::try_from(status).map_or("UNKNOWN", goto_engine::grpc::status_name);
        return Err(format!(
            "reflection: the server answered {status} {name} for {what:?} (unknown service?)"
        ));
    }
    if data.len() < 5 {
        return Err("reflection: empty answer".into());
    }
    let _flag = data.get_u8();
    let len = data.get_u32() as usize;
    if data.len() < len {
        return Err("reflection: truncated answer".into());
    }
    let answer =
        Response::decode(&data[..len]).map_err(|e| format!("reflection: bad answer: {e}"))?;
    match answer.answer {
        Some(Answer::Files(f)) => Ok(Some(f.files)),
        Some(Answer::Error(e)) => Err(format!(
            "reflection: {what:?}: {} (code {})",
            e.message, e.code
        )),
        None => Err("reflection: the answer holds no files".into()),
    }
}

fn grpc_status(h: &http::HeaderMap) -> Option<i32> {
    h.get("grpc-status")?.to_str().ok()?.parse().ok()
}
