//! Headless Chromium for the UI tests, driven over WebDriver: the installed
//! `chromedriver` on a free loopback port, spoken to with the tests' own
//! small HTTP client. `GOTO_TEST_BROWSER=1` (set by .ci/run) makes the
//! browser mandatory; without it a machine lacking Chromium skips the test
//! with one line.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::free_port;

/// A browser session; the session and chromedriver end on drop.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

impl Browser {
    /// A headless Chromium at 1280x800, or None (with one line saying why)
    /// when there is none and the browser is not mandatory.
    pub fn start(test: &str) -> Option<Browser> {
        let mandatory = std::env::var_os("GOTO_TEST_BROWSER").is_some_and(|v| v == "1");
        let chromium = find(
            "GOTO_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver = find("GOTO_CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            assert!(
                !mandatory,
                "GOTO_TEST_BROWSER=1 but chromium or chromedriver is not installed"
            );
            println!("{test}: skipped: chromium and chromedriver are not installed (apt-get install chromium chromium-driver; GOTO_TEST_BROWSER=1 makes this mandatory)");
            return None;
        };
        match Browser::launch(&chromium, &driver) {
            Ok(b) => Some(b),
            Err(e) => {
                assert!(!mandatory, "cannot start headless chromium: {e}");
                println!("{test}: skipped: cannot start headless chromium: {e}");
                None
            }
        }
    }

    fn launch(chromium: &Path, driver: &Path) -> Result<Browser, String> {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", driver.display()))?;
        let mut b = Browser {
            driver: child,
            port,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if wd_request(port, "GET", "/status", b"").is_ok_and(|(st, _)| st == 200) {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not answer within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,800",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync"]
            },
            // The performance log is the browser's request log.
            "goog:loggingPrefs": {"performance": "ALL"}
        }}});
        let v = b.call("POST", "/session", Some(caps))?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {v}"))?
            .to_string();
        Ok(b)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, resp) = wd_request(self.port, method, path, body.as_bytes())
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = serde_json::from_slice(&resp).map_err(|e| {
            let text = String::from_utf8_lossy(&resp);
            format!("{method} {path}: not JSON ({e}): {text}")
        })?;
        if status != 200 {
            return Err(format!("{method} {path}: {status} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let p = format!("/session/{}{path}", self.session);
        self.call(method, &p, body)
            .unwrap_or_else(|e| panic!("webdriver: {e}"))
    }

    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Polls `script` until it returns something other than null/false
    /// (bounded by `within`); panics with `what` otherwise.
    pub fn wait_for(&self, what: &str, within: Duration, script: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.eval(script);
            if !(v.is_null() || v == Value::Bool(false)) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("browser: {what} not seen within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Writes a PNG of the window to target/ui-screenshots/NAME.png.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Resizes the window (CSS pixels).
    pub fn resize(&self, w: u32, h: u32) {
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({ "width": w, "height": h })),
        );
    }

    /// URLs of every request the page sent since the last call (the
    /// browser's network log: `Network.requestWillBeSent`).
    pub fn requests_sent(&self) -> Vec<String> {
        let v = self.session_call("POST", "/se/log", Some(json!({ "type": "performance" })));
        let mut out = Vec::new();
        for entry in v.as_array().into_iter().flatten() {
            let Some(msg) = entry["message"].as_str() else {
                continue;
            };
            let Ok(m) = serde_json::from_str::<Value>(msg) else {
                continue;
            };
            if m["message"]["method"] == "Network.requestWillBeSent" {
                if let Some(u) = m["message"]["params"]["request"]["url"].as_str() {
                    out.push(u.to_string());
                }
            }
        }
        out
    }
}

/// target/ui-screenshots (beside the test binaries' scratch directory).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("ui-screenshots")
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = wd_request(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                b"",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver call: chromedriver keeps connections open whatever the
/// request says, so the answer is read by its Content-Length.
fn wd_request(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let end = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("closed before the header end"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(e) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break e;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let len: Option<usize> = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())
            .flatten()
    });
    let mut rest = buf[end + 4..].to_vec();
    match len {
        Some(n) => {
            while rest.len() < n {
                let k = s.read(&mut chunk)?;
                if k == 0 {
                    return Err(bad("closed before the body end"));
                }
                rest.extend_from_slice(&chunk[..k]);
            }
            rest.truncate(n);
        }
        None => {
            s.read_to_end(&mut rest)?;
        }
    }
    Ok((status, rest))
}
