//! The Wasm chunk store and `install_chunked_code`: a module uploaded in chunks installs only when every chunk is
//! there and their concatenation hashes to the given hash; who may use a store; what it costs and counts.

use candid::{Decode, Encode, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::RejectCode;
use icfuzz_test_canisters::uc::Program;
use sha2::{Digest, Sha256};

use crate::*;

/// A universal canister and an empty canister it controls (with the anonymous principal).
fn factory_and_child(s: &mut icfuzz_engine::Subnet) -> (Principal, Principal) {
    let factory = install_uc(s);
    let child = s.create_canister_with_controllers(vec![factory, Principal::anonymous()], 10_000_000_000_000);
    (factory, child)
}

/// Has `by` upload `chunk` into `store`'s chunk store; the relayed reply or reject.
fn upload(s: &mut icfuzz_engine::Subnet, by: Principal, store: Principal, chunk: &[u8]) -> Vec<u8> {
    let arg = Encode!(&mgmt::UploadChunkArgs { canister_id: store, chunk: chunk.to_vec() }).unwrap();
    update(s, by, mgmt_call("upload_chunk", arg, 0)).unwrap()
}

fn stored(s: &mut icfuzz_engine::Subnet, by: Principal, store: Principal) -> Vec<Vec<u8>> {
    let arg = Encode!(&mgmt::CanisterIdRecord { canister_id: store }).unwrap();
    let reply = update(s, by, mgmt_call("stored_chunks", arg, 0)).unwrap();
    Decode!(&reply, mgmt::StoredChunksResult).unwrap().into_iter().map(|h| h.hash).collect()
}

fn install_chunked(target: Principal, store: Option<Principal>, hashes: &[Vec<u8>], wasm_hash: &[u8]) -> Vec<u8> {
    Encode!(&mgmt::InstallChunkedCodeArgs {
        mode: mgmt::CanisterInstallMode::Install,
        target_canister: target,
        store_canister: store,
        chunk_hashes_list: hashes.iter().map(|h| mgmt::ChunkHash { hash: h.clone() }).collect(),
        wasm_module_hash: wasm_hash.to_vec(),
        arg: vec![],
        sender_canister_version: None,
    })
    .unwrap()
}

#[test]
fn a_module_uploaded_in_chunks_installs_when_complete_and_hashing_right() {
    let mut s = subnet();
    let (factory, child) = factory_and_child(&mut s);
    let wasm = uc_wasm();
    let third = wasm.len() / 3 + 1;
    let chunks: Vec<&[u8]> = wasm.chunks(third).collect();
    assert_eq!(chunks.len(), 3);
    let wasm_hash = Sha256::digest(&wasm).to_vec();
    let hashes: Vec<Vec<u8>> = chunks.iter().map(|c| Sha256::digest(c).to_vec()).collect();

    // Each upload replies with the chunk's SHA-256.
    for (chunk, hash) in chunks[..2].iter().zip(&hashes) {
        let reply = upload(&mut s, factory, child, chunk);
        assert_eq!(Decode!(&reply, mgmt::ChunkHash).unwrap().hash, *hash);
    }
    // A chunk missing: the install is refused and the child stays empty.
    let missing = update(&mut s, factory, mgmt_call("install_chunked_code", install_chunked(child, None, &hashes, &wasm_hash), 0)).unwrap();
    let (code, message) = relayed_reject(&missing);
    assert_eq!(code, RejectCode::CanisterError as u64, "{message}");
    assert!(message.contains("Error from Wasm chunk store") && message.contains("was not found"), "{message}");
    assert_eq!(s.module_hash(child).unwrap(), None);

    upload(&mut s, factory, child, chunks[2]);
    let mut sorted = hashes.clone();
    sorted.sort();
    assert_eq!(stored(&mut s, factory, child), sorted, "stored_chunks lists hashes in hash order");

    // Chunks in the wrong order do not hash to the module's hash.
    let shuffled = vec![hashes[1].clone(), hashes[0].clone(), hashes[2].clone()];
    let wrong = update(&mut s, factory, mgmt_call("install_chunked_code", install_chunked(child, None, &shuffled, &wasm_hash), 0)).unwrap();
    let (code, message) = relayed_reject(&wrong);
    assert_eq!(code, RejectCode::CanisterError as u64, "{message}");
    assert!(message.contains("does not match given hash"), "{message}");
    let short_hash = update(&mut s, factory, mgmt_call("install_chunked_code", install_chunked(child, None, &hashes, &[1, 2, 3]), 0)).unwrap();
    assert!(relayed_reject(&short_hash).1.contains("Invalid wasm hash"));

    update(&mut s, factory, mgmt_call("install_chunked_code", install_chunked(child, None, &hashes, &wasm_hash), 0)).unwrap();
    assert_eq!(s.module_hash(child).unwrap().map(|h| h.to_vec()), Some(wasm_hash.clone()));
    assert_eq!(update(&mut s, child, Program::new().reply_bytes(b"assembled")).unwrap(), b"assembled");
    // Installing does not consume the store; uninstalling empties it.
    assert_eq!(stored(&mut s, factory, child).len(), 3);
    let uninstall = Encode!(&mgmt::UninstallCodeArgs { canister_id: child, sender_canister_version: None }).unwrap();
    update(&mut s, factory, mgmt_call("uninstall_code", uninstall, 0)).unwrap();
    assert!(stored(&mut s, factory, child).is_empty());
}

#[test]
fn a_factory_installs_children_from_its_own_store_and_store_access_is_checked() {
    let mut s = subnet();
    let factory = install_uc(&mut s);
    // The factory controls itself, so it may use its own store; the child is controlled by the factory only.
    let settings = mgmt::UpdateSettingsArgs {
        canister_id: factory,
        settings: mgmt::CanisterSettings { controllers: Some(vec![factory, Principal::anonymous()]), ..Default::default() },
        sender_canister_version: None,
    };
    s.update_call(Principal::management_canister(), Principal::anonymous(), "update_settings", Encode!(&settings).unwrap()).unwrap();
    let child = s.create_canister_with_controllers(vec![factory], 10_000_000_000_000);
    let wasm = uc_wasm();
    let hash = Sha256::digest(&wasm).to_vec();
    let chunks: Vec<&[u8]> = wasm.chunks(wasm.len() / 2 + 1).collect();
    let hashes: Vec<Vec<u8>> = chunks.iter().map(|c| Sha256::digest(c).to_vec()).collect();
    for chunk in &chunks {
        upload(&mut s, factory, factory, chunk);
    }
    update(&mut s, factory, mgmt_call("install_chunked_code", install_chunked(child, Some(factory), &hashes, &hash), 0)).unwrap();
    assert_eq!(update(&mut s, child, Program::new().reply_bytes(b"child")).unwrap(), b"child");

    // Another canister controls neither the store nor the target: refused (IC0512) at the store.
    let stranger = install_uc(&mut s);
    let other_child = s.create_canister_with_controllers(vec![stranger], 10_000_000_000_000);
    let refused = update(&mut s, stranger, mgmt_call("install_chunked_code", install_chunked(other_child, Some(factory), &hashes, &hash), 0)).unwrap();
    let (code, message) = relayed_reject(&refused);
    assert_eq!(code, RejectCode::CanisterError as u64, "{message}");
    assert!(message.contains("Only the controllers of the canister"), "{message}");
    // Nor may it read or fill the factory's store.
    let arg = Encode!(&mgmt::CanisterIdRecord { canister_id: factory }).unwrap();
    let listing = update(&mut s, stranger, mgmt_call("stored_chunks", arg, 0)).unwrap();
    assert_eq!(relayed_reject(&listing).0, RejectCode::CanisterError as u64);
    // A store that does not exist is not on this subnet.
    let nowhere = Principal::from_slice(&[9; 10]);
    let lost = update(&mut s, factory, mgmt_call("install_chunked_code", install_chunked(child, Some(nowhere), &hashes, &hash), 0)).unwrap();
    let (code, message) = relayed_reject(&lost);
    assert_eq!(code, RejectCode::DestinationInvalid as u64, "{message}");
    assert!(message.contains("Store canister"), "{message}");
}

#[test]
fn uploads_are_charged_even_when_duplicate_and_chunks_count_as_a_full_mebibyte() {
    let mut s = subnet();
    let (factory, child) = factory_and_child(&mut s);
    let fee = s.config().fees.execution(200_000_000, false);
    let before = s.cycle_balance(child).unwrap();
    upload(&mut s, factory, child, b"tiny");
    upload(&mut s, factory, child, b"tiny");
    let charged = before - s.cycle_balance(child).unwrap();
    // Idle fees for the time passed aside, both uploads paid the full fee.
    assert!(charged >= 2 * fee && charged < 2 * fee + fee / 100, "charged {charged}, fee {fee}");
    assert_eq!(s.memory_bytes(child).unwrap(), 1 << 20, "one chunk of 4 bytes counts 1 MiB");
    let arg = Encode!(&mgmt::CanisterIdRecord { canister_id: child }).unwrap();
    let status = Decode!(&update(&mut s, factory, mgmt_call("canister_status", arg.clone(), 0)).unwrap(), mgmt::CanisterStatusResult).unwrap();
    assert_eq!(status.memory_metrics.wasm_chunk_store_size, candid::Nat::from(1u32 << 20));
    update(&mut s, factory, mgmt_call("clear_chunk_store", arg, 0)).unwrap();
    assert_eq!(s.memory_bytes(child).unwrap(), 0);
}

#[test]
fn chunks_are_at_most_a_mebibyte_and_a_store_holds_a_hundred() {
    let mut s = subnet_without_fees();
    let (factory, child) = factory_and_child(&mut s);
    upload(&mut s, factory, child, &vec![7; 1 << 20]);
    let big = upload(&mut s, factory, child, &vec![7; (1 << 20) + 1]);
    let (code, message) = relayed_reject(&big);
    assert_eq!(code, RejectCode::CanisterError as u64, "{message}");
    assert!(message.contains("exceeds the maximum chunk size of 1048576"), "{message}");
    for i in 1..100u32 {
        upload(&mut s, factory, child, &i.to_le_bytes());
    }
    let full = upload(&mut s, factory, child, b"one too many");
    assert!(relayed_reject(&full).1.contains("maximum capacity"), "{:?}", relayed_reject(&full));
    // A chunk already stored is still accepted when the store is full: nothing is added.
    let again = upload(&mut s, factory, child, &5u32.to_le_bytes());
    assert_eq!(Decode!(&again, mgmt::ChunkHash).unwrap().hash, Sha256::digest(5u32.to_le_bytes()).to_vec());
    assert_eq!(stored(&mut s, factory, child).len(), 100);
}

/// `canisters/factory` stages a child module in chunks in its own store, then each `spawn` creates a child,
/// installs it with `install_chunked_code` and deposits cycles into it, as on the IC.
#[test]
fn the_factory_canister_spawns_funded_children_from_its_chunk_store() {
    let mut s = subnet();
    let factory = install(&mut s, "factory", Encode!().unwrap());
    let owner = Principal::anonymous();
    let call = |s: &mut icfuzz_engine::Subnet, method: &str, arg: Vec<u8>| s.update_call(factory, owner, method, arg).unwrap();
    let wasm = uc_wasm();
    for chunk in wasm.chunks(wasm.len() / 3 + 1) {
        let hash = Decode!(&call(&mut s, "add_chunk", Encode!(&chunk.to_vec()).unwrap()), Result<Vec<u8>, String>).unwrap().unwrap();
        assert_eq!(hash, Sha256::digest(chunk).to_vec());
    }
    let set = call(&mut s, "set_module", Encode!(&Sha256::digest(&wasm).to_vec()).unwrap());
    Decode!(&set, Result<(), String>).unwrap().unwrap();
    let deposit = 3_000_000_000_000u128;
    let spawned = Decode!(&call(&mut s, "spawn", Encode!(&deposit).unwrap()), Result<Principal, String>).unwrap().unwrap();
    assert_eq!(update(&mut s, spawned, Program::new().reply_bytes(b"I am a child")).unwrap(), b"I am a child");
    // Created with 1 T (its install prepaid from it), then the deposit.
    let balance = s.cycle_balance(spawned).unwrap();
    assert!(balance > deposit && balance < deposit + 1_000_000_000_000, "{balance}");

    // Not anyone's factory: a stranger cannot spawn.
    let refused = s.update_call(factory, user(), "spawn", Encode!(&deposit).unwrap()).unwrap();
    assert!(Decode!(&refused, Result<Principal, String>).unwrap().unwrap_err().contains("only a controller"));
    // A second child from the same store.
    let second = Decode!(&call(&mut s, "spawn", Encode!(&deposit).unwrap()), Result<Principal, String>).unwrap().unwrap();
    assert_ne!(second, spawned);
    assert_eq!(update(&mut s, second, Program::new().reply_bytes(b"me too")).unwrap(), b"me too");
}
