//! `icfuzz minimize`: shrink a crash, keeping its finding signature.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use icfuzz::minimize::{minimize, MinimizeOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{environment, files, EnvArgs};

/// Options of `icfuzz minimize`.
#[derive(Args, Debug)]
pub struct MinimizeArgs {
    /// The crash: a scenario .json, or raw bytes from libFuzzer.
    pub crash: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Most scenario runs to spend.
    #[arg(long, default_value_t = 2_000)]
    pub max_runs: usize,
    /// Where to write the minimized scenario (default: minimized-from-<crash>.json beside the crash; never
    /// overwrites).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `icfuzz minimize`.
pub fn run(args: MinimizeArgs) -> Result<ExitCode> {
    let loaded = environment::for_crash(args.env.config.as_deref(), &args.crash)?;
    let mut harness = environment::build(&loaded, false)?;
    let crash = files::read_crash(&args.crash, &harness)?;
    let first = harness.run(&crash.scenario)?;
    let finding = first
        .finding
        .with_context(|| format!("{} does not reproduce a finding in this environment: nothing to minimize", crash.path.display()))?;
    let signature = finding.signature();
    eprintln!("minimizing {} ({} steps): {finding}", crash.path.display(), crash.scenario.steps.len());
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(args.max_runs as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} runs, {msg}").expect("template"));
    let minimized = minimize(&mut harness, &crash.scenario, &signature, MinimizeOptions { max_runs: args.max_runs }, &mut |p| {
        bar.set_position(p.runs as u64);
        bar.set_message(format!("{} steps", p.steps));
    })?;
    bar.finish_and_clear();
    let output = match args.output {
        Some(path) => path,
        None => {
            let name = crash.path.file_name().and_then(|n| n.to_str()).unwrap_or("crash");
            let name = if name.ends_with(".json") { name.to_owned() } else { format!("{name}.json") };
            crash.path.with_file_name(format!("minimized-from-{name}"))
        }
    };
    let output = files::fresh_path(&output);
    files::write_new(&output, minimized.scenario.to_json().as_bytes())?;
    print!("{}", icfuzz::report::render_trace(&minimized.execution));
    println!(
        "\nminimized {} → {} steps in {} runs{}; same signature: {signature}\nsaved {}",
        minimized.original_steps,
        minimized.scenario.steps.len(),
        minimized.runs,
        if minimized.exhausted { " (run budget spent: --max-runs allows more)" } else { "" },
        output.display()
    );
    Ok(crate::finding_code())
}
