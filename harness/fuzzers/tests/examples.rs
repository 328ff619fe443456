//! The example canisters: a bounded fuzzing run finds each planted bug with the right finding kind, the same
//! budget finds nothing in the fixed twins, and a found input replays to the identical trace and finding.

use icfuzz::fuzz::{fuzz, FuzzOptions};
use icfuzz_fuzzers::examples::{Twin, EXAMPLES};

/// Scenarios per campaign. Every vulnerable example is found well within it (see the printed execution counts).
const BUDGET: u64 = 3_000;

fn options() -> FuzzOptions {
    FuzzOptions { executions: BUDGET, seed: 7, ..FuzzOptions::default() }
}

fn check_pair(name: &str) {
    let example = icfuzz_fuzzers::examples::example(name).expect("known example");
    let mut harness = example.harness(Twin::Vulnerable);
    let report = fuzz(&mut harness, &options()).expect("the campaign runs");
    // The first finding of the expected kind: a vulnerable twin may also trap somewhere new first (a low-severity
    // finding, which does not stop the campaign); the fixed twin below must give none at all.
    let found = report
        .findings
        .iter()
        .find(|f| f.finding.kind == example.expected)
        .unwrap_or_else(|| panic!("{name}: nothing of {} found in {BUDGET} scenarios: {:?}", example.expected, report.findings.iter().map(|f| f.finding.to_string()).collect::<Vec<_>>()));
    println!("{name}: found after {} scenarios: {}", found.execution + 1, found.finding);
    if std::env::var_os("ICFUZZ_SHOW_TRACES").is_some() {
        println!("{}", icfuzz::report::render_trace(&harness.run(&found.scenario).expect("replays")));
    }
    assert_eq!(found.finding.kind, example.expected, "{name}: {}\n{:#?}", found.finding, found.scenario);

    // Replay: the same scenario gives the same trace and finding, bit for bit.
    let first = harness.run(&found.scenario).expect("replays");
    let second = harness.run(&found.scenario).expect("replays");
    assert_eq!(first.finding.as_ref(), Some(&found.finding), "{name}: replay finds the same");
    assert_eq!(first.trace, second.trace, "{name}: replays are identical");
    // And from the saved JSON.
    let saved = icfuzz::Scenario::from_json(&found.scenario.to_json()).expect("round trip");
    assert_eq!(harness.run(&saved).expect("replays").trace, first.trace);

    let mut fixed = example.harness(Twin::Fixed);
    let report = fuzz(&mut fixed, &FuzzOptions { stop_on_first: false, ..options() }).expect("the campaign runs");
    if let Some(first) = report.findings.first() {
        let trace = icfuzz::report::render_trace(&fixed.run(&first.scenario).expect("replays"));
        panic!("{name} (fixed): {} finding(s), first: {}\n{trace}", report.findings.len(), first.finding);
    }
    assert_eq!(report.executions, BUDGET);
    // Not vacuous: the fixed twin's methods did succeed, and the report says which never did.
    println!("{name} (fixed): methods that never replied: {:?}", report.never_replied);
    let replies: u64 = fixed.stats.values().map(|s| s.replies).sum();
    assert!(replies > BUDGET / 10, "{name} (fixed): only {replies} replies in {BUDGET} scenarios: {:?}", fixed.stats);
}

macro_rules! pairs {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_pair(stringify!($name));
            }
        )*

        #[test]
        fn every_example_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for e in EXAMPLES {
                assert!(tested.contains(&e.name), "example {} has no test", e.name);
            }
        }
    };
}

pairs!(
    reentrancy,
    guard_underscore,
    stale_balance,
    callback_trap,
    lock_in_callback,
    unbounded_wait,
    inspect_only_access,
    unhandled_reject,
    sys_unknown_as_clean,
    oversized_growth,
    upgrade_outage,
    whole_allowance,
    owner_handover,
);
