//! The command line: what to simulate and against which goto binary.

pub(crate) struct Args {
    pub(crate) goto: String,
    pub(crate) peers: usize,
    pub(crate) minutes: u64,
    pub(crate) rps: u64,
    pub(crate) threads: usize,
    pub(crate) remind_secs: u64,
    pub(crate) live_secs: u64,
    pub(crate) reads: usize,
    pub(crate) data_dir: Option<String>,
    pub(crate) restart: bool,
}

pub(crate) fn usage(msg: &str) -> ! {
    eprintln!("fleet-sim: {msg}");
    eprintln!(
        "usage: fleet-sim --goto PATH [--peers N] [--minutes M] [--rps R] [--threads T] \
         [--remind-secs S] [--live-secs L] [--reads K] [--data-dir DIR [--restart]]"
    );
    std::process::exit(2)
}

pub(crate) fn parse_args() -> Args {
    let mut a = Args {
        goto: String::new(),
        peers: 100,
        minutes: 60,
        rps: 100,
        threads: 8,
        remind_secs: 30,
        live_secs: 10,
        reads: 5,
        data_dir: None,
        restart: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--restart" {
            a.restart = true;
            continue;
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag.as_str() {
            "--goto" => a.goto = v,
            "--peers" => a.peers = num(&v) as usize,
            "--minutes" => a.minutes = num(&v),
            "--rps" => a.rps = num(&v),
            "--threads" => a.threads = num(&v).max(1) as usize,
            "--remind-secs" => a.remind_secs = num(&v),
            "--live-secs" => a.live_secs = num(&v).min(59),
            "--reads" => a.reads = num(&v).max(1) as usize,
            "--data-dir" => a.data_dir = Some(v),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    if a.goto.is_empty() {
        usage("--goto PATH (the goto binary) is required");
    }
    if a.peers == 0 || a.minutes == 0 {
        usage("--peers and --minutes must be at least 1");
    }
    a
}
