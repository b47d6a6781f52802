//! `goto load --report FILE.html` through the real binary, opened in
//! headless Chromium from file://: the browser's request log shows no
//! request but the file itself, and the page shows the run's request count.

mod common;
mod ui_browser;

use std::time::Duration;

use common::{load, Goto};
use ui_browser::Browser;

#[test]
fn report_file_opens_offline_and_shows_the_run() {
    let g = Goto::start(&["--request-logs=false"]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui_report");
    std::fs::create_dir_all(&dir).expect("report dir");
    let path = dir.join("run.html");
    let url = format!("http://127.0.0.1:{}/status/200", g.port);
    let p = path.to_string_lossy().to_string();
    let run = load(&[
        "-c",
        "2",
        "--rate",
        "200",
        "-d",
        "2",
        "--no-progress",
        "--json",
        "--report",
        &p,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let requests = run.json()["requests"].as_u64().unwrap_or(0);
    assert!(requests > 100, "{requests}");
    let html = std::fs::read_to_string(&path).expect("report written");
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "nothing loaded from outside"
    );

    // A path that cannot be written is a usage error, before any request.
    let bad = load(&["-n", "1", "--report", "/nonexistent-dir/r.html", &url]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--report"), "{}", bad.stderr);

    let Some(browser) = Browser::start("ui_report") else {
        return;
    };
    let file_url = format!("file://{p}");
    browser.open(&file_url);
    let shown = browser.wait_for(
        "the summary table",
        Duration::from_secs(10),
        "var c = document.querySelector('#targets-table tr[data-target=load] td[data-field=requests]'); return c && c.textContent;",
    );
    assert_eq!(shown, requests.to_string());
    let charts = browser.eval("return document.querySelectorAll('figure.chart svg').length;");
    assert_eq!(charts, 4, "throughput, latency, status mix, spectrum");
    let mix = browser.eval("var c = document.querySelector('#status-mix tr[data-status=\"200 OK\"] td[data-field=count]'); return c && c.textContent;");
    assert_eq!(mix, requests.to_string());
    let sent = browser.requests_sent();
    let outside: Vec<&String> = sent.iter().filter(|u| **u != file_url).collect();
    assert!(outside.is_empty(), "the report made requests: {outside:?}");
    assert!(
        sent.contains(&file_url),
        "the request log saw the page itself: {sent:?}"
    );
    let shot = browser.screenshot("report");
    println!("ui_report: screenshot {}", shot.display());
}
