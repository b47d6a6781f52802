//! Jobs (`/jobs/...`): named tasks (an HTTP call or, when switched on at
//! startup, an OS command) run on demand or at add time, `count` times per
//! run, with their outputs kept as results per run. A job's outputs can start
//! another job (`outputTrigger`, with marker values) and its end can start one
//! (`finishTrigger`). Peers report job results to the registry's locker.

mod error;
pub mod routes;
mod run;
pub mod spec;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;

use crate::proxy::client::Outbound;
pub use error::JobError;
use spec::{JobInput, JobSpec};

/// How deep trigger chains may go (A's output starts B, whose end starts C,
/// ...): a job that triggers itself must not run forever.
const MAX_TRIGGER_DEPTH: u32 = 8;

/// One result of a run, in API.md's field names.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    pub index: String,
    pub finished: bool,
    pub stopped: bool,
    pub last: bool,
    pub time: String,
    pub data: serde_json::Value,
}

impl JobResult {
    /// The locker's rendering: the seed's sample locker shows job runs with
    /// the original's field names (`Index`, `Finished`, `ResultTime`, `Data`).
    pub fn locker_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Index": self.index,
            "Finished": self.finished,
            "Stopped": self.stopped,
            "Last": self.last,
            "ResultTime": self.time,
            "Data": self.data,
        })
    }
}

#[derive(Debug, Default)]
struct RunRecord {
    results: VecDeque<JobResult>,
    /// Results produced so far, including those dropped over `maxResults`.
    produced: u64,
    finished: bool,
}

struct JobEntry {
    input: JobInput,
    spec: Arc<JobSpec>,
    runs: BTreeMap<u32, RunRecord>,
    next_run: u32,
    /// Flipped to true to stop every run started under it; replaced by a
    /// fresh channel after a stop, so later runs start unstopped.
    stop: watch::Sender<bool>,
}

impl JobEntry {
    fn running(&self) -> usize {
        self.runs.values().filter(|r| !r.finished).count()
    }

    fn stop_runs(&mut self) {
        let _ = self.stop.send(true);
        self.stop = watch::channel(false).0;
    }
}

/// Every job of the instance.
pub struct Jobs {
    inner: Mutex<BTreeMap<String, JobEntry>>,
    /// Bumped on every change to results, so reporters can skip idle rounds.
    version: AtomicU64,
    allow_commands: bool,
    /// The instance's outbound clients, for HTTP tasks.
    out: Outbound,
}

/// One run's results, for reporting (`job_<id>_<run>` in the locker).
pub struct RunReport {
    pub id: String,
    pub run: u32,
    pub finished: bool,
    pub results: Vec<JobResult>,
}

impl Jobs {
    pub fn new(allow_commands: bool, out: Outbound) -> Arc<Jobs> {
        Arc::new(Jobs {
            inner: Mutex::new(BTreeMap::new()),
            version: AtomicU64::new(0),
            allow_commands,
            out,
        })
    }

    pub fn contains(&self, id: &str) -> bool {
        self.inner.lock().contains_key(id)
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Every kept run with its results.
    pub fn reports(&self) -> Vec<RunReport> {
        let st = self.inner.lock();
        st.iter()
            .flat_map(|(id, j)| {
                j.runs.iter().map(move |(n, r)| RunReport {
                    id: id.clone(),
                    run: *n,
                    finished: r.finished,
                    results: r.results.iter().cloned().collect(),
                })
            })
            .collect()
    }

    /// Adds (or replaces) a job; `auto` jobs start a run at once.
    pub fn add(self: &Arc<Self>, input: JobInput) -> Result<(Arc<JobSpec>, Option<u32>), JobError> {
        let spec = Arc::new(JobSpec::new(&input, self.allow_commands)?);
        {
            let mut st = self.inner.lock();
            if let Some(old) = st.get_mut(&spec.id) {
                // The same job again (a peer re-registering) keeps its runs
                // and results; a changed one starts afresh.
                let same =
                    serde_json::to_value(&old.input).ok() == serde_json::to_value(&input).ok();
                if same {
                    return Ok((old.spec.clone(), None));
                }
                old.stop_runs();
            }
            st.insert(
                spec.id.clone(),
                JobEntry {
                    input,
                    spec: spec.clone(),
                    runs: BTreeMap::new(),
                    next_run: 1,
                    stop: watch::channel(false).0,
                },
            );
        }
        self.bump();
        let run = if spec.auto {
            self.start_run(&spec.id, BTreeMap::new(), 0).ok()
        } else {
            None
        };
        Ok((spec, run))
    }

    /// Starts a new run of `id` with marker values for `{name}` placeholders.
    pub fn start_run(
        self: &Arc<Self>,
        id: &str,
        markers: BTreeMap<String, String>,
        depth: u32,
    ) -> Result<u32, JobError> {
        if depth > MAX_TRIGGER_DEPTH {
            return Err(JobError::TooDeep {
                job: id.to_string(),
                limit: MAX_TRIGGER_DEPTH,
            });
        }
        let (spec, run, stop) = {
            let mut st = self.inner.lock();
            let j = st
                .get_mut(id)
                .ok_or_else(|| JobError::Unknown(id.to_string()))?;
            let run = j.next_run;
            j.next_run += 1;
            j.runs.insert(run, RunRecord::default());
            trim_runs(j);
            (j.spec.clone(), run, j.stop.subscribe())
        };
        self.bump();
        tokio::spawn(run::run(self.clone(), spec, run, markers, stop, depth));
        Ok(run)
    }

    /// Records one output of a run.
    fn push(&self, id: &str, run: u32, data: serde_json::Value) {
        let mut st = self.inner.lock();
        let Some(j) = st.get_mut(id) else { return };
        let max = j.spec.max_results as usize;
        let Some(r) = j.runs.get_mut(&run) else {
            return;
        };
        r.produced += 1;
        r.results.push_back(JobResult {
            index: format!("{run}.{}", r.produced),
            finished: false,
            stopped: false,
            last: false,
            time: crate::timefmt::rfc3339(SystemTime::now()),
            data,
        });
        // Keep the most recent outputs; the final entry is added apart.
        while r.results.len() > max {
            r.results.pop_front();
        }
        drop(st);
        self.bump();
    }

    /// Marks a run finished with a last entry that says how it ended.
    fn finish(&self, id: &str, run: u32, stopped: bool) {
        let mut st = self.inner.lock();
        let Some(r) = st.get_mut(id).and_then(|j| j.runs.get_mut(&run)) else {
            return;
        };
        r.produced += 1;
        r.finished = true;
        r.results.push_back(JobResult {
            index: format!("{run}.{}", r.produced),
            finished: true,
            stopped,
            last: true,
            time: crate::timefmt::rfc3339(SystemTime::now()),
            data: serde_json::Value::Null,
        });
        drop(st);
        self.bump();
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    fn resolve(&self, names: &str) -> Result<Vec<String>, JobError> {
        let st = self.inner.lock();
        let ids =
            crate::api::names(names, "job ids").map_err(|e| JobError::Invalid(e.to_string()))?;
        for id in &ids {
            if !st.contains_key(id) {
                return Err(JobError::Unknown(id.to_string()));
            }
        }
        Ok(ids)
    }

    fn all_ids(&self) -> Vec<String> {
        self.inner.lock().keys().cloned().collect()
    }

    fn stop(&self, ids: &[String]) {
        let mut st = self.inner.lock();
        for id in ids {
            if let Some(j) = st.get_mut(id) {
                j.stop_runs();
            }
        }
    }

    fn remove(&self, ids: &[String]) {
        let mut st = self.inner.lock();
        for id in ids {
            if let Some(mut j) = st.remove(id) {
                j.stop_runs();
            }
        }
        drop(st);
        self.bump();
    }

    fn listing(&self) -> serde_json::Value {
        let st = self.inner.lock();
        let mut out = serde_json::Map::new();
        for (id, j) in st.iter() {
            let mut v = serde_json::to_value(&j.input).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("runCount".into(), (j.next_run - 1).into());
                o.insert("running".into(), j.running().into());
            }
            out.insert(id.clone(), v);
        }
        out.into()
    }

    /// Every job's results by run.
    fn all_results(&self) -> serde_json::Value {
        let st = self.inner.lock();
        let all: BTreeMap<&String, BTreeMap<String, Vec<JobResult>>> =
            st.iter().map(|(id, j)| (id, Jobs::results_of(j))).collect();
        serde_json::to_value(all).unwrap_or_default()
    }

    /// One job's results by run; `None` for an unknown job.
    fn job_results(&self, id: &str) -> Option<serde_json::Value> {
        let st = self.inner.lock();
        st.get(id)
            .and_then(|j| serde_json::to_value(Jobs::results_of(j)).ok())
    }

    /// Starts a run of each job; "id (run n)" for each.
    fn run_jobs(self: &Arc<Self>, ids: Vec<String>) -> Result<Vec<String>, JobError> {
        if ids.is_empty() {
            return Err(JobError::NothingToRun);
        }
        let mut started = Vec::with_capacity(ids.len());
        for id in ids {
            let n = self.start_run(&id, BTreeMap::new(), 0)?;
            started.push(format!("{id} (run {n})"));
        }
        Ok(started)
    }

    fn results_of(j: &JobEntry) -> BTreeMap<String, Vec<JobResult>> {
        j.runs
            .iter()
            .map(|(n, r)| (n.to_string(), r.results.iter().cloned().collect()))
            .collect()
    }
}

/// Drops the oldest runs beyond `keepResults`, sparing run 1 with `keepFirst`.
fn trim_runs(j: &mut JobEntry) {
    let keep = j.spec.keep_results as usize;
    while j.runs.len() > keep {
        let oldest = j
            .runs
            .keys()
            .copied()
            .find(|n| !(j.spec.keep_first && *n == 1));
        match oldest {
            Some(n) => {
                j.runs.remove(&n);
            }
            None => break,
        }
    }
}
