//! Issue 25, a newcomer's first hour with `goto load`: a URL without a
//! scheme, wrk's -t and hey's -z, and a latency table when nothing was
//! answered. Real binary, loopback only, bounded in time.

mod common;

use common::{free_port, load, Goto};

#[test]
fn url_without_scheme_says_what_to_do() {
    for url in ["127.0.0.1:8090/", "localhost:8090"] {
        let r = load(&["--no-progress", "-d", "1s", url]);
        assert_eq!(r.code, 2, "{url}: {}\n{}", r.stderr, r.stdout);
        let want = format!("missing http:// or https:// in {url:?} (try http://{url})");
        assert!(r.stderr.contains(&want), "{url}: {}", r.stderr);
    }
    // The URL list goes through the same parser.
    let dir = std::env::temp_dir().join(format!("goto-newcomer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("urls.txt");
    std::fs::write(&f, "127.0.0.1:8090/\n").unwrap();
    let r = load(&[
        "--no-progress",
        "-d",
        "1s",
        "--urls-from-file",
        f.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 2, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stderr.contains("missing http:// or https://"),
        "{}",
        r.stderr
    );
}

#[test]
fn wrk_t_and_hey_z_are_accepted() {
    let goto = Goto::start(&["--request-logs=false"]);
    let url = format!("http://127.0.0.1:{}/", goto.port);
    let r = load(&[
        "--json",
        "--no-progress",
        "-c",
        "2",
        "-t",
        "1",
        "-z",
        "1s",
        &url,
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    let v = r.json();
    assert!(v["answered"].as_u64().unwrap_or(0) > 0, "{v}");
}

#[test]
fn nothing_answered_says_so_in_the_latency_table() {
    // A free port nobody listens on: every connect is refused.
    let url = format!("http://127.0.0.1:{}/", free_port());
    let r = load(&["--no-progress", "-c", "1", "-d", "1s", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stdout.contains("Latency: no request was answered"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Latency (ms)"), "{}", r.stdout);
    // No row of zero latencies (the Duration line has one 0.000 of its own).
    assert!(
        !r.stdout.lines().any(|l| l.matches("0.000").count() > 1),
        "{}",
        r.stdout
    );
}

/// Item 8: a certificate that fails verification stops the run at once,
/// like a refused connect, and says what to do; -k and --cacert both work.
#[test]
fn tls_verification_failure_fails_fast_with_a_hint() {
    let goto = Goto::start(&["--request-logs=false"]);
    let tls_port = free_port();
    let added = goto.post(
        "/listeners/add",
        &format!(r#"{{"port":{tls_port},"protocol":"https"}}"#),
    );
    assert_eq!(added.status, 200, "{}", added.text());
    let url = format!("https://127.0.0.1:{tls_port}/");
    let started = std::time::Instant::now();
    let r = load(&["--no-progress", "-c", "2", "-d", "20s", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stderr, r.stdout);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        r.stderr.contains("certificate signed by unknown authority")
            && r.stderr.contains("-k (--insecure)")
            && r.stderr.contains("--cacert"),
        "{}",
        r.stderr
    );
    let json = load(&["--json", "--no-progress", "-d", "20s", &url]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let v = json.json();
    assert!(v["fatal"].as_str().unwrap_or("").contains("-k"), "{v}");

    let k = load(&["--json", "--no-progress", "-k", "-c", "1", "-d", "1s", &url]);
    assert_eq!(k.code, 0, "{}\n{}", k.stderr, k.stdout);

    // Trusting the listener's own certificate verifies it.
    let pem = goto.get(&format!("/listeners/{tls_port}/cert"));
    assert_eq!(pem.status, 200);
    let dir = std::env::temp_dir().join(format!("goto-newcomer-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("goto.pem");
    std::fs::write(&ca, &pem.body).unwrap();
    let trusted = load(&[
        "--json",
        "--no-progress",
        "--cacert",
        ca.to_str().unwrap(),
        "-c",
        "1",
        "-d",
        "1s",
        &format!("https://localhost:{tls_port}/"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(trusted.code, 0, "{}\n{}", trusted.stderr, trusted.stdout);
    assert!(trusted.json()["answered"].as_u64().unwrap_or(0) > 0);
}

/// Item 9: interval lines and timeline entries count answered requests per
/// second, the summary's meaning, and the interval line says so.
#[test]
fn interval_and_timeline_rates_count_answered_requests() {
    let goto = Goto::start(&["--request-logs=false"]);
    // Half the requests get no answer: the connection is closed.
    assert_eq!(goto.put("/response/close/percent/50").status, 200);
    assert_eq!(goto.put("/response/faults/seed/7").status, 200);
    let dir = std::env::temp_dir().join(format!("goto-newcomer-tl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tl = dir.join("run.jsonl");
    let url = format!("http://127.0.0.1:{}/", goto.port);
    let r = load(&[
        "--no-progress",
        "-c",
        "2",
        "-d",
        "2s",
        "--interval",
        "500ms",
        "--timeline",
        tl.to_str().unwrap(),
        &url,
    ]);
    let lines = std::fs::read_to_string(&tl).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("req/s answered"), "{all}");
    let mut with_errors = 0;
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let requests = v["requests"].as_u64().unwrap();
        let failed = v["countsByStatusCodes"]["0"].as_u64().unwrap_or(0);
        let secs = v["seconds"].as_f64().unwrap();
        let rps = v["rps"].as_f64().unwrap();
        if secs > 0.0 {
            let answered = (requests - failed) as f64 / secs;
            assert!((rps - answered).abs() <= 0.01 * answered.max(1.0), "{v}");
        }
        if failed > 0 {
            with_errors += 1;
            assert!(rps < requests as f64 / secs, "{v}");
        }
    }
    assert!(with_errors > 0, "no interval had errors:\n{lines}");
}

/// Runs `goto load <args>` with stderr on a pseudo-terminal (where the
/// progress line is drawn) and returns everything written to it.
fn load_on_terminal(args: &[&str]) -> String {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    let mut term = unsafe { std::fs::File::from_raw_fd(master) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let mut child = {
        let mut cmd = std::process::Command::new(common::goto_bin());
        cmd.arg("load")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(slave));
        cmd.spawn().expect("spawn goto load")
        // cmd (and this process's copy of the terminal's slave) drops here.
    };
    // Reads until the child's side closes (EIO), so bounded by the child.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = term.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let deadline = std::time::Instant::now() + common::LOAD_LIMIT;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            assert_eq!(st.code(), Some(0), "goto load {args:?}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("goto load {args:?} did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    reader.join().unwrap_or_default()
}

/// Item 10: wrk's Transfer/sec in the text report; on a terminal the
/// progress line shows the total and the time left, for -d and for -n.
#[test]
fn transfer_per_sec_and_progress_total_and_time_left() {
    let goto = Goto::start(&["--request-logs=false"]);
    let url = format!("http://127.0.0.1:{}/", goto.port);
    let r = load(&["--no-progress", "-c", "2", "-d", "1s", &url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Transfer/sec:"))
        .unwrap_or_else(|| panic!("no Transfer/sec:\n{}", r.stdout));
    assert!(line.contains("read") && line.contains("written"), "{line}");

    let by_time = load_on_terminal(&["-c", "2", "-d", "2s", &url]);
    assert!(
        by_time.contains("req/s answered") && by_time.contains("/2s") && by_time.contains("s left"),
        "{by_time}"
    );
    let by_count = load_on_terminal(&["-c", "2", "-r", "400", "-n", "600", &url]);
    assert!(
        by_count.contains("/600 requests") && by_count.contains("s left"),
        "{by_count}"
    );
}

/// Item 11: `goto man` is goto(1), the server; `goto man load` is the
/// goto-load(1) it points at, with the load flags and exit codes.
#[test]
fn man_pages_for_the_server_and_for_load() {
    let man = |args: &[&str]| {
        let out = std::process::Command::new(common::goto_bin())
            .args(args)
            .output()
            .expect("run goto");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, server) = man(&["man"]);
    assert_eq!(code, Some(0));
    assert!(server.contains(".TH goto 1"), "{server}");
    assert!(server.contains("request\\-logs"), "server flags");
    assert!(server.contains("goto\\-load(1)"), "points at the load page");
    let (code, page) = man(&["man", "load"]);
    assert_eq!(code, Some(0));
    assert!(page.contains(".TH goto-load 1"), "{page}");
    assert!(page.contains("goto load"), "{page}");
    for flag in ["urls\\-from\\-file", "\\-\\-insecure", "\\-\\-threshold"] {
        assert!(page.contains(flag), "{flag} missing");
    }
    assert!(page.contains("Exit codes"), "{page}");
    assert!(
        !page.contains("request\\-logs"),
        "server flags in goto-load(1)"
    );
    let (code, _) = man(&["man", "nope"]);
    assert_eq!(code, Some(2));
}

/// A bare HTTP/1.1 server recording (connection number, path) per request;
/// it stops accepting after 30 s or when dropped.
struct PathRecorder {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(usize, String)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl PathRecorder {
    fn start() -> PathRecorder {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let mut conn_no = 0;
            while !st2.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                };
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let (seen, id) = (s2.clone(), conn_no);
                conn_no += 1;
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = c.read(&mut chunk) {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                            buf.drain(..end + 4);
                            let path = head.split(' ').nth(1).unwrap_or("").to_string();
                            seen.lock().unwrap().push((id, path));
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if c.write_all(ok).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        PathRecorder { port, seen, stop }
    }

    fn seen(&self) -> Vec<(usize, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for PathRecorder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn urls_file(name: &str, urls: &[String]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("goto-newcomer-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("urls.txt");
    std::fs::write(&f, urls.join("\n")).unwrap();
    f
}

/// Item 13: URLs on one host and port are taken in turn per request on
/// each connection (so -c 1 serves three paths); URLs on different hosts
/// or ports still get connections dealt to them.
#[test]
fn urls_from_file_pick_a_url_per_request_where_they_share_a_host() {
    let srv = PathRecorder::start();
    let urls: Vec<String> = ["/a", "/b", "/c"]
        .iter()
        .map(|p| format!("http://127.0.0.1:{}{p}", srv.port))
        .collect();
    let f = urls_file("same", &urls);
    let r = load(&[
        "--json",
        "--no-progress",
        "-c",
        "1",
        "-n",
        "30",
        "--urls-from-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    assert_eq!(r.json()["answered"], 30, "{}", r.stdout);
    let seen = srv.seen();
    // (The fail-fast probe's connection sends nothing.)
    let first = seen.first().map(|(c, _)| *c);
    assert!(
        seen.iter().all(|(c, _)| Some(*c) == first),
        "one connection: {seen:?}"
    );
    for p in ["/a", "/b", "/c"] {
        let n = seen.iter().filter(|(_, s)| s == p).count();
        assert_eq!(n, 10, "{p}: {seen:?}");
    }
    // Several connections: each spreads over every path.
    let srv = PathRecorder::start();
    let urls: Vec<String> = ["/a", "/b"]
        .iter()
        .map(|p| format!("http://127.0.0.1:{}{p}", srv.port))
        .collect();
    let f = urls_file("same2", &urls);
    let r = load(&[
        "--no-progress",
        "-c",
        "3",
        "-n",
        "60",
        "--urls-from-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stdout
            .contains("each connection takes them in turn per request"),
        "{}",
        r.stdout
    );
    let seen = srv.seen();
    let conns: std::collections::BTreeSet<usize> = seen.iter().map(|(c, _)| *c).collect();
    assert_eq!(conns.len(), 3, "{seen:?}");
    for c in conns {
        for p in ["/a", "/b"] {
            assert!(
                seen.iter().any(|(k, s)| *k == c && s == p),
                "conn {c} never sent {p}"
            );
        }
    }

    // Two ports: one connection cannot serve both, so they are dealt.
    let (one, two) = (PathRecorder::start(), PathRecorder::start());
    let urls = vec![
        format!("http://127.0.0.1:{}/one", one.port),
        format!("http://127.0.0.1:{}/two", two.port),
    ];
    let f = urls_file("mixed", &urls);
    let r = load(&[
        "--no-progress",
        "-c",
        "1",
        "-n",
        "10",
        "--urls-from-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stderr.contains("need at least 2 connections"),
        "{}",
        r.stderr
    );
    let r = load(&[
        "--no-progress",
        "-c",
        "2",
        "-n",
        "10",
        "--urls-from-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    assert!(one.seen().iter().all(|(_, p)| p == "/one") && !one.seen().is_empty());
    assert!(two.seen().iter().all(|(_, p)| p == "/two") && !two.seen().is_empty());
    for d in ["same", "same2", "mixed"] {
        let dir = std::env::temp_dir().join(format!("goto-newcomer-{d}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
}
