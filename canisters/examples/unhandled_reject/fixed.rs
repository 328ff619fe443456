//! Bank, fixed twin of `unhandled_reject_vulnerable`: `withdraw` debits before the await and looks at how the
//! ledger call ended. A reject (the ledger calls nobody, so a reject means it changed nothing) or an `Err` reply
//! credits the amount back, so no funds get stuck in the bank.

use candid::Principal;
use examples::balances;
use examples::ledger::{self, TransferError};
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
    // Debit before the await: it commits there, and everything that runs in the meantime sees it.
    balances::reserve(caller, amount)?;
    match ledger::transfer(Call::unbounded_wait(examples::ledger_id(), "transfer"), caller, amount).await {
        Ok(_block) => {
            balances::settle(amount);
            Ok(balances::get(caller))
        }
        Err(e @ TransferError::NotDone(_)) => {
            balances::refund(caller, amount);
            Err(e.to_string())
        }
        // The ledger may have paid (only an undecodable reply gets here with an unbounded wait): keep the debit,
        // which errs on the side of the bank staying solvent.
        Err(e @ TransferError::Unknown(_)) => Err(e.to_string()),
    }
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
