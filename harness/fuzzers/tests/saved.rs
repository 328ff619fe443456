//! Saved scenarios outlive the generator: a scenario of format version 1 (deliveries and faults as "the n-th
//! pending") is migrated and replays to its finding, the run names every delivery stably, and the trace of a known
//! scenario stays what the golden file says.

use icfuzz::{FaultRef, MessageRef, Scenario, Step};
use icfuzz_fuzzers::examples::{example, Twin};

const V1: &str = include_str!("data/stale_balance_v1.json");
const GOLDEN: &str = "tests/data/stale_balance_v1.trace";

#[test]
fn a_version_1_scenario_is_migrated_and_replays_to_its_finding() {
    let scenario = Scenario::from_json(V1).expect("version 1 reads");
    assert_eq!(scenario.version, icfuzz::scenario::FORMAT_VERSION);
    assert_eq!(scenario.steps[0], Step::Fault { fault: FaultRef::Nth(3) });
    assert_eq!(scenario.steps[3], Step::Deliver { message: MessageRef::Nth(0) });

    let ex = example("stale_balance").expect("an example");
    let mut harness = ex.harness(Twin::Vulnerable);
    let execution = harness.run(&scenario).expect("runs");
    let finding = execution.finding.clone().unwrap_or_else(|| panic!("no finding:\n{}", execution.render()));
    assert_eq!(finding.kind, ex.expected, "{}", execution.render());

    // The run names what it delivered: alice's first call, then whatever the stream head was.
    let resolved = &execution.scenario;
    assert_eq!(
        resolved.steps[3],
        Step::Deliver {
            message: MessageRef::Call { caller: "alice".into(), canister: "bank".into(), method: "withdraw".into(), nth: 0 }
        }
    );
    assert!(
        resolved.steps.iter().all(|s| !matches!(s, Step::Deliver { message: MessageRef::Nth(_) })),
        "every delivery is named: {resolved:#?}"
    );
    // No fault was possible at the first step: it stays as saved, and the trace says so.
    assert!(execution.render().contains("no fault possible now"), "{}", execution.render());

    // Saved as version 2, it reads back equal and replays to the same trace.
    let json = resolved.to_json();
    assert!(json.contains("\"version\": 2"), "{json}");
    let again = Scenario::from_json(&json).expect("version 2 reads");
    assert_eq!(&again, resolved);
    let replayed = harness.run(&again).expect("runs");
    assert_eq!(replayed.finding, execution.finding);
    assert_eq!(replayed.trace, execution.trace);
}

#[test]
fn stable_names_survive_dropping_earlier_steps() {
    let ex = example("stale_balance").expect("an example");
    let mut harness = ex.harness(Twin::Vulnerable);
    let scenario = Scenario::from_json(V1).expect("reads");
    let resolved = harness.run(&scenario).expect("runs").scenario;
    // Without the first withdrawal, "pending message #0" would now deliver something else; the named delivery
    // still delivers alice's (remaining) call, and the trace says what it delivered.
    let mut shorter = resolved.clone();
    shorter.steps.remove(1);
    let execution = harness.run(&shorter).expect("runs");
    assert_eq!(execution.scenario.steps[2], resolved.steps[3], "{}", execution.render());
    assert!(execution.render().contains("ingress withdraw"), "{}", execution.render());
}

/// What the compiler that built the canisters decides (instruction counts, callbacks' table indices and heap
/// addresses) is left out of the golden trace: digits on the lines of executions become `N`.
fn normalized(trace: &str) -> String {
    let mut out = String::new();
    for line in trace.lines() {
        if line.contains(" ran ") || line.contains(" TRAPPED in ") {
            out.push_str(&icfuzz::oracle::blank_digits(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_trace_of_a_known_scenario_matches_the_golden_file() {
    let mut harness = example("stale_balance").expect("an example").harness(Twin::Vulnerable);
    let scenario = Scenario::from_json(V1).expect("reads");
    let trace = normalized(&harness.run(&scenario).expect("runs").render());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("ICFUZZ_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &trace).expect("writes the golden trace");
    }
    let golden = std::fs::read_to_string(&path).expect("the golden trace exists (ICFUZZ_UPDATE_GOLDEN=1 writes it)");
    assert_eq!(trace, golden, "the trace changed; if that is intended, rerun with ICFUZZ_UPDATE_GOLDEN=1 and review the diff");
}
