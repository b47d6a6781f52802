//! `/listeners/...`: add, list, open, close and remove listeners; an https
//! listener's certificate.

use std::sync::Arc;

use super::{AddListener, Host, ListenerSpec};
use crate::api::{Req, Table};
use crate::body::{json, ok, text};
use crate::error::ApiResult;

pub fn table<H: Host>() -> Table<Arc<H>> {
    Table::<Arc<H>>::new("/listeners")
        .get("/listeners", |app, _| Ok(json(&app.listeners().view())))
        .post("/listeners/add", add::<H>)
        .get("/listeners/{port}/cert", |app, q| {
            let pem = app.listeners().cert_pem(q.port_param("port")?)?;
            Ok(text(http::StatusCode::OK, pem))
        })
        .post("/listeners/{port}/remove", |app, q| {
            let port = q.port_param("port")?;
            app.listeners().remove(port)?;
            Ok(ok(format!("Listener {port} removed")))
        })
        .post("/listeners/{port}/open", |app, q| {
            let port = q.port_param("port")?;
            let changed = app.listeners().open(app, port)?;
            Ok(ok(format!(
                "Listener {port} {}",
                if changed { "opened" } else { "already open" }
            )))
        })
        .post("/listeners/{port}/close", |app, q| {
            let port = q.port_param("port")?;
            let changed = app.listeners().close(port)?;
            Ok(ok(format!(
                "Listener {port} {}",
                if changed { "closed" } else { "already closed" }
            )))
        })
}

fn add<H: Host>(app: &Arc<H>, q: &Req<'_>) -> ApiResult {
    let req: AddListener = q.json()?;
    let protocol = req
        .protocol
        .as_deref()
        .unwrap_or("http")
        .to_ascii_lowercase();
    let open = req.open.unwrap_or(true);
    let spec = ListenerSpec {
        port: req.port,
        protocol: &protocol,
        label: req.label.as_deref(),
        open,
        cert: req.cert.as_deref(),
        key: req.key.as_deref(),
        tcp: req.tcp_fields(),
    };
    app.listeners().add(app, &spec, false)?;
    Ok(ok(format!(
        "Listener {} added and {}",
        req.port,
        if open { "opened" } else { "closed" }
    )))
}
