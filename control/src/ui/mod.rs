//! The web UI: `GET /ui` (one page with the client, server and registry
//! views), its compiled-in assets, the latency figures the views draw that
//! the JSON documents lack (`/ui/data/latency`), and self-contained HTML
//! reports (`/ui/report`, and [`report::html`] for `goto load --report`).
//! The page reads the same JSON API as curl does; nothing here keeps state,
//! so an instance nobody watches pays nothing.

pub mod figures;
pub mod report;
pub mod routes;

use http::Method;

/// Whether a request asks for one of the page's static assets: they hold
/// no data, so with `--admin-token` they load without the token (the page
/// then asks for it once and sends it with every data call).
pub fn is_asset(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD) && routes::asset(path).is_some()
}
