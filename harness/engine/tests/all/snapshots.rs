//! Whole-subnet snapshots: restore gives back exactly the snapshotted state.

use icfuzz_engine::Delivery;
use icfuzz_test_canisters::uc::Program;

use crate::*;

#[test]
fn snapshot_run_restore_gives_the_snapshotted_state() {
    let mut s = subnet();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    update(&mut s, a, Program::new().push_bytes(b"base").set_global().push_int(1).stable_grow().drop().reply()).unwrap();
    let pending_call = s.submit_call(a, user(), "update", call_and_relay(b, Program::new().inc_counter().drop().reply()).build()).unwrap();
    let before = (s.state_hash(a).unwrap(), s.state_hash(b).unwrap(), s.pending(), s.time_nanos(), s.cycle_balance(a).unwrap());
    let snapshot = s.snapshot();

    for round in 0..3 {
        // Change everything: queues, heap, stable memory, heap growth, time, a new canister, an upgrade.
        s.deliver(Delivery::Ingress(pending_call)).unwrap();
        update(&mut s, a, Program::new().push_bytes(b"changed").set_global().push_int(0).push_bytes(&[round; 100]).stable_write().push_int(50).wasm_memory_grow().drop().reply()).unwrap();
        s.run_until_quiet(10).unwrap();
        s.advance_time(1_000_000_000);
        let c = install_uc(&mut s);
        if round == 1 {
            s.upgrade_canister(b, &uc_wasm(), vec![], None).unwrap();
        }
        s.restore(&snapshot).unwrap();
        assert!(!s.canister_exists(c), "canisters created after the snapshot are gone");
        let after = (s.state_hash(a).unwrap(), s.state_hash(b).unwrap(), s.pending(), s.time_nanos(), s.cycle_balance(a).unwrap());
        assert_eq!(after, before, "round {round}");
        assert_eq!(global(&mut s, a), b"base");
    }
    // The restored subnet runs on as the original would have.
    s.run_until_quiet(10).unwrap();
    assert_eq!(counter(&mut s, b), 1);
}

#[test]
fn restore_undoes_small_changes_to_a_large_heap() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    // 64 MiB of heap, filled.
    update(&mut s, a, Program::new().push_int(1024).wasm_memory_grow().drop().reply()).unwrap();
    let hash = s.state_hash(a).unwrap();
    let snapshot = s.snapshot();
    for i in 0..5u8 {
        update(&mut s, a, Program::new().push_bytes(&[i; 10]).set_global().inc_counter().drop().reply()).unwrap();
        let stats = s.restore(&snapshot).unwrap();
        assert_eq!(s.state_hash(a).unwrap(), hash);
        if icfuzz_engine::dirty_page_tracking() {
            // A small update touches a few pages of the 64 MiB heap; restore copies only those.
            assert_eq!(stats.canisters_rebuilt, 0);
            assert!(stats.pages_copied > 0 && stats.pages_copied < 64, "{stats:?}");
        }
    }
}

/// An instance rebuilt by a restore (its memory had grown) is the one later restores patch page by page.
#[test]
fn after_a_rebuild_restores_are_page_by_page_again() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    update(&mut s, a, Program::new().push_bytes(b"base").set_global().reply()).unwrap();
    let before = s.state_hash(a).unwrap();
    let snapshot = s.snapshot();
    update(&mut s, a, Program::new().push_int(2).wasm_memory_grow().drop().reply()).unwrap();
    assert_eq!(s.restore(&snapshot).unwrap().canisters_rebuilt, 1, "grown memory: rebuilt");
    for round in 0..3u8 {
        update(&mut s, a, Program::new().push_bytes(&[round; 10]).set_global().reply()).unwrap();
        let stats = s.restore(&snapshot).unwrap();
        assert_eq!(stats.canisters_rebuilt, 0, "round {round}: patched, not rebuilt");
        assert!(stats.pages_copied > 0, "round {round}: the written pages were copied back");
        assert_eq!(s.state_hash(a).unwrap(), before, "round {round}");
        assert_eq!(global(&mut s, a), b"base");
    }
}
