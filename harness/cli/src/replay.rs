//! `icfuzz replay`: run a crash's scenario again and print what happened; with `--all`, every crash of a directory
//! (a regression corpus in CI), failing if any still gives a finding.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::{environment, files, EnvArgs};

/// Options of `icfuzz replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The crash: a scenario .json, or raw bytes from libFuzzer (with --all: a directory of them).
    pub crash: PathBuf,
    /// Replay every crash file of the directory given (e.g. a regression corpus of minimized crashes): one line
    /// each, exit code 1 if any still gives a finding, 2 if none does but a file could not be replayed.
    #[arg(long, conflicts_with_all = ["json", "dry_run"])]
    pub all: bool,
    /// With --all: also write the findings as SARIF 2.1.0, for code-scanning dashboards.
    #[arg(long, value_name = "FILE", requires = "all")]
    pub sarif: Option<PathBuf>,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Print the trace as JSON (steps, delivered messages, replies, logs, the finding).
    #[arg(long)]
    pub json: bool,
    /// Where to run it: the embedded engine, or a PocketIC server (POCKET_IC_BIN) to confirm on the replica.
    #[arg(long, value_enum, default_value_t = Backend::Engine)]
    pub backend: Backend,
    /// With --backend pocket-ic: print the PocketIC operations step by step, with what replays exactly, what is
    /// approximated and what cannot be reproduced there; needs no server.
    #[arg(long)]
    pub dry_run: bool,
    /// With --backend pocket-ic: let the pocket-ic crate download a server when POCKET_IC_BIN is not set.
    #[arg(long)]
    pub download_server: bool,
}

/// A backend to replay on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded, deterministic engine (exact delivery order and faults).
    Engine,
    /// PocketIC, the IC's own execution environment.
    PocketIc,
}

/// Runs `icfuzz replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    if args.all {
        return run_all(&args);
    }
    let loaded = environment::for_crash(args.env.config.as_deref(), &args.crash)?;
    let mut harness = environment::build(&loaded, false)?;
    let crash = files::read_crash(&args.crash, &harness)?;
    if args.dry_run && args.backend != Backend::PocketIc {
        anyhow::bail!("--dry-run prints the PocketIC operation sequence: use it with --backend pocket-ic");
    }
    if args.backend == Backend::PocketIc {
        return on_pocket_ic(&args, &mut harness, &crash);
    }
    let execution = harness.run(&crash.scenario)?;
    if args.json {
        let trace: Vec<serde_json::Value> = execution
            .trace
            .iter()
            .map(|t| {
                let step = match t.phase {
                    icfuzz::Phase::Step(i) => Some(i + 1),
                    _ => None,
                };
                serde_json::json!({ "step": step, "title": execution.title(t.phase), "lines": execution.lines(t) })
            })
            .collect();
        let report = serde_json::json!({
            "crash": crash.path.display().to_string(),
            "environment": loaded.path.display().to_string(),
            "scenario": execution.scenario,
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

/// Replays on PocketIC (or prints the plan): the engine's finding first, so the replica's result can be compared.
fn on_pocket_ic(args: &ReplayArgs, harness: &mut icfuzz::Harness, crash: &files::Crash) -> Result<ExitCode> {
    if args.dry_run {
        print!("{}", icfuzz_pocketic::dry_run(harness, &crash.scenario)?);
        return Ok(ExitCode::SUCCESS);
    }
    let on_engine = harness.run(&crash.scenario)?.finding;
    let options = icfuzz_pocketic::Options { download: args.download_server, ..Default::default() };
    let replay = icfuzz_pocketic::replay(harness, &crash.scenario, &options)?;
    if args.json {
        let report = serde_json::json!({
            "crash": crash.path.display().to_string(),
            "backend": "pocket-ic",
            "plan": replay.plan.render(),
            "operations": replay.plan.operations(),
            "finding": replay.execution.finding,
            "engine_finding": on_engine,
            "confirmed": on_engine.as_ref().is_some_and(|f| replay.confirms(f)),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", replay.render());
        match &on_engine {
            Some(f) if replay.confirms(f) => println!("\nconfirmed on PocketIC: {f}"),
            Some(f) => println!("\nnot confirmed on PocketIC (the engine finds: {f}); see the plan above for steps PocketIC cannot reproduce"),
            None => println!("\n(the engine finds nothing in this scenario)"),
        }
    }
    Ok(if replay.execution.finding.is_some() { crate::finding_code() } else { ExitCode::SUCCESS })
}

/// `icfuzz replay --all DIR`.
fn run_all(args: &ReplayArgs) -> Result<ExitCode> {
    if args.backend != Backend::Engine {
        anyhow::bail!("--all replays on the embedded engine; confirm single crashes with --backend pocket-ic");
    }
    let loaded = environment::for_crash(args.env.config.as_deref(), &args.crash.join("crash"))?;
    let mut harness = environment::build(&loaded, false)?;
    let replayed = crate::corpus::replay_dir(&mut harness, &args.crash, false)?;
    for path in &replayed.not_reproduced {
        println!("clean    {}", path.display());
    }
    for r in &replayed.reproduced {
        println!("FINDING  {}: {}", r.path.display(), r.finding);
    }
    for (path, error) in &replayed.unreadable {
        println!("ERROR    {}: {error}", path.display());
    }
    println!(
        "{} file(s): {} still give a finding, {} clean, {} could not be replayed",
        replayed.files,
        replayed.reproduced.len(),
        replayed.not_reproduced.len(),
        replayed.unreadable.len()
    );
    if let Some(path) = &args.sarif {
        let findings: Vec<crate::sarif::Reported<'_>> = replayed
            .reproduced
            .iter()
            .map(|r| crate::sarif::Reported { finding: &r.finding, scenario_path: Some(&r.path), count: 1 })
            .collect();
        crate::sarif::write(path, &findings)?;
        println!("SARIF: {}", path.display());
    }
    Ok(if !replayed.reproduced.is_empty() {
        crate::finding_code()
    } else if !replayed.unreadable.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
