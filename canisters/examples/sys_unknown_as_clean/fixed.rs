//! Bank, fixed twin of `sys_unknown_as_clean_vulnerable`: after a bounded-wait ledger call, `withdraw` credits the
//! amount back only when the transfer certainly did not happen (a reject other than SYS_UNKNOWN, or an `Err`
//! reply). On SYS_UNKNOWN the ledger may have paid, so the debit stays and the amount is recorded as in doubt,
//! for reconciliation against the ledger later.

use candid::Principal;
use examples::balances;
use examples::ledger::{self, TransferError};
use ic_cdk::api::msg_caller;
use ic_cdk::call::Call;
use std::cell::Cell;

/// How long `withdraw` waits for the ledger before the system answers SYS_UNKNOWN.
const TIMEOUT_SECONDS: u32 = 60;

thread_local! {
    static IN_DOUBT: Cell<u64> = const { Cell::new(0) };
}

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
/// `Err` if the amount is 0, the balance is insufficient, or the transfer fails (then the amount is credited back),
/// or "outcome unknown" (then the amount stays debited and counts as in doubt).
#[ic_cdk::update]
async fn withdraw(amount: u64) -> Result<u64, String> {
    let caller = msg_caller();
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    // Debit before the await: it commits there, and everything that runs in the meantime sees it.
    balances::reserve(caller, amount)?;
    let call = Call::bounded_wait(examples::ledger_id(), "transfer").change_timeout(TIMEOUT_SECONDS);
    match ledger::transfer(call, caller, amount).await {
        Ok(_block) => {
            balances::settle(amount);
            Ok(balances::get(caller))
        }
        Err(e @ TransferError::NotDone(_)) => {
            balances::refund(caller, amount);
            Err(e.to_string())
        }
        // SYS_UNKNOWN (or an undecodable reply): the ledger may have paid. Keep the debit and remember the amount.
        // Cannot saturate: in-doubt amounts stay reserved, and `balances` keeps the reserve within nat64.
        Err(e @ TransferError::Unknown(_)) => {
            IN_DOUBT.set(IN_DOUBT.get().saturating_add(amount));
            Err(e.to_string())
        }
    }
}

/// The sum of withdrawals whose outcome is unknown (debited, maybe paid).
#[ic_cdk::query]
fn in_doubt() -> u64 {
    IN_DOUBT.get()
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
