//! Issue 25 items 3 and 4: the README stays short with a first `goto load`
//! on its first screen, and its shell blocks (the tour included) run as
//! written against the real binary. Every port the README names is mapped
//! to a free loopback port; `goto` server lines are spawned (killed on
//! drop), `curl` and the other `goto` lines run through `sh` with curl
//! reporting each answer's status; lines for other tools (cargo install,
//! docker, kubectl) are skipped. Needs `curl`: without it the tour prints
//! one line and passes, unless `GOTO_TEST_README_TOUR=1` (set by .ci/run).

mod common;

use common::{free_port, goto_bin, Goto};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Lines of a terminal's first screen: what a newcomer reads before scrolling.
const FIRST_SCREEN: usize = 40;

/// Longest one README command may take (curl has its own --max-time).
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

fn readme() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(p).expect("read README.md")
}

#[test]
fn readme_is_short_and_its_first_screen_reaches_a_load() {
    let text = readme();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() < 450, "README has {} lines", lines.len());
    let first = &lines[..FIRST_SCREEN.min(lines.len())];
    let has = |f: &dyn Fn(&str) -> bool| first.iter().any(|l| f(l.trim()));
    assert!(has(&|l| l == "cargo install --path ."), "no install");
    assert!(has(
        &|l| l.starts_with("goto ") && l.contains("a server on :8080")
    ));
    assert!(has(&|l| l.starts_with("goto load http://")), "no load");
    // The test and run commands stay as they are.
    assert!(text.contains("\ncargo test --workspace\n"));
    assert!(text.contains("\ngoto                      # a server on :8080\n"));
    // The figures moved out, with one summary table and a link left.
    assert!(text.contains("(docs/performance.md)"));
    assert_eq!(text.matches("\n## Performance\n").count(), 1);
    let perf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/performance.md");
    let perf = std::fs::read_to_string(perf).expect("docs/performance.md");
    assert!(perf.contains("tools/bench-load.sh") && perf.contains("tools/bench-h2.sh"));
}

/// The README's ```sh blocks as commands: a command spans lines while a
/// single-quoted string is open or a line ends with `\`.
fn shell_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut cur = String::new();
    for line in text.lines() {
        if !in_block {
            in_block = line.trim() == "```sh";
            continue;
        }
        if line.trim() == "```" {
            in_block = false;
            continue;
        }
        if cur.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        let open = cur.matches('\'').count() % 2 == 1;
        if !open && !line.trim_end().ends_with('\\') {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Every port the commands name (`:8080`, `"port":8081`, `--port 8000`).
fn ports_named(cmds: &[String]) -> Vec<u16> {
    let mut ports = Vec::new();
    for c in cmds {
        for marker in [":", "\"port\":", "--port "] {
            for (i, _) in c.match_indices(marker) {
                let digits: String = c[i + marker.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let (4..=5, Ok(p)) = (digits.len(), digits.parse::<u16>()) {
                    if !ports.contains(&p) {
                        ports.push(p);
                    }
                }
            }
        }
    }
    ports
}

/// `s` with every standalone occurrence of a mapped port replaced, and
/// `localhost` pinned to 127.0.0.1.
fn rewrite(s: &str, map: &BTreeMap<u16, u16>) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()) {
            let end = (i..b.len())
                .find(|&j| !b[j].is_ascii_digit())
                .unwrap_or(b.len());
            let num = &s[i..end];
            match num.parse::<u16>().ok().and_then(|n| map.get(&n)) {
                Some(to) => out.push_str(&to.to_string()),
                None => out.push_str(num),
            }
            i = end;
        } else {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out.replace("localhost:", "127.0.0.1:")
}

/// A `goto load` line shortened to one second (the tour's runs are 10 s).
fn short_load(cmd: &str) -> String {
    let mut c = cmd.replace("-d 10s", "-d 1s").replace("-z 10s", "-z 1s");
    let has_end = [" -d ", " -z ", " -n ", " --duration ", " --stages "]
        .iter()
        .any(|f| c.contains(f));
    if !has_end {
        // Before any comment, so sh sees the flag.
        let at = c.find(" #").unwrap_or(c.trim_end().len());
        c.insert_str(at, " -d 1s");
    }
    c
}

/// The words of a one-line command, without its trailing comment.
fn words(cmd: &str) -> Vec<String> {
    let code = cmd.split(" #").next().unwrap_or("");
    code.split_whitespace().map(str::to_string).collect()
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` through sh in `dir`, `goto` being the binary under test and
/// curl reporting each answer's status on stderr; bounded by COMMAND_LIMIT.
fn run_sh(cmd: &str, dir: &PathBuf) -> Ran {
    let script = format!(
        "set -e\n\
         goto() {{ \"$GOTO_BIN\" \"$@\"; }}\n\
         curl() {{ command curl -sS --max-time 20 -w '%{{stderr}}README_STATUS %{{http_code}}\\n' \"$@\"; }}\n\
         {cmd}"
    );
    let out_path = dir.join("sh.out");
    let err_path = dir.join("sh.err");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GOTO_BIN", goto_bin())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("sh.out"))
        .stderr(std::fs::File::create(&err_path).expect("sh.err"))
        .spawn()
        .expect("spawn sh");
    let deadline = Instant::now() + COMMAND_LIMIT;
    let code = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("README command ran past {COMMAND_LIMIT:?}: {cmd}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Answers the README shows on purpose: requests that carry a fault
/// header, or hit a port while its forced 503s are still being served.
fn expected_failure(cmd: &str, status: u16) -> bool {
    const ADMIN: [&str; 9] = [
        "/response/",
        "/request/",
        "/listeners/",
        "/client/",
        "/jobs/",
        "/registry/",
        "/probes",
        "/metrics",
        "/label",
    ];
    let runtime = !ADMIN.iter().any(|a| cmd.contains(a));
    let closed = status == 0 && cmd.contains("Goto-Fault-Close");
    ((cmd.contains("Goto-Fault-") || runtime) && status == 503) || closed
}

#[test]
fn readme_shell_blocks_run_as_written() {
    let have_curl = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_curl {
        assert!(
            std::env::var_os("GOTO_TEST_README_TOUR").is_none(),
            "GOTO_TEST_README_TOUR is set but curl is not installed"
        );
        println!("readme tour skipped: curl is not installed (set GOTO_TEST_README_TOUR=1 to require it)");
        return;
    }
    let cmds = shell_commands(&readme());
    assert!(cmds.len() > 40, "found only {} commands", cmds.len());
    let mut map = BTreeMap::new();
    for p in ports_named(&cmds) {
        let mut to = free_port();
        while map.values().any(|&v| v == to) {
            to = free_port();
        }
        map.insert(p, to);
    }
    let dir = std::env::temp_dir().join(format!("goto-readme-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let mut servers: BTreeMap<u16, Goto> = BTreeMap::new();
    let (mut ran, mut skipped) = (0, Vec::new());
    for raw in &cmds {
        let cmd = rewrite(raw, &map);
        let w = words(&cmd);
        let first = w.first().map(String::as_str).unwrap_or("");
        let sub = w.get(1).map(String::as_str).unwrap_or("");
        let is_server = first == "goto"
            && !["load", "man", "completions", "--version", "--help"].contains(&sub);
        if is_server {
            let port = w
                .iter()
                .position(|a| a == "--port")
                .and_then(|i| w.get(i + 1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(map[&8080]);
            // The README starts the :8080 server twice (run it, the tour):
            // the newcomer keeps the one running.
            if servers.contains_key(&port) {
                continue;
            }
            let child = Command::new(goto_bin())
                .args(&w[1..])
                .args(if w.iter().any(|a| a == "--port") {
                    vec![]
                } else {
                    vec!["--port".to_string(), port.to_string()]
                })
                .env("POD_IP", "127.0.0.1")
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn goto");
            let g = Goto { child, port };
            g.wait_ready(port);
            servers.insert(port, g);
            ran += 1;
            continue;
        }
        let cmd = match (first, sub) {
            ("curl", _) => cmd,
            ("goto", "load") => short_load(&cmd),
            ("goto", _) => cmd,
            _ => {
                skipped.push(first.to_string());
                continue;
            }
        };
        let r = run_sh(&cmd, &dir);
        ran += 1;
        let statuses: Vec<u16> = r
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("README_STATUS "))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let bad: Vec<u16> = statuses
            .iter()
            .copied()
            .filter(|&s| (s == 0 || s >= 400) && !expected_failure(&cmd, s))
            .collect();
        let curl_failed_on_purpose = r.code == 52 && cmd.contains("Goto-Fault-Close");
        assert!(
            (r.code == 0 || curl_failed_on_purpose) && bad.is_empty(),
            "README command failed (exit {}, statuses {statuses:?}):\n{cmd}\nstdout: {}\nstderr: {}",
            r.code,
            r.stdout.chars().take(2000).collect::<String>(),
            r.stderr.chars().take(2000).collect::<String>(),
        );
    }
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
    skipped.sort();
    skipped.dedup();
    println!("readme tour: {ran} commands ran; skipped lines for {skipped:?} (install or need tools/network)");
    assert!(ran > 40, "only {ran} README commands ran");
}
