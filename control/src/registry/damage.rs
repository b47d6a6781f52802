//! Telling a damaged store file from a usable one before the server opens
//! it. redb trusts its file: a truncated or bit-flipped one makes it panic
//! (failed assertions, slice indexes out of range), and release builds abort
//! on a panic (`panic = "abort"`), so `catch_unwind` cannot help there. The
//! check therefore runs in a forked child: it opens the file, verifies every
//! page's checksum (`check_integrity`) and reads every row; the parent reads
//! the verdict from a pipe, and a child that died (abort, signal) means a
//! damaged file too. Nothing in the parent ever touches a file that failed.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

/// Why a store file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file itself is bad (truncated, corrupted, not a store): moving it
    /// aside is the way to start.
    Damaged(String),
    /// Something else (locked by another process, no permission).
    Other(String),
}

/// Checks the store file at `path` (which exists) without risking this process.
pub fn check(path: &Path) -> Result<(), Problem> {
    let len = std::fs::metadata(path)
        .map_err(|e| Problem::Other(format!("cannot read: {e}")))?
        .len();
    if len == 0 {
        // redb would silently start a new store in it: a truncation to zero
        // must not pass for "no state".
        return Err(Problem::Damaged(
            "the file is empty (0 bytes): not a store".into(),
        ));
    }
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fresh descriptors into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        // No pipe: check in this process (a panic then is redb's, as before).
        return verify(path);
    }
    // SAFETY: both descriptors are ours and open.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child only checks the file, writes to the pipe and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return verify(path);
    }
    if pid == 0 {
        drop(rd);
        child(path, wr);
    }
    drop(wr);
    let mut verdict = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut verdict);
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let exited = libc::WIFEXITED(status);
    match verdict.split_once(':') {
        _ if exited && libc::WEXITSTATUS(status) == 0 => Ok(()),
        Some(("other", why)) => Err(Problem::Other(why.to_string())),
        Some(("damaged", why)) => Err(Problem::Damaged(why.to_string())),
        Some(("panic", why)) => Err(Problem::Damaged(format!(
            "the store library failed reading it ({why})"
        ))),
        _ if !exited => Err(Problem::Damaged(format!(
            "the store library crashed reading it (signal {})",
            libc::WTERMSIG(status)
        ))),
        _ => Err(Problem::Damaged("the check failed without a reason".into())),
    }
}

/// The forked child: the verdict goes to `out` as `kind:reason`.
fn child(path: &Path, out: OwnedFd) -> ! {
    let mut out = std::fs::File::from(out);
    if let Ok(hook_out) = out.try_clone() {
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let _ = write!(&hook_out, "panic:{msg}");
        }));
    }
    let code = match std::panic::catch_unwind(|| verify(path)) {
        Ok(Ok(())) => 0,
        Ok(Err(Problem::Other(why))) => {
            let _ = write!(out, "other:{why}");
            1
        }
        Ok(Err(Problem::Damaged(why))) => {
            let _ = write!(out, "damaged:{why}");
            1
        }
        Err(_) => 1,
    };
    // SAFETY: leaves at once, running nothing of the parent's (no atexit,
    // no destructors of state copied from it).
    unsafe { libc::_exit(code) }
}

/// Opens the file, verifies its checksums and reads every row.
fn verify(path: &Path) -> Result<(), Problem> {
    let mut db = Database::create(path).map_err(|e| classify(&e.to_string()))?;
    db.check_integrity().map_err(|e| classify(&e.to_string()))?;
    let damaged = |e: redb::Error| classify(&e.to_string());
    let tx = db.begin_read().map_err(|e| damaged(e.into()))?;
    for t in tx.list_tables().map_err(|e| damaged(e.into()))? {
        let def: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(t.name());
        let table = tx.open_table(def).map_err(|e| damaged(e.into()))?;
        for row in table.iter().map_err(|e| damaged(e.into()))? {
            row.map_err(|e| damaged(e.into()))?;
        }
    }
    Ok(())
}

/// Which of redb's messages mean a bad file, in words an operator can act on.
fn classify(msg: &str) -> Problem {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("already open") || lower.contains("permission denied") {
        return Problem::Other(msg.to_string());
    }
    let why = if lower.contains("invalid data") || lower.contains("magic number") {
        "not a store file (no redb header)".to_string()
    } else if lower.contains("fill whole buffer") {
        "the file is truncated".to_string()
    } else {
        msg.to_string()
    };
    Problem::Damaged(why)
}
