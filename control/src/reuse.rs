//! Per-thread reuse of what every runtime request builds, so a served
//! request allocates nothing in steady state: header maps (a request's map
//! becomes a later answer's; hyper hands an answer's map back as the next
//! request's) and the buffer echo bodies are written into (one shared
//! buffer that later echoes reclaim once hyper has sent and dropped them).

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

/// Maps kept per thread; more are dropped.
const MAX_MAPS: usize = 256;
/// Maps grown past this many entries (a client sending hundreds of
/// headers) are not kept.
const MAX_MAP_CAPACITY: usize = 128;
/// The echo buffer's size: echoes are split off its front until it is
/// used up, then it is reclaimed (or replaced when answers still hold it).
const ARENA: usize = 64 * 1024;
/// Larger echoes get a buffer of their own.
const MAX_SHARED_ECHO: usize = 16 * 1024;

thread_local! {
    static MAPS: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
    static ECHO: RefCell<(String, BytesMut)> = RefCell::new((String::new(), BytesMut::new()));
}

/// An empty header map, reused when one is at hand.
#[inline]
pub fn header_map() -> HeaderMap {
    MAPS.try_with(|m| m.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `h` (emptied) for a later [`header_map`].
#[inline]
pub fn recycle(mut h: HeaderMap) {
    if h.capacity() > MAX_MAP_CAPACITY {
        return;
    }
    h.clear();
    let _ = MAPS.try_with(|m| {
        let mut m = m.borrow_mut();
        if m.len() < MAX_MAPS {
            m.push(h);
        }
    });
}

/// The bytes `write` puts into a reused scratch string, as a body.
pub fn body_with(write: impl FnOnce(&mut String)) -> Bytes {
    let fresh = |write: &mut dyn FnMut(&mut String)| {
        let mut s = String::new();
        write(&mut s);
        Bytes::from(s)
    };
    let mut write = Some(write);
    let mut call = |s: &mut String| {
        if let Some(w) = write.take() {
            w(s)
        }
    };
    let reused = ECHO.try_with(|cell| {
        let Ok(mut cell) = cell.try_borrow_mut() else {
            return None;
        };
        let (scratch, arena) = &mut *cell;
        scratch.clear();
        call(scratch);
        let out = if scratch.len() > MAX_SHARED_ECHO {
            Bytes::from(std::mem::take(scratch))
        } else {
            if arena.capacity() < scratch.len() {
                // Reclaims the buffer when every earlier echo is gone.
                arena.reserve(ARENA);
            }
            arena.extend_from_slice(scratch.as_bytes());
            arena.split().freeze()
        };
        Some(out)
    });
    match reused {
        Ok(Some(b)) => b,
        _ => fresh(&mut call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_come_back_empty_and_bodies_stay_intact() {
        let mut h = header_map();
        h.insert("x-a", "1".parse().unwrap());
        recycle(h);
        let h = header_map();
        assert!(h.is_empty());
        let bodies: Vec<Bytes> = (0..5000)
            .map(|i| body_with(|s| s.push_str(&format!("echo {i} {}", "x".repeat(i % 300)))))
            .collect();
        for (i, b) in bodies.iter().enumerate() {
            assert_eq!(
                &b[..],
                format!("echo {i} {}", "x".repeat(i % 300)).as_bytes()
            );
        }
        let big = body_with(|s| s.push_str(&"y".repeat(40_000)));
        assert_eq!(big.len(), 40_000);
    }
}
