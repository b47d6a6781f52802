//! Issue 24 row 4: a damaged `--data-dir` store (empty, garbage, truncated,
//! bit-flipped) stops startup with exit 1, a message naming the file and
//! the problem and how to start anyway; never a panic inside the store
//! library. `--reset-damaged-store` starts empty and keeps the bad file.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, request, try_request, Goto};

const QUIET: &str = "--request-logs=false";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goto-damage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A store holding 40 peers with locker data, closed cleanly.
fn pristine(tag: &str) -> Vec<u8> {
    let dir = temp_dir(&format!("pristine-{tag}"));
    let d = dir.to_string_lossy().to_string();
    let mut g = Goto::start(&[QUIET, "--peer-health-seconds", "0", "--data-dir", &d]);
    let value = "x".repeat(3000);
    for i in 0..40 {
        let body = format!(r#"{{"name":"p{i}","address":"127.0.0.1:{}"}}"#, 2000 + i);
        assert_eq!(g.post("/registry/peers/add", &body).status, 200);
        let path = format!("/registry/peers/p{i}/127.0.0.1:{}/locker/store/k", 2000 + i);
        assert_eq!(g.post(&path, &value).status, 200);
    }
    g.signal(libc::SIGTERM);
    assert!(
        g.wait_exit(Duration::from_secs(10)).is_some(),
        "no clean exit"
    );
    let bytes = std::fs::read(dir.join("goto.redb")).expect("store file");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

enum Outcome {
    Exited(i32, String),
    Started(String),
}

/// Starts goto on `dir`: its exit code and stderr, or that it served.
fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let port = free_port();
    let mut cmd = Command::new(common::goto_bin());
    cmd.args([
        "--port",
        &port.to_string(),
        QUIET,
        "--peer-health-seconds",
        "0",
    ])
    .arg("--data-dir")
    .arg(dir)
    .args(extra)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn goto");
    let deadline = Instant::now() + Duration::from_secs(30);
    let stderr = |child: &mut std::process::Child| {
        let mut s = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    };
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            let err = stderr(&mut child);
            return Outcome::Exited(st.code().unwrap_or(-1), err);
        }
        if try_request(port, "GET", "/registry/peers", &[], b"").is_ok() {
            let peers = request(port, "GET", "/registry/peers", &[], b"").text();
            let _ = child.kill();
            let _ = child.wait();
            return Outcome::Started(peers);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("goto neither served nor exited on {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `bytes` as the store of a fresh directory and starts goto on it.
fn start_on(name: &str, bytes: &[u8]) -> (Outcome, PathBuf) {
    let dir = temp_dir(name);
    std::fs::write(dir.join("goto.redb"), bytes).expect("write store");
    (start(&dir, &[], &[]), dir)
}

fn assert_refused(name: &str, out: &Outcome, dir: &Path) {
    let file = dir.join("goto.redb").display().to_string();
    match out {
        Outcome::Exited(code, err) => {
            assert_eq!(*code, 1, "{name}: {err}");
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert!(err.contains(&file), "{name}: no path: {err}");
            assert!(err.contains("damaged"), "{name}: {err}");
            assert!(err.contains("--reset-damaged-store"), "{name}: {err}");
        }
        Outcome::Started(_) => panic!("{name}: started on a damaged store"),
    }
}

#[test]
fn damaged_stores_stop_startup_with_the_path_and_the_way_out() {
    let good = pristine("damage");
    let (out, dir) = start_on("good", &good);
    match out {
        Outcome::Started(peers) => assert!(peers.contains("\"p39\""), "{peers}"),
        Outcome::Exited(code, err) => panic!("a good store refused ({code}): {err}"),
    }
    let _ = std::fs::remove_dir_all(&dir);

    let garbage: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let len = good.len();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("zero-length".into(), Vec::new()),
        ("garbage".into(), garbage),
    ];
    for cut in [100, 4096, len / 2, len - 4096, len - 1] {
        cases.push((format!("truncated-{cut}"), good[..cut].to_vec()));
    }
    for (name, bytes) in &cases {
        let (out, dir) = start_on(name, bytes);
        assert_refused(name, &out, &dir);
        let _ = std::fs::remove_dir_all(&dir);
    }

    // Bit flips: some land where nothing reads them (the store starts, as
    // it should); none may crash, and those that matter are caught.
    let mut caught = 0;
    let offsets: Vec<usize> = (0..16).map(|i| i * (len / 16) + 200).collect();
    for off in offsets.iter().copied().chain([0]) {
        let mut bytes = good.clone();
        bytes[off] ^= 0x10;
        let name = format!("flip@{off}");
        let (out, dir) = start_on(&name, &bytes);
        if let Outcome::Exited(..) = out {
            assert_refused(&name, &out, &dir);
            caught += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(caught >= 3, "only {caught} of 17 bit flips caught");
}

#[test]
fn reset_damaged_store_starts_empty_and_keeps_the_file() {
    let good = pristine("reset");
    for (how, flag, env) in [
        ("flag", &["--reset-damaged-store"][..], &[][..]),
        ("env", &[][..], &[("GOTO_RESET_DAMAGED_STORE", "true")][..]),
    ] {
        let dir = temp_dir(&format!("reset-{how}"));
        let bad = &good[..good.len() / 2];
        std::fs::write(dir.join("goto.redb"), bad).expect("write store");
        match start(&dir, flag, env) {
            Outcome::Started(peers) => assert_eq!(peers.trim(), "{}", "{how}"),
            Outcome::Exited(code, err) => panic!("{how}: exit {code}: {err}"),
        }
        let kept: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains("goto.redb.damaged-"))
            .collect();
        assert_eq!(kept.len(), 1, "{how}: {kept:?}");
        assert_eq!(std::fs::read(&kept[0]).expect("kept file"), bad, "{how}");
        // The new store is a good one: the next start needs no flag.
        assert!(
            matches!(start(&dir, &[], &[]), Outcome::Started(_)),
            "{how}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
