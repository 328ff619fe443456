//! A chain-key wallet: each caller has its own keys, derived from the subnet's `test_key_1` with the caller's
//! principal as the derivation path, as chain-key wallets and bridges do.
//!
//! - `public_key` / `sign`: threshold ECDSA (secp256k1) over a 32-byte message hash, as for Bitcoin or Ethereum;
//! - `schnorr_public_key` / `sign_schnorr`: threshold Schnorr, BIP340 (Bitcoin Taproot, optionally with a BIP341
//!   Merkle root) or Ed25519 (Solana), over a message of any length;
//! - `fee` quotes what a signature costs (`cost_sign_with_*`); signing pays it from the wallet's balance;
//! - `signatures` counts the signatures made.

use std::cell::Cell;

use candid::{CandidType, Nat};
use serde::Deserialize;
use ic_cdk::management_canister::{
    cost_sign_with_ecdsa, cost_sign_with_schnorr, ecdsa_public_key, schnorr_public_key as mgmt_schnorr_public_key,
    sign_with_ecdsa, sign_with_schnorr, Bip341, EcdsaCurve, EcdsaKeyId, EcdsaPublicKeyArgs, SchnorrAlgorithm,
    SchnorrAux, SchnorrKeyId, SchnorrPublicKeyArgs, SignWithEcdsaArgs, SignWithSchnorrArgs,
};

thread_local! {
    static SIGNATURES: Cell<u64> = const { Cell::new(0) };
}

const KEY_NAME: &str = "test_key_1";

/// The signature scheme of a request.
#[derive(CandidType, Deserialize, Clone, Copy)]
enum Scheme {
    #[serde(rename = "ecdsa")]
    Ecdsa,
    #[serde(rename = "bip340")]
    Bip340,
    #[serde(rename = "ed25519")]
    Ed25519,
}

fn ecdsa_key() -> EcdsaKeyId {
    EcdsaKeyId { curve: EcdsaCurve::Secp256k1, name: KEY_NAME.to_owned() }
}

fn schnorr_key(scheme: Scheme) -> Result<SchnorrKeyId, String> {
    let algorithm = match scheme {
        Scheme::Bip340 => SchnorrAlgorithm::Bip340secp256k1,
        Scheme::Ed25519 => SchnorrAlgorithm::Ed25519,
        Scheme::Ecdsa => return Err("ECDSA is not a Schnorr scheme".to_owned()),
    };
    Ok(SchnorrKeyId { algorithm, name: KEY_NAME.to_owned() })
}

fn caller_path() -> Vec<Vec<u8>> {
    vec![ic_cdk::api::msg_caller().as_slice().to_vec()]
}

/// The caller's ECDSA public key (SEC1, compressed).
#[ic_cdk::update]
async fn public_key() -> Result<Vec<u8>, String> {
    let arg = EcdsaPublicKeyArgs { canister_id: None, derivation_path: caller_path(), key_id: ecdsa_key() };
    let key = ecdsa_public_key(&arg).await.map_err(|e| format!("ecdsa_public_key failed: {e}"))?;
    Ok(key.public_key)
}

/// Signs `message_hash` (32 bytes) with the caller's ECDSA key.
#[ic_cdk::update]
async fn sign(message_hash: Vec<u8>) -> Result<Vec<u8>, String> {
    if message_hash.len() != 32 {
        return Err(format!("the message hash must be 32 bytes, not {}", message_hash.len()));
    }
    let arg = SignWithEcdsaArgs { message_hash, derivation_path: caller_path(), key_id: ecdsa_key() };
    let signed = sign_with_ecdsa(&arg).await.map_err(|e| format!("sign_with_ecdsa failed: {e}"))?;
    SIGNATURES.set(SIGNATURES.get() + 1);
    Ok(signed.signature)
}

/// The caller's Schnorr public key: SEC1 compressed for BIP340 (33 bytes), raw for Ed25519 (32 bytes).
#[ic_cdk::update]
async fn schnorr_public_key(scheme: Scheme) -> Result<Vec<u8>, String> {
    let arg = SchnorrPublicKeyArgs { canister_id: None, derivation_path: caller_path(), key_id: schnorr_key(scheme)? };
    let key = mgmt_schnorr_public_key(&arg).await.map_err(|e| format!("schnorr_public_key failed: {e}"))?;
    Ok(key.public_key)
}

/// Signs `message` with the caller's Schnorr key; for BIP340, `taproot_root` (empty or 32 bytes) tweaks the key
/// as a Taproot output does.
#[ic_cdk::update]
async fn sign_schnorr(scheme: Scheme, message: Vec<u8>, taproot_root: Option<Vec<u8>>) -> Result<Vec<u8>, String> {
    let aux = taproot_root.map(|merkle_root_hash| SchnorrAux::Bip341(Bip341 { merkle_root_hash }));
    let arg = SignWithSchnorrArgs { message, derivation_path: caller_path(), key_id: schnorr_key(scheme)?, aux };
    let signed = sign_with_schnorr(&arg).await.map_err(|e| format!("sign_with_schnorr failed: {e}"))?;
    SIGNATURES.set(SIGNATURES.get() + 1);
    Ok(signed.signature)
}

/// What one signature of `scheme` costs, in cycles.
#[ic_cdk::query]
fn fee(scheme: Scheme) -> Result<Nat, String> {
    let cost = match scheme {
        Scheme::Ecdsa => cost_sign_with_ecdsa(&SignWithEcdsaArgs { key_id: ecdsa_key(), ..Default::default() }),
        _ => cost_sign_with_schnorr(&SignWithSchnorrArgs {
            message: vec![],
            derivation_path: vec![],
            key_id: schnorr_key(scheme)?,
            aux: None,
        }),
    };
    cost.map(Nat::from).map_err(|e| format!("{e}"))
}

/// Signatures made so far.
#[ic_cdk::query]
fn signatures() -> u64 {
    SIGNATURES.get()
}

ic_cdk::export_candid!();
