//! The management canister's threshold-key methods: `ecdsa_public_key`, `sign_with_ecdsa`, `schnorr_public_key`
//! and `sign_with_schnorr` over the test keys of `threshold.rs`, `vetkd_public_key` and `vetkd_derive_key` over
//! those of `vetkd.rs`.
//!
//! They follow the replica (`rs/execution_environment/src/execution_environment.rs`, `system_api/routing.rs`):
//! - only canisters may call them (`management.rs` refuses ingress);
//! - the argument is decoded and the key looked up when the call is routed, so a malformed argument or an
//!   unknown key comes back as a routing reject (`DESTINATION_INVALID`);
//! - signing (and deriving a vetKey) takes its fee from the attached cycles and refunds the rest; public keys are
//!   free;
//! - any reject refunds all attached cycles.

use candid::{CandidType, Decode, Encode};
use ic_management_canister_types as mgmt;
use serde::Deserialize;

use super::Subnet;
use crate::threshold::{self, Scheme};
use crate::vetkd;
use crate::types::{Cycles, ErrorCode, Principal, RejectCode, RejectResponse};

/// The replica bounds derivation paths to 255 elements (a `BoundedVec` in its argument types); the canister's id
/// is prepended for derivation, and the crypto layer refuses more than 255 in all.
const MAX_DERIVATION_PATH: usize = 255;

/// A reject produced while routing the call, before any subnet executes it: the replica's
/// "Unable to route management canister request …", with reject code 3.
fn routing_reject(method: &str, cause: String, error_code: ErrorCode) -> RejectResponse {
    RejectResponse {
        reject_code: RejectCode::DestinationInvalid,
        reject_message: format!("Unable to route management canister request {method}: {cause}"),
        error_code,
    }
}

fn decode<T: CandidType + for<'de> Deserialize<'de>>(method: &str, arg: &[u8]) -> Result<T, RejectResponse> {
    Decode!(arg, T).map_err(|e| {
        let cause = format!(
            "UserError(UserError {{ code: InvalidManagementPayload, description: {:?} }})",
            format!("Error decoding candid: {e}")
        );
        routing_reject(method, cause, ErrorCode::InvalidManagementPayload)
    })
}

fn encode<T: CandidType>(value: &T) -> Vec<u8> {
    Encode!(value).expect("management replies always encode")
}

fn rejected(message: impl Into<String>) -> RejectResponse {
    RejectResponse::new(ErrorCode::CanisterRejectedMessage, message)
}

/// Cycles as the replica prints them: `1_999_999`.
pub(super) fn cycles_text(amount: Cycles) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(ch);
    }
    out
}

/// The path must be within the replica's bound (checked when the argument is decoded, hence a routing reject).
fn check_path(method: &str, path: &[Vec<u8>]) -> Result<(), RejectResponse> {
    if path.len() > MAX_DERIVATION_PATH {
        let cause = format!(
            "UserError(UserError {{ code: InvalidManagementPayload, description: \"Error decoding candid: Deserialize error: The number of elements exceeds maximum allowed {MAX_DERIVATION_PATH}\" }})"
        );
        return Err(routing_reject(method, cause, ErrorCode::InvalidManagementPayload));
    }
    if path.len() + 1 > MAX_DERIVATION_PATH {
        return Err(rejected(format!(
            "{method} request failed: Derivation path len {} larger than allowed maximum of {MAX_DERIVATION_PATH}",
            path.len() + 1
        )));
    }
    Ok(())
}

/// The key must exist on the subnet (routing finds the subnet that holds it).
fn check_key(method: &str, scheme: Scheme, name: &str, signing: bool) -> Result<(), RejectResponse> {
    if threshold::has_key(name) {
        Ok(())
    } else {
        Err(unknown_key(method, scheme.key_id(name), signing))
    }
}

/// Routing found no subnet with the key: signing needs it enabled, a public key only held (two messages).
fn unknown_key(method: &str, key_id: String, signing: bool) -> RejectResponse {
    let keys = Scheme::all_key_ids();
    let cause = if signing {
        format!("Requested unknown or disabled threshold key: {key_id}, existing enabled keys: [{keys}]")
    } else {
        format!("Requested unknown threshold key: {key_id}, existing keys: [{keys}]")
    };
    routing_reject(method, format!("ChainKeyError({cause:?})"), ErrorCode::CanisterRejectedMessage)
}

impl Subnet {
    /// A threshold-signature method called by the canister `caller` with `cycles` attached (what is left when it
    /// returns is refunded).
    pub(super) fn threshold_call(&mut self, caller: Principal, method: &str, arg: &[u8], cycles: &mut Cycles) -> Result<Vec<u8>, RejectResponse> {
        match method {
            "ecdsa_public_key" => {
                let args: mgmt::EcdsaPublicKeyArgs = decode(method, arg)?;
                let scheme = ecdsa_scheme(method, &args.key_id, false)?;
                check_path(method, &args.derivation_path)?;
                let canister = args.canister_id.unwrap_or(caller);
                let key = threshold::public_key(scheme, &args.key_id.name, canister, &args.derivation_path);
                Ok(encode(&mgmt::EcdsaPublicKeyResult { public_key: key.public_key, chain_code: key.chain_code }))
            }
            "sign_with_ecdsa" => {
                let args: mgmt::SignWithEcdsaArgs = decode(method, arg)?;
                if args.message_hash.len() != 32 {
                    // The replica's argument type holds a `[u8; 32]`: any other length fails to decode.
                    let cause = format!(
                        "UserError(UserError {{ code: InvalidManagementPayload, description: \"Error decoding candid: invalid length {}, expected an array of length 32\" }})",
                        args.message_hash.len()
                    );
                    return Err(routing_reject(method, cause, ErrorCode::InvalidManagementPayload));
                }
                let scheme = ecdsa_scheme(method, &args.key_id, true)?;
                check_path(method, &args.derivation_path)?;
                self.charge_signature(method, scheme, &args.key_id.name, cycles)?;
                let signature = threshold::sign_ecdsa(&args.key_id.name, caller, &args.derivation_path, &args.message_hash);
                Ok(encode(&mgmt::SignWithEcdsaResult { signature }))
            }
            "schnorr_public_key" => {
                let args: mgmt::SchnorrPublicKeyArgs = decode(method, arg)?;
                let scheme = schnorr_scheme(&args.key_id);
                check_key(method, scheme, &args.key_id.name, false)?;
                check_path(method, &args.derivation_path)?;
                let canister = args.canister_id.unwrap_or(caller);
                let key = threshold::public_key(scheme, &args.key_id.name, canister, &args.derivation_path);
                Ok(encode(&mgmt::SchnorrPublicKeyResult { public_key: key.public_key, chain_code: key.chain_code }))
            }
            "sign_with_schnorr" => {
                let args: mgmt::SignWithSchnorrArgs = decode(method, arg)?;
                let scheme = schnorr_scheme(&args.key_id);
                check_key(method, scheme, &args.key_id.name, true)?;
                check_path(method, &args.derivation_path)?;
                // The auxiliary input is checked before the fee is taken, as in the replica.
                let taproot = match (scheme, &args.aux) {
                    (_, None) => None,
                    (Scheme::Bip340, Some(mgmt::SchnorrAux::Bip341(bip341))) => {
                        if !bip341.merkle_root_hash.is_empty() && bip341.merkle_root_hash.len() != 32 {
                            return Err(rejected("Invalid aux field for Bip340Secp256k1"));
                        }
                        Some(bip341.merkle_root_hash.as_slice())
                    }
                    _ => return Err(rejected("Schnorr algorithm Ed25519 does not support aux input")),
                };
                self.charge_signature(method, scheme, &args.key_id.name, cycles)?;
                let name = &args.key_id.name;
                let signature = match scheme {
                    Scheme::Ed25519 => threshold::sign_ed25519(name, caller, &args.derivation_path, &args.message),
                    _ => threshold::sign_bip340(name, caller, &args.derivation_path, &args.message, taproot)
                        .map_err(|e| rejected(format!("{method} request failed: invalid taproot tree hash ({e})")))?,
                };
                Ok(encode(&mgmt::SignWithSchnorrResult { signature }))
            }
            "vetkd_public_key" => {
                let args: mgmt::VetKDPublicKeyArgs = decode(method, arg)?;
                check_key(method, Scheme::VetKd, &args.key_id.name, false)?;
                let canister = args.canister_id.unwrap_or(caller);
                let public_key = vetkd::public_key(&args.key_id.name, canister, &args.context);
                Ok(encode(&mgmt::VetKDPublicKeyResult { public_key }))
            }
            "vetkd_derive_key" => {
                let args: mgmt::VetKDDeriveKeyArgs = decode(method, arg)?;
                check_key(method, Scheme::VetKd, &args.key_id.name, true)?;
                // The transport key is checked before the fee is taken, as in the replica.
                let transport = vetkd::transport_key(&args.transport_public_key)
                    .ok_or_else(|| rejected("The provided transport public key is invalid."))?;
                self.charge_signature(method, Scheme::VetKd, &args.key_id.name, cycles)?;
                let encrypted_key = vetkd::derive_key(&args.key_id.name, caller, &args.context, &args.input, &transport);
                Ok(encode(&mgmt::VetKDDeriveKeyResult { encrypted_key }))
            }
            _ => unreachable!("management_method dispatches only these names"),
        }
    }

    /// Takes the signing fee out of the attached cycles, or rejects with the replica's message (everything is
    /// then refunded).
    fn charge_signature(&self, method: &str, scheme: Scheme, name: &str, cycles: &mut Cycles) -> Result<(), RejectResponse> {
        let fee = threshold::fee(&self.config.fees, scheme, name);
        if *cycles < fee {
            return Err(rejected(format!(
                "{method} request sent with {} cycles, but {} cycles are required.",
                cycles_text(*cycles),
                cycles_text(fee)
            )));
        }
        *cycles -= fee;
        Ok(())
    }
}

/// The scheme of an ECDSA key id; the IC holds no secp256r1 keys, so such a key is unknown.
fn ecdsa_scheme(method: &str, key: &mgmt::EcdsaKeyId, signing: bool) -> Result<Scheme, RejectResponse> {
    match key.curve {
        mgmt::EcdsaCurve::Secp256k1 => {
            check_key(method, Scheme::EcdsaSecp256k1, &key.name, signing)?;
            Ok(Scheme::EcdsaSecp256k1)
        }
        mgmt::EcdsaCurve::Secp256r1 => Err(unknown_key(method, format!("ecdsa:Secp256r1:{}", key.name), signing)),
    }
}

fn schnorr_scheme(key: &mgmt::SchnorrKeyId) -> Scheme {
    match key.algorithm {
        mgmt::SchnorrAlgorithm::Bip340secp256k1 => Scheme::Bip340,
        mgmt::SchnorrAlgorithm::Ed25519 => Scheme::Ed25519,
    }
}

#[cfg(test)]
mod tests {
    use super::cycles_text;

    #[test]
    fn cycles_print_with_underscores_as_in_the_replica() {
        assert_eq!(cycles_text(0), "0");
        assert_eq!(cycles_text(999), "999");
        assert_eq!(cycles_text(1_999_999), "1_999_999");
        assert_eq!(cycles_text(26_153_846_153), "26_153_846_153");
    }
}
