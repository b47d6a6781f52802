//! Count maps keyed by values that clients choose (tracked header values,
//! request URIs): at most [`MAX_KEYS`] distinct keys, the engine's
//! client-side cap; later new keys are counted under [`OTHER`], so a client
//! sending a million distinct values costs a fixed amount of memory. The
//! first overflow of a map is logged once.

use std::collections::BTreeMap;

pub use goto_engine::stats::{MAX_TRACKED_VALUES as MAX_KEYS, OTHER_VALUES as OTHER};

/// `map[key]`, or `map[OTHER]` once the map holds [`MAX_KEYS`] other keys;
/// inserts a default without allocating the key when it is present. `what`
/// names the map in the overflow log line.
pub fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str, what: &str) -> &'m mut V {
    if !map.contains_key(key) {
        let key = if map.len() < MAX_KEYS {
            key
        } else {
            if !map.contains_key(OTHER) {
                tracing::warn!(
                    map = ?what,
                    cap = MAX_KEYS,
                    "more distinct values than the cap; the rest are counted under {OTHER}"
                );
            }
            OTHER
        };
        return map.entry(key.to_string()).or_default();
    }
    // Cannot fail: the key is present (checked just above).
    map.get_mut(key).expect("key present")
}

/// Adds one to `map[key]` (see [`slot`]).
pub fn bump(map: &mut BTreeMap<String, u64>, key: &str, what: &str) {
    *slot(map, key, what) += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_past_the_cap_go_under_other() {
        let mut m = BTreeMap::new();
        for i in 0..MAX_KEYS + 50 {
            bump(&mut m, &format!("v{i}"), "test");
        }
        bump(&mut m, "v0", "test");
        assert_eq!(m.len(), MAX_KEYS + 1);
        assert_eq!(m[OTHER], 50);
        assert_eq!(m["v0"], 2);
        let total: u64 = m.values().sum();
        assert_eq!(total, (MAX_KEYS + 51) as u64);
    }
}
