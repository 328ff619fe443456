//! Fees and freezing as canister code observes them: `cost_call` agrees with `call_perform`, ic-cdk's pre-call
//! check behaves as on the IC, frozen canisters reject calls, idle fees accrue with time.

use candid::{CandidType, Decode, Encode};
use icfuzz_engine::{Delivery, ErrorCode, Principal};
use icfuzz_test_canisters::uc::Program;
use serde::Deserialize;

use crate::*;

#[test]
fn call_perform_takes_exactly_cost_call_plus_attached_cycles() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let arg = Program::new().reply().build();
    // balance, cost_call, call, balance: the difference is cost_call + 1000 attached.
    let program = Program::new()
        .cycles_balance128()
        .reply_data_append()
        .push_int("update".len() as u64)
        .push_int(arg.len() as u64)
        .cost_call()
        .reply_data_append()
        .call_new(b.as_slice(), "update", Program::new(), Program::new())
        .push_bytes(&arg)
        .call_data_append()
        .push_int(1000)
        .call_cycles_add128()
        .call_perform()
        .drop()
        .cycles_balance128()
        .reply_data_append()
        .reply();
    let id = s.submit_call(a, user(), "update", program.build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    let bytes = s.await_call(id).unwrap().unwrap();
    let (before, cost, after) = (int(&bytes[..8]), int(&bytes[8..16]), int(&bytes[16..24]));
    assert_eq!(before - after, cost + 1000);
    let expected = s.config().fees.call_cost("update".len() + arg.len(), TEST_INSTRUCTION_LIMIT, false);
    assert_eq!(u128::from(cost), expected);
    // Once the (small) response and the callback ran, the unused reservations came back.
    s.run_until_quiet(10).unwrap();
    let settled = s.cycle_balance(a).unwrap();
    assert!(settled > u128::from(after) + expected / 2, "{settled} vs {after}");
}

#[test]
fn liquid_balance_excludes_the_freezing_limit() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let bytes = update(&mut s, a, Program::new().cycles_balance128().reply_data_append().liquid_cycles_balance128().reply_data_append().reply()).unwrap();
    let (balance, liquid) = (int(&bytes[..8]), int(&bytes[8..]));
    assert!(liquid < balance, "a canister holding memory keeps a freezing reserve");
    // Burning more than the liquid balance burns only the liquid balance.
    let burned = int(&update(&mut s, a, Program::new().push_int(u64::MAX).cycles_burn128().reply_data_append().reply()).unwrap());
    assert!(burned > 0 && u128::from(burned) < s.config().default_cycles);
}

#[derive(CandidType, Deserialize, Debug)]
enum WithdrawResult {
    Ok(u64),
    Err(String),
}

#[test]
fn ic_cdk_refuses_to_call_without_enough_liquid_cycles() {
    let mut s = subnet();
    let ledger = install(&mut s, "ledger", vec![]);
    // 1 B cycles run the bank's own executions, but a call reserves about 2.1 B (mostly for the largest
    // possible response): ic-cdk's pre-call check must refuse before call_perform.
    let bank = s.create_canister_with_controllers(vec![Principal::anonymous()], 1_000_000_000);
    s.install_canister(bank, &icfuzz_test_canisters::wasm("bank"), vec![], None).unwrap();
    let settings = ic_management_canister_types::UpdateSettingsArgs {
        canister_id: bank,
        settings: ic_management_canister_types::CanisterSettings {
            freezing_threshold: Some(candid::Nat::from(0u8)),
            ..Default::default()
        },
        sender_canister_version: None,
    };
    s.update_call(Principal::management_canister(), Principal::anonymous(), "update_settings", Encode!(&settings).unwrap()).unwrap();
    s.update_call(bank, user(), "deposit", Encode!(&100u64).unwrap()).unwrap();
    let total = |s: &mut icfuzz_engine::Subnet| Decode!(&s.query_call(ledger, user(), "total", Encode!().unwrap()).unwrap(), u64).unwrap();

    let result = Decode!(&s.update_call(bank, user(), "withdraw", Encode!(&ledger, &10u64).unwrap()).unwrap(), WithdrawResult).unwrap();
    assert!(matches!(&result, WithdrawResult::Err(e) if e.to_lowercase().contains("cycle")), "{result:?}");
    assert_eq!(total(&mut s), 0, "the ledger was never called");
    assert!(s.pending().is_empty());

    // Control: with enough cycles the same withdrawal goes through.
    s.add_cycles(bank, 10_000_000_000).unwrap();
    let result = Decode!(&s.update_call(bank, user(), "withdraw", Encode!(&ledger, &10u64).unwrap()).unwrap(), WithdrawResult).unwrap();
    assert!(matches!(result, WithdrawResult::Ok(90)), "{result:?}");
    assert_eq!(total(&mut s), 10);
}

#[test]
fn a_frozen_canister_rejects_calls_answers_queries_and_skips_its_timer() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    // Installing prepays the install's instructions, so freeze it afterwards: a threshold of a century.
    let b = s.create_canister_with_controllers(vec![Principal::anonymous()], 1_000_000_000);
    s.install_canister(b, &uc_wasm(), vec![], None).unwrap();
    let freeze = ic_management_canister_types::UpdateSettingsArgs {
        canister_id: b,
        settings: ic_management_canister_types::CanisterSettings {
            freezing_threshold: Some(candid::Nat::from(100 * 365 * 24 * 3600u64)),
            ..Default::default()
        },
        sender_canister_version: None,
    };
    s.update_call(Principal::management_canister(), Principal::anonymous(), "update_settings", Encode!(&freeze).unwrap()).unwrap();
    let reject = update(&mut s, b, Program::new().reply()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterOutOfCycles, "{reject}");
    let (code, _) = relayed_reject(&update(&mut s, a, call_and_relay(b, Program::new().reply())).unwrap());
    assert_eq!(code, 2, "SYS_TRANSIENT for a frozen callee");
    // Non-replicated queries cost nothing and the replica checks no balance for them: a frozen canister answers.
    assert_eq!(query(&mut s, b, Program::new().push_bytes(b"still here").reply_data_append().reply()).unwrap(), b"still here");
    // Topped up, it runs again.
    s.add_cycles(b, 10_000_000_000_000).unwrap();
    assert!(update(&mut s, b, Program::new().reply()).is_ok());
}

/// The replica prepays an install's whole instruction limit (above the freezing limit) before running it: a
/// canister that cannot is refused and stays empty; one that can pays only what the install used.
#[test]
fn an_install_the_canister_cannot_prepay_is_refused() {
    let mut s = subnet();
    let prepay = s.config().fees.execution(TEST_INSTRUCTION_LIMIT, false);
    let poor = s.create_canister_with_controllers(vec![Principal::anonymous()], prepay - 1);
    let refused = s.install_canister(poor, &uc_wasm(), vec![], None).unwrap_err();
    assert_eq!(refused.error_code, ErrorCode::CanisterOutOfCycles, "{refused}");
    assert!(refused.reject_message.contains("Canister installation failed with"), "{refused}");
    assert_eq!(s.module_hash(poor).unwrap(), None);
    s.add_cycles(poor, 1).unwrap();
    s.install_canister(poor, &uc_wasm(), vec![], None).unwrap();
    assert!(s.cycle_balance(poor).unwrap() > prepay / 2, "the unused prepayment is not charged");
}

#[test]
fn idle_fees_accrue_with_time_and_exhaustion_uninstalls() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let before = s.cycle_balance(a).unwrap();
    s.advance_time(24 * 3600 * 1_000_000_000);
    let burned = before - s.cycle_balance(a).unwrap();
    assert!(burned > 0, "a day of storage costs cycles");
    // A canister that cannot pay its storage runs out of cycles and loses its code, as on the IC.
    let poor = s.create_canister_with_controllers(vec![Principal::anonymous()], 1_000_000_000);
    s.install_canister(poor, &uc_wasm(), vec![], None).unwrap();
    s.advance_time(365 * 24 * 3600 * 1_000_000_000);
    assert_eq!(s.module_hash(poor).unwrap(), None);
    assert_eq!(update(&mut s, poor, Program::new().reply()).unwrap_err().error_code, ErrorCode::CanisterWasmModuleNotFound);
}

/// The replica takes an execution's prepayment (its whole instruction limit) out of the balance before the
/// canister runs: the canister sees its balance without it, and afterwards pays only what it used.
#[test]
fn an_execution_sees_its_balance_without_the_prepayment() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let fees = s.config().fees;
    let program = Program::new().cycles_balance128().reply_data_append().reply();
    let ingress = fees.ingress("update".len() + program.as_bytes().len());
    let before = s.cycle_balance(a).unwrap();
    let reply = update(&mut s, a, program).unwrap();
    let seen = u128::from(int(&reply));
    assert_eq!(seen, before - ingress - fees.execution(TEST_INSTRUCTION_LIMIT, false));
    let paid = before - s.cycle_balance(a).unwrap();
    assert!(paid > ingress && paid < ingress + fees.execution(TEST_INSTRUCTION_LIMIT, false) / 10, "paid {paid}");
}
