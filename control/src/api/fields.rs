//! One-line messages for unknown JSON fields: serde's "unknown field `x`,
//! expected one of ..." becomes `unknown field "x"; did you mean "y"?`, so a
//! typo in a payload is refused with the fix instead of silently ignored.

/// Rewrites serde's unknown-field message (or returns `None` when `msg` is
/// another error). The closest known name is the same one ignoring case, or
/// the nearest by edit distance when it is close enough to be a typo.
pub fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let known: Vec<&str> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| !k.is_empty())
        .collect();
    let best = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(field))
        .or_else(|| {
            known
                .iter()
                .map(|k| {
                    (
                        distance(&k.to_ascii_lowercase(), &field.to_ascii_lowercase()),
                        k,
                    )
                })
                .filter(|(d, k)| *d <= 2.max(k.len() / 4))
                .min_by_key(|(d, _)| *d)
                .map(|(_, k)| k)
        });
    Some(match best {
        Some(k) => format!("unknown field {field:?}; did you mean {k:?}?"),
        None if known.is_empty() => format!("unknown field {field:?}"),
        None => format!("unknown field {field:?}; known: {}", known.join(", ")),
    })
}

/// Levenshtein distance over bytes (field names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::unknown_field;

    #[test]
    fn names_the_closest_field() {
        let m = "unknown field `requestcount`, expected one of `name`, `requestCount`, `replicas`";
        assert_eq!(
            unknown_field(m).as_deref(),
            Some(r#"unknown field "requestcount"; did you mean "requestCount"?"#)
        );
        let m = "unknown field `replica`, expected one of `name`, `requestCount`, `replicas`";
        assert_eq!(
            unknown_field(m).as_deref(),
            Some(r#"unknown field "replica"; did you mean "replicas"?"#)
        );
        let m = "unknown field `zzzzzz`, expected one of `name`, `url`";
        assert_eq!(
            unknown_field(m).as_deref(),
            Some(r#"unknown field "zzzzzz"; known: name, url"#)
        );
        assert_eq!(unknown_field("missing field `url`"), None);
    }
}
