//! The request log: runtime requests are formatted on the serving thread and
//! handed to a writer thread through a bounded channel, so a slow stderr never
//! stalls a response. When the channel is full, lines are dropped and counted.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

const QUEUE: usize = 16 * 1024;

#[derive(Clone)]
pub struct RequestLog {
    tx: SyncSender<(SystemTime, String)>,
    dropped: Arc<AtomicU64>,
}

impl RequestLog {
    pub fn start() -> std::io::Result<RequestLog> {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("goto-reqlog".into())
            .spawn(move || writer(rx))?;
        Ok(RequestLog {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn log(&self, line: String) {
        match self.tx.try_send((SystemTime::now(), line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn writer(rx: Receiver<(SystemTime, String)>) {
    // Not `stderr().lock()`: holding the lock while idle would block the
    // tracing logger on other threads. Each flush takes it briefly.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    while let Ok(first) = rx.recv() {
        write_line(&mut out, first);
        // Drain what is queued before paying for a flush.
        while let Ok(next) = rx.try_recv() {
            write_line(&mut out, next);
        }
        let _ = out.flush();
    }
}

fn write_line(out: &mut impl Write, (at, line): (SystemTime, String)) {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}.{:03} {}",
        since.as_secs(),
        since.subsec_millis(),
        line
    );
}
