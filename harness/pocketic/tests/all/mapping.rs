//! The step mapping onto PocketIC and the `--dry-run` output: no server needed.

use icfuzz::backend::Capabilities;
use icfuzz::plan::{Fidelity, Op};
use icfuzz::scenario::GeneratorOptions;
use icfuzz::{FaultRef, MessageRef, Scenario, ScriptAction, Step};
use icfuzz_fuzzers::examples::{example, Twin};
use icfuzz_pocketic::{dry_run, replay, Error, Options, CAPABILITIES};

/// One step of every kind, on the bank example (`mallory` impersonates the ledger).
fn every_kind() -> Scenario {
    Scenario::new(vec![
        Step::Call { actor: "alice".into(), canister: "bank".into(), method: "withdraw".into(), args: "(5 : nat64)".into() },
        Step::Deliver { message: MessageRef::Nth(3) },
        Step::Fault { fault: FaultRef::Nth(1) },
        Step::RunUntilQuiet,
        Step::Script {
            adversary: "mallory".into(),
            method: Some("transfer".into()),
            action: ScriptAction::Hold { release_after_seconds: Some(10), then: Box::new(ScriptAction::Reject { message: "no".into() }) },
            sticky: false,
        },
        Step::Attack { attacker: "mallory".into(), canister: "bank".into(), method: "withdraw".into(), args: "(1 : nat64)".into(), bounded_wait: true, cycles: 0 },
        Step::Release { adversary: "mallory".into() },
        Step::AdvanceTime { seconds: 61 },
        Step::Stop { canister: "bank".into() },
        Step::Start { canister: "bank".into() },
    ])
}

fn bank() -> icfuzz::Harness {
    example("sys_unknown_as_clean").expect("an example").harness(Twin::Vulnerable)
}

#[test]
fn steps_map_onto_pocket_ic_exactly_approximately_or_not_at_all() {
    let harness = bank();
    let methods: Vec<String> = harness.canisters().iter().flat_map(|c| c.interface.methods.iter().map(|m| m.name.clone())).collect();
    assert!(methods.contains(&"withdraw".to_string()), "{methods:?}");
    let plan = harness.plan_for(&every_kind(), "pocket-ic", &CAPABILITIES).expect("plans");
    let fidelity: Vec<&Fidelity> = plan.steps.iter().map(|s| &s.fidelity).collect();
    let approximated = |i: usize, words: &str| match fidelity[i] {
        Fidelity::Approximated(note) => assert!(note.contains(words), "step {}: {note}", i + 1),
        other => panic!("step {} should be approximated, is {other}", i + 1),
    };
    assert_eq!(fidelity[0], &Fidelity::Exact, "an ingress call is a submit_call");
    approximated(1, "not reproducible");
    match fidelity[2] {
        Fidelity::NotReproducible(note) => assert!(note.contains("cannot inject system faults"), "{note}"),
        other => panic!("a fault is not reproducible on PocketIC, not {other}"),
    }
    approximated(3, "every call of the scenario has completed");
    // Nothing is in flight after running until quiet (no hold yet): the control call's round moves nothing else.
    assert_eq!(fidelity[4], &Fidelity::Exact);
    assert_eq!(fidelity[5], &Fidelity::Exact, "an attack is a submit_call to the attacker canister");
    // With the attack in flight, every later step's round also runs it.
    for i in 6..10 {
        approximated(i, "round");
    }
    assert_eq!(plan.counts(), (3, 6, 1));
    assert!(!plan.exact());
    assert_eq!(plan.steps[1].ops, vec![Op::Tick]);
    assert_eq!(plan.steps[2].ops, vec![Op::Skip]);

    // The engine does every step exactly.
    let plan = harness.plan_for(&every_kind(), "engine", &Capabilities::ENGINE).expect("plans");
    assert!(plan.exact(), "{}", plan.render());
    assert_eq!(plan.steps[1].ops, vec![Op::Deliver { message: MessageRef::Nth(3) }]);
}

#[test]
fn dry_run_prints_the_pocket_ic_operation_sequence() {
    let harness = bank();
    let text = dry_run(&harness, &every_kind()).expect("dry run");
    let bank = harness.names().principal("bank").expect("named");
    let alice = harness.names().principal("alice").expect("named");
    for expected in [
        "PocketIcBuilder::new().with_nns_subnet().with_initial_time(".to_string(),
        format!("create_canister_with_id(bank {bank}, controllers: [controller])"),
        "install_canister(ledger ".to_string(),
        "setup: must succeed".to_string(),
        format!("step 1: alice calls bank.withdraw(5 : nat64)  [exact]\n    submit_call(bank {bank}, sender alice {alice}, \"withdraw\", (5 : nat64))"),
        "step 2: deliver pending message #3  [approximated: one round (tick): pocket-ic runs every message deliverable now".to_string(),
        "    tick()\n".to_string(),
        "step 3: inject system fault #1  [not reproducible: pocket-ic cannot inject system faults".to_string(),
        "submit_call_with_effective_principal(aaaaa-aa, effective canister bank".to_string(),
        "\"stop_canister\"".to_string(),
        "advance_time(61 s)".to_string(),
        "summary: 3 exact, 6 approximated, 1 not reproducible on pocket-ic".to_string(),
        "not checked on pocket-ic: trap in callback".to_string(),
    ] {
        assert!(text.contains(&expected), "dry run lacks {expected:?}:\n{text}");
    }
    // Every step is listed once, in order.
    let positions: Vec<usize> = (1..=10).map(|i| text.find(&format!("\nstep {i}: ")).expect("listed")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn portable_findings_map_without_unreproducible_steps() {
    for (name, scenario, _) in crate::portable_findings() {
        let harness = example(name).expect("an example").harness(Twin::Vulnerable);
        let plan = harness.plan_for(&scenario, "pocket-ic", &CAPABILITIES).expect("plans");
        let (_, _, impossible) = plan.counts();
        assert_eq!(impossible, 0, "{name}:\n{}", plan.render());
        // Scripting and the first call happen with nothing in flight: exact; only "run until quiet" is rounds.
        assert_eq!(plan.steps[0].fidelity, Fidelity::Exact, "{name}");
        assert_eq!(plan.steps[1].fidelity, Fidelity::Exact, "{name}");
    }
}

#[test]
fn a_generator_restricted_to_pocket_ic_emits_only_what_it_can_run() {
    let mut harness = bank();
    let bytes = |seed: u64| -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..256)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let kinds = |harness: &icfuzz::Harness| {
        let (mut deliver, mut fault, mut steps) = (0, 0, 0);
        for seed in 0..300 {
            for step in harness.generate(&bytes(seed)).steps {
                steps += 1;
                deliver += matches!(step, Step::Deliver { .. }) as usize;
                fault += matches!(step, Step::Fault { .. }) as usize;
            }
        }
        (deliver, fault, steps)
    };
    let (deliver, fault, _) = kinds(&harness);
    assert!(deliver > 0 && fault > 0, "the default generator emits engine-only steps ({deliver} deliver, {fault} fault)");

    harness.restrict_to(&CAPABILITIES);
    let options = harness.generator_options().clone();
    assert!(!options.deliver && !options.faults && options.hold && options.stop_start && options.upgrade);
    let (deliver, fault, steps) = kinds(&harness);
    assert_eq!((deliver, fault), (0, 0));
    assert!(steps > 1000, "restricted scenarios still have steps: {steps}");
    for seed in 0..100 {
        let scenario = harness.generate(&bytes(seed));
        let plan = harness.plan_for(&scenario, "pocket-ic", &CAPABILITIES).expect("plans");
        assert_eq!(plan.counts().2, 0, "seed {seed}:\n{}", plan.render());
    }
    assert_eq!(GeneratorOptions::default().restricted_to(&Capabilities::ENGINE).deliver, true);
}

#[test]
fn replay_without_a_server_says_how_to_get_one() {
    let mut harness = bank();
    let missing = Options { server_binary: Some("/nonexistent/pocket-ic".into()), download: false };
    match replay(&mut harness, &every_kind(), &missing) {
        Err(Error::NoServer(message)) => {
            assert!(message.contains("POCKET_IC_BIN") && message.contains("docs/pocket-ic.md"), "{message}");
        }
        other => panic!("expected NoServer, got {:?}", other.map(|r| r.execution.finding)),
    }
    // A file that is not executable (e.g. the release still gzipped, or not chmod +x).
    let dir = std::env::temp_dir().join(format!("icfuzz-pocketic-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("pocket-ic.gz");
    std::fs::write(&file, b"\x1f\x8b").expect("write");
    let not_executable = Options { server_binary: Some(file), download: false };
    match replay(&mut harness, &every_kind(), &not_executable) {
        Err(Error::NoServer(message)) => assert!(message.contains("not an executable file"), "{message}"),
        other => panic!("expected NoServer, got {:?}", other.map(|r| r.execution.finding)),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
