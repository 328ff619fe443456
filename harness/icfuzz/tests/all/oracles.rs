//! The built-in oracles fire on the bugs they name, and invariants are checked when they should be.

use icfuzz::oracle::declarative::{Comparison, Op, Operand};
use icfuzz::oracle::invariants::{invariant, on_reply};
use icfuzz::{AdversarySpec, CanisterSpec, Environment, FindingKind, Harness, Oracles, ScriptAction, Severity, Step};

use crate::*;

#[test]
fn a_trap_after_an_await_is_a_trap_in_callback() {
    let mut h = bank();
    let e = run(&mut h, vec![call("alice", "bank", "withdraw_then_trap", "({ledger}, 10 : nat64)"), Step::RunUntilQuiet]);
    let f = e.finding.expect("found");
    assert_eq!(f.kind, FindingKind::TrapInCallback, "{f}");
    assert_eq!((f.canister.as_deref(), f.method.as_deref()), (Some("bank"), Some("withdraw_then_trap")));
    // Off, the same scenario is clean.
    let mut h = bank_env().oracles(Oracles { trap_in_callback: false, ..Oracles::default() }).build().unwrap();
    let e = run(&mut h, vec![call("alice", "bank", "withdraw_then_trap", "({ledger}, 10 : nat64)"), Step::RunUntilQuiet]);
    assert_eq!(e.finding, None);
}

#[test]
fn a_canister_waiting_forever_on_a_callee_cannot_stop() {
    let mut h = bank();
    let hold = ScriptAction::Hold { release_after_seconds: None, then: Box::new(ScriptAction::Reply { value: "(1 : nat64)".into() }) };
    let e = run(&mut h, vec![script(hold.clone()), call("alice", "bank", "withdraw", "({evil}, 10 : nat64)")]);
    let f = e.finding.expect("found");
    assert_eq!(f.kind, FindingKind::CannotStop, "{f}");
    assert!(f.message.contains("waiting on evil"), "{f}");
    // Released in time, the same call is fine.
    let e = run(
        &mut h,
        vec![script(hold), call("alice", "bank", "withdraw", "({evil}, 10 : nat64)"), Step::RunUntilQuiet, Step::Release { adversary: "evil".into() }],
    );
    assert_eq!(e.finding, None, "{}", icfuzz::report::render_trace(&e));
}

#[test]
fn invariants_run_after_every_step_and_at_quiescence_only_when_idle() {
    let balance_is_100 = invariant("balance is 100", |w| {
        let (b,): (u64,) = w.query("bank", "balance", ())?;
        if b == 100 { Ok(()) } else { Err(format!("balance {b}")) }
    });
    let mut h = bank_env().invariant(balance_is_100).build().unwrap();
    let e = run(&mut h, vec![call("alice", "bank", "deposit", "(1 : nat64)"), Step::Deliver { message: icfuzz::MessageRef::Nth(0) }]);
    let f = e.finding.expect("found");
    assert_eq!((f.kind, f.step, f.message.as_str()), (FindingKind::Invariant, 1, "balance 101"));

    // At quiescence: with the withdrawal waiting on the ledger, the stale state is not checked; once idle, it is.
    let idle_only = invariant("balance is 100 when idle", |w| {
        let (b,): (u64,) = w.query("bank", "balance", ())?;
        if b == 100 { Ok(()) } else { Err(format!("balance {b}")) }
    })
    .at_quiescence();
    let mut h = bank_env().invariant(idle_only).build().unwrap();
    let steps = vec![call("alice", "bank", "withdraw", "({ledger}, 10 : nat64)"), Step::Deliver { message: icfuzz::MessageRef::Nth(0) }];
    let e = run(&mut h, steps);
    let f = e.finding.expect("found at the end, once idle");
    assert_eq!(f.step, 2, "{f}");
}

#[test]
fn a_stopped_canister_is_not_a_violation_of_invariants_that_query_it() {
    let always_fails_if_checked = invariant("queries the bank", |w| {
        let (_,): (u64,) = w.query("bank", "balance", ())?;
        Err("checked".into())
    });
    let mut h = bank_env().invariant(always_fails_if_checked).build().unwrap();
    let e = run(&mut h, vec![Step::Stop { canister: "bank".into() }]);
    // The stop step leaves the bank stopped: the query cannot run, the invariant is skipped. Not vacuous: starting
    // it again makes the invariant run and fail.
    assert_eq!(e.finding, None);
    let e = run(&mut h, vec![Step::Stop { canister: "bank".into() }, Step::Start { canister: "bank".into() }]);
    assert_eq!(e.finding.map(|f| f.message), Some("checked".into()));
}

#[test]
fn access_control_and_locks_have_their_own_kinds() {
    let mut h = bank_env().invariant(icfuzz::oracle::invariants::only_callers("bank", "deposit", &["alice"])).build().unwrap();
    let e = run(&mut h, vec![call("anonymous", "bank", "deposit", "(1 : nat64)"), Step::RunUntilQuiet]);
    assert_eq!(e.finding.map(|f| f.kind), Some(FindingKind::AccessControl));
    let e = run(&mut h, vec![call("alice", "bank", "deposit", "(1 : nat64)"), Step::RunUntilQuiet]);
    assert_eq!(e.finding, None);

    // ic-cdk releases a guard held across an await when the code after it traps (cleanup): no lock finding.
    let mut h = bank_env()
        .oracles(Oracles { trap_in_callback: false, ..Oracles::default() })
        .invariant(icfuzz::oracle::invariants::lock_released("bank", "is_locked"))
        .build()
        .unwrap();
    let e = run(&mut h, vec![call("alice", "bank", "locked_call", "({ledger})"), Step::RunUntilQuiet]);
    assert_eq!(e.finding, None, "{}", icfuzz::report::render_trace(&e));
    // Held across an await that never ends, the lock is never checked (nothing is idle) and the stop check fires.
    let hold = ScriptAction::Hold { release_after_seconds: None, then: Box::new(ScriptAction::Reply { value: "(0 : nat64)".into() }) };
    let e = run(&mut h, vec![script(hold), call("alice", "bank", "locked_call", "({evil})")]);
    assert_eq!(e.finding.map(|f| f.kind), Some(FindingKind::CannotStop));
}

#[test]
fn a_run_is_deterministic_and_its_trace_readable() {
    let mut h = bank();
    let scenario = h.generate(&[7; 300]);
    let a = h.run(&scenario).unwrap();
    let b = h.run(&scenario).unwrap();
    assert_eq!(a.trace, b.trace);
    let text = icfuzz::report::render_trace(&a);
    assert!(text.starts_with("step 1: "), "{text}");
    let json = scenario.to_json();
    assert_eq!(icfuzz::Scenario::from_json(&json).unwrap(), scenario);
    assert!(icfuzz::Scenario::from_json("{\"steps\": 5}").unwrap_err().contains("not an icfuzz scenario"));
}

/// Two calls alike (same caller, canister and method, other arguments) wait at once: the one a pick delivers
/// keeps its place among them in the saved scenario, so a replay delivers that one and not the oldest.
#[test]
fn a_delivered_call_is_named_among_the_calls_alike() {
    let mut h = bank();
    let steps = vec![
        call("alice", "bank", "deposit", "(1 : nat64)"),
        call("alice", "bank", "deposit", "(2 : nat64)"),
        Step::Deliver { message: icfuzz::MessageRef::Nth(1) },
    ];
    let first = run(&mut h, steps);
    let named = icfuzz::MessageRef::Call { caller: "alice".into(), canister: "bank".into(), method: "deposit".into(), nth: 1 };
    assert_eq!(first.scenario.steps[2], Step::Deliver { message: named });
    let replay = run(&mut h, first.scenario.steps.clone());
    assert_eq!(replay.trace, first.trace);
    let text = icfuzz::report::render_trace(&first);
    let delivered = text.lines().skip_while(|l| !l.starts_with("step 3")).find(|l| l.contains("⇒ bank.deposit")).expect("a deposit completed");
    assert!(delivered.contains("102"), "the second deposit (2) ran first: {delivered}");
}

#[test]
fn a_campaign_where_a_method_never_succeeds_says_so() {
    // `withdraw_then_trap` traps after every transfer; with the trap-in-callback oracle off nothing is found, and
    // the report must not let that pass silently.
    let mut h = bank_env()
        .oracles(Oracles { trap_in_callback: false, cannot_stop: false, ..Oracles::default() })
        .build()
        .unwrap();
    let options = icfuzz::fuzz::FuzzOptions { executions: 300, stop_on_first: false, ..Default::default() };
    let report = icfuzz::fuzz::fuzz(&mut h, &options).unwrap();
    assert!(
        report.never_replied.iter().any(|w| w.starts_with("bank.withdraw_then_trap:")
            && w.contains("most often (")
            && (w.contains("insufficient balance") || w.contains("trapping after the transfer completed"))),
        "the warning says why: {:?}",
        report.never_replied
    );
    assert!(!report.never_replied.iter().any(|w| w.starts_with("bank.deposit:")), "{:?}", report.never_replied);
}

/// Every response to a Motoko one-way call fails its callback with IC0513 before any canister code runs (the
/// callback index is -1). That is not a trap of the canister: fuzzing a Motoko pub/sub publisher finds nothing.
#[test]
fn responses_to_motoko_one_way_calls_are_not_traps() {
    use icfuzz_test_canisters::{motoko_wasm, Motoko};
    for flavour in [Motoko::Wasm32, Motoko::Wasm64] {
        let mut h = Environment::builder()
            .canister(CanisterSpec::new("subscriber", motoko_wasm("subscriber", flavour)))
            .canister(CanisterSpec::new("publisher", motoko_wasm("publisher", flavour)).target())
            .user("alice")
            .setup("publisher", "subscribe", "({subscriber})")
            .build()
            .unwrap_or_else(|e| panic!("{flavour:?}: {e}"));
        let e = run(&mut h, vec![call("alice", "publisher", "publish", "(\"hello\")"), Step::RunUntilQuiet]);
        assert_eq!(e.finding, None, "{flavour:?}:\n{}", icfuzz::report::render_trace(&e));
        let trace = icfuzz::report::render_trace(&e);
        assert!(trace.contains("subscriber ran canister_update on_event"), "{flavour:?}: the notification arrived:\n{trace}");
        // A short campaign: whatever the order of publishes, subscriptions and deliveries, nothing is reported.
        let mut seed = 0x0e_u64;
        for _ in 0..200 {
            let input: Vec<u8> = (0..128)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) as u8
                })
                .collect();
            let scenario = h.generate(&input);
            let e = h.run(&scenario).unwrap();
            assert_eq!(e.finding, None, "{flavour:?}:\n{}", icfuzz::report::render_trace(&e));
        }
    }
}

/// An upgrade step upgrades a Motoko canister the way dfx does: with enhanced orthogonal persistence the heap is
/// kept (`wasm_memory_persistence = keep`, without which the IC refuses the upgrade). Its state survives, and no
/// oracle calls the upgrade a failure.
#[test]
fn motoko_canisters_upgrade_as_dfx_upgrades_them() {
    use icfuzz_test_canisters::{motoko_wasm, Motoko};
    for flavour in [Motoko::Wasm32, Motoko::Wasm64] {
        let mut h = Environment::builder()
            .canister(CanisterSpec::new("counter", motoko_wasm("counter", flavour)).target().upgradable())
            .user("alice")
            .build()
            .unwrap_or_else(|e| panic!("{flavour:?}: {e}"));
        let inc = || call("alice", "counter", "inc", "()");
        let steps = vec![inc(), Step::RunUntilQuiet, Step::Upgrade { canister: "counter".into() }, inc(), Step::RunUntilQuiet];
        let e = run(&mut h, steps);
        let trace = icfuzz::report::render_trace(&e);
        assert_eq!(e.finding, None, "{flavour:?}:\n{trace}");
        assert!(!trace.contains("upgrade of counter failed"), "{flavour:?}:\n{trace}");
        let last = e.calls.iter().rev().find(|c| c.method == "inc").expect("inc completed");
        let count = candid::decode_one::<candid::Nat>(last.result.as_ref().expect("inc replies")).unwrap();
        assert_eq!(count, candid::Nat::from(2u32), "{flavour:?}: the count survived the upgrade:\n{trace}");
    }
}

/// `Session::evaluate` gives a check operand's value on the state right after setup, whatever ran before.
#[test]
fn operands_evaluate_on_the_state_after_setup() {
    let mut h = bank();
    let balance = |h: &mut Harness| h.evaluate("bank.balance()").map(|v| v.to_string());
    assert_eq!(
        balance(&mut h).unwrap(),
        "100 : nat64",
        "the setup deposited 100"
    );
    let e = run(
        &mut h,
        vec![call("alice", "bank", "deposit", "(5 : nat64)")],
    );
    assert_eq!(last_result_nat(&e, "deposit"), 105);
    assert_eq!(
        balance(&mut h).unwrap(),
        "100 : nat64",
        "evaluated from the snapshot, not after the run"
    );
    assert_eq!(h.evaluate("bank.is_locked()").unwrap().to_string(), "false");
    assert_eq!(h.evaluate("bank.balance() * 3").unwrap().to_string(), "300 : int");
    assert!(h
        .evaluate("bank.no_such_method()")
        .unwrap_err()
        .contains("no_such_method"));
}

fn last_result_nat(e: &Execution, method: &str) -> u64 {
    let record = e
        .calls
        .iter()
        .rev()
        .find(|c| c.method == method)
        .expect("the call completed");
    candid::decode_one(record.result.as_ref().expect("replied")).expect("a nat64")
}

/// A token with allowances, alice holding 100; `mint` is left callable so that the calibration sees its
/// controller check trap for alice and bob.
fn allowances(twin: &str, oracles: Oracles) -> Harness {
    Environment::builder()
        .user("alice")
        .user("bob")
        .canister(CanisterSpec::new("token", icfuzz_test_canisters::wasm(&format!("whole_allowance_{twin}"))).target())
        .setup("token", "mint", "({alice}, 100 : nat64)")
        .oracles(oracles)
        .invariant(invariant("bob is never allowed 7", |w| {
            let alice = w.principal("alice")?;
            let bob = w.principal("bob")?;
            let (allowed,): (u64,) = w.query("token", "allowance", (alice, bob))?;
            if allowed == 7 { Err("bob is allowed 7".into()) } else { Ok(()) }
        }))
        .build()
        .unwrap()
}

fn spend_the_whole_allowance() -> Vec<Step> {
    vec![call("alice", "token", "approve", "({bob}, 40 : nat64)"), call("bob", "token", "transfer_from", "({alice}, {bob}, 40 : nat64)")]
}

#[test]
fn a_trap_only_a_history_of_calls_reaches_is_a_low_severity_new_trap() {
    let mut h = allowances("vulnerable", Oracles::default());
    let e = run(&mut h, spend_the_whole_allowance());
    let f = e.finding.expect("found");
    assert_eq!((f.kind, f.kind.severity()), (FindingKind::NewTrap, Severity::Low), "{f}");
    assert_eq!((f.canister.as_deref(), f.method.as_deref()), (Some("token"), Some("transfer_from")));
    assert!(f.message.contains("allowance after transfer_from") && f.message.contains("mute_traps"), "{f}");
    assert!(f.to_string().contains("(low severity)"), "{f}");
    // The calibration's calls are not the campaign's: only this scenario's two calls are counted.
    let calls: u64 = h.stats.values().map(|s| s.calls).sum();
    assert_eq!(calls, 2, "{:?}", h.stats);

    // A trap a single call reaches (bob is no controller) is the canister turning input away: silent.
    let e = run(&mut h, vec![call("bob", "token", "mint", "({bob}, 1 : nat64)")]);
    assert!(icfuzz::report::render_trace(&e).contains("only a controller"), "the call trapped");
    assert_eq!(e.finding, None);

    // Spending part of the allowance is fine, and so is the fixed twin spending all of it.
    let e = run(&mut h, vec![call("alice", "token", "approve", "({bob}, 40 : nat64)"), call("bob", "token", "transfer_from", "({alice}, {bob}, 39 : nat64)")]);
    assert_eq!(e.finding, None);
    let mut fixed = allowances("fixed", Oracles::default());
    assert_eq!(run(&mut fixed, spend_the_whole_allowance()).finding, None);
}

#[test]
fn a_new_trap_can_be_muted_or_turned_off_and_never_hides_a_worse_finding() {
    let muted = Oracles { muted_traps: vec!["allowance after".into()], ..Oracles::default() };
    assert_eq!(run(&mut allowances("vulnerable", muted), spend_the_whole_allowance()).finding, None);
    let off = Oracles { new_trap: false, ..Oracles::default() };
    assert_eq!(run(&mut allowances("vulnerable", off), spend_the_whole_allowance()).finding, None);

    // The new trap comes first, the broken invariant after it: the scenario goes on and reports the invariant.
    let mut h = allowances("vulnerable", Oracles::default());
    let mut steps = spend_the_whole_allowance();
    steps.push(call("alice", "token", "approve", "({bob}, 7 : nat64)"));
    let f = run(&mut h, steps).finding.expect("found");
    assert_eq!(f.kind, FindingKind::Invariant, "{f}");
}

/// The owner_handover registry, owned by alice, with an attacker canister and one invariant.
fn registry(twin: &str, property: impl icfuzz::Invariant + 'static) -> Harness {
    Environment::builder()
        .user("alice")
        .user("bob")
        .adversary_wasm(icfuzz_test_canisters::wasm("adversary"))
        .adversary(AdversarySpec::new("mallory"))
        .canister(CanisterSpec::new("registry", icfuzz_test_canisters::wasm(&format!("owner_handover_{twin}"))).init_args("({alice})").target())
        .invariant(property)
        .build()
        .unwrap()
}

fn handover(by: &str, from: &str, to: &str) -> Step {
    call(by, "registry", "set_owner", &format!("(record {{ current_owner = {{{from}}}; new_owner = {{{to}}} }})"))
}

fn attack(method: &str, args: &str) -> Step {
    Step::Attack { attacker: "mallory".into(), canister: "registry".into(), method: method.into(), args: args.into(), bounded_wait: false, cycles: 0 }
}

fn owner_unchanged_unless_users_call() -> Comparison {
    let parse = |text: &str| Operand::parse(text).unwrap();
    Comparison::new("the owner changes only by users' calls", parse("registry.owner()"), Op::Eq, parse("old(registry.owner())"))
        .unless_calls_by(&["alice", "bob"])
        .unwrap()
}

#[test]
fn old_is_the_value_before_each_step() {
    let mut h = registry("vulnerable", owner_unchanged_unless_users_call());
    // Legitimate handovers happen during users' calls, which the check leaves out.
    let quiet = || Step::RunUntilQuiet;
    assert_eq!(run(&mut h, vec![handover("alice", "alice", "bob"), quiet(), handover("bob", "bob", "alice"), quiet()]).finding, None);
    // After a handover, old(...) is the new owner: a later step that changes nothing is fine (were old(...) the
    // owner after setup, this would fire).
    let refused_fee = attack("set_fee", "(1 : nat64)");
    assert_eq!(run(&mut h, vec![handover("alice", "alice", "bob"), quiet(), refused_fee, quiet()]).finding, None);
    // The attacker canister takes the registry over: the owner changed in a step no user's call was alive in.
    let takeover = attack("set_owner", "(record { current_owner = {bob}; new_owner = {mallory} })");
    let f = run(&mut h, vec![handover("alice", "alice", "bob"), quiet(), takeover.clone(), quiet()]).finding.expect("found");
    assert_eq!((f.kind, f.step), (FindingKind::Invariant, 3), "{f}");
    assert!(f.message.contains("old(registry.owner()) = principal"), "{f}");
    // The fixed twin refuses the attacker.
    let mut fixed = registry("fixed", owner_unchanged_unless_users_call());
    assert_eq!(run(&mut fixed, vec![handover("alice", "alice", "bob"), quiet(), takeover, quiet()]).finding, None);
    // With the owner before the step as the only caller left out, bob's takeover is found too, and a chain of
    // legitimate handovers (alice to the attacker canister, which hands it on) is not.
    let owner_only = || {
        let parse = |text: &str| Operand::parse(text).unwrap();
        Comparison::new("only the owner changes the owner", parse("registry.owner()"), Op::Eq, parse("old(registry.owner())"))
            .unless_calls_by(&["old(registry.owner())"])
            .unwrap()
    };
    let chain = vec![handover("alice", "alice", "mallory"), quiet(), attack("set_owner", "(record { current_owner = {mallory}; new_owner = {bob} })"), quiet()];
    assert_eq!(run(&mut registry("fixed", owner_only()), chain).finding, None);
    let f = run(&mut registry("vulnerable", owner_only()), vec![handover("bob", "alice", "bob"), quiet()]).finding.expect("found");
    assert_eq!(f.kind, FindingKind::Invariant, "{f}");
    assert!(Comparison::new("x", Operand::parse("registry.fee()").unwrap(), Op::Eq, Operand::parse("1").unwrap()).unless_calls_by(&["old(5)"]).is_err());
    // The first step is compared with the state after setup.
    let first = vec![attack("set_owner", "(record { current_owner = {alice}; new_owner = {mallory} })"), quiet()];
    assert!(run(&mut registry("vulnerable", owner_unchanged_unless_users_call()), first).finding.is_some());
    // The takeover completing in the same step as one of alice's calls is left out: no guess about who did what.
    let mut h = registry("vulnerable", owner_unchanged_unless_users_call());
    let steps = vec![attack("set_owner", "(record { current_owner = {alice}; new_owner = {mallory} })"), call("alice", "registry", "fee", "()"), quiet()];
    assert_eq!(run(&mut h, steps).finding, None);
}

#[test]
fn a_comparison_can_judge_only_the_steps_after_given_replies() {
    let parse = |text: &str| Operand::parse(text).unwrap();
    let fee_is_10 = || {
        Comparison::new("fee is 10 after bob's set_fee", parse("registry.fee()"), Op::Eq, parse("10"))
            .after_calls(&["registry.set_fee"], &["bob"])
            .unwrap()
    };
    // alice's fee change is not judged; bob's refused set_fee still replies (an `Err` value), and is.
    let mut h = registry("fixed", fee_is_10());
    let alice_sets = call("alice", "registry", "set_fee", "(5 : nat64)");
    assert_eq!(run(&mut h, vec![alice_sets.clone()]).finding, None);
    let f = run(&mut h, vec![alice_sets, Step::RunUntilQuiet, call("bob", "registry", "set_fee", "(7 : nat64)"), Step::RunUntilQuiet]).finding.expect("found");
    assert_eq!(f.step, 3, "judged when bob's call replied: {f}");
    assert!(Comparison::new("x", parse("registry.fee()"), Op::Eq, parse("1")).after_calls(&["set_fee"], &[]).is_err());
    // old(...) takes a query, and nothing after it.
    assert!(Operand::parse("old(5)").unwrap_err().contains("takes a query"));
    assert!(Operand::parse("old(registry.owner()).x").unwrap_err().contains("inside it"));
    assert!(Operand::parse("old(old(registry.owner()))").is_err());
    assert!(Operand::parse("old(registry.owner()) * 2").is_ok());
}

#[test]
fn on_reply_sees_each_reply_with_the_state_before_and_after_its_step() {
    let only_the_owner = || {
        on_reply(
            "only the owner hands over",
            |w| w.query::<_, (candid::Principal,)>("registry", "owner", ()).map(|(owner,)| owner),
            |call, before, after| {
                if before == after || call.caller == *before {
                    Ok(())
                } else {
                    Err(format!("{} changed the owner from {before} to {after}", call.caller_name))
                }
            },
        )
    };
    let mut h = registry("vulnerable", only_the_owner());
    assert_eq!(run(&mut h, vec![handover("alice", "alice", "bob"), handover("bob", "bob", "alice")]).finding, None);
    // bob is a user, not the owner: the declarative check above leaves his calls out, this one does not.
    let f = run(&mut h, vec![handover("bob", "alice", "bob")]).finding.expect("found");
    assert!(f.message.starts_with("bob changed the owner"), "{f}");
    let mut fixed = registry("fixed", only_the_owner());
    assert_eq!(run(&mut fixed, vec![handover("bob", "alice", "bob")]).finding, None);
    // alice hands over to bob and bob, now the owner, on to mallory, both replying in one step: neither call alone
    // owns the change from alice to mallory, so the step is not judged.
    let both = vec![handover("alice", "alice", "bob"), handover("bob", "bob", "mallory"), Step::RunUntilQuiet];
    let e = run(&mut fixed, both);
    assert_eq!(e.calls.iter().filter(|c| c.method == "set_owner").count(), 2);
    assert_eq!(e.finding, None, "{}", icfuzz::report::render_trace(&e));
}
