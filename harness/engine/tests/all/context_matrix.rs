//! The per-context availability matrix of the System API (ic-semantics §1), checked op by op and context by
//! context on the universal canister. The expected table is written here independently of the engine's masks.

use icfuzz_engine::{Delivery, Principal, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::*;

/// Contexts the universal canister can reach, with the letter ic-semantics uses for each.
const CONTEXTS: [&str; 14] = ["I", "G", "U", "RQ", "NRQ", "CQ", "Ry", "Rt", "C", "F", "T", "CRy", "CRt", "CC"];

/// (name, snippet, contexts where it is allowed). The snippet leaves the stack as it found it.
fn ops(own_id: Principal) -> Vec<(&'static str, Program, &'static str)> {
    let all = "I G U RQ NRQ CQ Ry Rt C F T CRy CRt CC";
    vec![
        ("msg_arg_data", Program::new().arg_data().drop(), "I U RQ NRQ CQ Ry F CRy"),
        ("msg_caller", Program::new().caller().drop(), all),
        ("msg_reject_code", Program::new().reject_code().drop(), "Ry Rt C CRy CRt CC"),
        ("msg_reject_msg", Program::new().reject_message().drop(), "Rt CRt"),
        ("msg_deadline", Program::new().msg_deadline().drop(), "U RQ NRQ CQ Ry Rt CRy CRt"),
        ("msg_reply", Program::new().reply(), "U RQ NRQ CQ Ry Rt CRy CRt"),
        ("msg_reject", Program::new().push_bytes(b"r").reject(), "U RQ NRQ CQ Ry Rt CRy CRt"),
        ("msg_method_name", Program::new().method_name().drop(), "F"),
        ("accept_message", Program::new().accept_message(), "F"),
        ("msg_cycles_available128", Program::new().cycles_available128().drop(), "U RQ Ry Rt"),
        ("msg_cycles_refunded128", Program::new().cycles_refunded128().drop(), "Ry Rt"),
        ("msg_cycles_accept128", Program::new().push_int(0).cycles_accept128().drop(), "U RQ Ry Rt"),
        ("cycles_burn128", Program::new().push_int(0).cycles_burn128().drop(), "I G U RQ Ry Rt C T"),
        ("canister_cycle_balance128", Program::new().cycles_balance128().drop(), all),
        ("call_new", Program::new().call_new(own_id.as_slice(), "update", Program::new(), Program::new()), "U CQ Ry Rt T CRy CRt"),
        ("certified_data_set", Program::new().push_bytes(b"c").certified_data_set(), "I G U Ry Rt T"),
        ("data_certificate_present", Program::new().data_certificate_present().drop(), all),
        ("global_timer_set", Program::new().push_int(0).global_timer_set().drop(), "I G U Ry Rt C T"),
        ("stable64_size", Program::new().stable_size().drop(), all),
        ("time", Program::new().time().drop(), all),
        ("performance_counter", Program::new().push_int(0).performance_counter().drop(), all),
        ("in_replicated_execution", Program::new().in_replicated_execution().drop(), all),
        ("canister_version", Program::new().canister_version().drop(), all),
        ("root_key", Program::new().root_key().drop(), "I G U RQ Ry Rt C T"),
        ("is_controller", Program::new().push_bytes(own_id.as_slice()).is_controller().drop(), all),
        ("cost_call", Program::new().push_int(1).push_int(1).cost_call().drop(), all),
        ("env_var_count", Program::new().env_var_count().drop(), all),
        ("canister_self", Program::new().self_().drop(), all),
    ]
}

/// Whether an error text reports a System API call outside its allowed contexts.
fn is_violation(text: &str) -> bool {
    text.contains("cannot be executed in")
}

fn logs_report_violation(s: &Subnet, id: Principal) -> bool {
    s.canister_logs(id).unwrap().iter().any(|r| is_violation(&r.content))
}

/// Runs `snippet` in `context` on a fresh copy of the world; `true` if it was refused as a contract violation.
fn refused(s: &mut Subnet, a: Principal, b: Principal, context: &str, snippet: &Program) -> bool {
    let err_is_violation = |r: CallResult| r.err().is_some_and(|e| is_violation(&e.reject_message));
    let wrap = |p: &Program| p.clone().push_bytes(b"done").reply_data_append().reply();
    match context {
        "U" => err_is_violation(s.update_call(a, user(), "update", wrap(snippet).build())),
        "RQ" => err_is_violation(s.update_call(a, user(), "query", wrap(snippet).build())),
        "NRQ" => err_is_violation(s.query_call(a, user(), "query", wrap(snippet).build())),
        "CQ" => err_is_violation(s.query_call(a, user(), "composite", wrap(snippet).build())),
        "Ry" | "Rt" | "C" => {
            let callee = if context == "Rt" { Program::new().push_bytes(b"no").reject() } else { Program::new().reply() };
            let (on_reply, on_reject, cleanup) = match context {
                "Ry" => (wrap(snippet), Program::new(), None),
                "Rt" => (Program::new(), wrap(snippet), None),
                _ => (Program::new().push_bytes(b"to cleanup").trap(), Program::new(), Some(snippet.clone())),
            };
            let mut p = Program::new().call_new(b.as_slice(), "update", on_reply, on_reject);
            if let Some(cleanup) = cleanup {
                p = p.push_bytes(&cleanup.build()).call_on_cleanup();
            }
            let p = p.push_bytes(&callee.build()).call_data_append().call_perform().drop();
            let result = s.update_call(a, user(), "update", p.build());
            if context == "C" {
                logs_report_violation(s, a)
            } else {
                err_is_violation(result)
            }
        }
        // Callbacks in a composite query's call graph: the root composite query on `a` calls `b`'s query.
        "CRy" | "CRt" | "CC" => {
            let callee = if context == "CRt" { Program::new().push_bytes(b"no").reject() } else { Program::new().reply() };
            let (on_reply, on_reject, cleanup) = match context {
                "CRy" => (wrap(snippet), Program::new(), None),
                "CRt" => (Program::new(), wrap(snippet), None),
                _ => (Program::new().push_bytes(b"to cleanup").trap(), Program::new(), Some(snippet.clone())),
            };
            let mut p = Program::new().call_new(b.as_slice(), "query", on_reply, on_reject);
            if let Some(cleanup) = cleanup {
                p = p.push_bytes(&cleanup.build()).call_on_cleanup();
            }
            let p = p.push_bytes(&callee.build()).call_data_append().call_perform().drop();
            // A trap in the cleanup is added to the callback's error, which is the query call's answer.
            err_is_violation(s.query_call(a, user(), "composite", p.build()))
        }
        "F" => {
            let mut inspect = snippet.clone();
            if !snippet.as_bytes().ends_with(&Program::new().accept_message().build()) {
                inspect = inspect.accept_message();
            }
            s.update_call(a, user(), "update", Program::new().push_bytes(&inspect.build()).set_inspect().reply().build()).unwrap();
            s.submit_call(a, user(), "update", Program::new().reply().build()).err().is_some_and(|e| is_violation(&e.reject_message))
        }
        "T" => {
            let arm = Program::new().push_bytes(snippet.as_bytes()).set_timer().push_int(1).global_timer_set().drop().reply();
            s.update_call(a, user(), "update", arm.build()).unwrap();
            assert!(s.pending().iter().any(|p| p.delivery == Delivery::Timer(a)));
            s.run_until_quiet(10).unwrap();
            logs_report_violation(s, a)
        }
        "I" => {
            let c = s.create_canister();
            s.install_canister(c, &uc_wasm(), snippet.as_bytes().to_vec(), None).err().is_some_and(|e| is_violation(&e.reject_message))
        }
        "G" => {
            s.update_call(a, user(), "update", Program::new().push_bytes(snippet.as_bytes()).set_pre_upgrade().reply().build()).unwrap();
            s.upgrade_canister(a, &uc_wasm(), vec![], None).err().is_some_and(|e| is_violation(&e.reject_message))
        }
        other => unreachable!("{other}"),
    }
}

#[test]
fn every_op_is_allowed_exactly_in_its_contexts() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let snapshot = s.snapshot();
    let mut mismatches = Vec::new();
    for (name, snippet, allowed) in ops(a) {
        let allowed: Vec<&str> = allowed.split(' ').collect();
        for context in CONTEXTS {
            s.restore(&snapshot).unwrap();
            let expected_refused = !allowed.contains(&context);
            if refused(&mut s, a, b, context, &snippet) != expected_refused {
                mismatches.push(format!("{name} in {context}: expected {}", if expected_refused { "a trap" } else { "success" }));
            }
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
