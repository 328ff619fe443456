//! Canister snapshots: loading one puts back the module, heap, stable memory and certified data, bumps the
//! version and leaves cycles and settings alone; ids, limits, ownership and who may call follow the replica.

use candid::{Decode, Encode, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::{ErrorCode, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::*;

/// A universal canister controlled by [`user`], who calls the management canister by ingress.
fn owned_uc(s: &mut Subnet) -> Principal {
    let id = s.create_canister_with_controllers(vec![user()], 100_000_000_000_000);
    s.install_canister(id, &uc_wasm(), vec![], Some(user())).unwrap();
    id
}

fn mgmt_ingress(s: &mut Subnet, method: &str, arg: Vec<u8>) -> icfuzz_engine::CallResult {
    s.update_call(Principal::management_canister(), user(), method, arg)
}

fn take(s: &mut Subnet, canister: Principal, replace: Option<Vec<u8>>) -> icfuzz_engine::CallResult {
    let arg = mgmt::TakeCanisterSnapshotArgs { canister_id: canister, replace_snapshot: replace, uninstall_code: None, sender_canister_version: None };
    mgmt_ingress(s, "take_canister_snapshot", Encode!(&arg).unwrap())
}

fn load(s: &mut Subnet, canister: Principal, snapshot_id: Vec<u8>) -> icfuzz_engine::CallResult {
    let arg = mgmt::LoadCanisterSnapshotArgs { canister_id: canister, snapshot_id, sender_canister_version: None };
    mgmt_ingress(s, "load_canister_snapshot", Encode!(&arg).unwrap())
}

fn list(s: &mut Subnet, canister: Principal) -> Vec<mgmt::Snapshot> {
    let reply = mgmt_ingress(s, "list_canister_snapshots", Encode!(&mgmt::CanisterIdRecord { canister_id: canister }).unwrap()).unwrap();
    Decode!(&reply, Vec<mgmt::Snapshot>).unwrap()
}

fn set_state(s: &mut Subnet, canister: Principal, value: &[u8]) {
    let program = Program::new()
        .push_bytes(value)
        .set_global()
        .push_int(1)
        .stable_grow()
        .drop()
        .stable_write_at(0, value)
        .push_bytes(&value[..value.len().min(32)])
        .certified_data_set()
        .reply_bytes(b"ok");
    update(s, canister, program).unwrap();
}

fn stable_prefix(s: &mut Subnet, canister: Principal, len: u64) -> Vec<u8> {
    query(s, canister, Program::new().stable_read_at(0, len).reply_data_append().reply()).unwrap()
}

#[test]
fn loading_a_snapshot_restores_heap_stable_memory_and_module_but_not_cycles() {
    let mut s = subnet();
    let c = owned_uc(&mut s);
    set_state(&mut s, c, b"before");
    let snapshot = Decode!(&take(&mut s, c, None).unwrap(), mgmt::Snapshot).unwrap();
    assert_eq!(&snapshot.id[..8], &0u64.to_be_bytes(), "local id 0, big-endian");
    assert_eq!(&snapshot.id[8..], c.as_slice(), "then the canister's id");
    assert_eq!(snapshot.taken_at_timestamp, s.time_nanos());
    assert!(snapshot.total_size >= 64 << 10, "heap and stable memory count: {}", snapshot.total_size);
    assert_eq!(list(&mut s, c), vec![snapshot.clone()]);

    set_state(&mut s, c, b"after!");
    let version = s.canister_version(c).unwrap();
    // Uninstalling keeps snapshots; loading puts the code back too.
    let uninstall = Encode!(&mgmt::UninstallCodeArgs { canister_id: c, sender_canister_version: None }).unwrap();
    mgmt_ingress(&mut s, "uninstall_code", uninstall).unwrap();
    assert_eq!(s.module_hash(c).unwrap(), None);
    let cycles = s.cycle_balance(c).unwrap();
    load(&mut s, c, snapshot.id.clone()).unwrap();
    assert_eq!(global(&mut s, c), b"before");
    assert_eq!(stable_prefix(&mut s, c, 6), b"before");
    assert_eq!(s.canister_version(c).unwrap(), version + 2, "uninstall and load each bump the version");
    let paid = cycles - s.cycle_balance(c).unwrap();
    let fees = s.config().fees;
    let expected = fees.execution(2_000_000_000, false) + fees.execution(snapshot.total_size, false);
    assert!(paid >= expected && paid < expected + expected / 100, "paid {paid}, expected about {expected}");
    assert!(s.cycle_balance(c).unwrap() > 0, "cycles are not restored from the snapshot");
    // Snapshots count toward memory.
    assert!(s.memory_bytes(c).unwrap() >= snapshot.total_size);
}

#[test]
fn snapshot_limits_replacement_deletion_and_ownership() {
    let mut s = subnet_without_fees();
    let c = owned_uc(&mut s);
    let other = owned_uc(&mut s);
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(Decode!(&take(&mut s, c, None).unwrap(), mgmt::Snapshot).unwrap().id);
    }
    let full = take(&mut s, c, None).unwrap_err();
    assert_eq!(full.error_code, ErrorCode::CanisterRejectedMessage);
    assert!(full.reject_message.contains("maximum number of snapshots allowed: 10"), "{full}");
    // Replacing keeps the count and gives a fresh id (local ids are never reused).
    let replaced = Decode!(&take(&mut s, c, Some(ids[3].clone())).unwrap(), mgmt::Snapshot).unwrap();
    assert_eq!(&replaced.id[..8], &10u64.to_be_bytes());
    assert_eq!(list(&mut s, c).len(), 10);
    let gone = load(&mut s, c, ids[3].clone()).unwrap_err();
    assert_eq!(gone.error_code, ErrorCode::CanisterSnapshotNotFound, "{gone}");

    let delete = |id: &[u8], canister| Encode!(&mgmt::DeleteCanisterSnapshotArgs { canister_id: canister, snapshot_id: id.to_vec() }).unwrap();
    mgmt_ingress(&mut s, "delete_canister_snapshot", delete(&ids[0], c)).unwrap();
    assert_eq!(list(&mut s, c).len(), 9);
    let again = mgmt_ingress(&mut s, "delete_canister_snapshot", delete(&ids[0], c)).unwrap_err();
    assert_eq!(again.error_code, ErrorCode::CanisterSnapshotNotFound);
    // Another canister's snapshot named on this one.
    let foreign = mgmt_ingress(&mut s, "delete_canister_snapshot", delete(&ids[1], other)).unwrap_err();
    assert_eq!(foreign.error_code, ErrorCode::CanisterRejectedMessage);
    assert!(foreign.reject_message.contains("does not belong to canister"), "{foreign}");
    let malformed = load(&mut s, c, vec![1, 2, 3]).unwrap_err();
    assert_eq!(malformed.error_code, ErrorCode::InvalidManagementPayload);

    // An empty canister has nothing to snapshot; a non-controller may not take one.
    let empty = s.create_canister_with_controllers(vec![user()], 1_000_000_000_000);
    assert_eq!(take(&mut s, empty, None).unwrap_err().error_code, ErrorCode::CanisterRejectedMessage);
    let arg = mgmt::TakeCanisterSnapshotArgs { canister_id: c, replace_snapshot: None, uninstall_code: None, sender_canister_version: None };
    let stranger = s.update_call(Principal::management_canister(), Principal::anonymous(), "take_canister_snapshot", Encode!(&arg).unwrap());
    assert_eq!(stranger.unwrap_err().error_code, ErrorCode::CanisterInvalidController);
}

#[test]
fn a_snapshot_taken_with_uninstall_code_empties_the_canister_and_a_controller_of_both_may_load_it_elsewhere() {
    let mut s = subnet_without_fees();
    let c = owned_uc(&mut s);
    let twin = owned_uc(&mut s);
    set_state(&mut s, c, b"original");
    let arg = mgmt::TakeCanisterSnapshotArgs { canister_id: c, replace_snapshot: None, uninstall_code: Some(true), sender_canister_version: None };
    let snapshot = Decode!(&mgmt_ingress(&mut s, "take_canister_snapshot", Encode!(&arg).unwrap()).unwrap(), mgmt::Snapshot).unwrap();
    assert_eq!(s.module_hash(c).unwrap(), None, "uninstall_code empties the canister after taking the snapshot");
    load(&mut s, twin, snapshot.id.clone()).unwrap();
    assert_eq!(global(&mut s, twin), b"original");
    assert_eq!(stable_prefix(&mut s, twin, 8), b"original");
}
