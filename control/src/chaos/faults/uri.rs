//! Faults for the requests whose path matches a URI pattern (the payload
//! routes' form: `/orders/{id}`, placeholders match one segment), kept
//! beside the port's own and counted per pattern.

use super::FaultConfig;
use crate::responder::payload::{match_uri, uri_pattern};
use crate::responder::ResponderError;

/// Most URI patterns with faults on one port (each admin-configured).
pub const MAX_URIS: usize = 100;

/// One pattern's fault configuration.
pub struct UriFaults {
    pub uri: String,
    segments: Vec<String>,
    pub cfg: FaultConfig,
}

impl UriFaults {
    pub fn new(uri: &str) -> Result<UriFaults, ResponderError> {
        Ok(UriFaults {
            uri: uri.to_string(),
            segments: uri_pattern(uri)?,
            cfg: FaultConfig::default(),
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        match_uri(&self.segments, path).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_payload_uris() {
        let u = UriFaults::new("/orders/{id}").unwrap();
        assert!(u.matches("/orders/7"));
        assert!(!u.matches("/orders/7/items"));
        assert!(!u.matches("/other/7"));
        assert!(UriFaults::new("orders").is_err());
        assert!(UriFaults::new("/a/{").is_err());
    }
}
