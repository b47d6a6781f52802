//! The UI's routes through the real binary, no browser needed: the page
//! and assets are served (also without the token, which they do not hold
//! data for), data calls keep the admin protection, `--admin-port` keeps
//! the page off other listeners, and the report inlines everything.

mod common;

use common::{free_port, request, Goto};

#[test]
fn page_assets_and_figures_are_served() {
    let g = Goto::start(&["--request-logs=false"]);
    let page = g.get("/ui");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(page.text().contains("/ui/assets/app.js"));
    for (a, ct) in [
        ("style.css", "text/css"),
        ("charts.js", "text/javascript"),
        ("views.js", "text/javascript"),
        ("app.js", "text/javascript"),
        ("server.js", "text/javascript"),
        ("registry.js", "text/javascript"),
    ] {
        let r = g.get(&format!("/ui/assets/{a}"));
        assert_eq!(r.status, 200, "{a}");
        assert_eq!(r.header("content-type"), Some(ct), "{a}");
    }
    let missing = g.get("/ui/assets/nope.js");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text().lines().count(), 1, "{}", missing.text());

    let t = format!(
        r#"{{"name":"t","method":"GET","url":"http://127.0.0.1:{}/status/200","requestCount":20}}"#,
        g.port
    );
    assert_eq!(g.post("/client/targets/add", &t).status, 200);
    assert_eq!(
        g.post("/client/targets/t/invoke?blocking=Y", "").status,
        200
    );
    let f = g.get("/ui/data/targets").json();
    assert_eq!(f["t"]["corrected"]["count"], 20);
    assert_eq!(f["t"]["uncorrected"]["count"], 20);
    let spectrum = f["t"]["corrected"]["spectrum"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(spectrum.len(), 51);
    let last = spectrum[50][0].as_f64().unwrap_or(0.0);
    assert!((last - 99.999).abs() < 1e-9, "{last}");
    // The results' p50 is the figures' p50 (same histogram).
    let res = g.get("/client/results").json();
    assert_eq!(
        res["latencyByTarget"]["t"]["p50"],
        f["t"]["corrected"]["p50"]
    );

    let rep = g.get("/ui/report");
    assert_eq!(rep.status, 200);
    let html = rep.text();
    assert!(html.contains("GV.renderReport"));
    assert!(!html.contains("<script src"), "the report loads nothing");
    assert!(!html.contains("<link"), "the report loads nothing");
    assert!(html.contains(r#""targetInvocationCounts":{"t":20}"#));
}

#[test]
fn token_guards_the_data_not_the_page() {
    let g = Goto::start(&["--request-logs=false", "--admin-token", "s3cret"]);
    assert_eq!(g.get("/ui").status, 200);
    assert_eq!(g.get("/ui/assets/app.js").status, 200);
    assert_eq!(g.get("/ui/data/targets").status, 401);
    assert_eq!(g.get("/ui/report").status, 401);
    let ok = request(
        g.port,
        "GET",
        "/ui/data/targets",
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn only_the_admin_port_serves_the_page() {
    let admin = free_port();
    let g = Goto::start(&["--request-logs=false", "--admin-port", &admin.to_string()]);
    // The admin listener is opened with the instance.
    assert!(common::eventually(
        std::time::Duration::from_secs(10),
        || { common::try_request(admin, "GET", "/ui", &[], b"").is_ok_and(|r| r.status == 200) }
    ));
    let other = g.get("/ui");
    assert!(
        !other.text().contains("/ui/assets/app.js"),
        "runtime traffic there"
    );
}
