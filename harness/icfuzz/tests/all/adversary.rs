//! The adversary canister acts out each scripted behaviour, as seen by the canister that calls it.

use icfuzz::ScriptAction;
use icfuzz::Step;

use crate::*;

fn withdraw_from_evil() -> Step {
    call("alice", "bank", "withdraw", "({evil}, 10 : nat64)")
}

#[test]
fn replies_with_a_well_typed_value() {
    let mut h = bank();
    let e = run(&mut h, vec![script(ScriptAction::Reply { value: "(7 : nat64)".into() }), withdraw_from_evil()]);
    assert_eq!(last_result(&e, "withdraw"), Ok(90), "{}", icfuzz::report::render_trace(&e));
}

#[test]
fn unscripted_calls_get_the_default_well_typed_reply() {
    let mut h = bank();
    let e = run(&mut h, vec![withdraw_from_evil()]);
    assert_eq!(last_result(&e, "withdraw"), Ok(90));
}

#[test]
fn garbage_does_not_decode() {
    let mut h = bank();
    let e = run(&mut h, vec![script(ScriptAction::Garbage { len: 16, seed: 3 }), withdraw_from_evil()]);
    let err = last_result(&e, "withdraw").unwrap_err();
    assert!(err.contains("not a nat64"), "{err}");
}

#[test]
fn oversized_replies_up_to_the_limit_arrive_and_past_it_fail() {
    let mut h = bank();
    // Exactly 2 MiB is a valid (huge) Candid text: it arrives, and does not decode as a nat64.
    let e = run(&mut h, vec![script(ScriptAction::Oversized { len: 2 << 20 }), withdraw_from_evil()]);
    let err = last_result(&e, "withdraw").unwrap_err();
    assert!(err.contains("not a nat64"), "{err}");
    // One byte more and the adversary's own reply traps: the bank sees CANISTER_ERROR.
    let e = run(&mut h, vec![script(ScriptAction::Oversized { len: (2 << 20) + 1 }), withdraw_from_evil()]);
    let err = last_result(&e, "withdraw").unwrap_err();
    assert!(err.contains("ledger transfer failed") && !err.contains("not a nat64"), "{err}");
}

#[test]
fn rejects_and_traps_reach_the_caller_as_rejects() {
    let mut h = bank();
    let e = run(&mut h, vec![script(ScriptAction::Reject { message: "evil says no".into() }), withdraw_from_evil()]);
    let err = last_result(&e, "withdraw").unwrap_err();
    assert!(err.contains("evil says no"), "{err}");
    let e = run(&mut h, vec![script(ScriptAction::Trap { message: "evil traps".into() }), withdraw_from_evil()]);
    let err = last_result(&e, "withdraw").unwrap_err();
    assert!(err.contains("evil traps"), "{err}");
}

#[test]
fn a_held_call_stays_open_until_released() {
    let mut h = bank_env().oracles(icfuzz::Oracles { cannot_stop: false, ..Default::default() }).build().unwrap();
    let hold = ScriptAction::Hold { release_after_seconds: None, then: Box::new(ScriptAction::Reply { value: "(1 : nat64)".into() }) };
    let e = run(&mut h, vec![script(hold.clone()), withdraw_from_evil(), Step::RunUntilQuiet, Step::AdvanceTime { seconds: 3600 }]);
    assert!(e.calls.iter().all(|c| c.method != "withdraw"), "held: the withdrawal never completes");
    assert_eq!(h.subnet().open_call_contexts(h.names().principal("bank").unwrap()).unwrap(), 1);
    let e = run(&mut h, vec![script(hold), withdraw_from_evil(), Step::RunUntilQuiet, Step::Release { adversary: "evil".into() }]);
    assert_eq!(last_result(&e, "withdraw"), Ok(90), "released, it replies: {}", icfuzz::report::render_trace(&e));
}

#[test]
fn a_late_reply_comes_once_its_time_has_passed() {
    let mut h = bank_env().oracles(icfuzz::Oracles { cannot_stop: false, ..Default::default() }).build().unwrap();
    let late = ScriptAction::Hold { release_after_seconds: Some(60), then: Box::new(ScriptAction::Reply { value: "(1 : nat64)".into() }) };
    let steps = vec![script(late), withdraw_from_evil(), Step::RunUntilQuiet, Step::AdvanceTime { seconds: 10 }];
    let e = run(&mut h, steps.clone());
    assert!(e.calls.iter().all(|c| c.method != "withdraw"), "10 s in, still waiting");
    let mut later = steps;
    later.push(Step::AdvanceTime { seconds: 60 });
    let e = run(&mut h, later);
    assert_eq!(last_result(&e, "withdraw"), Ok(90), "{}", icfuzz::report::render_trace(&e));
}

#[test]
fn a_call_back_reenters_the_caller_before_the_reply() {
    let mut h = bank();
    let reenter = ScriptAction::CallBack {
        canister: "bank".into(),
        to_caller: true,
        method: "deposit".into(),
        args: "(5 : nat64)".into(),
        bounded_wait: false,
        then: Box::new(ScriptAction::Reply { value: "(1 : nat64)".into() }),
    };
    let e = run(&mut h, vec![script(reenter), withdraw_from_evil(), Step::RunUntilQuiet]);
    // The deposit ran during the withdrawal's await, and the withdrawal then wrote back its stale read: the
    // reentrant deposit is lost (100 - 10, not 105 - 10).
    assert_eq!(last_result(&e, "withdraw"), Ok(90));
    let trace = icfuzz::report::render_trace(&e);
    assert!(trace.contains("deliver evil → bank: request deposit"), "{trace}");
}

#[test]
fn an_attacker_canister_calls_as_itself() {
    let mut h = bank();
    let e = run(
        &mut h,
        vec![Step::Attack {
            attacker: "evil".into(),
            canister: "bank".into(),
            method: "deposit".into(),
            args: "(1 : nat64)".into(),
            bounded_wait: false,
            cycles: 0,
        }],
    );
    let record = e.calls.iter().find(|c| c.method == "deposit").expect("the attack completed");
    assert_eq!(record.caller, h.names().principal("evil").unwrap());
    assert_eq!(candid::decode_one::<u64>(record.result.as_ref().unwrap()).unwrap(), 101);
}

/// An attacker canister attaches cycles, which ingress never can: a payable method answers it, and the
/// warning for a method no ingress call gets a reply from says what it wants.
#[test]
fn an_attacker_canister_attaches_cycles() {
    let init = "(variant { Init = record { owner = {alice}; ledger = {alice}; fee = 1 : nat } })";
    let treasury = || {
        icfuzz::Environment::builder()
            .canister(icfuzz::CanisterSpec::new("treasury", wasm("treasury")).init_args(init).target())
            .adversary(icfuzz::AdversarySpec::new("evil"))
            .adversary_wasm(wasm("adversary"))
            .user("alice")
            .build()
            .unwrap()
    };
    let mut h = treasury();
    let donate = |cycles| Step::Attack {
        attacker: "evil".into(),
        canister: "treasury".into(),
        method: "donate".into(),
        args: "()".into(),
        bounded_wait: false,
        cycles,
    };
    let e = run(&mut h, vec![donate(1_000_000)]);
    let record = e.calls.iter().find(|c| c.method == "donate").expect("the attack completed");
    assert_eq!(candid::decode_one::<candid::Nat>(record.result.as_ref().unwrap()).unwrap(), candid::Nat::from(1_000_000u64));
    let e = run(&mut h, vec![donate(0)]);
    let record = e.calls.iter().find(|c| c.method == "donate").expect("the attack completed");
    assert!(record.result.as_ref().unwrap_err().1.contains("donate needs cycles attached"));
    let mut h = treasury();
    for _ in 0..10 {
        run(&mut h, vec![call("alice", "treasury", "donate", "()")]);
    }
    let warnings = icfuzz::fuzz::never_replied(&h);
    let warning = warnings.iter().find(|w| w.starts_with("treasury.donate:")).expect("a warning");
    assert!(warning.contains("donate needs cycles attached") && warning.contains("only a canister"), "{warning}");
}

#[test]
fn impersonation_rejects_too_many_or_clashing_methods() {
    let module = wasm("adversary");
    let many: Vec<String> = (0..=icfuzz::adversary::SLOTS).map(|i| format!("m{i}")).collect();
    assert!(icfuzz::adversary::impersonate(&module, &many).is_err());
    assert!(icfuzz::adversary::impersonate(&module, &["a".into(), "a".into()]).is_err());
    assert!(icfuzz::adversary::impersonate(&module, &["icfuzz_script".into()]).is_err());
    assert!(icfuzz::adversary::impersonate(&wasm("ledger"), &["transfer".into()]).is_err(), "not the adversary");
    let aliased = icfuzz::adversary::impersonate(&module, &["transfer".into()]).unwrap();
    icfuzz::engine::validate_module(&aliased).expect("still a valid canister module");
}

/// The built canister exports exactly the methods and slots the shared wire crate names. ic-cdk takes a method's
/// name from its Rust function, which a constant cannot drive, so this is where a rename on one side shows.
#[test]
fn the_canister_exports_the_wire_crates_names() {
    use icfuzz::adversary::wire;
    let module = wasm("adversary");
    let (mut methods, mut slots) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for payload in wasmparser::Parser::new(0).parse_all(&module) {
        if let wasmparser::Payload::ExportSection(reader) = payload.unwrap() {
            for export in reader {
                let name = export.unwrap().name;
                if let Some(slot) = name.strip_prefix(wire::SLOT_EXPORT_PREFIX) {
                    slots.insert(slot.parse::<usize>().unwrap());
                } else if let Some((kind, method)) = name.split_once(' ') {
                    methods.insert((kind.to_owned(), method.to_owned()));
                }
            }
        }
    }
    let updates = wire::UPDATE_METHODS.iter().map(|m| ("canister_update".to_owned(), m.to_string()));
    let queries = wire::QUERY_METHODS.iter().map(|m| ("canister_query".to_owned(), m.to_string()));
    assert_eq!(methods, updates.chain(queries).collect());
    assert_eq!(slots, (0..wire::SLOTS).collect());
}

/// A target may export methods named like the adversary's own plumbing (the IC reserves no such names); calls to
/// them are the scenario's and the trace shows them, while the adversary's own control calls stay hidden.
#[test]
fn a_target_method_named_like_adversary_plumbing_is_traced() {
    let wasm = wat::parse_str(
        r#"(module
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (import "ic0" "msg_reply" (func $reply))
          (memory 1)
          (data (i32.const 0) "DIDL\00\00")
          (func $ok (call $append (i32.const 0) (i32.const 6)) (call $reply))
          (export "canister_update icfuzz_script" (func $ok))
          (export "canister_update icfuzz_attack" (func $ok)))"#,
    )
    .unwrap();
    let mut h = Environment::builder()
        .canister(
            CanisterSpec::new("mimic", wasm)
                .did("service : { icfuzz_script : () -> (); icfuzz_attack : () -> () }")
                .target(),
        )
        .adversary(AdversarySpec::new("evil"))
        .adversary_wasm(icfuzz_test_canisters::wasm("adversary"))
        .user("alice")
        .build()
        .unwrap();
    let attack = Step::Attack {
        attacker: "evil".into(),
        canister: "mimic".into(),
        method: "icfuzz_script".into(),
        args: "()".into(),
        bounded_wait: false,
        cycles: 0,
    };
    let e = run(
        &mut h,
        vec![
            Step::Script {
                adversary: "evil".into(),
                method: None,
                action: ScriptAction::Reply { value: "()".into() },
                sticky: false,
            },
            attack,
            call("alice", "mimic", "icfuzz_attack", "()"),
        ],
    );
    let trace = icfuzz::report::render_trace(&e);
    assert!(
        trace.contains("deliver evil → mimic: request icfuzz_script"),
        "{trace}"
    );
    assert!(
        trace.contains("deliver alice → mimic: ingress icfuzz_attack"),
        "{trace}"
    );
    assert!(
        !trace.contains("→ evil: ingress icfuzz_script"),
        "the adversary's own scripting is plumbing: {trace}"
    );
    assert_eq!(
        e.calls.iter().filter(|c| c.result.is_ok()).count(),
        2,
        "{trace}"
    );
}
