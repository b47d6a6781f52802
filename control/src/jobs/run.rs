//! One run of a job: `count` iterations of its task with `delay` between
//! them, bounded by `timeout`, ended early by a stop; outputs become results
//! and may start the `outputTrigger` job, the end starts `finishTrigger`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;
use tokio::time::Instant;

use super::spec::{CommandTask, HttpTask, JobSpec, Task};
use super::Jobs;
use crate::body::Body;
use crate::proxy::client::Outbound;

/// A response body kept as a result is cut here.
const MAX_BODY: usize = 1024 * 1024;
/// Per-request bound when the job sets no timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type Markers = BTreeMap<String, String>;

/// What ends a run early: a stop, or the job's timeout.
struct Stopper {
    stop: watch::Receiver<bool>,
    deadline: Option<Instant>,
}

impl Stopper {
    async fn wait(&mut self) {
        let deadline = self.deadline;
        let timeout = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // A dropped sender means the job was replaced or removed: stop too.
            _ = self.stop.wait_for(|s| *s) => {}
            _ = timeout => {}
        }
    }

    /// Sleeps for `d`; false if stopped first.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.wait() => false,
        }
    }
}

pub(super) async fn run(
    jobs: Arc<Jobs>,
    spec: Arc<JobSpec>,
    run: u32,
    markers: Markers,
    stop: watch::Receiver<bool>,
    depth: u32,
) {
    let mut stopper = Stopper {
        stop,
        deadline: spec.timeout.map(|t| Instant::now() + t),
    };
    let ctx = RunCtx {
        jobs,
        spec,
        run,
        markers,
        depth,
    };
    let spec = &ctx.spec;
    let mut stopped = !spec.initial_delay.is_zero() && !stopper.pause(spec.initial_delay).await;
    let mut i = 0;
    while !stopped && i < spec.count {
        let done = match &spec.task {
            Task::Http(t) => http_iteration(&ctx, t, &mut stopper).await,
            Task::Command(c) => command_iteration(&ctx, c, &mut stopper).await,
        };
        stopped = !done;
        i += 1;
        if !stopped && i < spec.count && !spec.delay.is_zero() {
            stopped = !stopper.pause(spec.delay).await;
        }
    }
    ctx.jobs.finish(&spec.id, ctx.run, stopped);
    if let Some(next) = &spec.finish_trigger {
        if let Err(e) = ctx.jobs.start_run(next, Markers::new(), ctx.depth + 1) {
            tracing::warn!(job = %spec.id, trigger = %next, "finish trigger not started: {e}");
        }
    }
}

/// What every part of one run needs: the jobs' state, the job, the run's index,
/// the marker values it was started with and its depth in a trigger chain.
#[derive(Clone)]
struct RunCtx {
    jobs: Arc<Jobs>,
    spec: Arc<JobSpec>,
    run: u32,
    markers: Markers,
    depth: u32,
}

impl RunCtx {
    /// Records an output and hands `found` markers to the `outputTrigger` job.
    fn output(&self, data: serde_json::Value, found: Markers) {
        let spec = &self.spec;
        self.jobs.push(&spec.id, self.run, data);
        if let Some(next) = &spec.output_trigger {
            if let Err(e) = self.jobs.start_run(next, found, self.depth + 1) {
                tracing::warn!(job = %spec.id, trigger = %next, "output trigger not started: {e}");
            }
        }
    }

    /// An error as an output (no markers).
    fn error(&self, msg: String) {
        self.output(msg.into(), Markers::new());
    }
}

/// Replaces `{name}` with marker values.
fn fill(s: &str, markers: &Markers) -> String {
    if markers.is_empty() || !s.contains('{') {
        return s.to_string();
    }
    let mut out = s.to_string();
    for (k, v) in markers {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// One iteration of an HTTP task; false if the run was stopped meanwhile.
async fn http_iteration(ctx: &RunCtx, t: &HttpTask, stopper: &mut Stopper) -> bool {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..t.replicas {
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            for _ in 0..t.request_count {
                let data = send(&ctx.jobs.out, &t, &ctx.markers).await;
                let found = if t.parse_json {
                    json_markers(&data)
                } else {
                    Markers::new()
                };
                ctx.output(data, found);
            }
        });
    }
    let all = async { while set.join_next().await.is_some() {} };
    tokio::select! {
        _ = all => true,
        // Dropping the set aborts the replicas still sending.
        _ = stopper.wait() => false,
    }
}

async fn send(out: &Outbound, t: &HttpTask, markers: &Markers) -> serde_json::Value {
    let err = |e: String| serde_json::Value::String(format!("error: {e}"));
    let url = fill(&t.url, markers);
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(_) => return err(format!("invalid url {url:?}")),
    };
    let mut headers = HeaderMap::new();
    for (k, v) in &t.headers {
        let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&fill(v, markers)),
        ) else {
            return err(format!("invalid header {k:?}"));
        };
        headers.append(k, v);
    }
    let mut req = http::Request::new(Body::from_bytes(fill(&t.body, markers)));
    *req.method_mut() = t.method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let client = match out.pick(t.verify_tls) {
        Ok(c) => c,
        Err(e) => return err(e.to_string()),
    };
    let call = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| crate::proxy::client::error_text(&e))?;
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(d) = frame.into_data() {
                let room = MAX_BODY.saturating_sub(buf.len());
                buf.extend_from_slice(&d[..d.len().min(room)]);
            }
        }
        Ok::<_, String>(buf)
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Err(_) => err(format!("timed out after {}s", REQUEST_TIMEOUT.as_secs())),
        Ok(Err(e)) => err(e),
        Ok(Ok(buf)) => {
            if t.parse_json {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) {
                    return v;
                }
            }
            serde_json::Value::String(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

/// Top-level scalar fields of a JSON object, as markers for a trigger.
fn json_markers(v: &serde_json::Value) -> Markers {
    let Some(o) = v.as_object() else {
        return Markers::new();
    };
    o.iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
            serde_json::Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect()
}

/// Markers picked from one output line by field index (1-based).
fn line_markers(c: &CommandTask, line: &str) -> Markers {
    if c.markers.is_empty() {
        return Markers::new();
    }
    let fields: Vec<&str> = match &c.separator {
        Some(sep) => line.split(sep.as_str()).collect(),
        None => line.split_whitespace().collect(),
    };
    c.markers
        .iter()
        .filter_map(|(name, i)| {
            fields
                .get(i - 1)
                .map(|f| (name.clone(), f.trim().to_string()))
        })
        .collect()
}

/// One iteration of a command task; false if the run was stopped meanwhile.
async fn command_iteration(ctx: &RunCtx, c: &CommandTask, stopper: &mut Stopper) -> bool {
    let markers = &ctx.markers;
    let mut cmd = tokio::process::Command::new(fill(&c.cmd, markers));
    cmd.args(c.args.iter().map(|a| fill(a, markers)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        // A stopped or timed-out run must not leave the command running.
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            ctx.error(format!("error: cannot start {:?}: {e}", c.cmd));
            return true;
        }
    };
    let Some(out) = child.stdout.take() else {
        return true;
    };
    let mut lines = BufReader::new(out).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(l)) => {
                    let found = line_markers(c, &l);
                    ctx.output(l.into(), found);
                }
                Ok(None) => break,
                Err(e) => {
                    ctx.error(format!("error: reading output: {e}"));
                    break;
                }
            },
            _ = stopper.wait() => return false,
        }
    }
    tokio::select! {
        st = child.wait() => {
            if let Ok(st) = st {
                if !st.success() {
                    ctx.error(format!("error: command exited with {st}"));
                }
            }
            true
        }
        _ = stopper.wait() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_markers_and_picks_fields() {
        let m: Markers = [("a".to_string(), "1".to_string())].into();
        assert_eq!(fill("/x/{a}/{b}", &m), "/x/1/{b}");
        let c = CommandTask {
            cmd: "x".into(),
            args: vec![],
            markers: [("first".to_string(), 1), ("third".to_string(), 3)].into(),
            separator: Some(",".into()),
        };
        let got = line_markers(&c, "a, b ,c");
        assert_eq!(got.get("first").map(String::as_str), Some("a"));
        assert_eq!(got.get("third").map(String::as_str), Some("c"));
    }
}
