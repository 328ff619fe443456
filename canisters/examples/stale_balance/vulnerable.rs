//! Bank with a stale read across an await: `withdraw` reads the caller's balance, checks it, awaits the ledger
//! transfer, and then writes back `read - amount`. A second withdrawal running during the await reads the same
//! balance, so both pay out while the balance drops once: the bank owes more than it holds. `stale_balance_fixed`
//! debits before the await and credits back if the transfer did not happen.

use candid::Principal;
use examples::{balances, ledger};
use ic_cdk::api::msg_caller;
use ic_cdk::call::Call;

/// Remembers the ledger that holds the bank's tokens.
#[ic_cdk::init]
fn init(ledger: Principal) {
    examples::set_ledger(ledger);
}

/// Adds `amount` to the internal balance of `user`, after the same amount was minted to this canister on the
/// ledger. Controllers only; traps if the liabilities would overflow nat64.
#[ic_cdk::update]
fn credit(user: Principal, amount: u64) {
    examples::require_controller();
    balances::credit(user, amount).unwrap_or_else(|e| ic_cdk::trap(e));
}

/// The internal balance of `user`.
#[ic_cdk::query]
fn balance(user: Principal) -> u64 {
    balances::get(user)
}

/// What the bank owes: the sum of all internal balances (never more than its ledger balance).
#[ic_cdk::query]
fn liabilities() -> u64 {
    balances::liabilities()
}
/// Pays `amount` from the caller's balance to the caller's ledger account and returns the remaining balance.
/// `Err` (nothing moves) if the amount is 0, the balance is insufficient, or the transfer fails.
#[ic_cdk::update]
async fn withdraw(amount: u64) -> Result<u64, String> {
    let caller = msg_caller();
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    let read = balances::get(caller);
    if read < amount {
        return Err(format!("insufficient balance: {read} < {amount}"));
    }
    ledger::transfer(Call::unbounded_wait(examples::ledger_id(), "transfer"), caller, amount)
        .await
        .map_err(|e| e.to_string())?;
    // BUG (deliberate): `read` is stale if another withdrawal of this caller ran during the await, and writing
    // `read - amount` undoes its debit. Debit before the await instead (see `stale_balance_fixed`).
    balances::set(caller, read - amount);
    Ok(read - amount)
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
