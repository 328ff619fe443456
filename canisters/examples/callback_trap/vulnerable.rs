//! Bank that can trap in a callback: `withdraw` transfers on the ledger first and only then, after the await,
//! validates the memo and debits the caller. A memo over 32 bytes makes that code trap, which rolls back the
//! callback (the debit) but not the transfer the ledger already made: the user is paid and keeps the balance.
//! `callback_trap_fixed` validates before the await, debits before the await and credits back on failure.

use candid::{CandidType, Principal};
use examples::{balances, ledger, CallerGuard};
use ic_cdk::api::msg_caller;
use ic_cdk::call::Call;
use std::cell::RefCell;
use std::collections::VecDeque;

/// Longest accepted memo, in bytes.
const MAX_MEMO: usize = 32;
/// How many withdrawals `history` keeps.
const HISTORY: usize = 16;

/// One completed withdrawal.
#[derive(CandidType, Clone)]
struct Withdrawal {
    user: Principal,
    amount: u64,
    memo: String,
}

thread_local! {
    static WITHDRAWALS: RefCell<VecDeque<Withdrawal>> = const { RefCell::new(VecDeque::new()) };
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
/// Pays `amount` from the caller's balance to the caller's ledger account, records it with `memo` (at most 32
/// bytes) and returns the remaining balance. `Err` (nothing moves) if the amount is 0, the balance is
/// insufficient, a withdrawal of the caller is in progress, or the transfer fails.
#[ic_cdk::update]
async fn withdraw(amount: u64, memo: String) -> Result<u64, String> {
    let caller = msg_caller();
    // The balance is checked here and debited after the await; the guard keeps other withdrawals of this caller
    // out in between, so the debit below cannot fail (this version's only bug is the trap).
    let _guard = CallerGuard::new(caller)?;
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    let have = balances::get(caller);
    if have < amount {
        return Err(format!("insufficient balance: {have} < {amount}"));
    }
    ledger::transfer(Call::unbounded_wait(examples::ledger_id(), "transfer"), caller, amount)
        .await
        .map_err(|e| e.to_string())?;
    // BUG (deliberate): validation after the await. The trap rolls back this callback, debit included, while
    // the ledger keeps the transfer. Validate (and debit) before the await instead.
    if memo.len() > MAX_MEMO {
        ic_cdk::trap(format!("memo longer than {MAX_MEMO} bytes"));
    }
    let rest = balances::debit(caller, amount)?;
    WITHDRAWALS.with_borrow_mut(|w| examples::push_bounded(w, HISTORY, Withdrawal { user: caller, amount, memo }));
    Ok(rest)
}

/// The last 16 withdrawals, oldest first.
#[ic_cdk::query]
fn history() -> Vec<Withdrawal> {
    WITHDRAWALS.with_borrow(|w| w.iter().cloned().collect())
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
