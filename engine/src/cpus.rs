//! How many cores this process may really use: the smaller of its CPU
//! affinity mask and its cgroup CPU quota (v2 `cpu.max`, v1 CFS quota),
//! rounded up. A 250m pod on a 64-core node gets 1 worker, not 64.
//!
//! The parsers take file text, so they are tested on fixtures; only
//! [`quota_cores`] reads /proc and /sys.

use std::path::{Path, PathBuf};

/// Cores the engine uses by default (what [`usable_cores`] makes of this
/// process's affinity mask).
pub fn default_cores() -> usize {
    usable_cores(core_affinity::get_core_ids().map_or(0, |ids| ids.len()))
}

/// Cores the engine uses by default: `affinity` (the cores this process may
/// run on, 0 if unknown) capped by the cgroup quota; at least 1.
pub fn usable_cores(affinity: usize) -> usize {
    let affinity = if affinity == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        affinity
    };
    match quota_cores() {
        Some(q) => affinity.min(q).max(1),
        None => affinity.max(1),
    }
}

/// Cores of the tightest cgroup CPU quota over this process's cgroup and its
/// ancestors, rounded up; None when unlimited or not readable.
pub fn quota_cores() -> Option<usize> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts = parse_mountinfo(&mountinfo);
    let groups = parse_proc_cgroup(&cgroup);
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let mut best: Option<usize> = None;
    let mut take = |q: Option<usize>| {
        if let Some(q) = q {
            best = Some(best.map_or(q, |b| b.min(q)));
        }
    };
    if let Some(path) = &groups.v2 {
        if let Some(m) = mounts.iter().find(|m| m.fstype == "cgroup2") {
            for dir in m.dirs_for(path) {
                take(read(&dir.join("cpu.max")).and_then(|t| parse_cpu_max(&t)));
            }
        }
    }
    if let Some(path) = &groups.v1_cpu {
        let cpu_mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == "cpu"));
        if let Some(m) = cpu_mount {
            for dir in m.dirs_for(path) {
                let quota = read(&dir.join("cpu.cfs_quota_us"));
                let period = read(&dir.join("cpu.cfs_period_us"));
                if let (Some(q), Some(p)) = (quota, period) {
                    take(parse_cfs(&q, &p));
                }
            }
        }
    }
    best
}

/// Cores allowed by a v2 `cpu.max` ("max 100000" or "25000 100000").
pub fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period = it.next().unwrap_or("100000");
    if quota == "max" {
        return None;
    }
    ceil_div(quota.parse().ok()?, period.parse().ok()?)
}

/// Cores allowed by a v1 `cpu.cfs_quota_us` (-1: unlimited) and `cpu.cfs_period_us`.
pub fn parse_cfs(quota: &str, period: &str) -> Option<usize> {
    let q: i64 = quota.trim().parse().ok()?;
    let p: i64 = period.trim().parse().ok()?;
    if q <= 0 {
        return None;
    }
    ceil_div(q.unsigned_abs(), p.unsigned_abs())
}

fn ceil_div(quota: u64, period: u64) -> Option<usize> {
    if quota == 0 || period == 0 {
        return None;
    }
    usize::try_from(quota.div_ceil(period)).ok()
}

/// This process's cgroup paths, from /proc/self/cgroup.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProcCgroup {
    /// The unified (v2) hierarchy's path (`0::/path`).
    pub v2: Option<String>,
    /// The v1 hierarchy holding the `cpu` controller.
    pub v1_cpu: Option<String>,
}

pub fn parse_proc_cgroup(text: &str) -> ProcCgroup {
    let mut out = ProcCgroup::default();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if id == "0" && ctrls.is_empty() {
            out.v2 = Some(path.to_string());
        } else if ctrls.split(',').any(|c| c == "cpu") {
            out.v1_cpu = Some(path.to_string());
        }
    }
    out
}

/// One cgroup filesystem mount from /proc/self/mountinfo.
#[derive(Debug, PartialEq, Eq)]
pub struct Mount {
    /// The cgroup path shown at the mount point (`/` unless bind-mounted).
    pub root: String,
    pub mount_point: PathBuf,
    pub fstype: String,
    pub super_opts: String,
}

impl Mount {
    /// Directories of `cgroup` and each ancestor visible under this mount,
    /// the group itself first. A path outside the mount's root (a container
    /// whose cgroup namespace hides it) maps to the mount point alone.
    fn dirs_for(&self, cgroup: &str) -> Vec<PathBuf> {
        let rel = if self.root == "/" {
            cgroup
        } else {
            match cgroup.strip_prefix(self.root.as_str()) {
                Some(r) if r.is_empty() || r.starts_with('/') => r,
                _ => "",
            }
        };
        let mut dirs = Vec::new();
        let mut rel = rel.trim_end_matches('/');
        loop {
            dirs.push(self.mount_point.join(rel.trim_start_matches('/')));
            match rel.rfind('/') {
                Some(i) => rel = &rel[..i],
                None => break,
            }
            // Bounded by the path's depth; `/a/b` yields `/a/b`, `/a`, ``.
            if dirs.len() > 64 {
                break;
            }
        }
        dirs
    }
}

/// The cgroup and cgroup2 mounts in mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in text.lines() {
        // id parent maj:min root mount-point options [optional...] - fstype source super-options
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        if post[0] != "cgroup" && post[0] != "cgroup2" {
            continue;
        }
        out.push(Mount {
            root: unescape(pre[3]),
            mount_point: PathBuf::from(unescape(pre[4])),
            fstype: post[0].to_string(),
            super_opts: post[2].to_string(),
        });
    }
    out
}

/// mountinfo writes space, tab, newline and backslash as `\040`-style octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_quota_rounds_up() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("25000 100000\n"), Some(1));
        assert_eq!(parse_cpu_max("100000 100000\n"), Some(1));
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("400000 100000"), Some(4));
        assert_eq!(parse_cpu_max("50000"), Some(1));
        assert_eq!(parse_cpu_max(""), None);
        assert_eq!(parse_cpu_max("garbage 100000"), None);
        assert_eq!(parse_cpu_max("100 0"), None);
    }

    #[test]
    fn cfs_quota_v1() {
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("250000\n", "100000\n"), Some(3));
        assert_eq!(parse_cfs("50000", "100000"), Some(1));
        assert_eq!(parse_cfs("x", "100000"), None);
    }

    #[test]
    fn proc_cgroup_v1_and_v2() {
        let hybrid =
            "9:name=systemd:/\n4:memory:/a/b\n2:cpuacct:/\n1:cpu,cpuacct:/kubepods/pod1/c1\n0::/\n";
        assert_eq!(
            parse_proc_cgroup(hybrid),
            ProcCgroup {
                v2: Some("/".into()),
                v1_cpu: Some("/kubepods/pod1/c1".into())
            }
        );
        let unified = "0::/kubepods.slice/pod.slice/cri-abc.scope\n";
        assert_eq!(
            parse_proc_cgroup(unified),
            ProcCgroup {
                v2: Some("/kubepods.slice/pod.slice/cri-abc.scope".into()),
                v1_cpu: None
            }
        );
    }

    const MOUNTINFO: &str = "\
22 1 0:21 / / rw,relatime - overlay overlay rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 /kubepods/pod1 /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
41 31 0:38 / /sys/fs/cgroup/my\\040dir rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn mountinfo_finds_cgroup_mounts() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].root, "/kubepods/pod1");
        assert_eq!(
            m[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[0].fstype, "cgroup");
        assert_eq!(m[0].super_opts, "rw,cpu,cpuacct");
        assert_eq!(m[2].fstype, "cgroup2");
        assert_eq!(m[2].mount_point, PathBuf::from("/sys/fs/cgroup/my dir"));
    }

    #[test]
    fn group_and_ancestors_under_a_mount() {
        let m = &parse_mountinfo(MOUNTINFO)[0];
        assert_eq!(
            m.dirs_for("/kubepods/pod1/c1"),
            vec![
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c1"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
            ]
        );
        // Outside the mount's root (a cgroup namespace): the mount point only.
        assert_eq!(
            m.dirs_for("/elsewhere"),
            vec![PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")]
        );
        let root = Mount {
            root: "/".into(),
            mount_point: "/sys/fs/cgroup".into(),
            fstype: "cgroup2".into(),
            super_opts: "rw".into(),
        };
        assert_eq!(root.dirs_for("/"), vec![PathBuf::from("/sys/fs/cgroup")]);
        assert_eq!(
            root.dirs_for("/a/b"),
            vec![
                PathBuf::from("/sys/fs/cgroup/a/b"),
                PathBuf::from("/sys/fs/cgroup/a"),
                PathBuf::from("/sys/fs/cgroup"),
            ]
        );
    }

    #[test]
    fn usable_cores_is_capped_and_positive() {
        let n = usable_cores(1024);
        assert!((1..=1024).contains(&n));
        assert_eq!(usable_cores(1), 1);
    }
}
