//! The honest ledger: token accounts keyed by principal, the reference the bank examples are checked against.
//!
//! It is deliberately boring: every method finishes in one message (no awaits, so no interleaving), user input
//! never makes it trap, and it calls nobody, so a reject from it always means nothing changed. Only controllers
//! mint; the fuzzer's invariants compare `balance_of(bank)` with what a bank says it owes.

use candid::Principal;
use ic_cdk::api::msg_caller;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

thread_local! {
    static ACCOUNTS: RefCell<BTreeMap<Principal, u64>> = const { RefCell::new(BTreeMap::new()) };
    static TOTAL_SUPPLY: Cell<u64> = const { Cell::new(0) };
    static NEXT_BLOCK: Cell<u64> = const { Cell::new(0) };
}

fn balance(owner: Principal) -> u64 {
    ACCOUNTS.with_borrow(|a| a.get(&owner).copied().unwrap_or(0))
}

fn set_balance(owner: Principal, value: u64) {
    ACCOUNTS.with_borrow_mut(|a| if value == 0 { a.remove(&owner) } else { a.insert(owner, value) });
}

/// Creates `amount` new tokens in the account of `to`. Controllers only (traps otherwise, and if the total supply
/// would overflow nat64).
#[ic_cdk::update]
fn mint(to: Principal, amount: u64) {
    if !ic_cdk::api::is_controller(&msg_caller()) {
        ic_cdk::trap("mint: only a controller may mint");
    }
    let supply = TOTAL_SUPPLY.get().checked_add(amount).unwrap_or_else(|| ic_cdk::trap("mint: supply overflows"));
    TOTAL_SUPPLY.set(supply);
    // Cannot overflow: every balance is part of the supply, which fits.
    set_balance(to, balance(to) + amount);
}

/// Moves `amount` from the caller's account to `to` and returns the transfer's block index. `Err` if the amount
/// is 0 or the caller's balance is insufficient; never traps.
#[ic_cdk::update]
fn transfer(to: Principal, amount: u64) -> Result<u64, String> {
    let from = msg_caller();
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    let have = balance(from);
    let rest = have.checked_sub(amount).ok_or_else(|| format!("insufficient balance: {have} < {amount}"))?;
    let block = NEXT_BLOCK.get();
    let next = block.checked_add(1).ok_or_else(|| "block index overflows nat64".to_string())?;
    set_balance(from, rest);
    // Read after the debit, so a transfer to oneself nets to zero; cannot overflow (bounded by the supply).
    set_balance(to, balance(to) + amount);
    NEXT_BLOCK.set(next);
    Ok(block)
}

/// The balance of `owner` (0 for an unknown account).
#[ic_cdk::query]
fn balance_of(owner: Principal) -> u64 {
    balance(owner)
}

/// The sum of all balances: everything minted so far.
#[ic_cdk::query]
fn total_supply() -> u64 {
    TOTAL_SUPPLY.get()
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
