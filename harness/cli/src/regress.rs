//! `icfuzz regress`: a Rust `#[test]` from a crash.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::{environment, files, EnvArgs};

/// Options of `icfuzz regress`.
#[derive(Args, Debug)]
pub struct RegressArgs {
    /// The crash: a scenario .json, or raw bytes from libFuzzer.
    pub crash: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    /// The test file to write (default: print it). An existing file is never overwritten.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `icfuzz regress`.
pub fn run(args: RegressArgs) -> Result<ExitCode> {
    let loaded = environment::for_crash(args.env.config.as_deref(), &args.crash)?;
    let mut harness = environment::build(&loaded, false)?;
    let crash = files::read_crash(&args.crash, &harness)?;
    let execution = harness.run(&crash.scenario)?;
    let finding = execution.finding.with_context(|| {
        format!("{} does not reproduce a finding in this environment: a regression test of it would pass vacuously", crash.path.display())
    })?;
    if !loaded.config.adversaries.is_empty() && loaded.config.adversary_wasm.is_none() {
        bail!(
            "the test builds the environment from {} on its own, so that file must name the adversary module \
             (`adversary_wasm = \"…\"`); the icfuzz.resolved.toml that icfuzz fuzz writes does",
            loaded.path.display()
        );
    }
    let config = std::path::absolute(&loaded.path)?;
    let source = icfuzz::report::regression_test(&config, &crash.scenario, &finding, &crash.path.display().to_string());
    match &args.output {
        None => print!("{source}"),
        Some(path) => {
            if !files::write_new(path, source.as_bytes())? {
                bail!("{} exists; not overwriting it", path.display());
            }
            eprintln!("wrote {} (it fails while the finding is there: {finding})", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
