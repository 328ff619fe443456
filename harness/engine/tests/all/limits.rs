//! Canister code cannot hang or crash the harness: instruction, memory, stack and payload limits.

use icfuzz_engine::{Config, ErrorCode, InstructionLimits, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::*;

#[test]
fn infinite_loop_ends_at_the_instruction_limit() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    update(&mut s, a, Program::new().push_bytes(b"kept").set_global().reply()).unwrap();
    let reject = update(&mut s, a, Program::new().push_bytes(b"lost").set_global().loop_forever()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterInstructionLimitExceeded, "{reject}");
    assert!(reject.reject_message.contains(&TEST_INSTRUCTION_LIMIT.to_string()), "{reject}");
    // The canister is intact and keeps working.
    assert_eq!(global(&mut s, a), b"kept");
    assert_eq!(update(&mut s, a, Program::new().push_bytes(b"ok").reply_data_append().reply()).unwrap(), b"ok");
    // Queries are bounded too.
    let reject = query(&mut s, a, Program::new().loop_forever()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterInstructionLimitExceeded);
}

#[test]
fn memory_bomb_ends_at_the_wasm_memory_limit() {
    let config = Config {
        instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT),
        default_wasm_memory_limit: 64 << 20,
        ..Config::default()
    };
    let mut s = Subnet::new(config).unwrap();
    let a = install_uc(&mut s);
    let hash = s.state_hash(a).unwrap();
    let reject = update(&mut s, a, Program::new().grow_memory_forever().reply_data_append().reply()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterWasmMemoryLimitExceeded, "{reject}");
    assert_eq!(s.state_hash(a).unwrap(), hash, "the heap is back to its size before the bomb");
    assert_eq!(update(&mut s, a, Program::new().push_bytes(b"alive").reply_data_append().reply()).unwrap(), b"alive");
}

#[test]
fn deep_recursion_traps_without_harming_the_harness() {
    // With 1 MiB of Wasm stack the universal canister's native recursion overflows it before its shadow stack
    // (with the IC's 5 MiB the shadow stack runs out first; tests/all/stack.rs covers 5 MiB with `nested`).
    let config = Config { instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT), max_wasm_stack: 1 << 20, ..Config::default() };
    let mut s = Subnet::new(config).unwrap();
    let a = install_uc(&mut s);
    let hash = s.state_hash(a).unwrap();
    // Recursion on Wasm locals hits the engine's Wasm stack limit.
    let reject = update(&mut s, a, Program::new().push_int(10_000_000).recurse_native().reply()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterTrapped, "{reject}");
    assert!(reject.reject_message.contains("stack overflow"), "{reject}");
    // Recursion with frames on Rust's shadow stack runs out of the canister's own stack region first: the
    // canister traps on an out-of-bounds access, as it would on the IC.
    let reject = update(&mut s, a, Program::new().push_int(10_000_000).recurse().reply()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterTrapped, "{reject}");
    assert_eq!(s.state_hash(a).unwrap(), hash);
    assert_eq!(update(&mut s, a, Program::new().reply()).unwrap(), b"");
}

/// A program that pushes a blob of `1 << log2` bytes by doubling.
fn big_blob(log2: u32) -> Program {
    let mut p = Program::new().push_bytes(&[7u8; 1024]);
    for _ in 10..log2 {
        p = p.dup().concat();
    }
    p
}

#[test]
fn reply_over_two_mib_traps() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let reject = update(&mut s, a, big_blob(21).push_bytes(b"!").concat().reply_data_append().reply()).unwrap_err();
    assert_eq!(reject.error_code, ErrorCode::CanisterContractViolation, "{reject}");
    assert!(reject.reject_message.contains("maximum response size"), "{reject}");
    // Exactly 2 MiB is fine.
    assert_eq!(update(&mut s, a, big_blob(21).reply_data_append().reply()).unwrap().len(), 2 << 20);
}

#[test]
fn request_over_ten_mib_traps_in_call_data_append() {
    // Appending 10 MiB costs 50 instructions a byte, more than the test limit: give the update room to reach the
    // payload check, as the IC's 40 B limit would.
    let limits = InstructionLimits { update: 5_000_000_000, ..InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT) };
    let mut s = Subnet::new(Config { instruction_limits: limits, ..Config::default() }).unwrap();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new(), Program::new())
        .push_bytes(&[0u8; 1024]);
    let mut p = program;
    for _ in 10..24 {
        p = p.dup().concat();
    }
    let reject = update(&mut s, a, p.call_data_append().call_perform().reply()).unwrap_err();
    assert!(reject.reject_message.contains("maximum inter-canister payload"), "{reject}");
    assert_eq!(reject.reject_code, RejectCode::CanisterError);
}

#[test]
fn stable_memory_grow_past_the_limit_returns_minus_one() {
    // Without fees: 500 GiB of stable memory would otherwise (faithfully) freeze a 100 T-cycle canister.
    let mut s = subnet_without_fees();
    let a = install_uc(&mut s);
    let result = int(&update(&mut s, a, Program::new().push_int(u64::MAX / 2).stable_grow().reply_data_append().reply()).unwrap());
    assert_eq!(result, u64::MAX, "-1");
    // Growing to the 500 GiB maximum costs nothing: pages are materialised only when written.
    let pages = (500u64 << 30) / 65536;
    let result = int(&update(&mut s, a, Program::new().push_int(pages).stable_grow().reply_data_append().reply()).unwrap());
    assert_eq!(result, 0);
    let result = int(&update(&mut s, a, Program::new().push_int(1).stable_grow().reply_data_append().reply()).unwrap());
    assert_eq!(result, u64::MAX);
}

#[test]
fn ingress_messages_over_two_mib_are_refused_before_entering_the_state() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let refused = s.submit_call(a, user(), "update", vec![0; (2 << 20) + 1]).unwrap_err();
    assert!(refused.reject_message.contains("too large"), "{refused}");
}
