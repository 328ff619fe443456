//! `icfuzz triage`: bucket a directory of crashes by finding signature (kind, oracle, canister, method, and the
//! message with numbers blanked, which carries the trap site), with one minimized representative per bucket.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use icfuzz::minimize::{minimize, MinimizeOptions};
use icfuzz::{Finding, Scenario};

use crate::{corpus, environment, files, EnvArgs};

/// Options of `icfuzz triage`.
#[derive(Args, Debug)]
pub struct TriageArgs {
    /// A directory of crashes (e.g. icfuzz-out/crashes, or fuzz/artifacts/<target>).
    pub dir: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Most scenario runs to spend minimizing each bucket's representative.
    #[arg(long, default_value_t = 500)]
    pub max_runs: usize,
    /// Where to write the JSON report (default: <dir>/triage.json, rewritten by each triage).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

struct Member {
    path: PathBuf,
    scenario: Scenario,
    finding: Finding,
}

/// Runs `icfuzz triage`.
pub fn run(args: TriageArgs) -> Result<ExitCode> {
    let loaded = environment::for_crash(args.env.config.as_deref(), &args.dir.join("crash"))?;
    let mut harness = environment::build(&loaded, false)?;
    let replayed = corpus::replay_dir(&mut harness, &args.dir, true)?;
    let mut buckets: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    for r in replayed.reproduced {
        buckets.entry(r.finding.signature()).or_default().push(Member { path: r.path, scenario: r.scenario, finding: r.finding });
    }
    let not_reproduced: Vec<String> = replayed.not_reproduced.iter().map(|p| p.display().to_string()).collect();
    let unreadable: Vec<serde_json::Value> = replayed
        .unreadable
        .iter()
        .map(|(path, error)| serde_json::json!({ "path": path.display().to_string(), "error": error }))
        .collect();

    let mut report = Vec::new();
    println!("{} crash file(s), {} bucket(s)\n", replayed.files, buckets.len());
    println!("{:<3} {:<8} {:<28} {:>5} {:>9}  representative", "#", "kind", "where", "count", "steps");
    for (i, (signature, members)) in buckets.iter().enumerate() {
        let smallest = members.iter().min_by_key(|m| (m.scenario.steps.len(), m.path.clone())).expect("a bucket has members");
        let small = minimize(&mut harness, &smallest.scenario, signature, MinimizeOptions { max_runs: args.max_runs }, &mut |_| {})?;
        let digest = files::sha1_hex(signature.as_bytes());
        let representative = args.dir.join(format!("minimized-{}.json", &digest[..12]));
        let json = small.scenario.to_json();
        // The same signature minimized before: keep that file unless it is this one (content-named otherwise).
        let representative = if files::write_new(&representative, json.as_bytes())? || std::fs::read_to_string(&representative)? == json {
            representative
        } else {
            let other = args.dir.join(format!("minimized-{}-{}.json", &digest[..12], &files::sha1_hex(json.as_bytes())[..8]));
            files::write_new(&other, json.as_bytes())?;
            other
        };
        let f = &smallest.finding;
        let place = format!("{}.{}", f.canister.as_deref().unwrap_or("-"), f.method.as_deref().unwrap_or("-"));
        println!(
            "{:<3} {:<8} {:<28} {:>5} {:>4} → {:<2}  {}",
            i + 1,
            f.kind.id(),
            place,
            members.len(),
            smallest.scenario.steps.len(),
            small.scenario.steps.len(),
            representative.display()
        );
        println!("    {f}");
        report.push(serde_json::json!({
            "signature": signature,
            "kind": f.kind.id(),
            "severity": f.kind.severity(),
            "oracle": f.oracle,
            "canister": f.canister,
            "method": f.method,
            "message": f.message,
            "count": members.len(),
            "members": members.iter().map(|m| m.path.display().to_string()).collect::<Vec<_>>(),
            "representative": representative.display().to_string(),
            "steps_before": smallest.scenario.steps.len(),
            "steps_after": small.scenario.steps.len(),
        }));
    }
    if !not_reproduced.is_empty() {
        println!("\n{} file(s) no longer give a finding: {}", not_reproduced.len(), not_reproduced.join(", "));
    }
    if replayed.minimized_skipped > 0 {
        println!("({} earlier minimized file(s) not counted)", replayed.minimized_skipped);
    }
    let json_path = args.json.clone().unwrap_or_else(|| args.dir.join("triage.json"));
    let document = serde_json::json!({
        "directory": args.dir.display().to_string(),
        "environment": loaded.path.display().to_string(),
        "buckets": report,
        "not_reproduced": not_reproduced,
        "unreadable": unreadable,
    });
    icfuzz::save::replace(&json_path, serde_json::to_string_pretty(&document)?.as_bytes())?;
    println!("\nreport: {}", json_path.display());
    Ok(if !buckets.is_empty() {
        crate::finding_code()
    } else if !unreadable.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
