//! TCP listeners with modes, the raw TCP proxy listener and toxics (on TCP
//! proxy listeners and on HTTP proxy targets) through the real binary: what
//! each mode answers, added latency (at least the delay), bandwidth (bytes
//! per second, loose bounds: the precise 10 s figure is tools/bench-toxics.sh),
//! data limits, resets, and the counts.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{try_request, Goto};
use serde_json::Value;

fn ok(g: &Goto, method: &str, path: &str, body: &str) -> String {
    let r = common::request(g.port, method, path, &[], body.as_bytes());
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r.text()
}

fn tcp_listener(g: &Goto, json: &str) -> u16 {
    let port = common::free_port();
    let body = json.replace("PORT", &port.to_string());
    ok(g, "POST", "/listeners/add", &body);
    port
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until EOF or an error; the bytes and the error kind, if any.
fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

#[test]
fn tcp_modes_answer_as_named() {
    let g = Goto::start(&["--request-logs=false"]);
    let echo = tcp_listener(&g, r#"{"port":PORT,"protocol":"tcp","mode":"echo"}"#);
    let mut s = connect(echo);
    s.write_all(b"hello").unwrap();
    let mut got = [0u8; 5];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    drop(s);

    let close = tcp_listener(&g, r#"{"port":PORT,"protocol":"tcp","mode":"close"}"#);
    let mut s = connect(close);
    s.write_all(b"x").unwrap();
    assert_eq!(read_all(&mut s).0, b"");

    let silent = tcp_listener(&g, r#"{"port":PORT,"protocol":"tcp","mode":"silent"}"#);
    let mut s = connect(silent);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(b"anyone?").unwrap();
    let e = s.read(&mut got).unwrap_err();
    assert!(matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));

    let payload = tcp_listener(
        &g,
        r#"{"port":PORT,"protocol":"tcp","mode":"payload","payload":"pong\n"}"#,
    );
    let mut s = connect(payload);
    s.write_all(b"ping").unwrap();
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong\n");

    let stream = tcp_listener(
        &g,
        r#"{"port":PORT,"protocol":"tcp","mode":"stream","payload":"tick\n","interval":"10ms"}"#,
    );
    let mut s = connect(stream);
    let mut ticks = [0u8; 15];
    s.read_exact(&mut ticks).unwrap();
    assert_eq!(&ticks, b"tick\ntick\ntick\n");

    let l = g.get("/listeners").json();
    assert_eq!(l[echo.to_string()]["protocol"], "tcp", "{l}");
    assert_eq!(l[echo.to_string()]["mode"], "echo", "{l}");
    let c = g.get(&format!("/listeners/{echo}/counts")).json();
    assert_eq!(c["connections"], 1, "{c}");
    assert_eq!(c["bytesIn"], 5, "{c}");
    assert_eq!(c["bytesOut"], 5, "{c}");
    // Bad input is refused with a reason.
    for bad in [
        r#"{"port":PORT,"protocol":"tcp","mode":"loud"}"#,
        r#"{"port":PORT,"protocol":"tcp","mode":"echo","upstream":"127.0.0.1:1"}"#,
        r#"{"port":PORT,"protocol":"http","mode":"echo"}"#,
    ] {
        let body = bad.replace("PORT", &common::free_port().to_string());
        let r = g.post("/listeners/add", &body);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    assert_eq!(g.get(&format!("/listeners/{}/counts", g.port)).status, 404);
}

#[test]
fn tcp_proxy_listener_relays_through_toxics() {
    let g = Goto::start(&["--request-logs=false"]);
    let echo = tcp_listener(&g, r#"{"port":PORT,"protocol":"tcp","mode":"echo"}"#);
    let proxy = tcp_listener(
        &g,
        &format!(r#"{{"port":PORT,"protocol":"tcp","upstream":"127.0.0.1:{echo}"}}"#),
    );
    let toxics = format!("/listeners/{proxy}/toxics");
    let mut s = connect(proxy);
    s.write_all(b"plain").unwrap();
    let mut got = [0u8; 5];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"plain");
    drop(s);

    // Latency: each way adds at least its delay.
    ok(
        &g,
        "POST",
        &format!("{toxics}/add"),
        r#"{"name":"slow","type":"latency","direction":"upstream","attributes":{"latency":"150ms"}}"#,
    );
    let mut s = connect(proxy);
    let t = Instant::now();
    s.write_all(b"later").unwrap();
    s.read_exact(&mut got).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    drop(s);
    ok(&g, "POST", &format!("{toxics}/slow/remove"), "");

    // Bandwidth: 20 KB/s back to the client.
    ok(
        &g,
        "POST",
        &format!("{toxics}/add"),
        r#"{"name":"bw","type":"bandwidth","attributes":{"rate":20}}"#,
    );
    let mut s = connect(proxy);
    let data = vec![7u8; 40_000];
    let t = Instant::now();
    s.write_all(&data).unwrap();
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).unwrap();
    let rate = data.len() as f64 / t.elapsed().as_secs_f64();
    assert!(
        (10_000.0..=21_000.0).contains(&rate),
        "delivered {rate:.0} B/s for 20 KB/s"
    );
    drop(s);
    ok(&g, "POST", &format!("{toxics}/clear"), "");

    // limit_data closes after N bytes; reset_peer resets.
    ok(
        &g,
        "POST",
        &format!("{toxics}/add"),
        r#"{"type":"limit_data","attributes":{"bytes":4}}"#,
    );
    let mut s = connect(proxy);
    s.write_all(b"abcdefgh").unwrap();
    assert_eq!(read_all(&mut s).0, b"abcd");
    ok(
        &g,
        "POST",
        &format!("{toxics}/limit_data_downstream/remove"),
        "",
    );
    ok(
        &g,
        "POST",
        &format!("{toxics}/add"),
        r#"{"type":"reset_peer","attributes":{"timeout":50}}"#,
    );
    let mut s = connect(proxy);
    let (_, err) = read_all(&mut s);
    assert_eq!(err, Some(std::io::ErrorKind::ConnectionReset));

    let list: Value = g.get(&toxics).json();
    assert_eq!(list[0]["name"], "reset_peer_downstream", "{list}");
    assert_eq!(list[0]["applied"], 1, "{list}");
    let c = g.get(&format!("/listeners/{proxy}/counts")).json();
    assert_eq!(c["closedByToxics"], 1, "{c}");
    assert_eq!(c["resetByToxics"], 1, "{c}");
    let r = g.post(
        &format!("{toxics}/add"),
        r#"{"type":"latency","toxicity":2}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(g.post(&format!("{toxics}/nope/remove"), "").status, 404);
}

#[test]
fn proxy_target_toxics_shape_http_responses() {
    let up = Goto::start(&["--request-logs=false"]);
    let g = Goto::start(&["--request-logs=false"]);
    ok(&up, "PUT", "/response/size/set/40000", "");
    let target = format!(
        r#"{{"name":"t1","url":"http://127.0.0.1:{}","match":{{"uris":["/up"]}}}}"#,
        up.port
    );
    ok(&g, "POST", "/request/proxy/targets/add", &target);
    assert_eq!(g.get("/up/x").body.len(), 40_000);
    let add = "/request/proxy/targets/t1/toxics/add";
    ok(
        &g,
        "POST",
        add,
        r#"{"name":"lat","type":"latency","attributes":{"latency":200}}"#,
    );
    let t = Instant::now();
    let r = g.get("/up/x");
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    ok(
        &g,
        "POST",
        "/request/proxy/targets/t1/toxics/lat/remove",
        "",
    );

    ok(
        &g,
        "POST",
        add,
        r#"{"name":"bw","type":"bandwidth","attributes":{"rate":20}}"#,
    );
    let t = Instant::now();
    assert_eq!(g.get("/up/x").body.len(), 40_000);
    let rate = 40_000.0 / t.elapsed().as_secs_f64();
    assert!((10_000.0..=21_000.0).contains(&rate), "{rate:.0} B/s");
    ok(&g, "POST", "/request/proxy/targets/t1/toxics/bw/remove", "");

    ok(
        &g,
        "POST",
        add,
        r#"{"name":"cut","type":"limit_data","attributes":{"bytes":1000}}"#,
    );
    let r = try_request(g.port, "GET", "/up/x", &[], b"");
    assert!(r.map(|r| r.body.len() < 40_000).unwrap_or(true));
    let list: Value = g.get("/request/proxy/targets/t1/toxics").json();
    assert_eq!(list[0]["name"], "cut", "{list}");
    assert_eq!(list[0]["applied"], 1, "{list}");
    assert_eq!(
        g.post(
            "/request/proxy/targets/nope/toxics/add",
            r#"{"type":"latency"}"#
        )
        .status,
        404
    );
}

/// `--max-conns` holds on TCP listeners as on HTTP ones: past the cap new
/// connections are closed at once (and counted); a slot freed is reused.
#[test]
fn tcp_listener_connection_limit_holds() {
    let g = Goto::start(&["--request-logs=false", "--max-conns", "3"]);
    let echo = tcp_listener(&g, r#"{"port":PORT,"protocol":"tcp","mode":"echo"}"#);
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = connect(echo);
            s.write_all(b"hi").unwrap();
            let mut got = [0u8; 2];
            s.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"hi");
            s
        })
        .collect();
    for _ in 0..2 {
        let mut s = connect(echo);
        let _ = s.write_all(b"hi");
        let (got, _) = read_all(&mut s);
        assert!(got.is_empty(), "served past the cap: {got:?}");
    }
    let c = g.get(&format!("/listeners/{echo}/counts")).json();
    assert_eq!(c["active"], 3, "{c}");
    assert_eq!(c["connections"], 3, "{c}");
    assert_eq!(c["refusedAtLimit"], 2, "{c}");
    // A connection that ends frees its slot.
    held.pop();
    assert!(common::eventually(Duration::from_secs(5), || {
        let mut s = connect(echo);
        let _ = s.write_all(b"ok");
        let mut got = [0u8; 2];
        s.read_exact(&mut got).is_ok() && &got == b"ok"
    }));
    drop(held);
}
