//! Capabilities restrict the generator: a backend never gets a step kind it cannot run.

use icfuzz::backend::Capabilities;
use icfuzz::scenario::GeneratorOptions;
use icfuzz::{CanisterSpec, Environment, ScriptAction, Step};
use icfuzz_test_canisters::wasm;

fn bytes(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// How many generated steps (of 300 scenarios) match.
fn count(harness: &icfuzz::Harness, matches: impl Fn(&Step) -> bool) -> usize {
    (0..300).flat_map(|seed| harness.generate(&bytes(seed)).steps).filter(|s| matches(s)).count()
}

fn holds(step: &Step) -> bool {
    matches!(step, Step::Release { .. })
        || matches!(step, Step::Script { action, .. } if matches!(action, ScriptAction::Hold { .. })
            || matches!(action, ScriptAction::CallBack { then, .. } if matches!(**then, ScriptAction::Hold { .. })))
}

#[test]
fn capabilities_turn_off_the_step_kinds_a_backend_lacks() {
    let mut harness = crate::bank();
    let stop_start = |s: &Step| matches!(s, Step::Stop { .. } | Step::Start { .. });
    let deliver = |s: &Step| matches!(s, Step::Deliver { .. });
    // The engine can do everything, and the default generator uses it.
    assert_eq!(GeneratorOptions::default().restricted_to(&Capabilities::ENGINE).deliver, true);
    assert!(count(&harness, holds) > 0 && count(&harness, stop_start) > 0 && count(&harness, deliver) > 0);

    let lacking = Capabilities { hold_and_release: false, stop_start: false, exact_delivery_order: false, ..Capabilities::ENGINE };
    harness.restrict_to(&lacking);
    let options = harness.generator_options();
    assert!(!options.hold && !options.stop_start && !options.deliver && options.faults && options.upgrade);
    assert_eq!(count(&harness, holds), 0);
    assert_eq!(count(&harness, stop_start), 0);
    assert_eq!(count(&harness, deliver), 0);
    assert!(count(&harness, |s| matches!(s, Step::Fault { .. })) > 0, "faults stay on");
}

/// A canister can be placed at a fixed id (code that names its ledger by id reaches it); the others get ids in
/// order around it, and two canisters at one id are a setup error.
#[test]
fn canisters_at_fixed_ids_are_reached_by_their_id() {
    let ledger_id = candid::Principal::from_text("ryjl3-tyaaa-aaaaa-aaaba-cai").unwrap();
    let env = || {
        Environment::builder()
            .canister(CanisterSpec::new("ledger", wasm("ledger")).did(include_str!("../../../../canisters/ledger/ledger.did")).id(ledger_id))
            .canister(CanisterSpec::new("bank", wasm("bank")).did(include_str!("../../../../canisters/bank/bank.did")).target())
            .user("alice")
            .setup("bank", "deposit", "(100 : nat64)")
    };
    let mut h = env().build().unwrap();
    let environment = h.environment().clone();
    assert_eq!(environment.canister("ledger").unwrap().id, ledger_id);
    assert_ne!(environment.canister("bank").unwrap().id, ledger_id);
    // The bank is handed the ledger by its literal id, as code with a hard-coded ledger has it.
    let e = crate::run(&mut h, vec![crate::call("alice", "bank", "withdraw", "(principal \"ryjl3-tyaaa-aaaaa-aaaba-cai\", 10 : nat64)"), Step::RunUntilQuiet]);
    assert_eq!(crate::last_result(&e, "withdraw"), Ok(90), "{}", icfuzz::report::render_trace(&e));
    let twice = env().canister(CanisterSpec::new("other", wasm("ledger")).id(ledger_id)).build();
    assert!(twice.is_err_and(|e| e.to_string().contains("two canisters are placed at id")));
}
