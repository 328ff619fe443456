//! The demo: fuzz a vulnerable canister on the embedded engine until it finds the planted bug, minimize the
//! finding, print the minimized trace and its scenario, then give the fixed twin the same budget.
//!
//! `cargo run -p icfuzz-fuzzers --example demo [<example>]` (default `stale_balance`: a bank that reads a balance
//! before awaiting the ledger and writes it after, so two interleaved withdrawals are both paid).

use icfuzz::fuzz::{fuzz, FuzzOptions};
use icfuzz::minimize::{minimize, MinimizeOptions};
use icfuzz_fuzzers::examples::{example, Twin, EXAMPLES};

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "stale_balance".to_owned());
    let Some(example) = example(&name) else {
        let names: Vec<&str> = EXAMPLES.iter().map(|e| e.name).collect();
        eprintln!("demo: no example `{name}`; try one of: {}", names.join(", "));
        std::process::exit(2);
    };
    let options = FuzzOptions { executions: 3_000, seed: 7, ..FuzzOptions::default() };

    println!("fuzzing canisters/examples/{name}/vulnerable.rs (up to {} scenarios)…", options.executions);
    let mut harness = example.harness(Twin::Vulnerable);
    let report = fuzz(&mut harness, &options).expect("the campaign runs");
    let Some(found) = report.findings.first() else {
        eprintln!("demo: no finding in {} scenarios", report.executions);
        std::process::exit(1);
    };
    println!("found after {} scenario(s): {}", found.execution + 1, found.finding);
    let signature = found.finding.signature();
    let small = minimize(&mut harness, &found.scenario, &signature, MinimizeOptions::default(), &mut |_| {})
        .expect("the finding replays");
    println!(
        "minimized from {} to {} steps in {} runs (same signature):\n",
        small.original_steps,
        small.scenario.steps.len(),
        small.runs
    );
    print!("{}", icfuzz::report::render_trace(&small.execution));
    println!("\nscenario (JSON, replayable):\n{}\n", small.scenario.to_json());

    println!("fuzzing canisters/examples/{name}/fixed.rs with the same budget…");
    let mut fixed = example.harness(Twin::Fixed);
    let report = fuzz(&mut fixed, &FuzzOptions { stop_on_first: false, ..options }).expect("the campaign runs");
    println!("{} scenarios, {} finding(s)", report.executions, report.findings.len());
    for warning in &report.never_replied {
        println!("  warning: {warning}");
    }
    for f in &report.findings {
        println!("  {}", f.finding);
    }
}
