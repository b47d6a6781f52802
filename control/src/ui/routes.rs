//! `/ui...`: the page, its assets (compiled in), the extra figures it draws
//! and the instance's HTML report.

use std::collections::BTreeMap;
use std::sync::Arc;

use goto_engine::TargetStats;
use http::{header, HeaderValue, Response};
use serde_json::{json, Value};

use super::{figures, report};
use crate::api::Table;
use crate::body::{json, Body};
use crate::client::Client;
use crate::error::{ApiError, ApiResult};

/// What the UI's data routes read of the instance: the client state and
/// the instance's label (for the report's title).
pub trait UiSource: Sync + 'static {
    fn client(&self) -> &Arc<Client>;
    fn label(&self) -> &str;
}

/// The page and its assets: (name under `/ui/assets/`, content type, text).
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css", include_str!("assets/style.css")),
    (
        "charts.js",
        "text/javascript",
        include_str!("assets/charts.js"),
    ),
    (
        "views.js",
        "text/javascript",
        include_str!("assets/views.js"),
    ),
    ("app.js", "text/javascript", include_str!("assets/app.js")),
    (
        "server.js",
        "text/javascript",
        include_str!("assets/server.js"),
    ),
    (
        "registry.js",
        "text/javascript",
        include_str!("assets/registry.js"),
    ),
];

const INDEX: &str = include_str!("assets/index.html");

/// The asset a path names, if any (`/ui` is the page itself).
pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    if path == "/ui" || path == "/ui/" {
        return Some(("text/html; charset=utf-8", INDEX));
    }
    let name = path.strip_prefix("/ui/assets/")?;
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ct, text)| (*ct, *text))
}

/// One asset's text by name (the report inlines them).
pub fn asset_text(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, _, t)| *t)
}

pub fn table<U: UiSource>() -> Table<U> {
    Table::<U>::new("/ui")
        .get("/ui", |_, _| Ok(page("/ui")))
        .get("/ui/assets/{file}", |_, q| {
            let path = format!("/ui/assets/{}", q.param("file"));
            asset(&path)
                .map(|_| page(&path))
                .ok_or_else(|| ApiError::NotFound(format!("no UI asset {:?}", q.param("file"))))
        })
        .get_async("/ui/data/targets", |app, _| {
            Box::pin(async move {
                let stats = merged(app.client()).await?;
                Ok(json(&figures::document(&stats)))
            })
        })
        .get_async("/ui/report", |app, _| Box::pin(instance_report(app)))
}

fn page(path: &str) -> Response<Body> {
    let (ct, text) = asset(path).unwrap_or(("text/plain", ""));
    typed(ct, text.to_string())
}

fn typed(ct: &'static str, text: String) -> Response<Body> {
    let mut r = Response::new(Body::from_bytes(text));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    // The assets change only with the binary; the data calls are never cached.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Every invocation's stats merged per target, as `/client/results` merges them.
async fn merged(client: &Arc<Client>) -> Result<BTreeMap<String, TargetStats>, ApiError> {
    let a2 = client.clone();
    tokio::task::spawn_blocking(move || {
        let mut m: BTreeMap<String, TargetStats> = BTreeMap::new();
        for s in a2.snapshots() {
            for (name, st) in s.stats {
                m.entry(name).or_default().merge(&st);
            }
        }
        m
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))
}

/// `GET /ui/report`: this instance's client results as one HTML file.
async fn instance_report<U: UiSource>(app: &U) -> ApiResult {
    let stats = merged(app.client()).await?;
    let a2 = app.client().clone();
    let (results, timeline) = tokio::task::spawn_blocking(move || {
        let r = serde_json::to_value(a2.results(false)).unwrap_or_default();
        let t = serde_json::to_value(a2.timelines()).unwrap_or_default();
        (r, t)
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))?;
    let data = json!({
        "title": format!("goto client results: {}", app.label()),
        "generated": crate::timefmt::rfc3339(std::time::SystemTime::now()),
        "results": results,
        "timeline": timeline,
        "figures": figures::document(&stats),
        "targets": targets_json(app.client()),
    });
    Ok(typed("text/html; charset=utf-8", report::html(&data)))
}

fn targets_json(client: &Client) -> Value {
    let mut m = serde_json::Map::new();
    for t in client.targets() {
        m.insert(
            t.name().to_string(),
            serde_json::to_value(&t.input).unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}
