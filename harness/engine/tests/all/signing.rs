//! Threshold signatures: `canisters/wallet` (ic-cdk) gets keys and signatures that verify with the curve crates,
//! pays the IC's fees, and the universal canister meets the replica's rejects.

use candid::{CandidType, Decode, Encode, Nat, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::{CanisterId, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::*;

#[derive(CandidType, Deserialize, Clone, Copy)]
enum Scheme {
    #[serde(rename = "ecdsa")]
    Ecdsa,
    #[serde(rename = "bip340")]
    Bip340,
    #[serde(rename = "ed25519")]
    Ed25519,
}

const TEST_KEY_FEE: u128 = 10_000_000_000;

fn wallet_call(s: &mut Subnet, wallet: CanisterId, caller: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
    let reply = s.update_call(wallet, caller, method, arg).unwrap_or_else(|e| panic!("{method}: {e}"));
    Decode!(&reply, Result<Vec<u8>, String>).unwrap().unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn alice() -> Principal {
    Principal::self_authenticating(b"alice")
}

/// ECDSA: a 33-byte SEC1 key per caller, a low-s signature of the hash that k256 verifies, the fee paid.
#[test]
fn a_wallet_signs_with_threshold_ecdsa_and_k256_verifies_it() {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let mut s = subnet();
    let wallet = install(&mut s, "wallet", vec![]);
    let key = wallet_call(&mut s, wallet, alice(), "public_key", Encode!().unwrap());
    assert_eq!(key.len(), 33);
    assert_ne!(key, wallet_call(&mut s, wallet, user(), "public_key", Encode!().unwrap()), "each caller has a key");

    let hash: [u8; 32] = Sha256::digest(b"send 1 BTC to bob").into();
    let before = s.cycle_balance(wallet).unwrap();
    let signature = wallet_call(&mut s, wallet, alice(), "sign", Encode!(&hash.to_vec()).unwrap());
    let paid = before - s.cycle_balance(wallet).unwrap();
    assert!((TEST_KEY_FEE..TEST_KEY_FEE + 1_000_000_000).contains(&paid), "paid {paid}: the fee and a little execution");

    let verifying = k256::ecdsa::VerifyingKey::from_sec1_bytes(&key).unwrap();
    let signature = k256::ecdsa::Signature::from_slice(&signature).unwrap();
    verifying.verify_prehash(&hash, &signature).expect("the signature verifies with the caller's key");
    assert!(signature.normalize_s().is_none(), "s is already low, as the IC returns it");
    let other = k256::ecdsa::VerifyingKey::from_sec1_bytes(&wallet_call(&mut s, wallet, user(), "public_key", Encode!().unwrap())).unwrap();
    assert!(other.verify_prehash(&hash, &signature).is_err(), "and only with it");
}

/// BIP340 over a message of any length (verified raw, as BIP340 defines it), with and without a Taproot tweak.
#[test]
fn a_wallet_signs_with_bip340_and_taproot_and_k256_verifies_it() {
    let mut s = subnet();
    let wallet = install(&mut s, "wallet", vec![]);
    let key = wallet_call(&mut s, wallet, alice(), "schnorr_public_key", Encode!(&Scheme::Bip340).unwrap());
    assert_eq!(key.len(), 33, "SEC1 compressed, not x-only");
    let message = b"a Taproot spend of any length, not a hash".to_vec();
    let signature =
        wallet_call(&mut s, wallet, alice(), "sign_schnorr", Encode!(&Scheme::Bip340, &message, &None::<Vec<u8>>).unwrap());
    let verifying = k256::schnorr::VerifyingKey::from_bytes(&key[1..]).unwrap();
    let parsed = k256::schnorr::Signature::try_from(signature.as_slice()).unwrap();
    verifying.verify_raw(&message, &parsed).expect("BIP340 verifies under the internal key");

    // BIP341: the output key is P + t·G with t = TaggedHash("TapTweak", x(P) ‖ root).
    let root = [7u8; 32];
    let signature =
        wallet_call(&mut s, wallet, alice(), "sign_schnorr", Encode!(&Scheme::Bip340, &message, &Some(root.to_vec())).unwrap());
    let parsed = k256::schnorr::Signature::try_from(signature.as_slice()).unwrap();
    assert!(verifying.verify_raw(&message, &parsed).is_err(), "a tweaked signature is not the internal key's");
    tweaked(&key[1..], &root).verify_raw(&message, &parsed).expect("it verifies under the tweaked output key");
}

fn tweaked(x_only: &[u8], root: &[u8]) -> k256::schnorr::VerifyingKey {
    use k256::elliptic_curve::ops::Reduce;
    use k256::elliptic_curve::point::AffineCoordinates;
    let tag = Sha256::digest(b"TapTweak");
    let t: [u8; 32] = Sha256::new().chain_update(tag).chain_update(tag).chain_update(x_only).chain_update(root).finalize().into();
    let t = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&t.into());
    let internal = k256::schnorr::VerifyingKey::from_bytes(x_only).unwrap();
    let output = (k256::ProjectivePoint::from(*internal.as_affine()) + k256::ProjectivePoint::GENERATOR * t).to_affine();
    k256::schnorr::VerifyingKey::from_bytes(&output.x()).unwrap()
}

/// Ed25519: a raw 32-byte key and a signature ed25519-dalek verifies strictly.
#[test]
fn a_wallet_signs_with_ed25519_and_dalek_verifies_it() {
    let mut s = subnet();
    let wallet = install(&mut s, "wallet", vec![]);
    let key = wallet_call(&mut s, wallet, alice(), "schnorr_public_key", Encode!(&Scheme::Ed25519).unwrap());
    let message = b"a Solana transaction".to_vec();
    let signature =
        wallet_call(&mut s, wallet, alice(), "sign_schnorr", Encode!(&Scheme::Ed25519, &message, &None::<Vec<u8>>).unwrap());
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    verifying.verify_strict(&message, &signature).expect("Ed25519 verifies");
    // Taproot is for BIP340 only: the IC rejects it for Ed25519 and the wallet passes the reject on.
    let reply = s
        .update_call(wallet, alice(), "sign_schnorr", Encode!(&Scheme::Ed25519, &message, &Some(vec![0u8; 32])).unwrap())
        .unwrap();
    let refused = Decode!(&reply, Result<Vec<u8>, String>).unwrap().unwrap_err();
    assert!(refused.contains("Schnorr algorithm Ed25519 does not support aux input"), "{refused}");
    let count = Decode!(&s.query_call(wallet, alice(), "signatures", Encode!().unwrap()).unwrap(), u64).unwrap();
    assert_eq!(count, 1, "the refused request signed nothing");
}

/// `cost_sign_with_*` and `cost_vetkd_derive_key` quote the holder subnet's fee for known keys (so ic-cdk attaches
/// it), return 1 for an unknown curve or algorithm and 2 for an unknown key name, leaving the destination alone.
#[test]
fn signing_fees_are_quoted_for_known_keys_only() {
    let mut s = subnet();
    let wallet = install(&mut s, "wallet", vec![]);
    let fee = Decode!(&s.query_call(wallet, alice(), "fee", Encode!(&Scheme::Ecdsa).unwrap()).unwrap(), Result<Nat, String>);
    assert_eq!(fee.unwrap().unwrap(), Nat::from(TEST_KEY_FEE));

    let a = install_uc(&mut s);
    let quote = |s: &mut Subnet, kind: u64, name: &str, curve: u64| {
        let program = Program::new()
            .push_int(kind)
            .push_bytes(name.as_bytes())
            .push_int(curve)
            .cost_sign()
            .reply_data_append()
            .reply_data_append()
            .reply();
        let reply = query(s, a, program).unwrap();
        let code = int(&reply[..8]);
        let written = <[u8; 16]>::try_from(&reply[8..]).unwrap();
        (code, (written != [0xff; 16]).then(|| u128::from_le_bytes(written)))
    };
    assert_eq!(quote(&mut s, 0, "key_1", 0), (0, Some(26_153_846_153)), "key_1 is held by a 34-node subnet");
    assert_eq!(quote(&mut s, 0, "dfx_test_key", 0), (0, Some(TEST_KEY_FEE)));
    assert_eq!(quote(&mut s, 0, "key_1", 1), (1, None), "the IC has no secp256r1 keys");
    assert_eq!(quote(&mut s, 0, "my_key", 0), (2, None));
    assert_eq!(quote(&mut s, 1, "test_key_1", 1), (0, Some(TEST_KEY_FEE)), "Ed25519");
    assert_eq!(quote(&mut s, 1, "test_key_1", 2), (1, None));
    assert_eq!(quote(&mut s, 2, "test_key_1", 0), (0, Some(TEST_KEY_FEE)), "vetKD");
}

fn ecdsa_key(name: &str) -> mgmt::EcdsaKeyId {
    mgmt::EcdsaKeyId { curve: mgmt::EcdsaCurve::Secp256k1, name: name.to_owned() }
}

fn sign_args(name: &str, hash: Vec<u8>, path: Vec<Vec<u8>>) -> Vec<u8> {
    Encode!(&mgmt::SignWithEcdsaArgs { message_hash: hash, derivation_path: path, key_id: ecdsa_key(name) }).unwrap()
}

/// What routing refuses comes back with reject code 3 and the replica's message; what execution refuses with 4.
/// Every reject refunds the attached cycles; a successful signature keeps only the fee.
#[test]
fn signing_requests_are_refused_and_charged_as_on_the_ic() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let fee = TEST_KEY_FEE as u64;
    let hash = vec![1u8; 32];
    let relayed = |s: &mut Subnet, method: &str, arg: Vec<u8>, cycles: u64| update(s, a, mgmt_call(method, arg, cycles)).unwrap();

    let (code, message) = relayed_reject(&relayed(&mut s, "sign_with_ecdsa", sign_args("my_key", hash.clone(), vec![]), fee));
    assert_eq!(code, RejectCode::DestinationInvalid as u64, "{message}");
    assert!(message.starts_with("Unable to route management canister request sign_with_ecdsa: ChainKeyError"), "{message}");
    assert!(message.contains("Requested unknown or disabled threshold key: ecdsa:Secp256k1:my_key"), "{message}");
    let public = Encode!(&mgmt::EcdsaPublicKeyArgs { canister_id: None, derivation_path: vec![], key_id: ecdsa_key("my_key") }).unwrap();
    let (code, message) = relayed_reject(&relayed(&mut s, "ecdsa_public_key", public, 0));
    assert_eq!(code, RejectCode::DestinationInvalid as u64);
    assert!(message.contains("Requested unknown threshold key: ecdsa:Secp256k1:my_key, existing keys: [ecdsa:Secp256k1:dfx_test_key"), "{message}");

    // The IC holds no secp256r1 keys.
    let r1 = Encode!(&mgmt::SignWithEcdsaArgs {
        message_hash: hash.clone(),
        derivation_path: vec![],
        key_id: mgmt::EcdsaKeyId { curve: mgmt::EcdsaCurve::Secp256r1, name: "key_1".into() },
    })
    .unwrap();
    let (code, message) = relayed_reject(&relayed(&mut s, "sign_with_ecdsa", r1, fee));
    assert_eq!(code, RejectCode::DestinationInvalid as u64);
    assert!(message.contains("Requested unknown or disabled threshold key: ecdsa:Secp256r1:key_1"), "{message}");

    let (code, message) = relayed_reject(&relayed(&mut s, "sign_with_ecdsa", sign_args("test_key_1", vec![1; 31], vec![]), fee));
    assert_eq!(code, RejectCode::DestinationInvalid as u64, "a 31-byte hash does not decode: {message}");
    let (code, message) =
        relayed_reject(&relayed(&mut s, "sign_with_ecdsa", sign_args("test_key_1", hash.clone(), vec![vec![]; 256]), fee));
    assert_eq!(code, RejectCode::DestinationInvalid as u64, "{message}");
    assert!(message.contains("exceeds maximum allowed 255"), "{message}");

    let before = s.cycle_balance(a).unwrap();
    let (code, message) = relayed_reject(&relayed(&mut s, "sign_with_ecdsa", sign_args("test_key_1", hash.clone(), vec![]), fee - 1));
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert_eq!(message, "sign_with_ecdsa request sent with 9_999_999_999 cycles, but 10_000_000_000 cycles are required.");
    assert!(before - s.cycle_balance(a).unwrap() < 1_000_000_000, "the attached cycles came back");

    let before = s.cycle_balance(a).unwrap();
    let reply = relayed(&mut s, "sign_with_ecdsa", sign_args("test_key_1", hash.clone(), vec![]), fee + 5_000_000_000);
    assert_eq!(Decode!(&reply, mgmt::SignWithEcdsaResult).unwrap().signature.len(), 64);
    let paid = before - s.cycle_balance(a).unwrap();
    assert!((TEST_KEY_FEE..TEST_KEY_FEE + 1_000_000_000).contains(&paid), "the excess is refunded: paid {paid}");

    let bad_root = Encode!(&mgmt::SignWithSchnorrArgs {
        message: b"m".to_vec(),
        derivation_path: vec![],
        key_id: mgmt::SchnorrKeyId { algorithm: mgmt::SchnorrAlgorithm::Bip340secp256k1, name: "test_key_1".into() },
        aux: Some(mgmt::SchnorrAux::Bip341(mgmt::Bip341 { merkle_root_hash: vec![0; 31] })),
    })
    .unwrap();
    let (code, message) = relayed_reject(&relayed(&mut s, "sign_with_schnorr", bad_root, fee));
    assert_eq!((code, message.as_str()), (RejectCode::CanisterReject as u64, "Invalid aux field for Bip340Secp256k1"));

    // Only canisters may ask; a user's ingress is refused.
    let refused = s.update_call(Principal::management_canister(), user(), "sign_with_ecdsa", sign_args("test_key_1", hash, vec![]));
    assert_reject(&refused, RejectCode::CanisterReject, "Only canisters can call ic00 method sign_with_ecdsa");
}

/// Public keys are free and anyone's: `canister_id` names whose key to derive.
#[test]
fn public_keys_of_other_canisters_are_derived_from_their_ids() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let b = install_uc(&mut s);
    let ask = |s: &mut Subnet, caller: CanisterId, of: Option<CanisterId>| {
        let arg = Encode!(&mgmt::EcdsaPublicKeyArgs {
            canister_id: of,
            derivation_path: vec![b"path".to_vec()],
            key_id: ecdsa_key("key_1"),
        })
        .unwrap();
        let before = s.cycle_balance(caller).unwrap();
        let reply = update(s, caller, mgmt_call("ecdsa_public_key", arg, 1_000_000)).unwrap();
        assert!(before - s.cycle_balance(caller).unwrap() < 100_000_000, "nothing charged, attached cycles refunded");
        Decode!(&reply, mgmt::EcdsaPublicKeyResult).unwrap()
    };
    let own = ask(&mut s, b, None);
    let asked_by_a = ask(&mut s, a, Some(b));
    assert_eq!(own, asked_by_a);
    assert_eq!(own.chain_code.len(), 32);
    assert_ne!(ask(&mut s, a, None).public_key, own.public_key);
}
