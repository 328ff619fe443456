//! Stop, start, upgrade, reinstall, uninstall and delete, with calls in flight.

use candid::{Encode, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::{CanisterStatus, Delivery, ErrorCode, IngressStatus, MessageKind, RejectCode};
use icfuzz_test_canisters::uc::Program;

use crate::*;

const SECOND: u64 = 1_000_000_000;

fn submit_mgmt(s: &mut icfuzz_engine::Subnet, method: &str, canister: Principal) -> icfuzz_engine::MessageId {
    let arg = Encode!(&mgmt::CanisterIdRecord { canister_id: canister }).unwrap();
    s.submit_call(Principal::management_canister(), Principal::anonymous(), method, arg).unwrap()
}

#[test]
fn a_call_that_never_returns_blocks_stopping_until_the_stop_times_out() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    // A makes an unbounded-wait call to B, which is never delivered: the callee "never responds".
    let id = s.submit_call(a, user(), "update", call_and_relay(b, Program::new().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    let stop = submit_mgmt(&mut s, "stop_canister", a);
    s.deliver(Delivery::Ingress(stop)).unwrap();
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopping);
    assert_eq!(s.ingress_status(stop).unwrap(), &IngressStatus::Processing);
    // A stopping canister rejects new calls.
    let r = update(&mut s, a, Program::new().reply()).unwrap_err();
    assert_eq!(r.error_code, ErrorCode::CanisterStopping);
    s.advance_time(5 * 60 * SECOND);
    match s.ingress_status(stop).unwrap() {
        IngressStatus::Completed(Err(reject)) => {
            assert_eq!(reject.reject_code, RejectCode::SysTransient);
            assert_eq!(reject.error_code, ErrorCode::StopCanisterRequestTimeout);
        }
        other => panic!("stop should have timed out: {other:?}"),
    }
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopping, "still stopping");
    // Once the response arrives (responses still run while stopping), the canister can stop.
    s.run_until_quiet(10).unwrap();
    assert_eq!(s.open_call_contexts(a).unwrap(), 0);
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopped);
}

#[test]
fn a_bounded_wait_caller_stops_after_the_deadline() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", relay_reply(), relay_reject())
        .push_int(30)
        .call_with_best_effort_response()
        .call_perform()
        .drop();
    let id = s.submit_call(a, user(), "update", program.build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    let stop = submit_mgmt(&mut s, "stop_canister", a);
    s.deliver(Delivery::Ingress(stop)).unwrap();
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopping);
    // At the deadline's second the request is still good (the replica expires `deadline < floor(now)`)...
    s.advance_time(30 * SECOND);
    assert!(s.pending().iter().any(|p| p.delivery == Delivery::Stream { from: a, to: b }), "{:?}", s.pending());
    // ...and once that second is over it has timed out; only the SYS_UNKNOWN for A's callback is left.
    s.advance_time(SECOND);
    let pending = s.pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(matches!(pending[0].kind, MessageKind::DeadlineExpired { .. }));
    s.run_until_quiet(10).unwrap();
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopped);
    assert_eq!(s.ingress_status(stop).unwrap(), &IngressStatus::Completed(Ok(Encode!().unwrap())));
    let (code, _) = relayed_reject(&s.await_call(id).unwrap().unwrap());
    assert_eq!(code, RejectCode::SysUnknown as u64);
}

#[test]
fn start_cancels_pending_stops_and_delete_needs_a_stopped_canister() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let id = s.submit_call(a, user(), "update", call_and_relay(b, Program::new().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    let stop = submit_mgmt(&mut s, "stop_canister", a);
    s.deliver(Delivery::Ingress(stop)).unwrap();
    let r = s.update_call(Principal::management_canister(), Principal::anonymous(), "delete_canister", Encode!(&mgmt::CanisterIdRecord { canister_id: a }).unwrap()).unwrap_err();
    assert_eq!(r.error_code, ErrorCode::CanisterNotStopped);
    let start = submit_mgmt(&mut s, "start_canister", a);
    s.deliver(Delivery::Ingress(start)).unwrap();
    match s.ingress_status(stop).unwrap() {
        IngressStatus::Completed(Err(r)) => assert_eq!(r.error_code, ErrorCode::CanisterStoppingCancelled),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Running);
    s.run_until_quiet(10).unwrap();
    // Stop (no calls open now: immediate), delete, and calls to it are DESTINATION_INVALID.
    let stop = submit_mgmt(&mut s, "stop_canister", a);
    s.run_until_quiet(10).unwrap();
    assert_eq!(s.ingress_status(stop).unwrap(), &IngressStatus::Completed(Ok(Encode!().unwrap())));
    let delete = submit_mgmt(&mut s, "delete_canister", a);
    s.run_until_quiet(10).unwrap();
    assert!(matches!(s.ingress_status(delete).unwrap(), IngressStatus::Completed(Ok(_))));
    assert!(!s.canister_exists(a));
    let bytes = update(&mut s, b, call_and_relay(a, Program::new().reply())).unwrap();
    assert_eq!(relayed_reject(&bytes).0, 3);
}

#[test]
fn upgrade_keeps_stable_memory_and_resets_heap_and_timer() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let setup = Program::new()
        .push_bytes(b"heap value")
        .set_global()
        .push_int(1)
        .stable_grow()
        .drop()
        .push_int(0)
        .push_bytes(b"stable value")
        .stable_write()
        .push_int(s.time_nanos() + 1000 * SECOND)
        .global_timer_set()
        .drop()
        .reply();
    update(&mut s, a, setup).unwrap();
    let version = s.canister_version(a).unwrap();
    let post_upgrade = Program::new().push_bytes(b"post_upgrade ran").debug_print();
    s.upgrade_canister(a, &uc_wasm(), post_upgrade.build(), None).unwrap();
    assert_eq!(global(&mut s, a), b"", "fresh heap");
    let stable = query(&mut s, a, Program::new().push_int(0).push_int(12).stable_read().reply_data_append().reply()).unwrap();
    assert_eq!(stable, b"stable value");
    assert_eq!(s.canister_version(a).unwrap(), version + 1);
    s.advance_time(2000 * SECOND);
    assert!(!s.pending().iter().any(|p| p.delivery == Delivery::Timer(a)), "the timer was reset by the upgrade");
}

#[test]
fn a_pre_upgrade_trap_leaves_the_old_canister_intact() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let pre_upgrade = Program::new().push_int(0).push_bytes(b"scribble").stable_write().push_bytes(b"pre_upgrade trap").trap();
    update(&mut s, a, Program::new().push_int(1).stable_grow().drop().push_bytes(b"keep me").set_global().push_bytes(&pre_upgrade.build()).set_pre_upgrade().reply()).unwrap();
    let hash = s.state_hash(a).unwrap();
    let err = s.upgrade_canister(a, &uc_wasm(), vec![], None).unwrap_err();
    assert!(err.reject_message.contains("pre_upgrade trap"), "{err}");
    assert_eq!(s.state_hash(a).unwrap(), hash, "heap, stable memory and version unchanged");
    assert_eq!(global(&mut s, a), b"keep me");
    // A post_upgrade trap aborts atomically too, after pre_upgrade ran.
    update(&mut s, a, Program::new().push_bytes(&Program::new().inc_counter().drop().build()).set_pre_upgrade().reply()).unwrap();
    let hash = s.state_hash(a).unwrap();
    let err = s.upgrade_canister(a, &uc_wasm(), Program::new().push_bytes(b"post trap").trap().build(), None).unwrap_err();
    assert!(err.reject_message.contains("post trap"), "{err}");
    assert_eq!(s.state_hash(a).unwrap(), hash);
}

#[test]
fn a_callback_arriving_after_an_upgrade_runs_against_the_new_module() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let id = s.submit_call(a, user(), "update", call_and_relay(b, Program::new().push_bytes(b"late").reply_data_append().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    s.deliver(Delivery::Stream { from: a, to: b }).unwrap();
    s.upgrade_canister(a, &uc_wasm(), vec![], None).unwrap();
    s.take_events();
    s.run_until_quiet(10).unwrap();
    // The callback ran (in the new instance, whose heap no longer holds the callback's program) and the call
    // context was closed one way or the other: no harness error, no context left open.
    let events = s.take_events();
    assert!(events.iter().any(|e| matches!(e, icfuzz_engine::Event::Executed { canister, kind: icfuzz_engine::ExecutionKind::ReplyCallback, .. } if *canister == a)), "{events:?}");
    assert_eq!(s.open_call_contexts(a).unwrap(), 0);
    assert!(matches!(s.ingress_status(id).unwrap(), IngressStatus::Completed(_)));
}

#[test]
fn uninstall_rejects_open_call_contexts_and_reinstall_wipes_stable_memory() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let id = s.submit_call(a, user(), "update", call_and_relay(b, Program::new().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    let arg = Encode!(&mgmt::UninstallCodeArgs { canister_id: a, sender_canister_version: None }).unwrap();
    s.update_call(Principal::management_canister(), Principal::anonymous(), "uninstall_code", arg).unwrap();
    match s.ingress_status(id).unwrap() {
        IngressStatus::Completed(Err(r)) => assert_eq!(r.reject_code, RejectCode::CanisterReject),
        other => panic!("{other:?}"),
    }
    // The call to b is still outstanding: its context stays, deleted, and a stop waits for the response.
    assert_eq!(s.open_call_contexts(a).unwrap(), 1);
    let stop = Encode!(&mgmt::CanisterIdRecord { canister_id: a }).unwrap();
    let stopping = s.submit_call(Principal::management_canister(), Principal::anonymous(), "stop_canister", stop).unwrap();
    s.deliver(Delivery::Ingress(stopping)).unwrap();
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopping);
    // The late response only refunds; no callback runs. Then the canister stops.
    s.take_events();
    s.run_until_quiet(10).unwrap();
    let events = s.take_events();
    assert!(!events.iter().any(|e| matches!(e, icfuzz_engine::Event::Executed { canister, .. } if *canister == a)), "{events:?}");
    assert_eq!(s.open_call_contexts(a).unwrap(), 0);
    assert_eq!(s.canister_status(a).unwrap(), CanisterStatus::Stopped);
    assert!(matches!(s.ingress_status(stopping).unwrap(), IngressStatus::Completed(Ok(_))));
    let start = Encode!(&mgmt::CanisterIdRecord { canister_id: a }).unwrap();
    s.update_call(Principal::management_canister(), Principal::anonymous(), "start_canister", start).unwrap();

    s.install_canister(a, &uc_wasm(), vec![], None).unwrap();
    update(&mut s, a, Program::new().push_int(2).stable_grow().drop().reply()).unwrap();
    s.reinstall_canister(a, &uc_wasm(), vec![], None).unwrap();
    let pages = int(&query(&mut s, a, Program::new().stable_size().reply_data_append().reply()).unwrap());
    assert_eq!(pages, 0, "reinstall wipes stable memory");
}
