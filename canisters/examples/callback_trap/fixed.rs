//! Bank, fixed twin of `callback_trap_vulnerable`: `withdraw` validates the memo and debits the caller before
//! awaiting the ledger transfer, and the code after the await cannot trap: it only settles, or credits the amount
//! back when the transfer did not happen. A bad memo is an `Err` before anything moves.

use candid::{CandidType, Principal};
use examples::balances;
use examples::ledger::{self, TransferError};
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
/// bytes) and returns the remaining balance. `Err` (nothing moves) if the memo is too long, the amount is 0, the
/// balance is insufficient, or the transfer fails.
#[ic_cdk::update]
async fn withdraw(amount: u64, memo: String) -> Result<u64, String> {
    let caller = msg_caller();
    // Everything that can fail is checked before the await, where failing is still free.
    if memo.len() > MAX_MEMO {
        return Err(format!("memo longer than {MAX_MEMO} bytes"));
    }
    if amount == 0 {
        return Err("amount must be positive".to_string());
    }
    balances::reserve(caller, amount)?;
    match ledger::transfer(Call::unbounded_wait(examples::ledger_id(), "transfer"), caller, amount).await {
        Ok(_block) => {
            balances::settle(amount);
            WITHDRAWALS
                .with_borrow_mut(|w| examples::push_bounded(w, HISTORY, Withdrawal { user: caller, amount, memo }));
            Ok(balances::get(caller))
        }
        Err(e @ TransferError::NotDone(_)) => {
            balances::refund(caller, amount);
            Err(e.to_string())
        }
        // The ledger may have paid (only an undecodable reply gets here with an unbounded wait): keep the debit.
        Err(e @ TransferError::Unknown(_)) => Err(e.to_string()),
    }
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
