//! Limits: the bounds a plan must stay within (checked by `plan`, quoted
//! by `error`), and the process limits a load run may need to raise.

/// Most replicas (connections) one target may have.
pub const MAX_REPLICAS: u32 = 1_000_000;
/// Most retries of one request.
pub const MAX_RETRIES: u32 = 100;
/// Most request headers a target may set.
pub const MAX_REQUEST_HEADERS: usize = 100;
/// Largest request body a target may send.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Most HTTP/2 streams (replicas) that share one connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 100;

/// Raises the soft open-files limit to at least `needed` (up to the hard
/// limit); returns the soft limit now in effect.
pub fn raise_nofile_limit(needed: u64) -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur >= needed {
        return Ok(lim.rlim_cur);
    }
    let target = if lim.rlim_max == libc::RLIM_INFINITY {
        needed
    } else {
        needed.min(lim.rlim_max)
    };
    let new = libc::rlimit {
        rlim_cur: target,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    #[test]
    fn raising_to_current_is_a_no_op() {
        let now = super::raise_nofile_limit(1).unwrap();
        assert!(now >= 1);
    }
}
