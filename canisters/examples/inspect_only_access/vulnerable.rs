//! Treasury whose access control lives only in `canister_inspect_message`: it rejects ingress `set_fee` calls
//! from anyone but the admin, and `set_fee` itself checks nothing. Inspection runs only for ingress messages, so
//! any canister calling `set_fee` directly sets the fee. `inspect_only_access_fixed` checks the caller in the
//! method itself and keeps the inspection as an early filter.

use candid::Principal;
use examples::{balances, ledger};
use ic_cdk::api::msg_caller;
use ic_cdk::call::Call;
use std::cell::Cell;

thread_local! {
    static ADMIN: Cell<Option<Principal>> = const { Cell::new(None) };
    static FEE: Cell<u64> = const { Cell::new(0) };
    static FEES_COLLECTED: Cell<u64> = const { Cell::new(0) };
}

fn is_admin(p: Principal) -> bool {
    ADMIN.get() == Some(p)
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
/// Pays `amount` from the caller's balance to the caller's ledger account, charging the current fee on top, and
/// returns the remaining balance. `Err` (nothing moves) if the amount is 0, the balance does not cover amount plus
/// fee, or the transfer fails.
#[ic_cdk::update]
async fn withdraw(amount: u64) -> Result<u64, String> {
    let caller = msg_caller();
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    let fee = FEE.get();
    let total = amount.checked_add(fee).ok_or_else(|| "amount plus fee overflows nat64".to_string())?;
    balances::reserve(caller, total)?;
    match ledger::transfer(Call::unbounded_wait(examples::ledger_id(), "transfer"), caller, amount).await {
        Ok(_block) => {
            // The fee stays in the treasury's ledger account; it is no longer owed to anyone.
            balances::settle(total);
            FEES_COLLECTED.set(FEES_COLLECTED.get().saturating_add(fee));
            Ok(balances::get(caller))
        }
        Err(e @ ledger::TransferError::NotDone(_)) => {
            balances::refund(caller, total);
            Err(e.to_string())
        }
        // The ledger may have paid (only an undecodable reply gets here with an unbounded wait): keep the debit.
        Err(e @ ledger::TransferError::Unknown(_)) => Err(e.to_string()),
    }
}

/// Makes `admin` the only principal allowed to set the fee. Controllers only.
#[ic_cdk::update]
fn set_admin(admin: Principal) {
    examples::require_controller();
    ADMIN.set(Some(admin));
}

/// The admin, if one was set.
#[ic_cdk::query]
fn admin() -> Option<Principal> {
    ADMIN.get()
}

/// Sets the fee charged on every withdrawal. Meant for the admin only.
#[ic_cdk::update]
fn set_fee(fee: u64) {
    // BUG (deliberate): no check here. The one in `inspect_message` never sees calls from other canisters.
    FEE.set(fee);
}

/// The fee charged on every withdrawal.
#[ic_cdk::query]
fn fee() -> u64 {
    FEE.get()
}

/// The fees charged so far.
#[ic_cdk::query]
fn fees_collected() -> u64 {
    FEES_COLLECTED.get()
}

/// Ingress filter: turns away `set_fee` from anyone but the admin before it costs anything. Inter-canister calls
/// do not pass through here.
#[ic_cdk::inspect_message]
fn inspect_message() {
    if ic_cdk::api::msg_method_name() == "set_fee" && !is_admin(msg_caller()) {
        ic_cdk::trap("set_fee: only the admin may set the fee");
    }
    ic_cdk::api::accept_message();
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
