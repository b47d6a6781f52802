//! The registry under test: a real `goto --label registry` child process,
//! its CPU time and memory from /proc, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::fail;
use crate::http::Conn;

/// Registry CPU seconds (user + system) and RSS / peak RSS in MB.
pub(crate) fn cpu(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime), in USER_HZ (100 on Linux).
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

pub(crate) fn mem(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

pub(crate) struct Registry {
    pub(crate) child: Child,
}

impl Registry {
    pub(crate) fn start(a: &Args, port: u16) -> Registry {
        let mut cmd = Command::new(&a.goto);
        cmd.args(["--port", &port.to_string(), "--label", "registry"])
            .arg("--request-logs=false")
            // No pod here answers a health probe: with probes on, the
            // registry would drop every simulated pod after three rounds.
            // The reports', reminders' and reads' costs are what is measured.
            .args(["--peer-health-seconds", "0"])
            .env("POD_IP", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(d) = &a.data_dir {
            cmd.args(["--data-dir", d]);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start {}: {e}", a.goto)));
        let reg = Registry { child };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut c = Conn::new(port);
        while Instant::now() < deadline {
            if matches!(c.request("GET", "/label", b""), Ok((200, _))) {
                return reg;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        fail("the registry did not answer within 120 s")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn unsafe_kill9(pid: u32) {
    // No libc dependency here: kill(1) does it.
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}
