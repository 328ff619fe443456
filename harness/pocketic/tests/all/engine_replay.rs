//! The backend-generic executor on the engine ([`EngineBackend`]): it sets each example environment up from
//! scratch and reproduces the finding that the default runner finds, and nothing on the fixed twins.

use icfuzz::backend::{self, Backend, EngineBackend, Fidelity, RoundsOnly};
use icfuzz_fuzzers::examples::{example, Twin};

use crate::portable_findings;

fn engine_for(harness: &icfuzz::Harness) -> EngineBackend {
    EngineBackend::for_harness(harness).expect("a fresh engine")
}

#[test]
fn the_executor_reproduces_portable_findings_on_the_engine() {
    for (name, scenario, oracle) in portable_findings() {
        let ex = example(name).expect("an example");
        let mut harness = ex.harness(Twin::Vulnerable);
        // The default runner (exact interleavings) finds it...
        let direct = harness.run(&scenario).expect("runs");
        let expected = direct.finding.clone().unwrap_or_else(|| panic!("{name}: the default runner finds nothing"));
        assert_eq!(expected.kind, ex.expected, "{name}: {expected}");
        assert_eq!(expected.oracle, oracle, "{name}");
        // ...and so does the executor, on a backend it set up itself from the harness.
        let mut engine = engine_for(&harness);
        let replay = backend::replay(&mut harness, &mut engine, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replay.execution);
        assert!(replay.confirms(&expected), "{name}: expected {expected}, got:\n{trace}");
        assert!(replay.plan.exact(), "{name}: on the engine every step maps exactly");

        // The fixed twin passes the same scenario.
        let mut fixed = ex.harness(Twin::Fixed);
        let mut engine = engine_for(&fixed);
        let replay = backend::replay(&mut fixed, &mut engine, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replay.execution);
        assert_eq!(replay.execution.finding, None, "{name} (fixed):\n{trace}");
        assert_eq!(replay.execution.steps_run, scenario.steps.len());
    }
}

#[test]
fn the_executor_performs_exactly_the_planned_operations() {
    for (name, scenario, _) in portable_findings() {
        let mut harness = example(name).expect("an example").harness(Twin::Fixed);
        let mut engine = engine_for(&harness);
        let caps = engine.capabilities();
        let replay = backend::replay(&mut harness, &mut engine, &scenario).expect("replays");
        let plan = &replay.plan;
        let planned: Vec<String> = std::iter::once(&plan.setup)
            .chain(&plan.steps)
            .chain(std::iter::once(&plan.end))
            .flat_map(|s| s.ops.iter())
            .map(|op| op.render(harness.names(), &caps))
            .collect();
        assert_eq!(replay.ops, planned, "{name}: what ran differs from the plan (and so from --dry-run)");
        assert!(planned.iter().any(|op| op.starts_with("create_canister_with_id(")), "{name}: {planned:#?}");
    }
}

#[test]
fn a_scenario_of_no_steps_sets_the_environment_up_and_finds_nothing() {
    let mut harness = example("reentrancy").expect("an example").harness(Twin::Vulnerable);
    let mut engine = engine_for(&harness);
    let replay = backend::replay(&mut harness, &mut engine, &icfuzz::Scenario::new(vec![])).expect("replays");
    assert_eq!(replay.execution.finding, None);
    assert!(replay.plan.steps.is_empty());
    assert_eq!(replay.plan.end.fidelity, Fidelity::Exact);
    // Setup made every canister at the engine's ids and installed it.
    for c in harness.canisters() {
        assert!(engine.subnet().module_hash(c.id).expect("exists").is_some(), "{} is installed", c.name);
    }
    for a in harness.adversaries() {
        assert!(engine.subnet().module_hash(a.id).expect("exists").is_some(), "{} is installed", a.name);
    }
}

#[test]
fn engine_snapshots_restore_a_backend_between_scenarios() {
    let mut harness = example("reentrancy").expect("an example").harness(Twin::Fixed);
    let mut engine = engine_for(&harness);
    backend::replay(&mut harness, &mut engine, &crate::reentrant_claim()).expect("replays");
    let rewards = harness.names().principal("rewards").expect("named");
    let controller = harness.controller();
    let paid = |engine: &mut EngineBackend| {
        let reply = engine.query(rewards, controller, "paid_out", candid::encode_args(()).expect("encodes")).expect("query");
        candid::decode_one::<u64>(&reply).expect("nat64")
    };
    // The end checks stopped the target (it could be stopped: no finding); start it again.
    let record = candid::encode_one(Record { canister_id: rewards }).expect("encodes");
    let start = engine.submit_management("start_canister", rewards, controller, record).expect("accepted");
    engine.tick();
    assert!(matches!(engine.status(start), Some(Ok(_))), "started: {:?}", engine.status(start));
    let before = paid(&mut engine);
    assert_eq!(before, 10, "the fixed twin pays mallory once");
    engine.snapshot(&[rewards], controller).expect("snapshot");
    let mallory = harness.names().principal("mallory").expect("named");
    let call = engine.submit(rewards, icfuzz::user_principal("alice"), "claim", candid::encode_one(mallory).expect("encodes"));
    let call = call.expect("accepted");
    for _ in 0..10 {
        engine.tick();
    }
    assert!(matches!(engine.status(call), Some(Ok(_))), "alice's claim completed: {:?}", engine.status(call));
    assert_eq!(paid(&mut engine), 20, "alice was paid too");
    engine.restore(controller).expect("restore");
    assert_eq!(paid(&mut engine), before, "restored to the snapshot");
}

#[derive(candid::CandidType)]
struct Record {
    canister_id: candid::Principal,
}

#[test]
fn the_pocket_ic_mapping_reproduces_portable_findings_on_the_engine_in_rounds() {
    // The engine driven only as PocketIC is (submit, tick, advance time, status, query): the round-based path of
    // the executor — settling by rounds, control calls in a round, the stop check by rounds — on real canisters.
    for (name, scenario, oracle) in portable_findings() {
        let ex = example(name).expect("an example");
        let mut harness = ex.harness(Twin::Vulnerable);
        let mut rounds = RoundsOnly::new(engine_for(&harness), icfuzz_pocketic::CAPABILITIES);
        let replay = backend::replay(&mut harness, &mut rounds, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replay.execution);
        let finding = replay.execution.finding.as_ref().unwrap_or_else(|| panic!("{name}: nothing found in rounds:\n{trace}"));
        assert_eq!((finding.kind, finding.oracle.as_str()), (ex.expected, oracle), "{name}:\n{trace}");
        assert!(!replay.plan.exact(), "{name}: run until quiet is approximated by rounds");
        assert!(replay.ops.iter().any(|op| op == "tick()" || op.starts_with("tick() until")), "{name}: {:#?}", replay.ops);

        let mut fixed = ex.harness(Twin::Fixed);
        let mut rounds = RoundsOnly::new(engine_for(&fixed), icfuzz_pocketic::CAPABILITIES);
        let replay = backend::replay(&mut fixed, &mut rounds, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replay.execution);
        assert_eq!(replay.execution.finding, None, "{name} (fixed), in rounds:\n{trace}");
    }
}
