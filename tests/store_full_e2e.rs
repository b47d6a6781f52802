//! Issue 24 row 5: a registry whose `--data-dir` disk fills up. Refused
//! writes are not visible (nor there after a restart), `/health` and the
//! readiness probe answer 503 while the store fails, and writes succeed
//! again once space returns. Needs a small tmpfs (root): skips with one
//! line when it cannot mount one (`.ci/run` runs as root, so it runs there).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{eventually, Goto};

/// A 4 MiB tmpfs, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn new() -> Option<Mount> {
        let dir = std::env::temp_dir().join(format!("goto-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Bytes free on the filesystem holding `p`.
fn avail(p: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(p)
        .output()
        .expect("df");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

fn start(dir: &str) -> Goto {
    Goto::start(&[
        "--request-logs=false",
        "--peer-health-seconds",
        "0",
        "--data-dir",
        dir,
    ])
}

#[test]
fn a_full_disk_rolls_back_refused_writes_reports_and_recovers() {
    let Some(mount) = Mount::new() else {
        println!("skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let dir = mount.0.join("d").to_string_lossy().to_string();
    let g = start(&dir);
    let reg = g.post(
        "/registry/peers/add",
        r#"{"name":"p","address":"127.0.0.1:2"}"#,
    );
    assert_eq!(reg.status, 200, "{}", reg.text());
    // Leave about 300 KB free, then write 2 KB values until the disk is full.
    let filler = mount.0.join("filler");
    let room = avail(&mount.0).saturating_sub(300_000) as usize;
    std::fs::write(&filler, vec![0u8; room]).expect("filler");
    let value = "x".repeat(2000);
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for i in 0..400 {
        let r = g.post(
            &format!("/registry/peers/p/127.0.0.1:2/locker/store/k{i}"),
            &value,
        );
        match r.status {
            200 => acked.push(i),
            503 => refused.push(i),
            s => panic!("k{i}: {s} {}", r.text()),
        }
    }
    assert!(!refused.is_empty(), "the disk never filled");
    let locker = g.get("/registry/peer/p/locker").text();
    let visible = |text: &str, keys: &[i32]| {
        keys.iter()
            .filter(|i| text.contains(&format!("\"k{i}\"")))
            .count()
    };
    assert_eq!(visible(&locker, &refused), 0, "refused writes are visible");
    assert_eq!(visible(&locker, &acked), acked.len());
    let h = g.get("/health");
    assert_eq!(h.status, 503, "{}", h.text());
    assert_eq!(h.json()["status"], "failing", "{}", h.text());
    assert_eq!(g.get("/probes/readiness").status, 503);

    // Space returns: health, readiness and writes recover.
    std::fs::remove_file(&filler).expect("remove filler");
    assert!(
        eventually(Duration::from_secs(10), || g.get("/health").status == 200),
        "health did not recover"
    );
    assert_eq!(g.get("/probes/readiness").status, 200);
    for i in 0..20 {
        let r = g.post(
            &format!("/registry/peers/p/127.0.0.1:2/locker/store/after{i}"),
            "v",
        );
        assert_eq!(r.status, 200, "after{i}: {}", r.text());
    }
    drop(g);
    let g = start(&dir);
    let locker = g.get("/registry/peer/p/locker").text();
    assert_eq!(visible(&locker, &refused), 0, "refused writes came back");
    assert_eq!(
        visible(&locker, &acked),
        acked.len(),
        "acknowledged writes lost"
    );
    assert!(locker.contains("\"after19\""), "{locker}");
    drop(g);
}
