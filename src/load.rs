//! `goto load`: the command-line face of the load engine (flags, progress line, report).

use std::process::ExitCode;

/// Flags of `goto load`, in the habits of wrk and oha.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Target URL (http or https).
    pub url: String,
}

/// Runs a load test and prints its report; returns the process exit code.
pub fn run(args: LoadArgs) -> ExitCode {
    eprintln!("goto load: not built yet ({})", args.url);
    ExitCode::from(2)
}
