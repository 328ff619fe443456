//! The one executor on the engine: a replay on a fresh [`EngineBackend`] sets each example environment up from
//! scratch and reproduces the fuzz loop's finding; through [`RoundsOnly`] (the engine driven as PocketIC is) it
//! gives the same trace wherever the plan says a step maps exactly.

use icfuzz::backend::{Backend, EngineBackend, RoundsOnly};
use icfuzz::plan::Fidelity;
use icfuzz::session::replay;
use icfuzz::{Phase, Scenario};
use icfuzz_fuzzers::examples::{example, Twin, EXAMPLES};

use crate::portable_findings;

fn engine_for(harness: &icfuzz::Harness) -> EngineBackend {
    EngineBackend::new(harness.environment().config().clone()).expect("a fresh engine")
}

#[test]
fn a_replay_on_a_fresh_engine_reproduces_portable_findings() {
    for (name, scenario, oracle) in portable_findings() {
        let ex = example(name).expect("an example");
        let mut harness = ex.harness(Twin::Vulnerable);
        // The fuzz loop's session finds it...
        let direct = harness.run(&scenario).expect("runs");
        let expected = direct.finding.clone().unwrap_or_else(|| panic!("{name}: the harness finds nothing"));
        assert_eq!(expected.kind, ex.expected, "{name}: {expected}");
        assert_eq!(expected.oracle, oracle, "{name}");
        // ...and so does a replay that sets a fresh engine up itself, with the same trace after setup.
        let engine = engine_for(&harness);
        let replayed = replay(&mut harness, engine, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replayed.execution);
        assert!(replayed.confirms(&expected), "{name}: expected {expected}, got:\n{trace}");
        assert!(replayed.plan.exact(), "{name}: on the engine every step maps exactly");
        assert_eq!(replayed.execution.trace[0].phase, Phase::Setup);
        assert_eq!(&replayed.execution.trace[1..], &direct.trace[..], "{name}: the replay's steps differ from the run's");

        // The fixed twin passes the same scenario.
        let mut fixed = ex.harness(Twin::Fixed);
        let engine = engine_for(&fixed);
        let replayed = replay(&mut fixed, engine, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replayed.execution);
        assert_eq!(replayed.execution.finding, None, "{name} (fixed):\n{trace}");
        assert_eq!(replayed.execution.steps_run, scenario.steps.len());
    }
}

#[test]
fn a_scenario_of_no_steps_sets_the_environment_up_and_finds_nothing() {
    let mut harness = example("reentrancy").expect("an example").harness(Twin::Vulnerable);
    let engine = engine_for(&harness);
        let replayed = replay(&mut harness, engine, &Scenario::new(vec![])).expect("replays");
    assert_eq!(replayed.execution.finding, None);
    assert!(replayed.plan.steps.is_empty());
    assert_eq!(replayed.plan.end.fidelity, Fidelity::Exact);
    let setup = icfuzz::report::render_trace(&replayed.execution);
    assert!(setup.starts_with("setup on engine"), "{setup}");
}

#[test]
fn engine_snapshots_restore_a_backend_between_scenarios() {
    let harness = example("reentrancy").expect("an example").harness(Twin::Fixed);
    let rewards = harness.names().principal("rewards").expect("named");
    let controller = harness.controller();
    // The harness's own engine, at its snapshot, is a backend like any other.
    let mut engine = engine_for(&harness);
    let wasm = icfuzz_test_canisters::wasm("reentrancy_fixed");
    assert_eq!(engine.create_canister(icfuzz::engine::canister_id_from_index(0), controller, None).expect("created"), icfuzz::engine::canister_id_from_index(0));
    let id = engine.create_canister(rewards, controller, None).expect("created at the environment's id");
    engine.install(id, &wasm, candid::encode_args(()).expect("encodes"), controller).expect("installed");
    let paid = |engine: &mut EngineBackend| {
        let reply = engine.query(rewards, controller, "paid_out", candid::encode_args(()).expect("encodes")).expect("query");
        candid::decode_one::<u64>(&reply).expect("nat64")
    };
    assert_eq!(paid(&mut engine), 0);
    engine.snapshot(&[rewards], controller).expect("snapshot");
    let call = engine.submit(rewards, icfuzz::user_principal("alice"), "claim", candid::encode_one(rewards).expect("encodes"));
    let call = call.expect("accepted");
    for _ in 0..10 {
        engine.tick();
    }
    assert!(matches!(engine.status(call), Some(Ok(_))), "alice's claim completed: {:?}", engine.status(call));
    engine.restore(controller).expect("restore");
    assert_eq!(paid(&mut engine), 0, "restored to the snapshot");
}

#[test]
fn the_pocket_ic_mapping_reproduces_portable_findings_on_the_engine_in_rounds() {
    // The engine driven only as PocketIC is (submit, tick, advance time, status, query): the round-based path of
    // the executor — settling by rounds, control calls in a round, the stop check by rounds — on real canisters.
    for (name, scenario, oracle) in portable_findings() {
        let ex = example(name).expect("an example");
        let mut harness = ex.harness(Twin::Vulnerable);
        let rounds = RoundsOnly::new(engine_for(&harness), icfuzz_pocketic::CAPABILITIES);
        let replayed = replay(&mut harness, rounds, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replayed.execution);
        let finding = replayed.execution.finding.as_ref().unwrap_or_else(|| panic!("{name}: nothing found in rounds:\n{trace}"));
        assert_eq!((finding.kind, finding.oracle.as_str()), (ex.expected, oracle), "{name}:\n{trace}");
        assert!(!replayed.plan.exact(), "{name}: run until quiet is approximated by rounds");
        assert!(trace.contains("approximated: "), "{name}: the trace says which steps were approximated:\n{trace}");

        let mut fixed = ex.harness(Twin::Fixed);
        let rounds = RoundsOnly::new(engine_for(&fixed), icfuzz_pocketic::CAPABILITIES);
        let replayed = replay(&mut fixed, rounds, &scenario).expect("replays");
        let trace = icfuzz::report::render_trace(&replayed.execution);
        assert_eq!(replayed.execution.finding, None, "{name} (fixed), in rounds:\n{trace}");
    }
}

/// Generated scenarios of every example, run by the engine session and replayed through `RoundsOnly`: every
/// phase up to the first the plan does not mark exact shows the same calls, outcomes, logs and finding.
#[test]
fn engine_and_rounds_give_the_same_trace_wherever_the_plan_is_exact() {
    let mut compared_lines = 0;
    for ex in EXAMPLES {
        let mut harness = ex.harness(Twin::Vulnerable);
        harness.restrict_to(&icfuzz_pocketic::CAPABILITIES);
        for seed in 0..6u64 {
            let bytes: Vec<u8> = (0..256u64).map(|i| (seed.wrapping_mul(0x9e37_79b9) ^ i.wrapping_mul(31 + seed)) as u8).collect();
            let scenario = harness.generate(&bytes);
            let plan = harness.plan_for(&scenario, "engine", &icfuzz_pocketic::CAPABILITIES).expect("plans");
            let direct = harness.run(&scenario).expect("runs on the engine");
            let rounds = RoundsOnly::new(engine_for(&harness), icfuzz_pocketic::CAPABILITIES);
            let replayed = replay(&mut harness, rounds, &scenario).expect("replays in rounds");
            // The phases that map exactly: steps before the first approximated one, and the end if all do.
            let exact_steps = plan.steps.iter().take_while(|s| s.fidelity == Fidelity::Exact).count();
            let keep = |phase: &Phase| match phase {
                Phase::Step(i) => *i < exact_steps,
                Phase::End => exact_steps == plan.steps.len() && plan.end.fidelity == Fidelity::Exact,
                Phase::Setup => false,
            };
            let ours: Vec<_> = direct.neutral().into_iter().filter(|(p, _)| keep(p)).collect();
            let theirs: Vec<_> = replayed.execution.neutral().into_iter().filter(|(p, _)| keep(p)).collect();
            let shorter = ours.len().min(theirs.len());
            assert_eq!(
                ours[..shorter],
                theirs[..shorter],
                "{} seed {seed}: the engine and the rounds replay differ where the plan is exact\n--- engine\n{}\n--- rounds\n{}",
                ex.name,
                direct.render(),
                replayed.execution.render()
            );
            compared_lines += ours[..shorter].iter().map(|(_, lines)| lines.len() + 1).sum::<usize>();
        }
    }
    assert!(compared_lines > 50, "the comparison covered something: {compared_lines} lines");
}
