//! Per-replica random numbers for request ids, shared by every protocol's
//! loop (not for secrets).

pub(crate) fn seed(index: u32) -> u64 {
    let mut b = [0u8; 8];
    // Falls back to time and index if the OS has no entropy to give.
    if getrandom_bytes(&mut b) {
        u64::from_le_bytes(b) ^ u64::from(index)
    } else {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ (u64::from(index) << 32) ^ 0x9e37_79b9_7f4a_7c15
    }
}

fn getrandom_bytes(buf: &mut [u8]) -> bool {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    n == buf.len() as isize
}

/// wyrand: a fast per-replica generator for request ids (not for secrets).
pub(crate) fn next_random(state: &mut u64) -> u128 {
    let mut half = || {
        *state = state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(*state) * u128::from(*state ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) ^ t) as u64
    };
    (u128::from(half()) << 64) | u128::from(half())
}
