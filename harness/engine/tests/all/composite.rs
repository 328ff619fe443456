//! Composite query call graphs: calls to queries on the subnet, depth first, each callee from its committed
//! state, the caller's state kept across its callbacks and nothing kept after; the replica's rejects and limits.

use candid::Principal;
use icfuzz_engine::{ErrorCode, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::*;

/// A program calling `callee.method` with `program`, running `on_reply` / `on_reject` as the callbacks.
fn call(callee: Principal, method: &str, program: Program, on_reply: Program, on_reject: Program) -> Program {
    Program::new()
        .call_new(callee.as_slice(), method, on_reply, on_reject)
        .push_bytes(&program.build())
        .call_data_append()
        .call_perform()
        .drop()
}

fn composite(s: &mut Subnet, canister: Principal, program: Program) -> icfuzz_engine::CallResult {
    s.query_call(canister, user(), "composite", program.build())
}

#[test]
fn a_composite_query_calls_queries_and_keeps_its_state_across_callbacks_only() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    update(&mut s, a, Program::new().push_bytes(b"committed").set_global().reply()).unwrap();
    // The root changes its heap, calls b, and its reply callback sees the change, then appends b's answer.
    let on_reply = Program::new().get_global().reply_data_append().arg_data().reply_data_append().reply();
    let root = Program::new().push_bytes(b"changed ").set_global();
    let program = root.append(call(b, "query", Program::new().reply_bytes(b"from b"), on_reply, relay_reject()));
    assert_eq!(composite(&mut s, a, program).unwrap(), b"changed from b");
    assert_eq!(global(&mut s, a), b"committed", "nothing of a query call persists");

    // A call back into the root canister sees its committed state, not the root's change.
    let reentrant = Program::new()
        .push_bytes(b"changed")
        .set_global()
        .append(call(a, "query", Program::new().get_global().reply_data_append().reply(), relay_reply(), relay_reject()));
    assert_eq!(composite(&mut s, a, reentrant).unwrap(), b"committed");

    // Calls run in order, each callback before the next call; once the root replied, the rest are dropped.
    let first = call(b, "query", Program::new().reply_bytes(b"1"), Program::new().arg_data().set_global(), relay_reject());
    let second = call(
        b,
        "query",
        Program::new().reply_bytes(b"2"),
        Program::new().get_global().arg_data().concat().reply_data_append().reply(),
        relay_reject(),
    );
    let third = call(b, "query", Program::new().trap_with("never called"), Program::new().reply_bytes(b"3"), relay_reject());
    let ordered = Program::new().append(first).append(second).append(third);
    assert_eq!(composite(&mut s, a, ordered).unwrap(), b"12");
}

#[test]
fn composite_queries_meet_the_replicas_rejects() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let relayed = |s: &mut Subnet, callee: Principal, method: &str, program: Program| {
        relayed_reject(&composite(s, a, call(callee, method, program, relay_reply(), relay_reject())).unwrap())
    };
    let (code, message) = relayed(&mut s, b, "update", Program::new().reply());
    assert_eq!(code, RejectCode::CanisterError as u64);
    assert!(message.contains("has no query method 'update'"), "{message}");
    let (code, _) = relayed(&mut s, Principal::management_canister(), "canister_status", Program::new());
    assert_eq!(code, RejectCode::DestinationInvalid as u64);
    let (code, message) = relayed(&mut s, b, "query", Program::new().trap_with("callee broke"));
    assert_eq!(code, RejectCode::CanisterError as u64);
    assert!(message.contains("callee broke"), "{message}");
    let (code, _) = relayed(&mut s, b, "query", Program::new());
    assert_eq!(code, RejectCode::CanisterError as u64, "a callee that does not reply");
    // A plain query cannot call; a composite query cannot run replicated.
    let plain = s.query_call(a, user(), "query", call(b, "query", Program::new().reply(), relay_reply(), relay_reject()).build());
    assert_eq!(plain.unwrap_err().error_code, ErrorCode::CanisterContractViolation);
    let replicated = s.update_call(a, user(), "composite", Program::new().reply().build());
    assert_eq!(replicated.unwrap_err().error_code, ErrorCode::CompositeQueryCalledInReplicatedMode);
    // A root that never replies.
    let silent = composite(&mut s, a, call(b, "query", Program::new().reply(), Program::new(), Program::new()));
    assert_eq!(silent.unwrap_err().error_code, ErrorCode::CanisterDidNotReply);
    // Only the root composite query has a certificate; callees and callbacks have none.
    let present = Program::new().data_certificate_present().reply_data_append().reply();
    let in_callee = composite(&mut s, a, call(b, "query", present.clone(), relay_reply(), relay_reject())).unwrap();
    assert_eq!(int(&in_callee), 0);
    let in_root = composite(&mut s, a, present.clone()).unwrap();
    assert_eq!(int(&in_root), 1);
    let in_callback = composite(&mut s, a, call(b, "query", Program::new().reply(), present, relay_reject())).unwrap();
    assert_eq!(int(&in_callback), 0);
}

/// A chain of composite queries, each calling the next and relaying its answer.
fn chain(canister: Principal, calls: usize) -> Program {
    let mut program = Program::new().reply_bytes(b"bottom");
    for _ in 0..calls {
        program = call(canister, "composite", program, relay_reply(), relay_reject());
    }
    program
}

#[test]
fn the_call_graph_is_at_most_six_deep_and_five_billion_instructions() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    assert_eq!(composite(&mut s, a, chain(a, 6)).unwrap(), b"bottom");
    assert_eq!(composite(&mut s, a, chain(a, 7)).unwrap_err().error_code, ErrorCode::QueryCallGraphTooDeep);
    // Each call costs 50 M of the 5 B budget: a hundred calls fit (with a little execution), the next does not.
    let b = install_uc(&mut s);
    let many = |n: usize| {
        let mut p = Program::new();
        for _ in 0..n {
            p = p.append(call(b, "query", Program::new().reply(), Program::new(), Program::new()));
        }
        p
    };
    assert_eq!(composite(&mut s, a, many(99)).unwrap_err().error_code, ErrorCode::CanisterDidNotReply);
    assert_eq!(composite(&mut s, a, many(101)).unwrap_err().error_code, ErrorCode::QueryCallGraphTotalInstructionLimitExceeded);
}

/// `canisters/aggregator`: a composite query sums a user's balance over shard canisters' queries, as on the IC;
/// a shard that cannot answer is named in the error.
#[test]
fn the_aggregator_sums_balances_over_its_shards() {
    use candid::{Decode, Encode};
    let mut s = subnet();
    let [hub, one, two] = [(); 3].map(|_| install(&mut s, "aggregator", Encode!().unwrap()));
    let owner = Principal::anonymous();
    for shard in [one, two] {
        let added = s.update_call(hub, owner, "add_shard", Encode!(&shard).unwrap()).unwrap();
        Decode!(&added, Result<(), String>).unwrap().unwrap();
    }
    for (canister, amount) in [(hub, 1u64), (one, 20), (two, 300)] {
        s.update_call(canister, user(), "deposit", Encode!(&amount).unwrap()).unwrap();
    }
    let total = |s: &mut Subnet| Decode!(&s.query_call(hub, owner, "total_of", Encode!(&user()).unwrap()).unwrap(), Result<u64, String>).unwrap();
    assert_eq!(total(&mut s), Ok(321));
    // A stopped shard rejects; the aggregator says which.
    let stop = Encode!(&ic_management_canister_types::CanisterIdRecord { canister_id: two }).unwrap();
    s.update_call(Principal::management_canister(), owner, "stop_canister", stop).unwrap();
    let error = total(&mut s).unwrap_err();
    assert!(error.contains(&two.to_text()), "{error}");
    // As an update it cannot run at all.
    let replicated = s.update_call(hub, owner, "total_of", Encode!(&user()).unwrap());
    assert_eq!(replicated.unwrap_err().error_code, ErrorCode::CompositeQueryCalledInReplicatedMode);
}
