//! Data certificates: a query call gets a certificate of the canister's certified data and the time, signed by the
//! subnet's root key, which `ic-certificate-verification` (what agents and canisters use) accepts; replicated
//! executions get none, as on the IC.

use candid::{CandidType, Decode, Encode};
use ic_cbor::CertificateToCbor;
use ic_certificate_verification::VerifyCertificate;
use ic_certification::{Certificate, LookupResult};
use icfuzz_test_canisters::uc::Program;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::*;

#[derive(CandidType, Deserialize)]
struct Certified {
    value: u64,
    certificate: Vec<u8>,
}

#[derive(CandidType, Deserialize, Debug)]
struct Check {
    current: bool,
    time_nanos: u64,
}

fn get(s: &mut icfuzz_engine::Subnet, canister: icfuzz_engine::CanisterId) -> Certified {
    let reply = s.query_call(canister, user(), "get", Encode!().unwrap()).unwrap();
    Decode!(&reply, Result<Certified, String>).unwrap().unwrap()
}

#[test]
fn a_query_call_gets_a_certificate_that_verifies_with_the_root_key() {
    let mut s = subnet();
    let c = install(&mut s, "certified", Encode!().unwrap());
    s.update_call(c, user(), "inc", Encode!().unwrap()).unwrap();
    let certified = get(&mut s, c);
    assert_eq!(certified.value, 1);
    let certificate = Certificate::from_cbor(&certified.certificate).expect("CBOR as the IC encodes it");
    let now = u128::from(s.time_nanos());
    certificate.verify(c.as_slice(), s.root_key(), &now, &300_000_000_000).expect("signed by the root key");
    let path: [&[u8]; 3] = [b"canister", c.as_slice(), b"certified_data"];
    let LookupResult::Found(data) = certificate.tree.lookup_path(&path) else { panic!("no certified data") };
    assert_eq!(data, Sha256::digest(1u64.to_be_bytes()).as_slice());

    // A tampered signature does not verify: the check above is not vacuous.
    let mut forged = Certificate::from_cbor(&certified.certificate).unwrap();
    forged.signature[5] ^= 1;
    assert!(forged.verify(c.as_slice(), s.root_key(), &now, &300_000_000_000).is_err());

    // The canister parses its own certificate: it certifies the current value, at the current time.
    s.advance_time(7_000_000_000);
    s.update_call(c, user(), "inc", Encode!().unwrap()).unwrap();
    let check = s.query_call(c, user(), "check", Encode!().unwrap()).unwrap();
    let check = Decode!(&check, Result<Check, String>).unwrap().unwrap();
    assert!(check.current, "{check:?}");
    assert_eq!(check.time_nanos, s.time_nanos());
    // The root key is what ic0.root_key gives canisters.
    let uc = install_uc(&mut s);
    assert_eq!(update(&mut s, uc, Program::new().root_key().reply_data_append().reply()).unwrap(), s.root_key());
}

#[test]
fn replicated_executions_have_no_certificate() {
    let mut s = subnet();
    let c = install(&mut s, "certified", Encode!().unwrap());
    let as_update = s.update_call(c, user(), "get", Encode!().unwrap()).unwrap();
    assert!(Decode!(&as_update, Result<Certified, String>).unwrap().is_err(), "a replicated query has no certificate");
    let uc = install_uc(&mut s);
    let present = Program::new().data_certificate_present().reply_data_append().reply();
    assert_eq!(int(&query(&mut s, uc, present.clone()).unwrap()), 1);
    assert_eq!(int(&update(&mut s, uc, present).unwrap()), 0);
}
