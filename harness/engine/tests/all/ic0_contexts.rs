//! The System API: each function only in its allowed contexts, with the IC's values.

use icfuzz_engine::{ErrorCode, RejectCode};
use icfuzz_test_canisters::uc::Program;

use crate::*;

#[test]
fn forbidden_context_traps_with_a_contract_violation() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    // global_timer_set is replicated-only: a query call may not use it.
    let reject = query(&mut s, a, Program::new().push_int(1).global_timer_set().reply_data_append().reply()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterContractViolation);
    assert!(reject.reject_message.contains("\"ic0_global_timer_set\" cannot be executed in non-replicated query mode"), "{reject}");
    // accept_message belongs to inspect_message only.
    let reject = update(&mut s, a, Program::new().accept_message().reply()).unwrap_err();
    assert!(reject.reject_message.contains("cannot be executed in update mode"), "{reject}");
    // Calls cannot be made from a query.
    let reject = query(&mut s, a, Program::new().call_new(a.as_slice(), "update", Program::new(), Program::new())).unwrap_err();
    assert!(reject.reject_message.contains("\"ic0_call_new\" cannot be executed"), "{reject}");
}

#[test]
fn arg_data_is_unavailable_in_reject_callbacks() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new(), Program::new().arg_data().reply_data_append().reply())
        .push_bytes(&Program::new().push_bytes(b"no").reject().build())
        .call_data_append()
        .call_perform()
        .drop();
    let result = update(&mut s, a, program);
    assert_reject(&result, RejectCode::CanisterError, "cannot be executed in reject callback mode");
}

#[test]
fn reject_code_is_zero_in_reply_callbacks() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new().reject_code().reply_data_append().reply(), relay_reject())
        .push_bytes(&Program::new().reply().build())
        .call_data_append()
        .call_perform()
        .drop();
    assert_eq!(int(&update(&mut s, a, program).unwrap()), 0);
}

#[test]
fn replicated_execution_flag_self_and_time() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let flag = |p: Program| p.in_replicated_execution().reply_data_append().reply();
    assert_eq!(int(&update(&mut s, a, flag(Program::new())).unwrap()), 1);
    assert_eq!(int(&query(&mut s, a, flag(Program::new())).unwrap()), 0);
    assert_eq!(update(&mut s, a, Program::new().self_().reply_data_append().reply()).unwrap(), a.as_slice());
    let t = int(&update(&mut s, a, Program::new().time().reply_data_append().reply()).unwrap());
    assert_eq!(t, s.time_nanos());
    s.advance_time(5_000_000_000);
    let t2 = int(&update(&mut s, a, Program::new().time().reply_data_append().reply()).unwrap());
    assert_eq!(t2, t + 5_000_000_000);
}

#[test]
fn inspect_message_filters_ingress_updates_only() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    // From now on inspect_message accepts nothing.
    update(&mut s, a, Program::new().push_bytes(&Program::new().build()).set_inspect().reply()).unwrap();
    let refused = s.submit_call(a, user(), "update", Program::new().reply().build()).unwrap_err();
    assert_eq!(refused.error_code, ErrorCode::CanisterRejectedMessage);
    // Queries are not inspected.
    assert!(query(&mut s, a, Program::new().reply()).is_ok());
    // Inter-canister calls are not inspected: B reaches A.
    let reply = update(&mut s, b, call_and_relay(a, Program::new().push_bytes(b"in").reply_data_append().reply())).unwrap();
    assert_eq!(reply, b"in");
    // A trapping inspect refuses with the trap.
    let mut s2 = subnet();
    let c = install_uc(&mut s2);
    update(&mut s2, c, Program::new().push_bytes(&Program::new().push_bytes(b"inspect trap").trap().build()).set_inspect().reply()).unwrap();
    let refused = s2.submit_call(c, user(), "update", Program::new().reply().build()).unwrap_err();
    assert!(refused.reject_message.contains("inspect trap"), "{refused}");
}

#[test]
fn performance_counter_is_monotonic_and_deterministic() {
    let run = || {
        let mut s = subnet();
        let a = install_uc(&mut s);
        let program = Program::new()
            .push_int(0)
            .performance_counter()
            .reply_data_append()
            .push_int(0)
            .performance_counter()
            .reply_data_append()
            .reply();
        update(&mut s, a, program).unwrap()
    };
    let bytes = run();
    let (first, second) = (int(&bytes[..8]), int(&bytes[8..]));
    assert!(first > 0 && second > first, "{first} {second}");
    assert_eq!(run(), bytes, "same input, same instruction counts");
}
