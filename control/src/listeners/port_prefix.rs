//! The admin listener's `/port/{port}/` prefix (with `--admin-port`): an
//! admin call under it is answered with that listener's state instead of
//! the admin listener's own (`PUT /port/8081/response/status/set/503:2`),
//! so the runtime ports' faults can be set where the admin API lives.
//! Without the prefix a call configures the listener it arrives on.

use std::sync::Arc;

use http::Uri;

use super::Host;
use crate::error::ApiError;
use crate::port::PortState;

pub const PREFIX: &str = "/port/";

/// `/port/{port}/{rest}` split into the port and `/{rest}` (its query
/// kept); the listener must be an HTTP one and `/{rest}` an admin path.
pub fn resolve<H: Host>(app: &H, uri: &Uri) -> Result<(Arc<PortState>, Uri), ApiError> {
    let (port, rest) = split(uri.path())?;
    let state = app.listeners().http(port).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no HTTP listener on port {port} (see GET /listeners)"
        ))
    })?;
    if !app.is_admin(rest) {
        return Err(ApiError::NotFound(format!(
            "{rest} is not an admin path (after {PREFIX}{port})"
        )));
    }
    let target = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let target = target
        .parse()
        .map_err(|_| ApiError::bad(format!("invalid path {rest:?}")))?;
    Ok((state, target))
}

/// The port and the path after it (from its `/`).
fn split(path: &str) -> Result<(u16, &str), ApiError> {
    let after = path.strip_prefix(PREFIX).unwrap_or(path);
    let (port, rest) = match after.find('/') {
        Some(i) => after.split_at(i),
        None => (after, ""),
    };
    let port: u16 = port.parse().map_err(|_| {
        ApiError::bad(format!(
            "{port:?} is not a port number ({PREFIX}{{port}}/ then an admin path)"
        ))
    })?;
    if rest.len() <= 1 {
        return Err(ApiError::bad(format!(
            "{PREFIX}{port}/ needs an admin path after it, e.g. {PREFIX}{port}/response/status"
        )));
    }
    Ok((port, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_port_from_the_admin_path() {
        assert_eq!(
            split("/port/8081/response/status/set/503:2").ok(),
            Some((8081, "/response/status/set/503:2"))
        );
        for bad in [
            "/port/x/response",
            "/port//response",
            "/port/70000/response",
            "/port/8081",
            "/port/8081/",
        ] {
            assert!(matches!(split(bad), Err(ApiError::BadRequest(_))), "{bad}");
        }
    }
}
