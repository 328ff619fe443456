//! Atomic executions: a trap discards heap, stable memory, replies, calls and cycles; cleanup callbacks commit.

use icfuzz_engine::{ErrorCode, RejectCode};
use icfuzz_test_canisters::uc::Program;

use crate::*;

#[test]
fn trap_after_await_rolls_back_only_the_callback_and_cleanup_commits() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let on_reply = Program::new().push_bytes(b"in callback").set_global().inc_counter().drop().push_bytes(b"after await").trap();
    // The cleanup starts from the state before the trapped callback and its changes persist.
    let cleanup = Program::new().inc_counter().drop().push_int(5).stable_grow().drop();
    let program = Program::new()
        .push_bytes(b"before await")
        .set_global()
        .call_new(b.as_slice(), "update", on_reply, Program::new())
        .push_bytes(&cleanup.build())
        .call_on_cleanup()
        .push_bytes(&Program::new().inc_counter().drop().reply().build())
        .call_data_append()
        .call_perform()
        .drop();
    let result = update(&mut s, a, program);
    assert_reject(&result, RejectCode::CanisterError, "after await");
    assert_eq!(result.unwrap_err().error_code, ErrorCode::CanisterCalledTrap);
    // The first execution (before the await) committed; the callback did not; the cleanup did.
    assert_eq!(global(&mut s, a), b"before await");
    assert_eq!(counter(&mut s, a), 1, "only the cleanup's increment persists");
    let stable_pages = int(&query(&mut s, a, Program::new().stable_size().reply_data_append().reply()).unwrap());
    assert_eq!(stable_pages, 5, "cleanup's stable-memory change persists");
    // The callee ran and committed regardless.
    assert_eq!(counter(&mut s, b), 1);
}

#[test]
fn a_trapping_cleanup_commits_nothing() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new().push_bytes(b"callback").trap(), Program::new())
        .push_bytes(&Program::new().inc_counter().drop().push_bytes(b"cleanup too").trap().build())
        .call_on_cleanup()
        .push_bytes(&Program::new().reply().build())
        .call_data_append()
        .call_perform()
        .drop();
    let result = update(&mut s, a, program);
    // The context's outcome is the callback's trap, not the cleanup's.
    assert_reject(&result, RejectCode::CanisterError, "callback");
    assert_eq!(counter(&mut s, a), 0);
}

#[test]
fn calls_made_by_a_trapped_execution_never_arrive() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let program = Program::new()
        .call_new(b.as_slice(), "update", Program::new(), Program::new())
        .push_bytes(&Program::new().inc_counter().drop().reply().build())
        .call_data_append()
        .call_perform()
        .drop()
        .push_bytes(b"trap after call_perform")
        .trap();
    let id = s.submit_call(a, user(), "update", program.build()).unwrap();
    let result = s.await_call(id).unwrap();
    assert_reject(&result, RejectCode::CanisterError, "trap after call_perform");
    assert!(s.pending().is_empty(), "the call was never sent: {:?}", s.pending());
    assert_eq!(counter(&mut s, b), 0);
    assert_eq!(s.outstanding_callbacks(a).unwrap(), 0);
}

#[test]
fn trap_discards_heap_stable_memory_and_cycles() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    update(&mut s, a, Program::new().push_bytes(b"committed").set_global().push_int(1).stable_grow().drop().reply()).unwrap();
    let hash = s.state_hash(a).unwrap();
    let balance = s.cycle_balance(a).unwrap();
    let program = Program::new()
        .push_bytes(b"lost")
        .set_global()
        .inc_counter()
        .drop()
        .push_int(3)
        .stable_grow()
        .drop()
        .push_int(0)
        .push_bytes(b"lost stable write")
        .stable_write()
        .push_int(1 << 20)
        .wasm_memory_grow()
        .drop()
        .call_new(b.as_slice(), "update", Program::new(), Program::new())
        .push_int(12345)
        .call_cycles_add128()
        .call_perform()
        .drop()
        .push_bytes(b"now trap")
        .trap();
    assert_reject(&update(&mut s, a, program), RejectCode::CanisterError, "now trap");
    assert_eq!(s.state_hash(a).unwrap(), hash, "heap, globals and stable memory are as before");
    // The attached cycles and call fees came back; only the execution fee of the trapped message is kept.
    let fees = s.config().fees;
    let spent = balance - s.cycle_balance(a).unwrap();
    assert!(spent >= fees.ingress(0) && spent < fees.ingress(10_000) + fees.execution(crate::TEST_INSTRUCTION_LIMIT, false), "{spent}");
    assert_eq!(global(&mut s, a), b"committed");
    let stable = query(&mut s, a, Program::new().push_int(0).push_int(17).stable_read().reply_data_append().reply()).unwrap();
    assert_eq!(stable, vec![0; 17]);
}

#[test]
fn queries_never_persist() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    update(&mut s, a, Program::new().push_bytes(b"v1").set_global().reply()).unwrap();
    let hash = s.state_hash(a).unwrap();
    let version = s.canister_version(a).unwrap();
    query(&mut s, a, Program::new().push_bytes(b"v2").set_global().push_int(2).stable_grow().drop().reply()).unwrap();
    assert_eq!(global(&mut s, a), b"v1");
    assert_eq!(s.state_hash(a).unwrap(), hash);
    assert_eq!(s.canister_version(a).unwrap(), version);
    // A query method called by ingress update (replicated query) does not persist either.
    s.update_call(a, user(), "query", Program::new().push_bytes(b"v3").set_global().reply().build()).unwrap();
    assert_eq!(global(&mut s, a), b"v1");
}

#[test]
fn logs_keep_debug_prints_and_trap_messages() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let _ = update(&mut s, a, Program::new().push_bytes(b"hello log").debug_print().push_bytes(b"bad thing").trap());
    let logs: Vec<String> = s.canister_logs(a).unwrap().iter().map(|r| r.content.clone()).collect();
    assert!(logs.iter().any(|l| l == "hello log"), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("[TRAP]") && l.contains("bad thing")), "{logs:?}");
}

/// Rebuilding an instance after a trapped execution grew its memory reuses dropped instances' mappings without
/// zeroing them (the rebuild overwrites the heap). Memory grown later must still read as zero: compare with a
/// canister that ran the same committed history without the traps.
#[test]
fn memory_grown_after_a_rebuild_reads_as_zero() {
    let config = Config {
        instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT),
        default_wasm_memory_limit: 16 << 20,
        ..Config::default()
    };
    let mut s = Subnet::new(config).expect("wasmtime starts");
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    // Fill memory up to the limit with non-zero pages, which fails the execution (over the Wasm memory limit): the
    // grown instance is dropped (its mapping, full of ones, may be recycled) and `a` is rebuilt.
    for _ in 0..3 {
        let program = Program::new().grow_memory_forever().drop().reply();
        assert_reject(&update(&mut s, a, program), RejectCode::CanisterError, "Wasm memory limit");
    }
    assert_eq!(s.state_hash(a).unwrap(), s.state_hash(b).unwrap(), "the traps left no trace");
    // Now grow for real: the new pages of `a` must be zero, as those of `b` are.
    for c in [a, b] {
        update(&mut s, c, Program::new().push_int(100).wasm_memory_grow().drop().reply()).unwrap();
    }
    assert_eq!(s.memory_bytes(a).unwrap(), s.memory_bytes(b).unwrap());
    assert_eq!(s.state_hash(a).unwrap(), s.state_hash(b).unwrap(), "grown memory holds stale bytes");
}
