//! The in-process set-up the route tests share: an app with one detached
//! port (no sockets), and an admin call through the route tables.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use goto_control::port::PortState;
use goto_control::{App, ServerConfig};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;

/// An app labelled `label` with port 8080's state, not listening.
pub fn app(label: &str) -> (Arc<App>, Arc<PortState>) {
    let app = App::new(ServerConfig {
        label: Some(label.into()),
        certs: PathBuf::from("/nonexistent"),
        request_logs: false,
        peer_health_interval: None,
        ..Default::default()
    })
    .expect("app");
    let port = app.detached_port(8080).expect("port");
    (app, port)
}

/// What an admin call answered.
pub struct Answer {
    pub status: StatusCode,
    pub allow: Option<String>,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_default()
    }
}

/// Calls the admin API in process; panics if `uri` is not an admin path.
pub async fn call(
    app: &Arc<App>,
    port: &Arc<PortState>,
    method: Method,
    uri: &str,
    body: &str,
) -> Answer {
    let r = app
        .admin_call(
            port,
            method,
            uri,
            &HeaderMap::new(),
            Bytes::from(body.to_string()),
        )
        .await
        .unwrap_or_else(|| panic!("{uri} is not an admin call"));
    let status = r.status();
    let allow = r
        .headers()
        .get(http::header::ALLOW)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let bytes = r
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Answer {
        status,
        allow,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
