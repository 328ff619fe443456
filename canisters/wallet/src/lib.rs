//! A threshold-ECDSA wallet: each caller has its own key, derived from the subnet's `test_key_1` with the
//! caller's principal as the derivation path, as chain-key wallets and bridges do. `public_key` returns the
//! caller's SEC1 public key, `sign` signs a 32-byte message hash with it (paying the fee `cost_sign_with_ecdsa`
//! reports), and `signatures` counts the signatures made.

use std::cell::Cell;

use ic_cdk::management_canister::{
    ecdsa_public_key, sign_with_ecdsa, EcdsaCurve, EcdsaKeyId, EcdsaPublicKeyArgs, SignWithEcdsaArgs,
};

thread_local! {
    static SIGNATURES: Cell<u64> = const { Cell::new(0) };
}

fn key_id() -> EcdsaKeyId {
    EcdsaKeyId { curve: EcdsaCurve::Secp256k1, name: "test_key_1".to_owned() }
}

fn caller_path() -> Vec<Vec<u8>> {
    vec![ic_cdk::api::msg_caller().as_slice().to_vec()]
}

/// The caller's public key (SEC1, compressed).
#[ic_cdk::update]
async fn public_key() -> Result<Vec<u8>, String> {
    let arg = EcdsaPublicKeyArgs { canister_id: None, derivation_path: caller_path(), key_id: key_id() };
    let key = ecdsa_public_key(&arg).await.map_err(|e| format!("ecdsa_public_key failed: {e}"))?;
    Ok(key.public_key)
}

/// Signs `message_hash` (32 bytes) with the caller's key.
#[ic_cdk::update]
async fn sign(message_hash: Vec<u8>) -> Result<Vec<u8>, String> {
    if message_hash.len() != 32 {
        return Err(format!("the message hash must be 32 bytes, not {}", message_hash.len()));
    }
    let arg = SignWithEcdsaArgs { message_hash, derivation_path: caller_path(), key_id: key_id() };
    let signed = sign_with_ecdsa(&arg).await.map_err(|e| format!("sign_with_ecdsa failed: {e}"))?;
    SIGNATURES.set(SIGNATURES.get() + 1);
    Ok(signed.signature)
}

/// Signatures made so far.
#[ic_cdk::query]
fn signatures() -> u64 {
    SIGNATURES.get()
}

ic_cdk::export_candid!();
