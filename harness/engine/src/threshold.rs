//! Threshold keys of the engine's subnet: deterministic test keys that sign as the IC's chain keys do.
//!
//! The IC holds each master key secret-shared among a subnet's nodes; the engine holds it in the clear, because
//! it only has to produce what a canister can observe: public keys derived from the master key with the IC's
//! derivation (the caller's canister id, then the derivation path), and signatures that verify with them. Key
//! derivation and signing are the IC's own crates (`ic-secp256k1`, `ic-ed25519`).
//!
//! The key names and master keys are PocketIC's (`key_1`, `test_key_1`, `dfx_test_key`, derived from its published
//! seed), so a canister sees the same public keys (and addresses) here as when a finding is confirmed on PocketIC. Signatures are deterministic (RFC 6979 nonces for ECDSA, fixed auxiliary randomness
//! for BIP340, and Ed25519 is deterministic anyway): the IC's are random, which no canister can tell apart.

use crate::fees::Fees;
use crate::types::{CanisterId, Cycles};

/// The key names the engine's subnet holds, for every scheme (PocketIC's).
pub(crate) const KEY_NAMES: [&str; 3] = ["dfx_test_key", "test_key_1", "key_1"];

/// A signature scheme with threshold keys on the IC, as `ic0.cost_*` and the management methods name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `ecdsa` with curve `secp256k1`.
    EcdsaSecp256k1,
    /// `schnorr` with algorithm `bip340secp256k1`.
    Bip340,
    /// `schnorr` with algorithm `ed25519`.
    Ed25519,
    /// `vetkd` with curve `bls12_381_g2` (its keys are `vetkd.rs`'s).
    VetKd,
}

impl Scheme {
    /// The replica's name of a key of this scheme, e.g. `ecdsa:Secp256k1:key_1` (its `MasterPublicKeyId`).
    pub(crate) fn key_id(self, name: &str) -> String {
        match self {
            Scheme::EcdsaSecp256k1 => format!("ecdsa:Secp256k1:{name}"),
            Scheme::Bip340 => format!("schnorr:Bip340Secp256k1:{name}"),
            Scheme::Ed25519 => format!("schnorr:Ed25519:{name}"),
            Scheme::VetKd => format!("vetkd:Bls12_381_G2:{name}"),
        }
    }

    /// Every key the subnet holds, in the replica's naming and order (sorted), for reject messages.
    pub(crate) fn all_key_ids() -> String {
        let mut ids = Vec::new();
        for scheme in [Scheme::EcdsaSecp256k1, Scheme::Bip340, Scheme::Ed25519, Scheme::VetKd] {
            for name in KEY_NAMES {
                ids.push(scheme.key_id(name));
            }
        }
        ids.sort();
        ids.join(", ")
    }
}

/// Whether the subnet holds the key `name` of `scheme`.
pub(crate) fn has_key(name: &str) -> bool {
    KEY_NAMES.contains(&name)
}

/// The fee of one signature (or vetKey derivation) with the key `name`: the IC charges the fee of the subnet that
/// holds the key, scaled by its size. On mainnet `key_1` lives on the 34-node fiduciary subnet and the test keys
/// on 13-node subnets, which gives the published fees (26,153,846,153 and 10,000,000,000 cycles).
pub(crate) fn fee(fees: &Fees, scheme: Scheme, name: &str) -> Cycles {
    let base = match scheme {
        Scheme::EcdsaSecp256k1 => fees.ecdsa_signature,
        Scheme::Bip340 | Scheme::Ed25519 => fees.schnorr_signature,
        Scheme::VetKd => fees.vetkd,
    };
    let nodes: Cycles = if name == "key_1" { 34 } else { 13 };
    base * nodes / 13
}

/// A derived public key and its chain code, as `ecdsa_public_key` and `schnorr_public_key` return them.
pub(crate) struct DerivedPublicKey {
    /// SEC1 compressed (33 bytes) for secp256k1 schemes, raw 32 bytes for Ed25519.
    pub(crate) public_key: Vec<u8>,
    /// The chain code of the derived key (32 bytes).
    pub(crate) chain_code: Vec<u8>,
}

/// PocketIC's master keys are derived from one published seed by the key's name (its `state_machine_tests`);
/// the same key serves ECDSA and BIP340, as there.
const POCKETIC_SEED: [u8; 32] = [42; 32];

fn secp256k1_master(name: &str) -> ic_secp256k1::PrivateKey {
    let path = ic_secp256k1::DerivationPath::new(vec![ic_secp256k1::DerivationIndex(name.as_bytes().to_vec())]);
    ic_secp256k1::PrivateKey::generate_from_seed(&POCKETIC_SEED).derive_subkey(&path).0
}

fn ed25519_master(name: &str) -> ic_ed25519::DerivedPrivateKey {
    let path = ic_ed25519::DerivationPath::new(vec![ic_ed25519::DerivationIndex(name.as_bytes().to_vec())]);
    ic_ed25519::PrivateKey::generate_from_seed(&POCKETIC_SEED).derive_subkey(&path).0
}

fn secp256k1_path(canister: CanisterId, path: &[Vec<u8>]) -> ic_secp256k1::DerivationPath {
    ic_secp256k1::DerivationPath::from_canister_id_and_path(canister.as_slice(), path)
}

fn ed25519_path(canister: CanisterId, path: &[Vec<u8>]) -> ic_ed25519::DerivationPath {
    ic_ed25519::DerivationPath::from_canister_id_and_path(canister.as_slice(), path)
}

/// The public key of `canister` at `path` under the master key `name` of `scheme` (a signing scheme).
pub(crate) fn public_key(scheme: Scheme, name: &str, canister: CanisterId, path: &[Vec<u8>]) -> DerivedPublicKey {
    match scheme {
        Scheme::EcdsaSecp256k1 | Scheme::Bip340 => {
            let (key, chain_code) = secp256k1_master(name).derive_subkey(&secp256k1_path(canister, path));
            DerivedPublicKey { public_key: key.public_key().serialize_sec1(true), chain_code: chain_code.to_vec() }
        }
        Scheme::Ed25519 => {
            let (key, chain_code) = ed25519_master(name).derive_subkey(&ed25519_path(canister, path));
            DerivedPublicKey { public_key: key.public_key().serialize_raw().to_vec(), chain_code: chain_code.to_vec() }
        }
        Scheme::VetKd => unreachable!("vetKD keys are vetkd.rs's"),
    }
}

/// An ECDSA signature (`r ‖ s`, low `s`) of the 32-byte `message_hash` by `canister`'s key at `path`.
pub(crate) fn sign_ecdsa(name: &str, canister: CanisterId, path: &[Vec<u8>], message_hash: &[u8]) -> Vec<u8> {
    let (key, _) = secp256k1_master(name).derive_subkey(&secp256k1_path(canister, path));
    key.sign_digest_with_ecdsa(message_hash).to_vec()
}

/// A BIP340 signature of `message`; with `taproot` (a BIP341 Merkle root, empty or 32 bytes) the key is tweaked
/// first, as `sign_with_schnorr`'s `bip341` auxiliary input asks. `Err` when the tweak is not a valid scalar.
pub(crate) fn sign_bip340(
    name: &str,
    canister: CanisterId,
    path: &[Vec<u8>],
    message: &[u8],
    taproot: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let (key, _) = secp256k1_master(name).derive_subkey(&secp256k1_path(canister, path));
    match taproot {
        None => Ok(key.sign_message_with_bip340_no_rng(message).to_vec()),
        Some(root) => key
            .sign_message_with_bip341_no_rng(message, root)
            .map(|s| s.to_vec())
            .map_err(|e| format!("{e:?}")),
    }
}

/// An Ed25519 signature of `message` by `canister`'s key at `path`.
pub(crate) fn sign_ed25519(name: &str, canister: CanisterId, path: &[Vec<u8>], message: &[u8]) -> Vec<u8> {
    let (key, _) = ed25519_master(name).derive_subkey(&ed25519_path(canister, path));
    key.sign_message(message).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The master keys are PocketIC's: their public halves are the ones the IC's crates publish for PocketIC.
    #[test]
    fn master_keys_are_pocketics() {
        use ic_ed25519::PocketIcMasterPublicKeyId as Ed;
        use ic_secp256k1::PocketIcMasterPublicKeyId as Secp;
        for (name, secp, ed) in
            [("key_1", Secp::EcdsaKey1, Ed::Key1), ("test_key_1", Secp::EcdsaTestKey1, Ed::TestKey1), ("dfx_test_key", Secp::EcdsaDfxTestKey, Ed::DfxTestKey)]
        {
            assert_eq!(secp256k1_master(name).public_key(), ic_secp256k1::PublicKey::pocketic_key(secp), "{name}");
            assert_eq!(ed25519_master(name).public_key(), ic_ed25519::PublicKey::pocketic_key(ed), "{name}");
        }
    }

    /// A canister's derived key is what the crates' offline derivation (PocketIC's) gives.
    #[test]
    fn derived_keys_follow_the_ic_derivation() {
        let canister = crate::types::canister_id_from_index(7);
        let path = vec![b"alice".to_vec(), vec![0, 0, 0, 1]];
        let (expected, chain) =
            ic_secp256k1::PublicKey::derive_pocketic_key(ic_secp256k1::PocketIcMasterPublicKeyId::EcdsaTestKey1, &canister, &path);
        let derived = public_key(Scheme::EcdsaSecp256k1, "test_key_1", canister, &path);
        assert_eq!(derived.public_key, expected.serialize_sec1(true));
        assert_eq!(derived.chain_code, chain.to_vec());
        let (expected, chain) =
            ic_ed25519::PublicKey::derive_pocketic_key(ic_ed25519::PocketIcMasterPublicKeyId::Key1, &canister, &path);
        let derived = public_key(Scheme::Ed25519, "key_1", canister, &path);
        assert_eq!(derived.public_key, expected.serialize_raw().to_vec());
        assert_eq!(derived.chain_code, chain.to_vec());
    }

    #[test]
    fn fees_follow_the_holding_subnet() {
        let fees = Fees::APPLICATION_SUBNET;
        assert_eq!(fee(&fees, Scheme::EcdsaSecp256k1, "test_key_1"), 10_000_000_000);
        assert_eq!(fee(&fees, Scheme::Ed25519, "key_1"), 26_153_846_153);
        assert_eq!(fee(&Fees::ZERO, Scheme::Bip340, "key_1"), 0);
    }
}
