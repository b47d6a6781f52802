//! Packaging and observability through the real binary: `--version`,
//! completions and man page, `GOTO_*` environment variables, the server's
//! `--cores`/`--io-driver`, JSON app and request logs (including a request
//! the client gave up on), and the engine's default core count following
//! the CPU affinity mask.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, free_port, goto_bin, try_request};
use serde_json::Value;

/// A server whose stderr goes to a file the test reads; killed on drop.
struct Logged {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Logged {
    /// Starts `goto <args>` with `env`, listening on `port` (given by the
    /// caller: through `--port` or `GOTO_PORT`), and waits until it answers.
    fn start(port: u16, args: &[&str], env: &[(&str, &str)]) -> Logged {
        let log =
            std::env::temp_dir().join(format!("goto-packaging-{}-{port}.log", std::process::id()));
        let file = File::create(&log).expect("create log file");
        let mut cmd = Command::new(goto_bin());
        cmd.args(args)
            .env("POD_IP", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn goto");
        let g = Logged { child, port, log };
        assert!(
            eventually(Duration::from_secs(10), || {
                try_request(port, "GET", "/label", &[], b"").is_ok()
            }),
            "goto did not answer on port {port}: {}",
            g.text()
        );
        g
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every log line, each parsed as JSON (panics on a line that is not).
    fn json_lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(goto_bin())
        .args(args)
        .output()
        .expect("run goto");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_names_revision_and_build_date() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    let line = out.trim();
    assert!(
        line.starts_with(concat!("goto ", env!("CARGO_PKG_VERSION"), " (rev ")),
        "{line}"
    );
    // `built YYYY-MM-DD)`
    let date = line
        .split("built ")
        .nth(1)
        .and_then(|d| d.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no build date: {line}"));
    assert_eq!(date.len(), 10, "{line}");
    assert!(
        date.chars().all(|c| c.is_ascii_digit() || c == '-'),
        "{line}"
    );
}

#[test]
fn completions_for_each_shell_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.len() > 200, "{shell}: {out}");
        assert!(out.contains("goto"), "{shell}");
        assert!(
            out.contains("request-logs"),
            "{shell}: server flags missing"
        );
        assert!(out.contains("load"), "{shell}: subcommand missing");
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "unknown shell is a usage error: {err}");
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH goto 1"), "{out}");
    assert!(out.contains("GOTO_PORT"), "env vars in the man page");
}

#[test]
fn help_shows_the_environment_variables() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for var in [
        "GOTO_PORT",
        "GOTO_LABEL",
        "GOTO_REGISTRY",
        "GOTO_REQUEST_LOGS",
        "GOTO_LOG_FORMAT",
        "GOTO_CORES",
        "GOTO_IO_DRIVER",
        "GOTO_HEADER_TIMEOUT",
        "GOTO_IDLE_TIMEOUT",
        "GOTO_BODY_TIMEOUT",
        "GOTO_H2_PING",
        "GOTO_MAX_CONNS",
        "GOTO_DATA_DIR",
        "GOTO_ADMIN_TOKEN",
        "GOTO_ADMIN_TOKEN_FILE",
        "GOTO_ADMIN_PORT",
        "GOTO_ALLOWED_HOSTS",
    ] {
        assert!(out.contains(var), "{var} missing from --help");
    }
}

/// GOTO_PORT and GOTO_LABEL set the port and label with no flags at all;
/// a flag still wins over its variable.
#[test]
fn environment_variables_configure_the_server() {
    let port = free_port();
    let p = port.to_string();
    let g = Logged::start(port, &[], &[("GOTO_PORT", &p), ("GOTO_LABEL", "from-env")]);
    let r = try_request(g.port, "GET", "/label", &[], b"").expect("label");
    assert_eq!(r.text().trim(), "from-env");
    drop(g);

    let port = free_port();
    let g = Logged::start(
        port,
        &["--port", &port.to_string(), "--label", "from-flag"],
        &[("GOTO_PORT", "1"), ("GOTO_LABEL", "from-env")],
    );
    let r = try_request(g.port, "GET", "/label", &[], b"").expect("label");
    assert_eq!(r.text().trim(), "from-flag");

    // A bad value from the environment is a usage error naming the flag.
    let out = Command::new(goto_bin())
        .env("GOTO_CORES", "0")
        .output()
        .expect("run goto");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cores"));
    // The timeouts read their variables too (they had none before).
    let out = Command::new(goto_bin())
        .env("GOTO_HEADER_TIMEOUT", "soon")
        .output()
        .expect("run goto");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--header-timeout"));
}

/// `--log-format json`: app logs and request logs are JSON lines; request
/// lines carry an RFC 3339 time, the duration and the bytes, and a request
/// the client gave up on during a delay still gets its line (499, aborted).
/// `--cores`/`--io-driver` (here from GOTO_*) are reported at startup and
/// size the engine behind the client API.
#[test]
fn json_logs_and_engine_flags() {
    let port = free_port();
    let g = Logged::start(
        port,
        &["--port", &port.to_string(), "--log-format", "json"],
        &[("GOTO_CORES", "1"), ("GOTO_IO_DRIVER", "epoll")],
    );
    let r = try_request(port, "GET", "/status/201?x=1", &[("x-test", "a\"b")], b"").expect("req");
    assert_eq!(r.status, 201);
    let body_len = r.body.len() as u64;

    // Given up: the response waits 3 s, the client leaves after 200 ms.
    let r = try_request(port, "PUT", "/response/delay/set/3s", &[], b"").expect("delay");
    assert_eq!(r.status, 200, "{}", r.text());
    {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(b"GET /gave-up HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        assert!(s.read(&mut buf).is_err(), "answered before the delay");
    }
    let req_line = |lines: &[Value], uri: &str| -> Option<Value> {
        lines.iter().find(|v| v["uri"] == uri).cloned()
    };
    let mut lines = Vec::new();
    let found = eventually(Duration::from_secs(10), || {
        lines = g.json_lines();
        req_line(&lines, "/gave-up").is_some() && req_line(&lines, "/status/201?x=1").is_some()
    });
    assert!(found, "request lines missing: {}", g.text());

    let ok = req_line(&lines, "/status/201?x=1").unwrap();
    assert_eq!(ok["status"], 201);
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["port"], port);
    assert_eq!(ok["headers"]["x-test"], "a\"b");
    assert_eq!(ok["bytes"], body_len);
    assert!(ok["durationMs"].as_f64().is_some_and(|d| d >= 0.0), "{ok}");
    let t = ok["time"].as_str().unwrap_or_default();
    // 2026-11-30T23:30:01.123456Z
    assert_eq!(t.len(), 27, "{t}");
    assert_eq!((&t[4..5], &t[10..11], &t[26..]), ("-", "T", "Z"), "{t}");
    assert!(ok.get("aborted").is_none());

    let gave_up = req_line(&lines, "/gave-up").unwrap();
    assert_eq!(gave_up["status"], 499);
    assert_eq!(gave_up["aborted"], true);
    assert!(
        gave_up["durationMs"].as_f64().is_some_and(|d| d < 3000.0),
        "{gave_up}"
    );

    // App logs are JSON too; the startup line reports the engine flags.
    let serving = lines
        .iter()
        .find(|v| v["message"] == "goto serving")
        .unwrap_or_else(|| panic!("no startup line: {}", g.text()));
    assert_eq!(serving["engine_cores"], 1);
    assert_eq!(serving["io_driver"], "epoll");
    assert_eq!(serving["io_driver_flag"], "epoll");
    assert!(serving["version"].as_str().is_some());

    // The engine behind the client API starts with them.
    let add = format!(
        r#"{{"name":"t","method":"GET","url":"http://127.0.0.1:{port}/status/200","replicas":1,"requestCount":1}}"#
    );
    let r = try_request(port, "POST", "/response/delay/clear", &[], b"").expect("clear");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = try_request(port, "POST", "/client/targets/add", &[], add.as_bytes()).expect("add");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = try_request(port, "POST", "/client/targets/t/invoke", &[], b"").expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    let started = eventually(Duration::from_secs(10), || {
        g.json_lines()
            .iter()
            .any(|v| v["message"] == "load engine started")
    });
    assert!(started, "{}", g.text());
    let lines = g.json_lines();
    let eng = lines
        .iter()
        .find(|v| v["message"] == "load engine started")
        .unwrap();
    assert_eq!(eng["cores"], 1, "{eng}");
    assert_eq!(eng["driver"], "epoll", "{eng}");
}

/// Text request logs carry the RFC 3339 time, duration and bytes too.
#[test]
fn text_request_log_line() {
    let port = free_port();
    let g = Logged::start(port, &["--port", &port.to_string()], &[]);
    try_request(port, "GET", "/status/202", &[], b"").expect("req");
    let mut line = String::new();
    let found = eventually(Duration::from_secs(10), || {
        line = g
            .text()
            .lines()
            .find(|l| l.contains("GET /status/202"))
            .unwrap_or_default()
            .to_string();
        !line.is_empty()
    });
    assert!(found, "{}", g.text());
    assert!(line.contains(&format!("Z [{port}] 127.0.0.1:")), "{line}");
    assert!(line.ends_with("B -> 202"), "{line}");
    assert!(line.contains("ms "), "{line}");
}

/// The engine's default core count follows the CPU affinity mask (and the
/// cgroup quota, unit-tested on fixtures in goto-engine's cpus module):
/// `goto load` pinned to one CPU runs one worker.
#[test]
fn load_default_cores_follow_the_affinity_mask() {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let _g = Logged::start(
        port,
        &["--port", &port.to_string(), "--request-logs=false"],
        &[],
    );
    let mut cmd = Command::new(goto_bin());
    cmd.args(["load", "-c", "2", "-n", "10", "--json"])
        .arg(format!("http://127.0.0.1:{port}/status/200"));
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(0, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Bounded by -n 10 (and load's own default duration).
    let out = cmd.output().expect("run goto load");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["cores"], 1, "{v}");
}

/// Probe chaos: readiness and liveness answer 200 until set otherwise; a
/// forced status on the port does not touch them or `/health`; `/version`
/// is what `--version` prints; a bad status is a 400 that changes nothing.
#[test]
fn probes_health_and_version() {
    let port = free_port();
    let _g = Logged::start(
        port,
        &["--port", &port.to_string(), "--request-logs=false"],
        &[],
    );
    let call = |m: &str, p: &str| try_request(port, m, p, &[], b"").expect(p);
    assert_eq!(call("PUT", "/response/status/set/503").status, 200);
    assert_eq!(call("GET", "/anything").status, 503);
    assert_eq!(call("GET", "/probes/readiness").status, 200);
    assert_eq!(call("GET", "/probes/liveness").status, 200);
    let h = call("GET", "/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");

    let r = call("POST", "/probes/readiness/set/status/503");
    assert_eq!(
        (r.status, r.text().trim()),
        (200, "readiness probe will answer 503")
    );
    assert_eq!(call("GET", "/probes/readiness").status, 503);
    assert_eq!(call("GET", "/probes/liveness").status, 200);
    assert_eq!(call("PUT", "/probes/liveness/set/status/500").status, 200);
    assert_eq!(call("GET", "/probes/liveness").status, 500);
    let bad = call("POST", "/probes/liveness/set/status/99");
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.text().lines().count(), 1);
    assert_eq!(call("GET", "/probes/liveness").status, 500);
    assert_eq!(call("POST", "/probes/readiness/set/status/200").status, 200);
    assert_eq!(call("GET", "/probes/readiness").status, 200);
    let all = call("GET", "/probes").json();
    assert_eq!(all["readiness"]["status"], 200);
    assert_eq!(all["liveness"]["status"], 500);
    assert_eq!(all["readiness"]["count"], 3);

    let v = call("GET", "/version").json();
    let (_, out, _) = run(&["--version"]);
    let expect = format!(
        "goto {} (rev {}, built {})",
        v["version"].as_str().unwrap_or_default(),
        v["revision"].as_str().unwrap_or_default(),
        v["built"].as_str().unwrap_or_default()
    );
    assert_eq!(out.trim(), expect);
}

/// With the default `--io-driver auto`, the startup line names the driver
/// the engine runs (io_uring or epoll), not `auto`.
#[test]
fn startup_line_names_the_driver_auto_chose() {
    let port = free_port();
    let g = Logged::start(
        port,
        &["--port", &port.to_string(), "--log-format", "json"],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let serving = loop {
        let found = g
            .text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message"] == "goto serving");
        match found {
            Some(v) => break v,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            None => panic!("no startup line: {}", g.text()),
        }
    };
    let d = serving["io_driver"].as_str().unwrap_or("");
    assert!(d == "io_uring" || d == "epoll", "{serving}");
    assert_eq!(serving["io_driver_flag"], "auto");
}
