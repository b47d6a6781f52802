//! The `goto` binary: parses the command line and hands off to the server
//! (control plane) or to `goto load` (the engine on the command line); also
//! prints its shell completions and man page. Every server flag can come
//! from a `GOTO_*` environment variable (what container users expect).

mod config;
mod load;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use config::{LogFormat, ServerArgs};

/// `goto --version`: the crate version, git revision and build date (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("GOTO_GIT_REV"),
    ", built ",
    env!("GOTO_BUILD_DATE"),
    ")"
);

const ENV_HELP: &str = "Environment: every server flag can also be set from GOTO_<FLAG> \
(GOTO_PORT=8081, GOTO_REQUEST_LOGS=false, GOTO_LOG_FORMAT=json, ...); a flag \
on the command line wins. RUST_LOG, when set, overrides --log-level.";

/// goto: HTTP load client, programmable chaos test server/proxy, and registry.
#[derive(Debug, Parser)]
#[command(
    name = "goto",
    version = VERSION,
    about,
    after_long_help = ENV_HELP,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,

    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a load test against a URL (like wrk or oha).
    Load(Box<load::LoadArgs>),
    /// Print a shell completion script: `source <(goto completions bash)`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `goto man > goto.1; man ./goto.1` for the
    /// server, `goto man load > goto-load.1` for goto-load(1).
    Man {
        /// The subcommand whose page to print (default: goto itself).
        #[arg(value_enum)]
        page: Option<ManPage>,
    },
}

/// The man pages besides goto(1).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ManPage {
    /// goto-load(1): the load generator, its flags and exit codes.
    Load,
}

fn init_logs(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        // One object a line: timestamp, level, fields (with the message).
        LogFormat::Json => fmt.json().flatten_event(true).init(),
        LogFormat::Text => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// Writes the completion script for `shell` to stdout.
fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "goto", &mut out);
    ExitCode::SUCCESS
}

/// Writes a man page (roff) to stdout: goto(1), or goto-load(1), the page
/// goto(1) lists under its subcommands.
fn print_man(page: Option<ManPage>) -> ExitCode {
    let root = Cli::command();
    let cmd = match page {
        None => root,
        Some(ManPage::Load) => match root.find_subcommand("load") {
            Some(load) => load
                .clone()
                .name("goto-load")
                .bin_name("goto load")
                .version(VERSION),
            None => {
                eprintln!("goto: no load subcommand to document");
                return ExitCode::from(1);
            }
        },
    };
    let mut out = std::io::stdout().lock();
    match clap_mangen::Man::new(cmd).render(&mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goto: cannot write the man page: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Load(args)) => return load::run(*args),
        Some(Cmd::Completions { shell }) => return print_completions(shell),
        Some(Cmd::Man { page }) => return print_man(page),
        None => {}
    }
    let s = cli.server;
    init_logs(&s.log_level, s.log_format);
    let cfg = match goto_control::ServerConfig::try_from(s) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("goto: {e}");
            return ExitCode::from(2);
        }
    };
    match goto_control::run_server(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goto: {e}");
            ExitCode::from(1)
        }
    }
}
