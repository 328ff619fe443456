//! `icfuzz replay`: run a crash's scenario again and print what happened.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::{environment, files, EnvArgs};

/// Options of `icfuzz replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The crash: a scenario .json, or raw bytes from libFuzzer.
    pub crash: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Print the trace as JSON (steps, delivered messages, replies, logs, the finding).
    #[arg(long)]
    pub json: bool,
}

/// Runs `icfuzz replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let loaded = environment::for_crash(args.env.config.as_deref(), &args.crash)?;
    let mut harness = environment::build(&loaded, false)?;
    let crash = files::read_crash(&args.crash, &harness)?;
    let execution = harness.run(&crash.scenario)?;
    if args.json {
        let trace: Vec<serde_json::Value> = execution
            .trace
            .iter()
            .map(|t| serde_json::json!({ "step": t.step.map(|s| s + 1), "title": t.title, "lines": t.lines }))
            .collect();
        let report = serde_json::json!({
            "crash": crash.path.display().to_string(),
            "environment": loaded.path.display().to_string(),
            "scenario": crash.scenario,
            "steps_run": execution.steps_run,
            "trace": trace,
            "finding": execution.finding,
            "signature": execution.finding.as_ref().map(|f| f.signature()),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "replaying {} ({} steps) in the environment of {}\n",
            crash.path.display(),
            crash.scenario.steps.len(),
            loaded.path.display()
        );
        print!("{}", icfuzz::report::render_trace(&execution));
    }
    Ok(if execution.finding.is_some() { crate::finding_code() } else { ExitCode::SUCCESS })
}
