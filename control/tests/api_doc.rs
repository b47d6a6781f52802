//! docs/api.md against the route tables, both ways: every route is
//! documented, every documented endpoint is a route. Rows of the reference's
//! tables look like "| GET | `/client/targets` | body | answer |".

use std::collections::BTreeSet;

fn documented() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
    let text = std::fs::read_to_string(path).expect("docs/api.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // ["", method, path, ...]
            let (method, path) = (cells.get(1)?, cells.get(2)?);
            if !matches!(*method, "GET" | "POST") {
                return None;
            }
            let path = path.strip_prefix('`')?.strip_suffix('`')?;
            Some((method.to_string(), path.to_string()))
        })
        .collect()
}

#[test]
fn the_reference_lists_exactly_the_routes() {
    let routes: BTreeSet<(String, String)> = goto_control::admin_api()
        .endpoints()
        .into_iter()
        .map(|e| (e.method.to_string(), e.path.to_string()))
        .collect();
    let docs = documented();
    let undocumented: Vec<_> = routes.difference(&docs).collect();
    let unrouted: Vec<_> = docs.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from docs/api.md: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "docs/api.md lists endpoints no route table has: {unrouted:?}"
    );
    assert!(routes.len() > 100, "{} routes", routes.len());
}
