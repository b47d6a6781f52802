//! Stamps `goto --version` with the git revision and the build date.
//! Without git or a .git directory (a Docker build, a source tarball) the
//! revision is `GOTO_GIT_REV` from the environment, else "unknown";
//! `SOURCE_DATE_EPOCH` fixes the date for reproducible builds.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Watches a git file for changes, when it exists (a missing file would
/// rerun this script on every build).
fn watch_git_path(p: &str) {
    if let Some(path) = git(&["rev-parse", "--git-path", p]) {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GOTO_GIT_REV");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let rev = std::env::var("GOTO_GIT_REV")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // Rebuild when HEAD moves: HEAD itself and the branch it points at.
    watch_git_path("HEAD");
    watch_git_path("packed-refs");
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch_git_path(&r);
    }
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    println!("cargo:rustc-env=GOTO_GIT_REV={rev}");
    println!("cargo:rustc-env=GOTO_BUILD_DATE={}", now.date());
}
