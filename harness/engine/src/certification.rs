//! State certificates: what `ic0.data_certificate_*` return in query calls, and the root key they verify with.
//!
//! A certificate is CBOR (self-describing tag 55799) `{tree, signature}` as the IC encodes it: a hash tree with
//! `/canister/<id>/certified_data` (the canister's certified data) and `/time` (LEB128 nanoseconds), its root
//! hash signed, BLS12-381 min-sig, over `"\x0Dic-state-root" ‖ root hash` by the engine's root key, which
//! `ic0.root_key_*` returns DER-encoded. So what a canister or its clients check of a certificate holds:
//! the tree's paths, its digest, the signature against the root key (tested with `ic-certificate-verification`).
//!
//! What differs from mainnet: the key is the engine's own (a fixed test key, not the NNS root key); the
//! certificate is signed by it directly, with no delegation from the root to an application subnet's key; the
//! tree holds only those two paths, where the IC's prunes the rest of its state tree (the digest differs, which
//! no one can check without the IC's state); and it certifies the current state at the current time (the IC's
//! may be a round old).

use std::sync::OnceLock;

use ic_bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve, HashToField};
use ic_bls12_381::{G1Affine, G1Projective, G2Affine, Scalar};
use ic_certification::{fork, label, leaf, Certificate, HashTree};

use crate::types::CanisterId;

/// The DER prefix of a BLS12-381 G2 public key, as the IC encodes its root key (37 bytes, then 96).
const DER_PREFIX: [u8; 37] = [
    0x30, 0x81, 0x82, 0x30, 0x1d, 0x06, 0x0d, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05, 0x03, 0x01, 0x02,
    0x01, 0x06, 0x0c, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05, 0x03, 0x02, 0x01, 0x03, 0x61, 0x00,
];

/// The domain separator the IC signs state roots under.
const STATE_ROOT_DOMAIN: &[u8] = b"\x0Dic-state-root";

/// The BLS signature suite's hash-to-curve domain (min-sig, no message augmentation).
const SIGNATURE_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// The self-describing CBOR tag the IC puts before a certificate.
const SELF_DESCRIBING_TAG: u64 = 55799;

fn root_secret() -> Scalar {
    let mut out = [Scalar::zero()];
    <Scalar as HashToField>::hash_to_field::<ExpandMsgXmd<sha2::Sha256>>(
        b"icfuzz engine root key",
        b"icfuzz-root-secret-key",
        &mut out,
    );
    out[0]
}

/// The root public key, DER-encoded (133 bytes), as `ic0.root_key_copy` and agents' `root_key` give it.
pub fn root_key_der() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let public = G2Affine::from(G2Affine::generator() * root_secret());
        let mut der = DER_PREFIX.to_vec();
        der.extend_from_slice(&public.to_compressed());
        der
    })
}

/// Unsigned LEB128, the encoding of `/time` in the tree (seven bits at a time, a few lines: not worth a crate).
fn leb128(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The data certificate a query call of `canister` sees at `time_nanos` with `certified_data` committed.
pub(crate) fn data_certificate(time_nanos: u64, canister: CanisterId, certified_data: &[u8]) -> Vec<u8> {
    let tree: HashTree = fork(
        label("canister", label(canister.as_slice(), label("certified_data", leaf(certified_data.to_vec())))),
        label("time", leaf(leb128(time_nanos))),
    );
    let mut message = STATE_ROOT_DOMAIN.to_vec();
    message.extend_from_slice(&tree.digest());
    let point = <G1Projective as HashToCurve<ExpandMsgXmd<sha2::Sha256>>>::hash_to_curve(message, SIGNATURE_DST);
    let signature = G1Affine::from(point * root_secret()).to_compressed().to_vec();
    let certificate = Certificate { tree, signature, delegation: None };
    let mut out = Vec::new();
    ciborium::into_writer(&ciborium::tag::Required::<_, SELF_DESCRIBING_TAG>(certificate), &mut out)
        .expect("a certificate always encodes");
    out
}

/// A query call's certificate, made on first use: signing costs a hash to the curve and a scalar multiplication,
/// and most queries never ask for it.
#[derive(Clone, Debug)]
pub(crate) struct LazyCertificate {
    time_nanos: u64,
    certified_data: Vec<u8>,
    bytes: Option<Vec<u8>>,
}

impl LazyCertificate {
    /// The certificate of this state, not made yet.
    pub(crate) fn new(time_nanos: u64, certified_data: Vec<u8>) -> LazyCertificate {
        LazyCertificate { time_nanos, certified_data, bytes: None }
    }

    /// The certificate's bytes for `canister`.
    pub(crate) fn bytes(&mut self, canister: CanisterId) -> &[u8] {
        let (time, data) = (self.time_nanos, &self.certified_data);
        self.bytes.get_or_insert_with(|| data_certificate(time, canister, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_matches_the_format() {
        assert_eq!(leb128(0), [0]);
        assert_eq!(leb128(127), [127]);
        assert_eq!(leb128(128), [0x80, 1]);
        assert_eq!(leb128(624_485), [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn the_root_key_is_der_encoded_g2() {
        let key = root_key_der();
        assert_eq!(key.len(), 133);
        assert_eq!(&key[..37], DER_PREFIX);
        let point: [u8; 96] = key[37..].try_into().unwrap();
        assert!(bool::from(G2Affine::from_compressed(&point).is_some()));
    }
}
