//! Bank that treats SYS_UNKNOWN as a clean reject: `withdraw` debits first and calls the ledger with a bounded
//! wait, then credits the amount back on any error. But a bounded wait can end in SYS_UNKNOWN ("deadline
//! expired") after the ledger executed the transfer, and crediting back then lets the user withdraw the same funds
//! again. `sys_unknown_as_clean_fixed` keeps the debit on SYS_UNKNOWN and records the amount as in doubt.

use candid::Principal;
use examples::{balances, ledger};
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
/// `Err` if the amount is 0, the balance is insufficient, or the transfer fails (then the amount is credited back).
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
        // BUG (deliberate): every error is taken to mean "not paid", SYS_UNKNOWN included, although the ledger may
        // have made the transfer. Only clean outcomes may be credited back (see `sys_unknown_as_clean_fixed`).
        Err(e) => {
            balances::refund(caller, amount);
            Err(e.to_string())
        }
    }
}

/// The sum of withdrawals whose outcome is unknown (debited, maybe paid). Always 0 here: this version never
/// notices.
#[ic_cdk::query]
fn in_doubt() -> u64 {
    IN_DOUBT.get()
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
