//! A small durable key-value store under `--data-dir`: named sections of
//! text keys and byte values in one redb file, each write committed (and
//! fsynced) before it returns, so a caller that acknowledges after a write
//! never loses that write to a crash or `kill -9`.
//!
//! Why redb: pure Rust (no C compiler in CI, unlike SQLite's bundled build),
//! one file with copy-on-write B-trees and checksummed commits (a torn write
//! leaves the previous commit, never a corrupt one), an exclusive lock on the
//! file (a second process on the same directory is refused, not interleaved),
//! a stable file format since 1.0 and no dependencies of its own.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::damage::Problem;

/// The file inside the data directory.
pub const FILE_NAME: &str = "goto.redb";

/// The flag that starts with an empty store when the file is damaged.
pub const RESET_FLAG: &str = "--reset-damaged-store";

/// Why the store could not do something; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("data store {path}: {reason}")]
pub struct StoreError {
    path: String,
    reason: String,
    /// The file is bad (moving it aside is the way to start).
    damaged: bool,
    /// The file system's error, when one is the cause (its text is in
    /// `reason` too).
    source: Option<std::io::Error>,
}

impl StoreError {
    /// A damaged file: what is wrong, and how to start anyway.
    pub fn damaged(path: &Path, what: &str) -> StoreError {
        let p = path.display();
        StoreError {
            path: p.to_string(),
            reason: format!(
                "damaged: {what}. To start anyway, move it aside (mv {p} {p}.bad) or \
                 start with {RESET_FLAG} (GOTO_RESET_DAMAGED_STORE=true), which keeps \
                 it as {p}.damaged-<time> and starts empty"
            ),
            damaged: true,
            source: None,
        }
    }

    pub fn is_damaged(&self) -> bool {
        self.damaged
    }
}

/// One change; a batch of them is applied in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        section: &'static str,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        section: &'static str,
        key: String,
    },
    /// Removes every key of a section.
    Clear {
        section: &'static str,
    },
    /// Removes every key of a section that starts with `prefix`.
    DeletePrefix {
        section: &'static str,
        prefix: String,
    },
}

/// An open store (the file stays locked while it lives).
///
/// After a failed write redb refuses every later call ("Previous I/O error
/// occurred"): the failed handle is dropped and the next call opens the
/// file again, so the store recovers when the cause (a full disk) is gone.
pub struct Store {
    db: parking_lot::Mutex<Option<Database>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn table(section: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(section)
}

impl Store {
    /// Opens (creating if need be) the store in `dir`, creating `dir` too.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(FILE_NAME);
        let fail = |reason: String, source: Option<std::io::Error>| StoreError {
            path: path.display().to_string(),
            reason,
            damaged: false,
            source,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(format!("cannot create directory: {e}"), Some(e)))?;
        if path.exists() {
            match super::damage::check(&path) {
                Ok(()) => {}
                Err(Problem::Other(why)) => return Err(fail(why, None)),
                Err(Problem::Damaged(what)) => return Err(StoreError::damaged(&path, &what)),
            }
        }
        let db = Database::create(&path).map_err(|e| fail(e.to_string(), None))?;
        Ok(Store {
            db: parking_lot::Mutex::new(Some(db)),
            path,
        })
    }

    /// Opens the store in `dir`; when its file is damaged and `reset` is
    /// set, renames the file beside itself (`goto.redb.damaged-<unix
    /// seconds>`) and starts an empty one.
    pub fn open_or_reset(dir: &Path, reset: bool) -> Result<Store, StoreError> {
        match Store::open(dir) {
            Err(e) if reset && e.is_damaged() => {
                let kept = Store::move_aside(dir)?;
                tracing::warn!(error = %e, kept = %kept.display(), "damaged data store moved aside; starting empty");
                Store::open(dir)
            }
            r => r,
        }
    }

    /// Renames the store file of `dir` out of the way; returns its new path.
    pub fn move_aside(dir: &Path) -> Result<PathBuf, StoreError> {
        let path = dir.join(FILE_NAME);
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let kept = dir.join(format!("{FILE_NAME}.damaged-{secs}"));
        std::fs::rename(&path, &kept).map_err(|e| StoreError {
            path: path.display().to_string(),
            reason: format!("cannot move it aside to {}: {e}", kept.display()),
            damaged: true,
            source: Some(e),
        })?;
        Ok(kept)
    }

    /// An error about this store's file.
    pub fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            reason: e.to_string(),
            damaged: false,
            source: None,
        }
    }

    /// Runs `f` on the open database, opening it again first if an earlier
    /// call failed; a failure drops the handle for the next call to reopen.
    fn with_db<R>(
        &self,
        f: impl FnOnce(&Database) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut db = self.db.lock();
        if db.is_none() {
            *db = Some(Database::create(&self.path).map_err(|e| self.error(e))?);
        }
        let Some(open) = db.as_ref() else {
            return Err(self.error("not open"));
        };
        let r = f(open);
        if r.is_err() {
            *db = None;
        }
        r
    }

    /// Applies `ops` atomically and durably: all or none survive a crash.
    pub fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.with_db(|db| self.apply_in(db, ops))
    }

    fn apply_in(&self, db: &Database, ops: &[Op]) -> Result<(), StoreError> {
        let tx = db.begin_write().map_err(|e| self.error(e))?;
        for op in ops {
            match op {
                Op::Put {
                    section,
                    key,
                    value,
                } => {
                    let mut t = tx.open_table(table(section)).map_err(|e| self.error(e))?;
                    t.insert(key.as_str(), value.as_slice())
                        .map_err(|e| self.error(e))?;
                }
                Op::Delete { section, key } => {
                    let mut t = tx.open_table(table(section)).map_err(|e| self.error(e))?;
                    t.remove(key.as_str()).map_err(|e| self.error(e))?;
                }
                Op::Clear { section } => {
                    tx.delete_table(table(section)).map_err(|e| self.error(e))?;
                }
                Op::DeletePrefix { section, prefix } => {
                    let mut t = tx.open_table(table(section)).map_err(|e| self.error(e))?;
                    // Keys sort by bytes: the prefixed ones are one run from `prefix`.
                    let mut doomed = Vec::new();
                    for row in t.range(prefix.as_str()..).map_err(|e| self.error(e))? {
                        let (k, _) = row.map_err(|e| self.error(e))?;
                        if !k.value().starts_with(prefix.as_str()) {
                            break;
                        }
                        doomed.push(k.value().to_string());
                    }
                    for k in doomed {
                        t.remove(k.as_str()).map_err(|e| self.error(e))?;
                    }
                }
            }
        }
        tx.commit().map_err(|e| self.error(e))
    }

    /// Stores one value.
    pub fn put(&self, section: &'static str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.apply(&[Op::Put {
            section,
            key: key.to_string(),
            value: value.to_vec(),
        }])
    }

    /// Removes one key (absent is fine).
    pub fn delete(&self, section: &'static str, key: &str) -> Result<(), StoreError> {
        self.apply(&[Op::Delete {
            section,
            key: key.to_string(),
        }])
    }

    /// One key's value (`None`: absent or the section never written).
    pub fn get(&self, section: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(|e| self.error(e))?;
            let t = match tx.open_table(table(section)) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(self.error(e)),
            };
            let v = t.get(key).map_err(|e| self.error(e))?;
            Ok(v.map(|v| v.value().to_vec()))
        })
    }

    /// Every key and value of a section, in key order (none if never written).
    pub fn load(&self, section: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.with_db(|db| self.load_in(db, section))
    }

    fn load_in(&self, db: &Database, section: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let tx = db.begin_read().map_err(|e| self.error(e))?;
        let t = match tx.open_table(table(section)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(|e| self.error(e))? {
            let (k, v) = row.map_err(|e| self.error(e))?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The names of the sections holding data.
    pub fn sections(&self) -> Result<Vec<String>, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(|e| self.error(e))?;
            let tables = tx.list_tables().map_err(|e| self.error(e))?;
            Ok(tables.map(|t| t.name().to_string()).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "goto-store-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn writes_survive_reopening() {
        let dir = temp_dir("reopen");
        {
            let s = Store::open(&dir).unwrap();
            s.put("peers", "b", b"2").unwrap();
            s.put("peers", "a", b"1").unwrap();
            s.put("lockers", "x", b"{}").unwrap();
            s.delete("lockers", "x").unwrap();
            s.delete("lockers", "never").unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert_eq!(
            s.load("peers").unwrap(),
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
        );
        assert!(s.load("lockers").unwrap().is_empty());
        assert!(s.load("never-written").unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn batches_apply_in_order_and_clear_sections() {
        let dir = temp_dir("batch");
        let s = Store::open(&dir).unwrap();
        s.put("labels", "old", b"x").unwrap();
        s.apply(&[
            Op::Clear { section: "labels" },
            Op::Put {
                section: "labels",
                key: "new".into(),
                value: b"y".to_vec(),
            },
            Op::Put {
                section: "tracked",
                key: "headers".into(),
                value: b"[\"a\"]".to_vec(),
            },
        ])
        .unwrap();
        for k in ["p/a", "p/b", "p", "q/a", "o"] {
            s.put("prefixed", k, b"1").unwrap();
        }
        s.apply(&[Op::DeletePrefix {
            section: "prefixed",
            prefix: "p/".into(),
        }])
        .unwrap();
        let left: Vec<String> = s
            .load("prefixed")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(left, ["o", "p", "q/a"]);
        assert_eq!(
            s.load("labels").unwrap(),
            vec![("new".into(), b"y".to_vec())]
        );
        let mut sections = s.sections().unwrap();
        sections.sort();
        assert_eq!(sections, vec!["labels", "prefixed", "tracked"]);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = temp_dir("lock");
        let s = Store::open(&dir).unwrap();
        let err = Store::open(&dir).unwrap_err().to_string();
        assert!(err.contains(FILE_NAME), "{err}");
        drop(s);
        Store::open(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let dir = temp_dir("file");
        std::fs::write(&dir, b"not a directory").unwrap();
        let err = Store::open(&dir).unwrap_err().to_string();
        assert!(err.contains("cannot create directory"), "{err}");
        std::fs::remove_file(&dir).unwrap();
    }
}
