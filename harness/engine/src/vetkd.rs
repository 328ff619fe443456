//! vetKD test keys: `vetkd_public_key` and `vetkd_derive_key` as the IC computes them, with master secret keys
//! held in the clear.
//!
//! The derivation is the replica's (`rs/crypto/internal/crypto_lib/bls12_381/vetkd`), which `ic-vetkeys` mirrors
//! for offline public-key derivation: the canister key is the master key plus `g2·H(mpk, canister id)`, a
//! non-empty context adds `g2·H(canister key, context)`; the vetKey is the augmented BLS signature of `input`
//! under the derived key, encrypted to the caller's transport key as `(g1·r, g2·r, tpk·r + vetKey)`. So a dapp
//! that takes its derived public key from `vetkd_public_key` decrypts and verifies what `vetkd_derive_key`
//! returns, and keys differ by canister, context, input and key name, as on the IC.
//!
//! What differs: the master keys are the engine's own (derived from a fixed seed by key name), not PocketIC's or
//! mainnet's, so `ic_vetkeys::MasterPublicKey::for_pocketic_key`/`for_mainnet_key` (offline derivation from a
//! hard-coded key) give other keys than the engine's `vetkd_public_key`; and `r` is derived from the request
//! instead of drawn at random (no canister can tell).

use ic_bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve, HashToField};
use ic_bls12_381::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};

use crate::types::CanisterId;

/// Bytes of a compressed G1 point (a transport public key, a vetKey).
pub(crate) const G1_BYTES: usize = 48;

fn hash_to_scalar(input: &[u8], domain: &str) -> Scalar {
    let mut out = [Scalar::zero()];
    <Scalar as HashToField>::hash_to_field::<ExpandMsgXmd<sha2::Sha256>>(input, domain.as_bytes(), &mut out);
    out[0]
}

/// `H(a, b)` with both inputs length-prefixed (8 bytes, big-endian), as the replica hashes derivation inputs.
fn hash_two(a: &[u8], b: &[u8], domain: &str) -> Scalar {
    let mut input = Vec::with_capacity(16 + a.len() + b.len());
    for part in [a, b] {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part);
    }
    hash_to_scalar(&input, domain)
}

/// The master secret key `name`: the engine's, from a fixed seed (see the module comment).
fn master_secret(name: &str) -> Scalar {
    hash_two(b"icfuzz engine vetKD test key", name.as_bytes(), "icfuzz-vetkd-master-secret-key")
}

/// The derived secret key's offset from the master key, and the derived public key.
fn derive(name: &str, canister: CanisterId, context: &[u8]) -> (Scalar, G2Affine) {
    let g2 = G2Affine::generator();
    let master = G2Affine::from(g2 * master_secret(name));
    let d1 = hash_two(&master.to_compressed(), canister.as_slice(), "ic-vetkd-bls12-381-g2-canister-id");
    let canister_key = G2Affine::from(G2Projective::from(master) + g2 * d1);
    if context.is_empty() {
        return (d1, canister_key);
    }
    let d2 = hash_two(&canister_key.to_compressed(), context, "ic-vetkd-bls12-381-g2-context");
    (d1 + d2, G2Affine::from(G2Projective::from(canister_key) + g2 * d2))
}

/// `vetkd_public_key`: the 96-byte compressed G2 key of `canister` under `context`.
pub(crate) fn public_key(name: &str, canister: CanisterId, context: &[u8]) -> Vec<u8> {
    derive(name, canister, context).1.to_compressed().to_vec()
}

/// A transport public key as the replica accepts it: a canonical compressed G1 point in the subgroup (the
/// identity included: `ic-vetkeys` uses it to obtain an unencrypted key).
pub(crate) fn transport_key(bytes: &[u8]) -> Option<G1Affine> {
    let bytes: &[u8; G1_BYTES] = bytes.try_into().ok()?;
    G1Affine::from_compressed(bytes).into_option()
}

/// `vetkd_derive_key`: `c1 ‖ c2 ‖ c3` (48 + 96 + 48 bytes), the vetKey of `input` for `canister` under `context`,
/// encrypted to `transport`.
pub(crate) fn derive_key(name: &str, canister: CanisterId, context: &[u8], input: &[u8], transport: &G1Affine) -> Vec<u8> {
    let (offset, public) = derive(name, canister, context);
    let secret = master_secret(name) + offset;
    let mut augmented = public.to_compressed().to_vec();
    augmented.extend_from_slice(input);
    let message = <G1Projective as HashToCurve<ExpandMsgXmd<sha2::Sha256>>>::hash_to_curve(
        augmented,
        b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_AUG_",
    );
    // Deterministic randomness from everything the encryption depends on (the IC draws it at random).
    let mut seed = public.to_compressed().to_vec();
    seed.extend_from_slice(&transport.to_compressed());
    let r = hash_two(&seed, input, "icfuzz-vetkd-encryption-randomness");
    let c1 = G1Affine::from(G1Affine::generator() * r);
    let c2 = G2Affine::from(G2Affine::generator() * r);
    let c3 = G1Affine::from(transport * r + message * secret);
    let mut out = Vec::with_capacity(2 * G1_BYTES + 96);
    out.extend_from_slice(&c1.to_compressed());
    out.extend_from_slice(&c2.to_compressed());
    out.extend_from_slice(&c3.to_compressed());
    out
}
