//! Interleaving control: every schedule the IC could produce, and none it could not.

use candid::{CandidType, Decode, Encode, Principal};
use icfuzz_engine::{Delivery, Event, IngressStatus, Subnet};

use icfuzz_test_canisters::uc::Program;
use serde::Deserialize;

use crate::*;

/// The callee program: append `tag` to the heap variable, reply.
fn append(tag: &[u8]) -> Program {
    Program::new().get_global().push_bytes(tag).concat().set_global().reply()
}

#[test]
fn requests_between_two_canisters_start_in_send_order_under_every_schedule() {
    let mut s = subnet();
    let (a, b, c) = (install_uc(&mut s), install_uc(&mut s), install_uc(&mut s));
    // A sends two requests to B and two to C in one execution; each reply callback appends the reply to A's log.
    let on_reply = Program::new().get_global().arg_data().concat().set_global();
    let mut program = Program::new();
    for (callee, tag) in [(b, b"b1"), (c, b"c1"), (b, b"b2"), (c, b"c2")] {
        let callee_program = Program::new().get_global().push_bytes(tag).concat().set_global().push_bytes(tag).reply_data_append().reply();
        program = program
            .call_new(callee.as_slice(), "update", on_reply.clone(), Program::new())
            .push_bytes(&callee_program.build())
            .call_data_append()
            .call_perform()
            .drop();
    }
    s.submit_call(a, user(), "update", program.reply().build()).unwrap();
    let mut response_orders = std::collections::BTreeSet::new();
    let exploration = icfuzz_engine::explore::explore(&mut s, 100_000, 100, |s, _| {
        assert_eq!(global(s, b), b"b1b2", "requests A→B ran out of order");
        assert_eq!(global(s, c), b"c1c2", "requests A→C ran out of order");
        response_orders.insert(global(s, a));
        None::<()>
    })
    .unwrap();
    assert!(exploration.complete);
    assert!(exploration.schedules > 20, "only {} schedules explored", exploration.schedules);
    // Responses from different callees arrive in any order; from one callee, in the order produced.
    for order in &response_orders {
        let text = String::from_utf8_lossy(order);
        assert!(text.find("b1") < text.find("b2") && text.find("c1") < text.find("c2"), "{text}");
    }
    assert_eq!(response_orders.len(), 6, "all interleavings of (b1,b2) with (c1,c2): {response_orders:?}");
}

#[test]
fn only_stream_heads_are_deliverable() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let mut program = Program::new();
    for tag in [b"1", b"2", b"3"] {
        program = program
            .call_new(b.as_slice(), "update", Program::new(), Program::new())
            .push_bytes(&append(tag).build())
            .call_data_append()
            .call_perform()
            .drop();
    }
    let id = s.submit_call(a, user(), "update", program.reply().build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    let pending = s.pending();
    assert_eq!(pending.len(), 1, "three requests in one stream are one choice: {pending:?}");
    assert_eq!(pending[0].delivery, Delivery::Stream { from: a, to: b });
    assert!(s.deliver(Delivery::Ingress(id)).is_err(), "an executed ingress message is not pending");
}

#[derive(CandidType, Deserialize, Debug, PartialEq)]
enum WithdrawResult {
    Ok(u64),
    Err(String),
}

fn bank_setup() -> (Subnet, Principal, Principal) {
    let mut s = subnet();
    let ledger = install(&mut s, "ledger", vec![]);
    let bank = install(&mut s, "bank", vec![]);
    let deposit = s.update_call(bank, user(), "deposit", Encode!(&100u64).unwrap()).unwrap();
    assert_eq!(Decode!(&deposit, u64).unwrap(), 100);
    (s, ledger, bank)
}

fn ledger_total(s: &mut Subnet, ledger: Principal) -> u64 {
    Decode!(&s.query_call(ledger, user(), "total", Encode!().unwrap()).unwrap(), u64).unwrap()
}

fn withdraw_result(s: &Subnet, id: icfuzz_engine::MessageId) -> WithdrawResult {
    match s.ingress_status(id).unwrap() {
        IngressStatus::Completed(Ok(bytes)) => Decode!(bytes, WithdrawResult).unwrap(),
        other => panic!("withdraw did not complete: {other:?}"),
    }
}

/// The capability icfuzz exists for: the same two ingress messages, two delivery orders, two outcomes.
#[test]
fn same_messages_different_orders_different_outcomes() {
    let arg = |ledger| Encode!(&ledger, &100u64).unwrap();

    // Order 1: the first withdraw completes (through its await) before the second starts.
    let (mut s, ledger, bank) = bank_setup();
    let m1 = s.submit_call(bank, user(), "withdraw", arg(ledger)).unwrap();
    let m2 = s.submit_call(bank, user(), "withdraw", arg(ledger)).unwrap();
    s.deliver(Delivery::Ingress(m1)).unwrap();
    s.deliver(Delivery::Stream { from: bank, to: ledger }).unwrap();
    s.deliver(Delivery::Stream { from: ledger, to: bank }).unwrap();
    s.deliver(Delivery::Ingress(m2)).unwrap();
    s.run_until_quiet(100).unwrap();
    assert_eq!(withdraw_result(&s, m1), WithdrawResult::Ok(0));
    assert!(matches!(withdraw_result(&s, m2), WithdrawResult::Err(_)), "second withdraw must fail");
    assert_eq!(ledger_total(&mut s, ledger), 100);

    // Order 2: both withdraws read the balance before either await returns: a double spend.
    let (mut s, ledger, bank) = bank_setup();
    let m1 = s.submit_call(bank, user(), "withdraw", arg(ledger)).unwrap();
    let m2 = s.submit_call(bank, user(), "withdraw", arg(ledger)).unwrap();
    s.deliver(Delivery::Ingress(m1)).unwrap();
    s.deliver(Delivery::Ingress(m2)).unwrap();
    s.run_until_quiet(100).unwrap();
    assert_eq!(withdraw_result(&s, m1), WithdrawResult::Ok(0));
    assert_eq!(withdraw_result(&s, m2), WithdrawResult::Ok(0));
    assert_eq!(ledger_total(&mut s, ledger), 200, "200 paid out of a 100 deposit");
}

#[test]
fn ic_cdk_trap_after_await_rolls_back_the_callback_and_cleanup_releases_the_lock() {
    let (mut s, ledger, bank) = bank_setup();
    let result = s.update_call(bank, user(), "withdraw_then_trap", Encode!(&ledger, &40u64).unwrap());
    assert!(result.is_err(), "{result:?}");
    // The ledger's transfer committed; the bank's post-await write did not.
    assert_eq!(ledger_total(&mut s, ledger), 40);
    let balance = Decode!(&s.query_call(bank, user(), "balance", Encode!().unwrap()).unwrap(), u64).unwrap();
    assert_eq!(balance, 100);

    // ic-cdk's cleanup drops the future after a trap in the callback, running the guard's Drop: the lock is free.
    let result = s.update_call(bank, user(), "locked_call", Encode!(&ledger).unwrap());
    assert!(result.is_err(), "{result:?}");
    let locked = Decode!(&s.query_call(bank, user(), "is_locked", Encode!().unwrap()).unwrap(), bool).unwrap();
    assert!(!locked, "the cleanup callback must commit the guard's release");
}

#[test]
fn same_inputs_same_trace() {
    let run = || {
        let (mut s, ledger, bank) = bank_setup();
        let m1 = s.submit_call(bank, user(), "withdraw", Encode!(&ledger, &60u64).unwrap()).unwrap();
        let m2 = s.submit_call(bank, user(), "withdraw", Encode!(&ledger, &60u64).unwrap()).unwrap();
        s.deliver(Delivery::Ingress(m2)).unwrap();
        s.deliver(Delivery::Ingress(m1)).unwrap();
        s.run_until_quiet(100).unwrap();
        let events: Vec<Event> = s.take_events();
        (events, s.state_hash(bank).unwrap(), s.state_hash(ledger).unwrap())
    };
    assert_eq!(run(), run());
}
