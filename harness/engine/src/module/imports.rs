//! The ic0 System API as a table of import signatures (ic-semantics §1).
//!
//! Validation trusts this table: a function import from `ic0` is accepted exactly when its name is listed here for
//! the module's pointer width and its type matches. The engine's linker must provide every name listed here (a test
//! on the engine side compares the two).
//!
//! `I` in the spec is `i32` for wasm32 modules and for modules without memory, `i64` for memory64 modules. The
//! table is written with `I` as a symbol and the `sig!` macro expands each entry into both concrete widths at
//! compile time, so there is a single source of truth and no allocation at lookup.
//!
//! Deliberately absent: `mint_cycles`/`mint_cycles128` (only the cycles-minting canister may use them; the IC links
//! them, but a module importing them here is rejected, as ic-semantics §1 allows) and the `__` module of IC-internal
//! instrumentation imports.

use wasmparser::ValType;

/// One ic0 function: its signature for wasm32 (and no-memory) modules and for memory64 modules.
struct Entry {
    name: &'static str,
    params32: &'static [ValType],
    results32: &'static [ValType],
    params64: &'static [ValType],
    results64: &'static [ValType],
    /// Only importable when `I = i32` (the legacy 64-bit cycle and 32-bit stable memory functions).
    wasm32_only: bool,
}

/// `I` (pointer/size) and fixed types, for the 32-bit table.
macro_rules! w32 {
    (I) => {
        ValType::I32
    };
    (i32) => {
        ValType::I32
    };
    (i64) => {
        ValType::I64
    };
}

/// `I` (pointer/size) and fixed types, for the 64-bit table.
macro_rules! w64 {
    (I) => {
        ValType::I64
    };
    (i32) => {
        ValType::I32
    };
    (i64) => {
        ValType::I64
    };
}

/// `sig!(name: (params) -> (results))`, optionally prefixed with `wasm32_only`.
macro_rules! sig {
    ($name:literal : ($($p:ident),*) -> ($($r:ident),*)) => {
        Entry {
            name: $name,
            params32: &[$(w32!($p)),*],
            results32: &[$(w32!($r)),*],
            params64: &[$(w64!($p)),*],
            results64: &[$(w64!($r)),*],
            wasm32_only: false,
        }
    };
    (wasm32_only $name:literal : ($($p:ident),*) -> ($($r:ident),*)) => {
        Entry {
            name: $name,
            params32: &[$(w32!($p)),*],
            results32: &[$(w32!($r)),*],
            params64: &[$(w64!($p)),*],
            results64: &[$(w64!($r)),*],
            wasm32_only: true,
        }
    };
}

/// Every ic0 import, in the order of the interface specification's summary (plus `subnet_self_node_count` and
/// `cost_http_request_v2` from ic0 1.2.0, whose signatures come from the ic0 crate and the IC linker).
static IC0: &[Entry] = &[
    // Message arguments and caller.
    sig!("msg_arg_data_size": () -> (I)),
    sig!("msg_arg_data_copy": (I, I, I) -> ()),
    sig!("msg_caller_size": () -> (I)),
    sig!("msg_caller_copy": (I, I, I) -> ()),
    sig!("msg_caller_info_data_size": () -> (I)),
    sig!("msg_caller_info_data_copy": (I, I, I) -> ()),
    sig!("msg_caller_info_signer_size": () -> (I)),
    sig!("msg_caller_info_signer_copy": (I, I, I) -> ()),
    // Reject information and deadline.
    sig!("msg_reject_code": () -> (i32)),
    sig!("msg_reject_msg_size": () -> (I)),
    sig!("msg_reject_msg_copy": (I, I, I) -> ()),
    sig!("msg_deadline": () -> (i64)),
    // Responding.
    sig!("msg_reply_data_append": (I, I) -> ()),
    sig!("msg_reply": () -> ()),
    sig!("msg_reject": (I, I) -> ()),
    // Cycles of the message.
    sig!("msg_cycles_available128": (I) -> ()),
    sig!("msg_cycles_refunded128": (I) -> ()),
    sig!("msg_cycles_accept128": (i64, i64, I) -> ()),
    sig!("cycles_burn128": (i64, i64, I) -> ()),
    // Identity and status.
    sig!("canister_self_size": () -> (I)),
    sig!("canister_self_copy": (I, I, I) -> ()),
    sig!("canister_cycle_balance128": (I) -> ()),
    sig!("canister_liquid_cycle_balance128": (I) -> ()),
    sig!("canister_status": () -> (i32)),
    sig!("canister_version": () -> (i64)),
    sig!("subnet_self_size": () -> (I)),
    sig!("subnet_self_copy": (I, I, I) -> ()),
    sig!("subnet_self_node_count": () -> (i32)),
    // Inspect message.
    sig!("msg_method_name_size": () -> (I)),
    sig!("msg_method_name_copy": (I, I, I) -> ()),
    sig!("accept_message": () -> ()),
    // Inter-canister calls.
    sig!("call_new": (I, I, I, I, I, I, I, I) -> ()),
    sig!("call_on_cleanup": (I, I) -> ()),
    sig!("call_data_append": (I, I) -> ()),
    sig!("call_with_best_effort_response": (i32) -> ()),
    sig!("call_cycles_add128": (i64, i64) -> ()),
    sig!("call_perform": () -> (i32)),
    // Stable memory (always 64-bit).
    sig!("stable64_size": () -> (i64)),
    sig!("stable64_grow": (i64) -> (i64)),
    sig!("stable64_write": (i64, i64, i64) -> ()),
    sig!("stable64_read": (i64, i64, i64) -> ()),
    // Root key and certification.
    sig!("root_key_size": () -> (I)),
    sig!("root_key_copy": (I, I, I) -> ()),
    sig!("certified_data_set": (I, I) -> ()),
    sig!("data_certificate_present": () -> (i32)),
    sig!("data_certificate_size": () -> (I)),
    sig!("data_certificate_copy": (I, I, I) -> ()),
    // Time, timer, counters, controllers.
    sig!("time": () -> (i64)),
    sig!("global_timer_set": (i64) -> (i64)),
    sig!("performance_counter": (i32) -> (i64)),
    sig!("is_controller": (I, I) -> (i32)),
    sig!("in_replicated_execution": () -> (i32)),
    // Cost queries.
    sig!("cost_call": (i64, i64, I) -> ()),
    sig!("cost_create_canister": (I) -> ()),
    sig!("cost_http_request": (i64, i64, I) -> ()),
    sig!("cost_http_request_v2": (I, I, I) -> ()),
    sig!("cost_sign_with_ecdsa": (I, I, i32, I) -> (i32)),
    sig!("cost_sign_with_schnorr": (I, I, i32, I) -> (i32)),
    sig!("cost_vetkd_derive_key": (I, I, i32, I) -> (i32)),
    // Environment variables. `env_var_name_copy` takes the index *first*, as the IC linker does.
    sig!("env_var_count": () -> (I)),
    sig!("env_var_name_size": (I) -> (I)),
    sig!("env_var_name_copy": (I, I, I, I) -> ()),
    sig!("env_var_name_exists": (I, I) -> (i32)),
    sig!("env_var_value_size": (I, I) -> (I)),
    sig!("env_var_value_copy": (I, I, I, I, I) -> ()),
    // Debugging.
    sig!("debug_print": (I, I) -> ()),
    sig!("trap": (I, I) -> ()),
    // wasm32 only: the pre-128-bit cycle functions and 32-bit stable memory.
    sig!(wasm32_only "msg_cycles_available": () -> (i64)),
    sig!(wasm32_only "msg_cycles_refunded": () -> (i64)),
    sig!(wasm32_only "msg_cycles_accept": (i64) -> (i64)),
    sig!(wasm32_only "canister_cycle_balance": () -> (i64)),
    sig!(wasm32_only "call_cycles_add": (i64) -> ()),
    sig!(wasm32_only "stable_size": () -> (i32)),
    sig!(wasm32_only "stable_grow": (i32) -> (i32)),
    sig!(wasm32_only "stable_write": (i32, i32, i32) -> ()),
    sig!(wasm32_only "stable_read": (i32, i32, i32) -> ()),
];

/// The exact `(params, results)` of the ic0 import `name` for a module whose memory is 64-bit (`memory64`) or
/// 32-bit/absent, or `None` if the runtime does not export `name` at that width (unknown name, or a wasm32-only
/// function asked for memory64).
pub(crate) fn ic0_signature(name: &str, memory64: bool) -> Option<(&'static [ValType], &'static [ValType])> {
    let entry = IC0.iter().find(|e| e.name == name)?;
    match (memory64, entry.wasm32_only) {
        (true, true) => None,
        (true, false) => Some((entry.params64, entry.results64)),
        (false, _) => Some((entry.params32, entry.results32)),
    }
}

/// Every ic0 import name the runtime provides at either width (the union of the wasm32 and memory64 sets), so the
/// engine can check its linker against this table.
// Only the engine's linker test (and this module's tests) enumerate the table.
#[allow(dead_code)]
pub(crate) fn ic0_names() -> impl Iterator<Item = &'static str> {
    IC0.iter().map(|e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use wasmparser::ValType::{I32, I64};

    #[test]
    fn names_are_unique_and_complete() {
        let names: BTreeSet<_> = ic0_names().collect();
        assert_eq!(names.len(), IC0.len(), "duplicate entry in the ic0 table");
        // 67 common + 9 wasm32-only, per ic-semantics §1 (mint_cycles128 deliberately excluded).
        assert_eq!(names.len(), 76);
        assert!(!names.contains("mint_cycles128"));
        assert!(!names.contains("mint_cycles"));
    }

    #[test]
    fn pointer_width_substitution() {
        assert_eq!(ic0_signature("msg_reply_data_append", false), Some((&[I32, I32][..], &[][..])));
        assert_eq!(ic0_signature("msg_reply_data_append", true), Some((&[I64, I64][..], &[][..])));
        assert_eq!(ic0_signature("msg_arg_data_size", true), Some((&[][..], &[I64][..])));
        // Fixed-width types stay fixed.
        assert_eq!(ic0_signature("msg_reject_code", true), Some((&[][..], &[I32][..])));
        assert_eq!(ic0_signature("call_perform", true), Some((&[][..], &[I32][..])));
        assert_eq!(ic0_signature("msg_cycles_accept128", false), Some((&[I64, I64, I32][..], &[][..])));
        assert_eq!(ic0_signature("msg_cycles_accept128", true), Some((&[I64, I64, I64][..], &[][..])));
        assert_eq!(ic0_signature("cost_sign_with_ecdsa", true), Some((&[I64, I64, I32, I64][..], &[I32][..])));
        assert_eq!(ic0_signature("stable64_read", false), Some((&[I64, I64, I64][..], &[][..])));
        assert_eq!(ic0_signature("env_var_name_copy", true), Some((&[I64, I64, I64, I64][..], &[][..])));
        assert_eq!(ic0_signature("call_with_best_effort_response", true), Some((&[I32][..], &[][..])));
    }

    #[test]
    fn wasm32_only_functions() {
        for name in ["msg_cycles_available", "msg_cycles_refunded", "msg_cycles_accept", "canister_cycle_balance"] {
            assert!(ic0_signature(name, false).is_some(), "{name}");
            assert!(ic0_signature(name, true).is_none(), "{name}");
        }
        for name in ["call_cycles_add", "stable_size", "stable_grow", "stable_write", "stable_read"] {
            assert!(ic0_signature(name, false).is_some(), "{name}");
            assert!(ic0_signature(name, true).is_none(), "{name}");
        }
        assert_eq!(ic0_signature("stable_grow", false), Some((&[I32][..], &[I32][..])));
        assert!(ic0_signature("no_such_function", false).is_none());
        assert!(ic0_signature("mint_cycles128", false).is_none());
    }
}
