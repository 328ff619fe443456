//! Inter-canister calls: replies, every reject path with its code, and ingress results.

use candid::Encode;
use icfuzz_engine::{canister_id_from_index, Delivery, ErrorCode, Principal, RejectCode};
use icfuzz_test_canisters::uc::Program;

use crate::*;

/// A program calling `method` of `callee` with `arg`, relaying the response to the ingress caller.
fn call_method(callee: Principal, method: &str, arg: Vec<u8>) -> Program {
    Program::new()
        .call_new(callee.as_slice(), method, relay_reply(), relay_reject())
        .push_bytes(&arg)
        .call_data_append()
        .call_perform()
        .drop()
}

#[test]
fn two_canister_call_replies() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let reply = update(&mut s, a, call_and_relay(b, Program::new().push_bytes(b"hello from b").reply_data_append().reply()));
    assert_eq!(reply.unwrap(), b"hello from b");
    // The call went through the queues: request A→B, then response B→A.
    assert_eq!(s.open_call_contexts(a).unwrap(), 0);
    assert_eq!(s.open_call_contexts(b).unwrap(), 0);
}

#[test]
fn reject_codes_seen_by_the_caller() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let b = install_uc(&mut s);
    let empty = s.create_canister();
    let missing = canister_id_from_index(10_000);

    let cases: Vec<(&str, Program, u64, &str)> = vec![
        ("unknown canister", call_method(missing, "update", vec![]), 3, "not found"),
        ("empty canister", call_method(empty, "update", vec![]), 5, "no Wasm module"),
        ("missing method", call_method(b, "no_such_method", vec![]), 5, "no update method 'no_such_method'"),
        ("callee trap", call_and_relay(b, Program::new().push_bytes(b"boom").trap()), 5, "boom"),
        ("explicit reject", call_and_relay(b, Program::new().push_bytes(b"go away").reject()), 4, "go away"),
        ("did not reply", call_and_relay(b, Program::new()), 5, "did not reply"),
    ];
    for (name, program, code, text) in cases {
        let bytes = update(&mut s, a, program).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (got_code, message) = relayed_reject(&bytes);
        assert_eq!(got_code, code, "{name}: {message}");
        assert!(message.contains(text), "{name}: {message:?} should contain {text:?}");
    }
}

#[test]
fn stopped_callee_rejects_with_canister_error() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let stop = Encode!(&ic_management_canister_types::CanisterIdRecord { canister_id: b }).unwrap();
    s.update_call(Principal::management_canister(), Principal::anonymous(), "stop_canister", stop).unwrap();
    assert_eq!(s.canister_status(b).unwrap(), icfuzz_engine::CanisterStatus::Stopped);
    let bytes = update(&mut s, a, call_and_relay(b, Program::new().reply())).unwrap();
    let (code, message) = relayed_reject(&bytes);
    assert_eq!(code, 5);
    assert!(message.contains("stopped"), "{message}");
    // Ingress to the stopped canister is rejected too, with IC0508.
    let result = update(&mut s, b, Program::new().reply());
    assert_eq!(result.unwrap_err().error_code, ErrorCode::CanisterStopped);
}

#[test]
fn ingress_reject_paths_carry_error_codes() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let trapped = update(&mut s, a, Program::new().push_bytes(b"panicked at src/lib.rs").trap()).unwrap_err();
    assert_eq!((trapped.reject_code, trapped.error_code), (RejectCode::CanisterError, ErrorCode::CanisterCalledTrap));
    let rejected = update(&mut s, a, Program::new().push_bytes(b"nope").reject()).unwrap_err();
    assert_eq!((rejected.reject_code, rejected.error_code), (RejectCode::CanisterReject, ErrorCode::CanisterRejectedMessage));
    let silent = update(&mut s, a, Program::new()).unwrap_err();
    assert_eq!(silent.error_code, ErrorCode::CanisterDidNotReply);
    let missing = s.update_call(a, user(), "no_such_method", vec![]).unwrap_err();
    assert_eq!(missing.error_code, ErrorCode::CanisterMethodNotFound);
    let nobody = s.submit_call(canister_id_from_index(777), user(), "update", vec![]).unwrap_err();
    assert_eq!(nobody.reject_code, RejectCode::DestinationInvalid);
}

#[test]
fn replying_twice_traps_and_discards_the_first_reply() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let result = update(&mut s, a, Program::new().push_bytes(b"1").reply_data_append().reply().reply());
    let reject = result.unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterContractViolation, "{reject}");
    assert!(reject.reject_message.contains("already replied"), "{reject}");
}

#[test]
fn reply_in_a_callback_after_the_context_replied_traps_but_the_first_reply_stands() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    // A replies at once, then calls B; the reply callback tries to reply again.
    let program = Program::new()
        .push_bytes(b"first")
        .reply_data_append()
        .reply()
        .call_new(b.as_slice(), "update", Program::new().push_bytes(b"second").reply_data_append().reply(), Program::new())
        .push_bytes(&Program::new().reply().build())
        .call_data_append()
        .call_perform()
        .drop();
    assert_eq!(update(&mut s, a, program).unwrap(), b"first");
    s.run_until_quiet(100).unwrap();
    let logs = s.canister_logs(a).unwrap();
    assert!(logs.iter().any(|r| r.content.contains("already replied")), "{logs:?}");
    assert_eq!(s.open_call_contexts(a).unwrap(), 0);
}

#[test]
fn msg_caller_in_callbacks_is_the_original_caller() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new().caller().reply_data_append().reply(), relay_reject())
        .push_bytes(&Program::new().caller().reply_data_append().reply().build())
        .call_data_append()
        .call_perform()
        .drop();
    assert_eq!(update(&mut s, a, program).unwrap(), user().as_slice());
    // B saw A as its caller.
    let seen = update(&mut s, a, call_and_relay(b, Program::new().caller().reply_data_append().reply())).unwrap();
    assert_eq!(seen, a.as_slice());
}

#[test]
fn cycles_attached_accepted_and_refunded() {
    let mut s = subnet_without_fees();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let (a0, b0) = (s.cycle_balance(a).unwrap(), s.cycle_balance(b).unwrap());
    // B accepts 300 of the 1000 attached; A's reply callback reports the refund.
    let callee = Program::new().push_int(300).cycles_accept128().drop().reply();
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new().cycles_refunded128().reply_data_append().reply(), relay_reject())
        .push_bytes(&callee.build())
        .call_data_append()
        .push_int(1000)
        .call_cycles_add128()
        .call_perform()
        .drop();
    let refunded = int(&update(&mut s, a, program).unwrap());
    assert_eq!(refunded, 700);
    assert_eq!(s.cycle_balance(a).unwrap(), a0 - 300);
    assert_eq!(s.cycle_balance(b).unwrap(), b0 + 300);
}

#[test]
fn attaching_more_than_the_balance_traps() {
    let mut s = subnet_without_fees();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let balance = s.cycle_balance(a).unwrap();
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new(), Program::new())
        .push_int(u64::MAX)
        .call_cycles_add128();
    assert!(balance < u128::from(u64::MAX));
    let reject = update(&mut s, a, program).unwrap_err();
    assert!(reject.reject_message.contains("cannot attach"), "{reject}");
    assert_eq!(s.cycle_balance(a).unwrap(), balance);
}

/// Requests towards one callee share a queue of 500 (`call_perform` returns 2 past it); the responses a canister
/// owes are not requests and take none of those slots, so a canister with 500 replies not yet delivered to its
/// caller can still call it.
#[test]
fn a_queue_holds_500_requests_and_undelivered_responses_take_no_request_slot() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let call = |p: Program, callee: Principal| {
        p.call_new(callee.as_slice(), "update", Program::new(), Program::new())
            .push_bytes(&Program::new().reply().build())
            .call_data_append()
            .call_perform()
    };
    let fill = (0..500).fold(Program::new(), |p, _| call(p, b).drop());
    let result = update(&mut s, a, call(fill, b).reply_data_append().reply()).unwrap();
    assert_eq!(int(&result), 2, "the 501st request finds the queue full");
    // b answers all 500; its responses wait in b's queue to a.
    for _ in 0..500 {
        s.deliver(Delivery::Stream { from: a, to: b }).unwrap();
    }
    assert_eq!(s.outstanding_callbacks(a).unwrap(), 500);
    let id = s.submit_call(b, user(), "update", call(Program::new(), a).reply_data_append().reply().build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    match s.ingress_status(id).unwrap() {
        icfuzz_engine::IngressStatus::Completed(Ok(reply)) => assert_eq!(int(&reply), 0, "b's request to a is queued"),
        other => panic!("{other:?}"),
    }
}
