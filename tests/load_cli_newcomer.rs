//! Issue 25, a newcomer's first hour with `goto load`: a URL without a
//! scheme, wrk's -t and hey's -z, and a latency table when nothing was
//! answered. Real binary, loopback only, bounded in time.

mod common;

use common::{free_port, load, Goto};

#[test]
fn url_without_scheme_says_what_to_do() {
    for url in ["127.0.0.1:8090/", "localhost:8090"] {
        let r = load(&["--no-progress", "-d", "1s", url]);
        assert_eq!(r.code, 2, "{url}: {}\n{}", r.stderr, r.stdout);
        let want = format!("missing http:// or https:// in {url:?} (try http://{url})");
        assert!(r.stderr.contains(&want), "{url}: {}", r.stderr);
    }
    // The URL list goes through the same parser.
    let dir = std::env::temp_dir().join(format!("goto-newcomer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("urls.txt");
    std::fs::write(&f, "127.0.0.1:8090/\n").unwrap();
    let r = load(&[
        "--no-progress",
        "-d",
        "1s",
        "--urls-from-file",
        f.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 2, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stderr.contains("missing http:// or https://"),
        "{}",
        r.stderr
    );
}

#[test]
fn wrk_t_and_hey_z_are_accepted() {
    let goto = Goto::start(&["--request-logs=false"]);
    let url = format!("http://127.0.0.1:{}/", goto.port);
    let r = load(&[
        "--json",
        "--no-progress",
        "-c",
        "2",
        "-t",
        "1",
        "-z",
        "1s",
        &url,
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    let v = r.json();
    assert!(v["answered"].as_u64().unwrap_or(0) > 0, "{v}");
}

#[test]
fn nothing_answered_says_so_in_the_latency_table() {
    // A free port nobody listens on: every connect is refused.
    let url = format!("http://127.0.0.1:{}/", free_port());
    let r = load(&["--no-progress", "-c", "1", "-d", "1s", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stdout.contains("Latency: no request was answered"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Latency (ms)"), "{}", r.stdout);
    // No row of zero latencies (the Duration line has one 0.000 of its own).
    assert!(
        !r.stdout.lines().any(|l| l.matches("0.000").count() > 1),
        "{}",
        r.stdout
    );
}
