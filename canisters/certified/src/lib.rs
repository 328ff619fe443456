//! A certified counter, the pattern certified assets and certified variables use: every update stores the
//! SHA-256 of the new value as certified data, and queries hand out the value with the subnet's data
//! certificate so clients can check it without trusting the replica that answered.
//!
//! - `inc()`: adds one and certifies the new value;
//! - `get()`: the value and the certificate (the client verifies);
//! - `check()`: the canister parses its own certificate and says whether it certifies the value it holds, and
//!   when it was made (`/time`).

use std::cell::Cell;

use candid::CandidType;
use ic_certification::{Certificate, LookupResult};
use serde::Deserialize;
use sha2::{Digest, Sha256};

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

fn digest(value: u64) -> [u8; 32] {
    Sha256::digest(value.to_be_bytes()).into()
}

#[ic_cdk::init]
fn init() {
    ic_cdk::api::certified_data_set(digest(0));
}

/// Adds one and certifies the new value.
#[ic_cdk::update]
fn inc() -> u64 {
    let value = COUNTER.get() + 1;
    COUNTER.set(value);
    ic_cdk::api::certified_data_set(digest(value));
    value
}

/// A value with the certificate that certifies it.
#[derive(CandidType, Deserialize)]
struct Certified {
    value: u64,
    certificate: Vec<u8>,
}

/// The value and the data certificate (queries only: an update has none).
#[ic_cdk::query]
fn get() -> Result<Certified, String> {
    let certificate = ic_cdk::api::data_certificate().ok_or("no data certificate: call get as a query")?;
    Ok(Certified { value: COUNTER.get(), certificate })
}

/// What the certificate says.
#[derive(CandidType, Deserialize)]
struct Check {
    /// Whether `/canister/<self>/certified_data` is the digest of the current value.
    current: bool,
    /// `/time` of the certificate, in nanoseconds.
    time_nanos: u64,
}

fn leb128(mut bytes: &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let (&byte, rest) = bytes.split_first().ok_or("truncated /time")?;
        bytes = rest;
        value |= u64::from(byte & 0x7f).checked_shl(shift).ok_or("/time too large")?;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// Parses the certificate and checks it against the current value.
#[ic_cdk::query]
fn check() -> Result<Check, String> {
    let bytes = ic_cdk::api::data_certificate().ok_or("no data certificate: call check as a query")?;
    let certificate: Certificate = ciborium::from_reader(bytes.as_slice()).map_err(|e| format!("bad certificate: {e}"))?;
    let me = ic_cdk::api::canister_self();
    let path: [&[u8]; 3] = [b"canister", me.as_slice(), b"certified_data"];
    let current = match certificate.tree.lookup_path(&path) {
        LookupResult::Found(data) => data == digest(COUNTER.get()),
        _ => return Err("the certificate has no certified data for this canister".to_owned()),
    };
    let time_nanos = match certificate.tree.lookup_path(&[b"time"]) {
        LookupResult::Found(time) => leb128(time)?,
        _ => return Err("the certificate has no time".to_owned()),
    };
    Ok(Check { current, time_nanos })
}

ic_cdk::export_candid!();
