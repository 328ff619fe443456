//! Time, the global timer, and bounded-wait calls with their deadlines and SYS_UNKNOWN.

use candid::Encode;
use icfuzz_engine::{Delivery, Fault, MessageKind, RejectCode};
use icfuzz_test_canisters::uc::Program;

use crate::*;

const SECOND: u64 = 1_000_000_000;

#[test]
fn the_timer_fires_after_advance_time_and_not_before() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let deadline = s.time_nanos() + 10 * SECOND;
    let arm = Program::new()
        .push_bytes(&Program::new().inc_counter().drop().build())
        .set_timer()
        .push_int(deadline)
        .global_timer_set()
        .drop()
        .reply();
    update(&mut s, a, arm).unwrap();
    s.advance_time(9 * SECOND);
    assert!(!s.pending().iter().any(|p| p.delivery == Delivery::Timer(a)), "not due yet");
    s.run_until_quiet(10).unwrap();
    assert_eq!(counter(&mut s, a), 0);
    s.advance_time(SECOND);
    assert!(s.pending().iter().any(|p| p.delivery == Delivery::Timer(a)), "due at the deadline");
    s.run_until_quiet(10).unwrap();
    assert_eq!(counter(&mut s, a), 1);
    // The timer was cleared before the handler ran; it does not fire again.
    s.advance_time(100 * SECOND);
    s.run_until_quiet(10).unwrap();
    assert_eq!(counter(&mut s, a), 1);
}

#[test]
fn the_timer_handler_sees_a_cleared_timer_and_a_trap_keeps_it_cleared() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let handler = Program::new().push_int(0).global_timer_set().set_global().push_bytes(b"handler trap").trap();
    let arm = Program::new().push_bytes(&handler.build()).set_timer().push_int(1).global_timer_set().drop().reply();
    update(&mut s, a, arm).unwrap();
    s.run_until_quiet(10).unwrap();
    assert!(s.pending().is_empty(), "a trapped timer handler does not leave the timer armed");
    let logs = s.canister_logs(a).unwrap();
    assert!(logs.iter().any(|r| r.content.contains("handler trap")), "{logs:?}");
}

/// A program making a bounded-wait call to `callee` (running `callee_program`) that relays the response.
fn bounded_call(callee: icfuzz_engine::CanisterId, timeout_seconds: u64, callee_program: Program) -> Program {
    bounded_call_with_cycles(callee, timeout_seconds, 0, callee_program)
}

/// [`bounded_call`] with `cycles` attached.
fn bounded_call_with_cycles(
    callee: icfuzz_engine::CanisterId,
    timeout_seconds: u64,
    cycles: u64,
    callee_program: Program,
) -> Program {
    let mut p = Program::new()
        .call_new(callee.as_slice(), "update", relay_reply(), relay_reject())
        .push_bytes(&callee_program.build())
        .call_data_append()
        .push_int(timeout_seconds)
        .call_with_best_effort_response();
    if cycles > 0 {
        p = p.push_int(cycles).call_cycles_add128();
    }
    p.call_perform().drop()
}

#[test]
fn msg_deadline_is_the_callers_deadline_rounded_to_seconds() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    s.advance_time(SECOND / 2);
    let now = s.time_nanos();
    let reply = update(&mut s, a, bounded_call(b, 7, Program::new().msg_deadline().reply_data_append().reply())).unwrap();
    assert_eq!(int(&reply), (now / SECOND + 7) * SECOND);
    // Unbounded calls and ingress have no deadline.
    assert_eq!(int(&update(&mut s, a, call_and_relay(b, Program::new().msg_deadline().reply_data_append().reply())).unwrap()), 0);
    // Timeouts are capped at 300 s.
    let reply = update(&mut s, a, bounded_call(b, 100_000, Program::new().msg_deadline().reply_data_append().reply())).unwrap();
    assert_eq!(int(&reply), (s.time_nanos() / SECOND + 300) * SECOND);
}

#[test]
fn deadline_passing_gives_sys_unknown_and_drops_the_late_response() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let id = s.submit_call(a, user(), "update", bounded_call(b, 10, Program::new().inc_counter().drop().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    s.deliver(Delivery::Stream { from: a, to: b }).unwrap();
    assert_eq!(counter(&mut s, b), 1, "the callee ran");
    // The response is queued; now the deadline passes before it is delivered.
    s.advance_time(11 * SECOND);
    let pending = s.pending();
    assert!(pending.iter().all(|p| p.delivery != Delivery::Stream { from: b, to: a }), "the expired response timed out: {pending:?}");
    let expiry = pending.iter().find(|p| matches!(p.kind, MessageKind::DeadlineExpired { .. })).expect("SYS_UNKNOWN is pending");
    s.deliver(expiry.delivery).unwrap();
    let bytes = s.await_call(id).unwrap().unwrap();
    let (code, _) = relayed_reject(&bytes);
    assert_eq!(code, RejectCode::SysUnknown as u64, "SYS_UNKNOWN although the callee changed its state");
}

#[test]
fn a_shed_response_surfaces_as_sys_unknown_at_the_deadline() {
    let mut s = subnet_without_fees();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let balance = s.cycle_balance(a).unwrap();
    // 1000 cycles attached, the callee accepts 500: SYS_UNKNOWN refunds nothing, not even the other 500.
    let callee = Program::new().inc_counter().drop().push_int(500).cycles_accept128().drop().reply();
    let program = bounded_call_with_cycles(b, 20, 1000, callee);
    let id = s.submit_call(a, user(), "update", program.build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    s.deliver(Delivery::Stream { from: a, to: b }).unwrap();
    let shed = s.faults().into_iter().find(|f| matches!(f, Fault::Shed { from, .. } if *from == b)).expect("the response can be shed");
    s.inject_fault(shed).unwrap();
    assert!(s.run_until_quiet(10).is_ok());
    assert!(matches!(s.ingress_status(id).unwrap(), icfuzz_engine::IngressStatus::Processing), "waits for the deadline");
    s.advance_time(21 * SECOND);
    let (code, _) = relayed_reject(&s.await_call(id).unwrap().unwrap());
    assert_eq!(code, RejectCode::SysUnknown as u64);
    assert_eq!(counter(&mut s, b), 1);
    assert_eq!(s.cycle_balance(a).unwrap(), balance - 1000);
}

#[test]
fn queue_full_fault_rejects_with_sys_transient_before_the_callee_runs() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let id = s.submit_call(a, user(), "update", call_and_relay(b, Program::new().inc_counter().drop().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    s.inject_fault(Fault::RejectTransient { from: a, to: b }).unwrap();
    let (code, _) = relayed_reject(&s.await_call(id).unwrap().unwrap());
    assert_eq!(code, RejectCode::SysTransient as u64);
    assert_eq!(counter(&mut s, b), 0, "the callee never ran");
    // Faults are offered only where the IC could produce them.
    assert!(s.faults().is_empty());
    assert!(s.inject_fault(Fault::RejectTransient { from: a, to: b }).is_err());
}

#[test]
fn heartbeats_are_offered_as_system_tasks_but_never_block_quiescence() {
    let mut s = subnet();
    let h = install(&mut s, "heartbeat", vec![]);
    let beats = |s: &mut icfuzz_engine::Subnet| int(&s.query_call(h, user(), "beats", vec![]).unwrap());
    assert!(s.pending().iter().any(|p| p.delivery == Delivery::Heartbeat(h)), "a heartbeat is always possible");
    assert!(!s.has_pending(), "but it is not pending work");
    assert_eq!(s.run_until_quiet(10).unwrap(), 0);
    assert_eq!(beats(&mut s), 0);
    s.deliver(Delivery::Heartbeat(h)).unwrap();
    s.tick();
    assert_eq!(beats(&mut s), 2);
    // A stopped canister gets no heartbeats.
    let stop = Encode!(&ic_management_canister_types::CanisterIdRecord { canister_id: h }).unwrap();
    s.update_call(icfuzz_engine::Principal::management_canister(), icfuzz_engine::Principal::anonymous(), "stop_canister", stop).unwrap();
    assert!(!s.pending().iter().any(|p| p.delivery == Delivery::Heartbeat(h)));
    assert!(s.deliver(Delivery::Heartbeat(h)).is_err());
}

#[test]
fn a_reply_after_the_deadline_is_dropped_with_its_refund() {
    let mut s = subnet_without_fees();
    let (a, b, c) = (install_uc(&mut s), install_uc(&mut s), install_uc(&mut s));
    let balance = s.cycle_balance(a).unwrap();
    // B, called bounded-wait with 1000 cycles by A, accepts nothing and replies only once C answers it.
    let b_program = Program::new()
        .call_new(c.as_slice(), "update", Program::new().push_bytes(b"late").reply_data_append().reply(), Program::new())
        .push_bytes(&Program::new().reply().build())
        .call_data_append()
        .call_perform()
        .drop();
    let program = bounded_call_with_cycles(b, 10, 1000, b_program);
    let id = s.submit_call(a, user(), "update", program.build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    s.deliver(Delivery::Stream { from: a, to: b }).unwrap();
    s.advance_time(11 * SECOND);
    // C answers B, B replies to A after A's deadline: that reply times out instead of reaching A.
    s.deliver(Delivery::Stream { from: b, to: c }).unwrap();
    s.deliver(Delivery::Stream { from: c, to: b }).unwrap();
    assert!(s.pending().iter().all(|p| p.delivery != Delivery::Stream { from: b, to: a }), "{:?}", s.pending());
    let (code, _) = relayed_reject(&s.await_call(id).unwrap().unwrap());
    assert_eq!(code, RejectCode::SysUnknown as u64);
    s.run_until_quiet(10).unwrap();
    assert_eq!(s.cycle_balance(a).unwrap(), balance - 1000, "no refund on SYS_UNKNOWN, even from a late reply");
}

/// Deadlines are whole seconds and expire when `deadline < floor(now)` (the replica's `CoarseTime`): a zero
/// timeout is good until the current second ends, not expired at once.
#[test]
fn a_zero_timeout_call_lives_until_its_second_ends() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    s.advance_time(SECOND / 3);
    let reply = update(&mut s, a, bounded_call(b, 0, Program::new().inc_counter().drop().reply())).unwrap();
    assert_eq!(reply, b"", "delivered within its second, the request runs and its reply arrives");
    assert_eq!(counter(&mut s, b), 1);
    // The same call, but the second ends before the request is delivered: it times out and the caller gets
    // SYS_UNKNOWN without the callee running.
    let id = s.submit_call(a, user(), "update", bounded_call(b, 0, Program::new().inc_counter().drop().reply()).build()).unwrap();
    s.deliver(Delivery::Ingress(id)).unwrap();
    s.advance_time(SECOND / 2);
    assert!(s.pending().iter().any(|p| p.delivery == Delivery::Stream { from: a, to: b }), "still within its second");
    s.advance_time(SECOND / 2);
    assert!(s.pending().iter().all(|p| p.delivery != Delivery::Stream { from: a, to: b }), "{:?}", s.pending());
    s.run_until_quiet(10).unwrap();
    assert_eq!(relayed_reject(&s.await_call(id).unwrap().unwrap()).0, RejectCode::SysUnknown as u64);
    assert_eq!(counter(&mut s, b), 1, "the request timed out before it could run");
}
