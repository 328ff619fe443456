//! A token with ICRC-2-style allowances: an owner `approve`s a spender, who moves the owner's tokens with
//! `transfer_from` and learns the allowance left.
//!
//! The bug: `transfer_from` writes the lowered allowance first (removing the entry when it reaches zero, as the
//! balances do) and then reads it back for the reply, `expect`ing it to be there. Spending exactly the whole
//! allowance traps, so a spender can never use all of it — a history of two calls (approve, then spend it all)
//! that no single call reaches. The fix (`fixed.rs`) replies with the value it computed.

use candid::{CandidType, Principal};
use ic_cdk::api::msg_caller;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    static BALANCES: RefCell<BTreeMap<Principal, u64>> = const { RefCell::new(BTreeMap::new()) };
    static ALLOWANCES: RefCell<BTreeMap<(Principal, Principal), u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// The reply of a successful `transfer_from`.
#[derive(CandidType, Deserialize)]
struct Spent {
    /// What the owner's account holds now.
    balance_left: u64,
    /// What the spender may still move.
    allowance_left: u64,
}

fn balance(owner: Principal) -> u64 {
    BALANCES.with_borrow(|b| b.get(&owner).copied().unwrap_or(0))
}

fn set_balance(owner: Principal, value: u64) {
    BALANCES.with_borrow_mut(|b| if value == 0 { b.remove(&owner) } else { b.insert(owner, value) });
}

fn set_allowance(owner: Principal, spender: Principal, value: u64) {
    ALLOWANCES.with_borrow_mut(|a| {
        if value == 0 {
            a.remove(&(owner, spender))
        } else {
            a.insert((owner, spender), value)
        }
    });
}

/// Creates `amount` tokens for `to`. Controllers only.
#[ic_cdk::update]
fn mint(to: Principal, amount: u64) {
    examples::require_controller();
    let total = balance(to).checked_add(amount).unwrap_or_else(|| ic_cdk::trap("mint: balance overflows"));
    set_balance(to, total);
}

/// Lets `spender` move up to `amount` of the caller's tokens (0 revokes).
#[ic_cdk::update]
fn approve(spender: Principal, amount: u64) {
    set_allowance(msg_caller(), spender, amount);
}

/// Moves `amount` of `from`'s tokens to `to` on the strength of `from`'s approval of the caller.
#[ic_cdk::update]
fn transfer_from(from: Principal, to: Principal, amount: u64) -> Result<Spent, String> {
    let spender = msg_caller();
    if amount == 0 {
        return Err("amount must be positive".into());
    }
    let allowed = ALLOWANCES.with_borrow(|a| a.get(&(from, spender)).copied().unwrap_or(0));
    if amount > allowed {
        return Err(format!("insufficient allowance: {allowed} < {amount}"));
    }
    let have = balance(from);
    let rest = have.checked_sub(amount).ok_or_else(|| format!("insufficient balance: {have} < {amount}"))?;
    set_allowance(from, spender, allowed - amount);
    set_balance(from, rest);
    set_balance(to, balance(to) + amount);
    // The bug: at zero the entry is gone.
    let allowance_left =
        ALLOWANCES.with_borrow(|a| a.get(&(from, spender)).copied()).expect("allowance after transfer_from");
    Ok(Spent { balance_left: balance(from), allowance_left })
}

/// What `spender` may still move of `owner`'s tokens.
#[ic_cdk::query]
fn allowance(owner: Principal, spender: Principal) -> u64 {
    ALLOWANCES.with_borrow(|a| a.get(&(owner, spender)).copied().unwrap_or(0))
}

/// The balance of `owner`.
#[ic_cdk::query]
fn balance_of(owner: Principal) -> u64 {
    balance(owner)
}

/// The sum of all balances.
#[ic_cdk::query]
fn total_supply() -> u64 {
    BALANCES.with_borrow(|b| b.values().sum())
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
