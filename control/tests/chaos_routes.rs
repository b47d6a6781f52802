//! The fault, toxic and TCP listener routes driven in process: which table
//! answers (the fault tables own the delay and status forms they extend),
//! what reaches the port's state, and the one-line 4xx reasons.

mod common;

use std::sync::Arc;
use std::time::Duration;

use goto_control::port::PortState;
use goto_control::App;
use http::{Method, StatusCode};

fn app() -> (Arc<App>, Arc<PortState>) {
    common::app("chaos-routes")
}

/// Reads are the listing paths; everything else here is a mutation.
async fn call(
    app: &Arc<App>,
    port: &Arc<PortState>,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let read = ["/response/faults", "/listeners/8080/counts"].contains(&uri);
    let method = if read { Method::GET } else { Method::PUT };
    let a = common::call(app, port, method, uri, body).await;
    (a.status, a.text)
}

#[tokio::test]
async fn fault_routes_reach_the_port() {
    let (app, port) = app();
    assert!(!port.faults.active());
    let (s, t) = call(&app, &port, "/response/status/set/503/percent/10", "").await;
    assert_eq!(
        (s, t.as_str()),
        (
            StatusCode::OK,
            "Will respond with status 503 to 10% of requests\n"
        )
    );
    assert!(port.faults.active());
    let (s, t) = call(&app, &port, "/response/delay/set/100ms-300ms", "").await;
    assert_eq!(
        (s, t.as_str()),
        (StatusCode::OK, "Will delay all responses by 100ms-300ms\n")
    );
    assert_eq!(port.responder.lock().delay, None);
    // The seed's fixed form still lands in the responder.
    let (s, _) = call(&app, &port, "/response/delay/set/200ms", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        port.responder.lock().delay,
        Some(Duration::from_millis(200))
    );
    let (s, _) = call(&app, &port, "/response/faults/seed/7", "").await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = call(&app, &port, "/response/faults", "").await;
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["seed"], 7);
    assert_eq!(v["status"][0]["code"], 503);
    let (s, _) = call(&app, &port, "/response/status/clear", "").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(&app, &port, "/response/delay/clear", "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !port.faults.active(),
        "clearing status and delay clears their shares"
    );
    for bad in [
        "/response/status/set/503/percent/200",
        "/response/status/set/abc/percent/10",
        "/response/delay/set/5ms-1ms",
        "/response/close/percent/x",
        "/response/faults/seed/-1",
    ] {
        let (s, t) = call(&app, &port, bad, "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {t}");
        assert_eq!(t.lines().count(), 1, "{bad}: {t}");
    }
}

#[tokio::test]
async fn toxic_and_tcp_routes_need_their_owner() {
    let (app, port) = app();
    let (s, _) = call(
        &app,
        &port,
        "/request/proxy/targets/nope/toxics/add",
        r#"{"type":"latency"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, t) = call(&app, &port, "/listeners/8080/counts", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{t}");
    let target = r#"{"name":"t","url":"http://127.0.0.1:1","match":{"uris":["/t"]}}"#;
    let (s, _) = call(&app, &port, "/request/proxy/targets/add", target).await;
    assert_eq!(s, StatusCode::OK);
    let (s, t) = call(
        &app,
        &port,
        "/request/proxy/targets/t/toxics/add",
        r#"{"type":"slicer"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{t}");
    let (s, _) = call(
        &app,
        &port,
        "/request/proxy/targets/t/toxics/add",
        r#"{"type":"latency"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(port.proxy.toxics.active());
    let (s, _) = call(&app, &port, "/request/proxy/targets/t/remove", "x").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !port.proxy.toxics.active(),
        "a removed target takes its toxics along"
    );
}
