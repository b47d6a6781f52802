//! Calls to every pod of a label at once: each pod gets the same steps in
//! order, all pods concurrently, each bounded by a per-peer timeout, so one
//! slow or dead pod costs its own timeout and nothing more.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::call::call;
use crate::App;

/// Time one pod gets for all of its steps.
pub const PER_PEER_TIMEOUT: Duration = Duration::from_secs(3);

/// One call made on each pod: method, path (with query), body.
#[derive(Debug, Clone)]
pub struct Step {
    pub method: Method,
    pub path: String,
    pub body: Bytes,
}

impl Step {
    pub fn post(path: impl Into<String>, body: impl Into<Bytes>) -> Step {
        Step {
            method: Method::POST,
            path: path.into(),
            body: body.into(),
        }
    }

    pub fn get(path: impl Into<String>) -> Step {
        Step {
            method: Method::GET,
            path: path.into(),
            body: Bytes::new(),
        }
    }
}

/// How one pod answered: the last step's reply text, or why it failed
/// (a transport error, a timeout, or a non-2xx status).
pub type Outcome = Result<String, String>;

/// Runs `steps` on every address; returns each pod's outcome.
pub async fn run(
    app: &Arc<App>,
    addrs: Vec<String>,
    steps: Vec<Step>,
) -> BTreeMap<String, Outcome> {
    let steps = Arc::new(steps);
    let mut set = tokio::task::JoinSet::new();
    for addr in addrs {
        let app = app.clone();
        let steps = steps.clone();
        set.spawn(async move {
            let work = run_one(&app, &addr, &steps);
            let out = match tokio::time::timeout(PER_PEER_TIMEOUT, work).await {
                Ok(o) => o,
                Err(_) => Err(format!(
                    "timed out after {}ms",
                    PER_PEER_TIMEOUT.as_millis()
                )),
            };
            (addr, out)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((addr, o)) = joined {
            out.insert(addr, o);
        }
    }
    out
}

async fn run_one(app: &Arc<App>, addr: &str, steps: &[Step]) -> Outcome {
    let mut last = String::new();
    for s in steps {
        let url = format!("http://{addr}{}", s.path);
        let r = call(
            &app.proxy_client,
            s.method.clone(),
            &url,
            s.body.clone(),
            PER_PEER_TIMEOUT,
        )
        .await?;
        if !r.status.is_success() {
            return Err(format!("{}: {}", r.status.as_u16(), r.text()));
        }
        last = r.text();
    }
    Ok(last)
}

/// `{address: {"ok": bool, "message"|"error": text}}`.
pub fn to_json(outcomes: &BTreeMap<String, Outcome>) -> Value {
    Value::Object(
        outcomes
            .iter()
            .map(|(a, o)| {
                let v = match o {
                    Ok(m) => json!({"ok": true, "message": m}),
                    Err(e) => json!({"ok": false, "error": e}),
                };
                (a.clone(), v)
            })
            .collect(),
    )
}
