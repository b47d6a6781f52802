//! Reading an admin call's body, bounded.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::ApiError;

/// Largest admin request body accepted.
pub const ADMIN_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Past the limit, this much more of an oversized body is read and dropped
/// (for at most [`DRAIN_TIME`]) before the 413 goes out: closing a socket
/// with unread data makes the kernel reset it, and the client would see a
/// reset instead of the reason. Beyond that the connection is cut.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads an admin body of at most [`ADMIN_BODY_LIMIT`] bytes within
/// `timeout` (`--body-timeout`; 408 past it).
pub async fn read_admin_body(
    body: Incoming,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, read_now(body)).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::Timeout(format!(
            "request body not received within {}",
            goto_engine::duration::format(timeout)
        ))),
    }
}

async fn read_now(mut body: Incoming) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    let mut over = false;
    let mut drained = 0usize;
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let frame = if over {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(f) => f,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| ApiError::bad(format!("cannot read request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if over {
            drained += data.len();
            if drained > DRAIN_LIMIT {
                break;
            }
        } else if buf.len() + data.len() > ADMIN_BODY_LIMIT {
            over = true;
            buf = BytesMut::new();
        } else {
            buf.extend_from_slice(&data);
        }
    }
    if over {
        return Err(ApiError::TooLarge(ADMIN_BODY_LIMIT));
    }
    Ok(buf.freeze())
}
