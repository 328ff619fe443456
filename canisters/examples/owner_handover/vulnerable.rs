//! A registry with one owner, who may hand it over: `set_owner` takes the owner the caller believes is current
//! (a compare-and-swap guard against two handovers racing) and the new owner.
//!
//! The bug: `set_owner` checks the guard against the stored owner but never checks the caller, so anyone who
//! knows the owner's principal (it is public: `owner()`) takes the registry over. No property of a single state
//! tells this from a legitimate handover — the owner does change, to anyone the owner picks — only comparing the
//! owner before and after a call does: `registry.owner() == old(registry.owner())` unless the call is the
//! owner's. The fix (`fixed.rs`) also requires the caller to be the owner.

use candid::{CandidType, Principal};
use ic_cdk::api::msg_caller;
use serde::Deserialize;
use std::cell::Cell;

thread_local! {
    static OWNER: Cell<Principal> = const { Cell::new(Principal::anonymous()) };
    static FEE: Cell<u64> = const { Cell::new(10) };
}

/// The argument of `set_owner`.
#[derive(CandidType, Deserialize)]
struct Handover {
    /// The owner the caller believes is current: the handover fails if it changed meanwhile.
    current_owner: Principal,
    /// Who owns the registry afterwards.
    new_owner: Principal,
}

fn require_owner() -> Result<(), String> {
    if msg_caller() == OWNER.get() {
        Ok(())
    } else {
        Err("only the owner may do this".into())
    }
}

#[ic_cdk::init]
fn init(owner: Principal) {
    OWNER.set(owner);
}

/// Hands the registry over to `new_owner`, if `current_owner` still owns it.
#[ic_cdk::update]
fn set_owner(handover: Handover) -> Result<(), String> {
    if handover.current_owner != OWNER.get() {
        return Err(format!("the owner is no longer {}", handover.current_owner));
    }
    OWNER.set(handover.new_owner);
    Ok(())
}

/// Sets the fee. Owner only.
#[ic_cdk::update]
fn set_fee(fee: u64) -> Result<(), String> {
    require_owner()?;
    FEE.set(fee);
    Ok(())
}

/// The owner.
#[ic_cdk::query]
fn owner() -> Principal {
    OWNER.get()
}

/// The fee.
#[ic_cdk::query]
fn fee() -> u64 {
    FEE.get()
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
