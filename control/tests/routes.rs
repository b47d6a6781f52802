//! The admin route tables driven in process, without sockets: matching,
//! parameters, extractors, 404/405 from the tables, and which paths are
//! admin calls at all. End-to-end behaviour stays in the workspace's tests/.

mod common;

use bytes::Bytes;
use common::{app, call};
use http::{HeaderMap, Method, StatusCode};

#[tokio::test]
async fn responder_routes_apply_to_the_port_state() {
    let (app, port) = app("routes-test");
    let r = call(&app, &port, Method::POST, "/response/status/set/503:2", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, "Will respond with forced status: 503 times 2\n");
    let forced = port.responder.lock().forced.map(|f| f.status);
    assert_eq!(forced, Some(503));
    let v = call(&app, &port, Method::GET, "/response/status", "")
        .await
        .json();
    assert_eq!(
        (v["status"].as_u64(), v["remaining"].as_u64()),
        (Some(503), Some(2))
    );
    // PUT is a mutation too.
    let r = call(&app, &port, Method::PUT, "/response/status/clear", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(port.responder.lock().forced.is_none());
    // Extractors answer 400 with a reason.
    let r = call(&app, &port, Method::POST, "/response/status/set/700", "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("100-599"), "{}", r.text);
    let r = call(&app, &port, Method::POST, "/response/delay/set/soon", "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Percent-decoded parameters.
    let r = call(
        &app,
        &port,
        Method::POST,
        "/response/headers/add/x-a/b%20c",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        call(&app, &port, Method::GET, "/response/headers", "")
            .await
            .json()["x-a"],
        "b c"
    );
}

#[tokio::test]
async fn wrong_methods_and_paths_come_from_the_tables() {
    let (app, port) = app("routes-test");
    let r = call(&app, &port, Method::GET, "/response/status/clear", "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    assert_eq!(r.allow.as_deref(), Some("POST, PUT"));
    let r = call(&app, &port, Method::DELETE, "/response/status", "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.allow.as_deref(), Some("GET"));
    let r = call(
        &app,
        &port,
        Method::GET,
        "/response/status/nothing/here",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = call(&app, &port, Method::GET, "/client/nothing", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_table_prefixes_are_admin_paths() {
    let (app, port) = app("routes-test");
    for p in [
        "/response/status",
        "/request/proxy/x",
        "/client",
        "/jobs/a/b",
        "/api/endpoints",
    ] {
        assert!(app.api().is_admin(p), "{p}");
    }
    for p in [
        "/",
        "/echo",
        "/status/503",
        "/response",
        "/response/x",
        "/request/uri/x",
        "/api",
        "/apis",
    ] {
        assert!(!app.api().is_admin(p), "{p}");
        let none = app
            .admin_call(&port, Method::GET, p, &HeaderMap::new(), Bytes::new())
            .await;
        assert!(none.is_none(), "{p}");
    }
}

#[tokio::test]
async fn endpoints_list_every_route_once() {
    let (app, port) = app("routes-test");
    let v = call(&app, &port, Method::GET, "/api/endpoints", "")
        .await
        .json();
    let list = v.as_array().expect("array");
    assert_eq!(list.len(), app.api().endpoints().len());
    let mut seen = std::collections::BTreeSet::new();
    for e in list {
        let key = (
            e["method"].as_str().unwrap_or("").to_string(),
            e["path"].as_str().unwrap_or("").to_string(),
        );
        assert!(seen.insert(key.clone()), "duplicate route {key:?}");
    }
    assert!(seen.contains(&("POST".to_string(), "/listeners/{port}/open".to_string())));
    // Every pattern is reachable: a path built from it finds that pattern
    // (parameters filled with a value no literal route uses).
    for e in app.api().endpoints() {
        let path = e
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "zz-param" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let m = if e.method == "GET" {
            Method::GET
        } else {
            Method::POST
        };
        assert_eq!(
            app.api().pattern_of(&m, &path),
            Some(e.path),
            "{} {path}",
            e.method
        );
    }
}

#[tokio::test]
async fn tracking_and_label_routes() {
    let (app, port) = app("routes-test");
    let r = call(
        &app,
        &port,
        Method::POST,
        "/request/headers/track/add/X-Foo,bar",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(port.tracking.active());
    let v = call(&app, &port, Method::GET, "/request/headers/track", "")
        .await
        .json();
    assert_eq!(v, serde_json::json!(["bar", "x-foo"]));
    let r = call(
        &app,
        &port,
        Method::POST,
        "/request/headers/track/add/bad%20name",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(&app, &port, Method::POST, "/label/set/other", "").await;
    assert_eq!(r.text, "Label set to: other\n");
    assert_eq!(port.label_text(), "other");
    call(&app, &port, Method::POST, "/label/clear", "").await;
    assert_eq!(port.label_text(), "routes-test");
}

#[tokio::test]
async fn client_flags_use_the_one_parser() {
    let (app, port) = app("routes-test");
    let r = call(&app, &port, Method::POST, "/client/blocking/set/N", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!app.client().blocking());
    let r = call(&app, &port, Method::POST, "/client/blocking/set/maybe", "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &app,
        &port,
        Method::GET,
        "/client/results?histograms=maybe",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &app,
        &port,
        Method::POST,
        "/client/targets/invoke/all?blocking=perhaps",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
