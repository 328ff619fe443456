//! The Wasm stack: 5 MiB as on the IC (`MAX_WASM_STACK_SIZE` in rs/embedders), on any harness thread.
//!
//! `canisters/nested` measures bracket documents by recursive tree walks, one Rust frame per nesting level. A document
//! deep enough to overflow a 1 MiB Wasm stack is stored on the IC's 5 MiB one; a much deeper one overflows that too
//! and traps like any Wasm trap (IC0502), storing nothing. libtest threads have 2 MiB of native stack, less than the
//! 5 MiB the canister may use, so these tests also prove the engine finds room for the Wasm stack itself.

use candid::{Decode, Encode};
use icfuzz_engine::{Config, ErrorCode, InstructionLimits, Subnet};

use crate::{install, user};

// The recursive walks take 64 bytes of Wasm stack per level (measured: 1 MiB holds 16,371 levels, 5 MiB 81,907).
/// Deeper than a 1 MiB Wasm stack holds, half of what 5 MiB holds.
const DEEP: usize = 40_000;
/// Deeper than 5 MiB holds.
const TOO_DEEP: usize = 200_000;

fn subnet_with_stack(max_wasm_stack: usize) -> Subnet {
    let config = Config { instruction_limits: InstructionLimits::uniform(5_000_000_000), max_wasm_stack, ..Config::default() };
    Subnet::new(config).expect("wasmtime starts")
}

fn document(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn store(s: &mut Subnet, depth: usize) -> Result<u64, icfuzz_engine::RejectResponse> {
    let canister = install(s, "nested", vec![]);
    let reply = s.update_call(canister, user(), "store", Encode!(&document(depth)).unwrap())?;
    let id = Decode!(&reply, Result<u64, String>).unwrap().expect("a well-formed document");
    let stats = s.query_call(canister, user(), "stats", Encode!(&id).unwrap()).unwrap();
    assert_eq!(Decode!(&stats, Option<(u64, u64)>).unwrap(), Some((depth as u64, depth as u64)));
    Ok(id)
}

#[test]
fn the_default_stack_is_the_ics_five_mib() {
    assert_eq!(Config::default().max_wasm_stack, 5 << 20);
}

#[test]
fn recursion_that_overflows_one_mib_fits_in_the_ics_five() {
    let reject = store(&mut subnet_with_stack(1 << 20), DEEP).expect_err("1 MiB of Wasm stack overflows");
    assert_eq!(reject.error_code, ErrorCode::CanisterTrapped, "{reject:?}");
    assert!(reject.reject_message.contains("stack overflow"), "{reject:?}");
    store(&mut Subnet::new(Config { instruction_limits: InstructionLimits::uniform(5_000_000_000), ..Config::default() }).unwrap(), DEEP)
        .expect("the IC's 5 MiB holds it");
}

#[test]
fn recursion_past_five_mib_traps_as_on_the_ic() {
    let mut s = subnet_with_stack(Config::default().max_wasm_stack);
    let reject = store(&mut s, TOO_DEEP).expect_err("5 MiB overflows too");
    assert_eq!(reject.error_code, ErrorCode::CanisterTrapped, "{reject:?}");
    assert!(reject.reject_message.contains("stack overflow"), "{reject:?}");
}
