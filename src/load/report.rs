//! `goto load --report FILE.html`: the run as one self-contained HTML file,
//! drawn by the same page code as the instance's `/ui/report` (the data in
//! the client results' shape, one target named `load` for the whole run).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use goto_control::client::results;
use goto_control::ui::{figures, report};
use goto_engine::{RunSnapshot, TargetStats};
use serde_json::{json, Value};

use super::summary::RunInfo;

/// The report's one target: the whole run, every URL together.
const NAME: &str = "load";

/// Fails early (a usage error) when the report file (`--report`) cannot
/// be written.
pub(super) fn check(file: Option<&Path>) -> Result<(), String> {
    match file {
        Some(p) => std::fs::write(p, "").map_err(|e| format!("--report {}: {e}", p.display())),
        None => Ok(()),
    }
}

/// Writes the report to `file` (`--report`) when there is one.
pub(super) fn write(
    file: Option<&Path>,
    info: &RunInfo<'_>,
    snap: &RunSnapshot,
    stats: &TargetStats,
    timeline: Value,
) -> Result<(), String> {
    let Some(path) = file else {
        return Ok(());
    };
    let html = report::html(&data(info, snap, stats, timeline));
    std::fs::write(path, html).map_err(|e| format!("--report {}: {e}", path.display()))
}

fn data(info: &RunInfo<'_>, snap: &RunSnapshot, stats: &TargetStats, timeline: Value) -> Value {
    let merged = BTreeMap::from([(NAME.to_string(), stats.clone())]);
    let doc = results::document(&merged, &HashMap::new(), false);
    let urls = info.urls.join(" ");
    json!({
        "title": format!("goto load: {}", first_words(&urls)),
        "generated": goto_control::timefmt::rfc3339(std::time::SystemTime::now()),
        "results": serde_json::to_value(doc).unwrap_or_default(),
        "timeline": { NAME: timeline },
        "figures": figures::document(&merged),
        "targets": { NAME: {
            "url": urls,
            "replicas": info.connections,
            "rate": info.rate,
            "duration": format!("{:.3}s", snap.elapsed.as_secs_f64()),
        }},
    })
}

/// The URLs, shortened for a title.
fn first_words(s: &str) -> String {
    let mut out: String = s.chars().take(100).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
