//! Bank that ignores how its transfer ended: `withdraw` debits the caller before the await (correctly), but then
//! discards the result of the ledger call. When the call is rejected (ledger stopped, queue full, trap) or the
//! ledger answers `Err`, the user's funds are debited and never paid: they are stuck in the bank's ledger account.
//! `unhandled_reject_fixed` credits the amount back in those cases.

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
/// `Err` (nothing moves) if the amount is 0 or the balance is insufficient.
#[ic_cdk::update]
async fn withdraw(amount: u64) -> Result<u64, String> {
    let caller = msg_caller();
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    // Debit before the await: it commits there, and everything that runs in the meantime sees it.
    balances::reserve(caller, amount)?;
    // BUG (deliberate): the outcome is ignored. A reject or an `Err` reply means nothing was paid, and the amount
    // must go back to the caller (see `unhandled_reject_fixed`).
    let _ = ledger::transfer(Call::unbounded_wait(examples::ledger_id(), "transfer"), caller, amount).await;
    balances::settle(amount);
    Ok(balances::get(caller))
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
