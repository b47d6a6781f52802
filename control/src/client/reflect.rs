//! Descriptors from a server's reflection service (`grpc.reflection.v1`,
//! then `v1alpha`), fetched once at plan time over one h2c connection
//! (hyper's HTTP/2 client, already a dependency): the file that defines
//! the service, then any imported file the answer left out, by name.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::{Buf, Bytes};
use goto_engine::grpc::{frame_message, Descriptors, GrpcError};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message as _;

/// Most files one reflection fetch follows (imports included).
const MAX_FILES: usize = 256;
/// Most bytes one reflection answer may have.
const MAX_ANSWER: usize = 16 << 20;

/// Why a reflection fetch failed; every text names reflection (or the flag)
/// so a CLI can print it as is.
#[derive(Debug, thiserror::Error)]
pub enum ReflectError {
    #[error("reflection: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("reflection: no answer from {url} within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("reflection: bad URL {url:?}: {source}")]
    BadUrl {
        url: String,
        source: http::uri::InvalidUri,
    },
    #[error("--reflect speaks h2c only: use an http:// URL, or --proto/--protoset")]
    NotH2c,
    #[error("reflection: no host in {0:?}")]
    NoHost(String),
    #[error("reflection: cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    #[error("reflection: HTTP/2 handshake with {authority}: {source}")]
    Handshake {
        authority: String,
        source: hyper::Error,
    },
    #[error("reflection: more than {MAX_FILES} files")]
    TooManyFiles,
    #[error("reflection: bad file descriptor: {0}")]
    BadDescriptor(#[source] prost::DecodeError),
    #[error("reflection: {0}")]
    Descriptors(#[source] GrpcError),
    #[error("reflection: the server has no reflection service ({0})")]
    NoService(&'static str),
    #[error("reflection: {0}")]
    Request(#[source] http::Error),
    #[error("reflection: connection lost: {0}")]
    ConnectionLost(#[source] hyper::Error),
    #[error("reflection: {0}")]
    Send(#[source] hyper::Error),
    /// The answer's body failed or passed [`MAX_ANSWER`].
    #[error("reflection: {0}")]
    Body(String),
    #[error("reflection: the server answered {status} {name} for {what:?} (unknown service?)")]
    Status {
        status: i32,
        name: &'static str,
        what: String,
    },
    #[error("reflection: empty answer")]
    Empty,
    #[error("reflection: truncated answer")]
    Truncated,
    #[error("reflection: bad answer: {0}")]
    BadAnswer(#[source] prost::DecodeError),
    #[error("reflection: {what:?}: {message} (code {code})")]
    Refused {
        what: String,
        message: String,
        code: i32,
    },
    #[error("reflection: the answer holds no files")]
    NoFiles,
}

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
pub fn fetch_blocking(
    url: &str,
    service: &str,
    timeout: Duration,
) -> Result<Descriptors, ReflectError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ReflectError::Runtime)?;
    let timeout = if timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        timeout
    };
    rt.block_on(async {
        tokio::time::timeout(timeout, fetch(url, service))
            .await
            .map_err(|_| ReflectError::Timeout {
                url: url.to_string(),
                after: timeout,
            })?
    })
}

/// Fetches the descriptors of `service` from the server at `url`.
pub async fn fetch(url: &str, service: &str) -> Result<Descriptors, ReflectError> {
    let uri: http::Uri = url.parse().map_err(|source| ReflectError::BadUrl {
        url: url.to_string(),
        source,
    })?;
    if uri.scheme_str() != Some("http") {
        return Err(ReflectError::NotH2c);
    }
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .ok_or_else(|| ReflectError::NoHost(url.to_string()))?;
    let port = uri.port_u16().unwrap_or(80);
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|source| ReflectError::Connect {
            authority: authority.clone(),
            source,
        })?;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .map_err(|source| ReflectError::Handshake {
                authority: authority.clone(),
                source,
            })?;
    tokio::spawn(conn);
    let mut path = None;
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut wanted = vec![Ask::FileContainingSymbol(service.to_string())];
    while let Some(ask) = wanted.pop() {
        if files.len() >= MAX_FILES {
            return Err(ReflectError::TooManyFiles);
        }
        let (p, got) = ask_any(&mut sender, &authority, path, ask).await?;
        path = Some(p);
        for f in got {
            let fd = prost_types::FileDescriptorProto::decode(f.as_slice())
                .map_err(ReflectError::BadDescriptor)?;
            if names.insert(fd.name().to_string()) {
                files.push(f);
                for dep in &fd.dependency {
                    wanted.push(Ask::FileByFilename(dep.clone()));
                }
            }
        }
        wanted.retain(|a| !matches!(a, Ask::FileByFilename(n) if names.contains(n)));
    }
    Descriptors::from_file_protos(&files).map_err(ReflectError::Descriptors)
}

type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// Asks on the known reflection path, or v1 then v1alpha.
async fn ask_any(
    sender: &mut Sender,
    authority: &str,
    known: Option<usize>,
    ask: Ask,
) -> Result<(usize, Vec<Vec<u8>>), ReflectError> {
    let paths = match known {
        Some(i) => i..i + 1,
        None => 0..PATHS.len(),
    };
    let mut last = PATHS[0];
    for i in paths {
        match ask_one(sender, authority, PATHS[i], ask.clone()).await? {
            Some(files) => return Ok((i, files)),
            None => last = PATHS[i],
        }
    }
    Err(ReflectError::NoService(last))
}

/// One reflection call; `None` when the server does not implement `path`.
async fn ask_one(
    sender: &mut Sender,
    authority: &str,
    path: &str,
    ask: Ask,
) -> Result<Option<Vec<Vec<u8>>>, ReflectError> {
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
        .map_err(ReflectError::Request)?;
    sender.ready().await.map_err(ReflectError::ConnectionLost)?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(ReflectError::Send)?;
    if resp.status() == http::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let head_status = grpc_status(resp.headers());
    let collected = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| ReflectError::Body(e.to_string()))?;
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
        return Err(ReflectError::Status { status, name, what });
    }
    if data.len() < 5 {
        return Err(ReflectError::Empty);
    }
    let _flag = data.get_u8();
    let len = data.get_u32() as usize;
    if data.len() < len {
        return Err(ReflectError::Truncated);
    }
    let answer = Response::decode(&data[..len]).map_err(ReflectError::BadAnswer)?;
    match answer.answer {
        Some(Answer::Files(f)) => Ok(Some(f.files)),
        Some(Answer::Error(e)) => Err(ReflectError::Refused {
            what,
            message: e.message,
            code: e.code,
        }),
        None => Err(ReflectError::NoFiles),
    }
}

fn grpc_status(h: &http::HeaderMap) -> Option<i32> {
    h.get("grpc-status")?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_before_any_connection_are_typed_and_worded_for_the_cli() {
        let e = fetch_blocking("https://127.0.0.1:1/", "a.B", Duration::from_secs(1));
        assert!(matches!(e, Err(ReflectError::NotH2c)), "{e:?}");
        let e = fetch_blocking("http://", "a.B", Duration::from_secs(1));
        let why = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(why.starts_with("reflection: bad URL \"http://\""), "{why}");
    }
}
