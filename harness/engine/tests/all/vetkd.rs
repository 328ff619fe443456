//! vetKD: the keys the engine derives decrypt and verify with `ic-vetkeys`, the library dapps use; they differ
//! by input, context and canister; fees and rejects are the replica's.

use candid::{Decode, Encode, Principal};
use ic_management_canister_types as mgmt;
use ic_vetkeys::{DerivedPublicKey, EncryptedVetKey, TransportSecretKey};
use icfuzz_engine::{RejectCode, Subnet};

use crate::*;

const FEE: u64 = 10_000_000_000;

fn key_id(name: &str) -> mgmt::VetKDKeyId {
    mgmt::VetKDKeyId { curve: mgmt::VetKDCurve::Bls12_381_G2, name: name.to_owned() }
}

fn public_key(s: &mut Subnet, caller: Principal, context: &[u8]) -> Vec<u8> {
    let arg = Encode!(&mgmt::VetKDPublicKeyArgs { canister_id: None, context: context.to_vec(), key_id: key_id("test_key_1") }).unwrap();
    Decode!(&update(s, caller, mgmt_call("vetkd_public_key", arg, 0)).unwrap(), mgmt::VetKDPublicKeyResult).unwrap().public_key
}

fn derive_arg(input: &[u8], context: &[u8], transport: Vec<u8>, name: &str) -> Vec<u8> {
    Encode!(&mgmt::VetKDDeriveKeyArgs { input: input.to_vec(), context: context.to_vec(), transport_public_key: transport, key_id: key_id(name) }).unwrap()
}

fn derive(s: &mut Subnet, caller: Principal, input: &[u8], context: &[u8], transport: &TransportSecretKey) -> Vec<u8> {
    let reply = update(s, caller, mgmt_call("vetkd_derive_key", derive_arg(input, context, transport.public_key(), "test_key_1"), FEE)).unwrap();
    Decode!(&reply, mgmt::VetKDDeriveKeyResult).unwrap_or_else(|e| panic!("{e}: {:?}", relayed_reject(&reply))).encrypted_key
}

#[test]
fn derived_vetkeys_decrypt_and_verify_with_ic_vetkeys() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let b = install_uc(&mut s);
    let context = b"encrypted notes";
    let public = public_key(&mut s, a, context);
    assert_eq!(public.len(), 96);
    // The context step is the one ic-vetkeys derives offline from the canister key (empty context).
    let canister_key = DerivedPublicKey::deserialize(&public_key(&mut s, a, b"")).unwrap();
    assert_eq!(canister_key.derive_sub_key(context).serialize(), public);
    let dpk = DerivedPublicKey::deserialize(&public).unwrap();

    let transport = TransportSecretKey::from_seed(vec![7; 32]).unwrap();
    let before = s.cycle_balance(a).unwrap();
    let encrypted = derive(&mut s, a, b"alice", context, &transport);
    let paid = before - s.cycle_balance(a).unwrap();
    assert!(paid >= u128::from(FEE) && paid < u128::from(FEE) + 1_000_000_000, "paid {paid}");
    assert_eq!(encrypted.len(), 192);
    let vetkey = EncryptedVetKey::deserialize(&encrypted).unwrap().decrypt_and_verify(&transport, &dpk, b"alice").unwrap();
    // Same request, another transport key: the same vetKey. Another input, context or canister: another one.
    let other_transport = TransportSecretKey::from_seed(vec![8; 32]).unwrap();
    let again = derive(&mut s, a, b"alice", context, &other_transport);
    let same = EncryptedVetKey::deserialize(&again).unwrap().decrypt_and_verify(&other_transport, &dpk, b"alice").unwrap();
    assert_eq!(same.signature_bytes(), vetkey.signature_bytes());
    let bob = EncryptedVetKey::deserialize(&derive(&mut s, a, b"bob", context, &transport)).unwrap();
    assert_ne!(bob.decrypt_and_verify(&transport, &dpk, b"bob").unwrap().signature_bytes(), vetkey.signature_bytes());
    assert!(bob.decrypt_and_verify(&transport, &dpk, b"alice").is_err(), "a key verifies for its own input only");
    let b_public = DerivedPublicKey::deserialize(&public_key(&mut s, b, context)).unwrap();
    assert_ne!(b_public, dpk, "each canister has its own keys");
    let from_b = EncryptedVetKey::deserialize(&derive(&mut s, b, b"alice", context, &transport)).unwrap();
    assert!(from_b.decrypt_and_verify(&transport, &b_public, b"alice").is_ok());
    assert!(from_b.decrypt_and_verify(&transport, &dpk, b"alice").is_err());
}

#[test]
fn vetkd_rejects_follow_the_replica() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let transport = TransportSecretKey::from_seed(vec![7; 32]).unwrap().public_key();
    let reject = |s: &mut Subnet, arg: Vec<u8>, cycles: u64| relayed_reject(&update(s, a, mgmt_call("vetkd_derive_key", arg, cycles)).unwrap());

    let (code, message) = reject(&mut s, derive_arg(b"x", b"", transport.clone(), "test_key_1"), FEE - 1);
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert!(message.contains("vetkd_derive_key request sent with 9_999_999_999 cycles, but 10_000_000_000 cycles are required."), "{message}");
    let (code, message) = reject(&mut s, derive_arg(b"x", b"", vec![1; 48], "test_key_1"), FEE);
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert!(message.contains("The provided transport public key is invalid."), "{message}");
    let (code, message) = reject(&mut s, derive_arg(b"x", b"", transport.clone(), "no_such_key"), FEE);
    assert_eq!(code, RejectCode::DestinationInvalid as u64);
    assert!(message.contains("Requested unknown or disabled threshold key: vetkd:Bls12_381_G2:no_such_key"), "{message}");
    // key_1 lives on a 34-node subnet: its fee is scaled.
    let (_, message) = reject(&mut s, derive_arg(b"x", b"", transport, "key_1"), FEE);
    assert!(message.contains("but 26_153_846_153 cycles are required"), "{message}");
    let by_user = s.update_call(Principal::management_canister(), user(), "vetkd_public_key", vec![]);
    assert_reject(&by_user, RejectCode::CanisterReject, "Only canisters can call ic00 method vetkd_public_key");
}
