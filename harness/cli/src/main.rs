//! `icfuzz`: fuzz Internet Computer canisters for the bugs of asynchronous code, then replay, minimize, triage
//! and turn findings into regression tests.
//!
//! Exit codes: 0 no finding (or nothing reproduced), 1 a finding (found or reproduced), 2 an error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod corpus;
mod environment;
mod files;
mod fuzz;
mod init;
mod minimize;
mod regress;
mod replay;
mod sarif;
mod triage;

/// Fuzzing and adversarial testing for Internet Computer canisters.
#[derive(Parser, Debug)]
#[command(name = "icfuzz", version, about, after_help = "Exit codes: 0 clean, 1 finding, 2 error.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fuzz a canister: explore message interleavings with malicious callees and attackers, check invariants
    /// after every step, and write findings to <out>/crashes.
    Fuzz(fuzz::FuzzArgs),
    /// Write a commented icfuzz.toml from what zero configuration discovers about a .wasm, dfx.json or icp.yaml:
    /// canisters, init arguments, the methods they call on others, controller-only methods, example invariants.
    Init(init::InitArgs),
    /// Replay a crash (a scenario .json, or raw libFuzzer bytes) and print its trace.
    Replay(replay::ReplayArgs),
    /// Shrink a crash to the fewest, simplest steps that give the same finding.
    #[command(visible_alias = "tmin")]
    Minimize(minimize::MinimizeArgs),
    /// Bucket a directory of crashes by finding signature, with one minimized representative per bucket.
    Triage(triage::TriageArgs),
    /// Write a Rust #[test] that fails while a crash's finding is still there.
    Regress(regress::RegressArgs),
}

/// Where the environment of a crash comes from (shared by replay, minimize, triage and regress).
#[derive(Args, Debug, Clone)]
pub struct EnvArgs {
    /// The environment: an icfuzz.toml (default: the `icfuzz.resolved.toml` that `icfuzz fuzz` wrote next to the
    /// crashes directory).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fuzz(args) => fuzz::run(args),
        Command::Init(args) => init::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Minimize(args) => minimize::run(args),
        Command::Triage(args) => triage::run(args),
        Command::Regress(args) => regress::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // The whole chain on one line, as ripgrep does (some parsers' messages span lines: join them).
            let message = format!("{e:#}");
            let message: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            eprintln!("icfuzz: {}", message.join(" "));
            ExitCode::from(2)
        }
    }
}

/// Exit code 1: a finding.
pub fn finding_code() -> ExitCode {
    ExitCode::from(1)
}
