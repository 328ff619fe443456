//! Encrypted notes: users store notes the canister cannot read, encrypted under a key only they can obtain. The
//! key comes from vetKD: `encrypted_note_key` asks the subnet to derive the caller's key (context `notes`, input
//! the caller's principal) encrypted under the transport key the caller's browser generated;
//! `verification_key` is the public key clients check derived keys against.

use std::cell::RefCell;
use std::collections::BTreeMap;

use candid::Principal;
use ic_cdk::management_canister::{
    vetkd_derive_key, vetkd_public_key, VetKDCurve, VetKDDeriveKeyArgs, VetKDKeyId, VetKDPublicKeyArgs,
};

const CONTEXT: &[u8] = b"notes";
/// Most bytes of one encrypted note.
const MAX_NOTE: usize = 4_096;

thread_local! {
    static NOTES: RefCell<BTreeMap<Principal, Vec<Vec<u8>>>> = const { RefCell::new(BTreeMap::new()) };
}

fn key_id() -> VetKDKeyId {
    VetKDKeyId { curve: VetKDCurve::Bls12_381_G2, name: "test_key_1".to_owned() }
}

/// The caller's note key, encrypted under `transport_public_key` (48 bytes, a G1 point).
#[ic_cdk::update]
async fn encrypted_note_key(transport_public_key: Vec<u8>) -> Result<Vec<u8>, String> {
    let arg = VetKDDeriveKeyArgs {
        input: ic_cdk::api::msg_caller().as_slice().to_vec(),
        context: CONTEXT.to_vec(),
        transport_public_key,
        key_id: key_id(),
    };
    let key = vetkd_derive_key(&arg).await.map_err(|e| format!("vetkd_derive_key failed: {e}"))?;
    Ok(key.encrypted_key)
}

/// The public key derived keys verify against.
#[ic_cdk::update]
async fn verification_key() -> Result<Vec<u8>, String> {
    let arg = VetKDPublicKeyArgs { canister_id: None, context: CONTEXT.to_vec(), key_id: key_id() };
    let key = vetkd_public_key(&arg).await.map_err(|e| format!("vetkd_public_key failed: {e}"))?;
    Ok(key.public_key)
}

/// Stores an encrypted note of the caller's.
#[ic_cdk::update]
fn add_note(ciphertext: Vec<u8>) -> Result<u64, String> {
    if ciphertext.len() > MAX_NOTE {
        return Err(format!("a note is at most {MAX_NOTE} bytes"));
    }
    Ok(NOTES.with_borrow_mut(|notes| {
        let mine = notes.entry(ic_cdk::api::msg_caller()).or_default();
        mine.push(ciphertext);
        mine.len() as u64
    }))
}

/// The caller's encrypted notes.
#[ic_cdk::query]
fn notes() -> Vec<Vec<u8>> {
    NOTES.with_borrow(|notes| notes.get(&ic_cdk::api::msg_caller()).cloned().unwrap_or_default())
}

ic_cdk::export_candid!();
