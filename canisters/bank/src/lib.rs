//! Bank canister with the classic interleaving bug, as a target for icfuzz.
//!
//! `withdraw` reads the balance, awaits a transfer on the ledger canister and only then writes back
//! `read - amount`. Another message can run while the call is in flight, so two concurrent withdrawals of the
//! whole balance both succeed while the balance drops only once: a double spend that sequential tests never see.
//! The other methods cover what happens to state around a trap after an await (rollback of the callback,
//! and ic-cdk's cleanup releasing a lock held across the await).

use candid::Principal;
use ic_cdk::call::Call;
use std::cell::Cell;

thread_local! {
    static BALANCE: Cell<u64> = const { Cell::new(0) };
    static LOCKED: Cell<bool> = const { Cell::new(false) };
    static WITHDRAW_COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Calls `transfer(amount)` on the ledger and decodes the new ledger total.
async fn ledger_transfer(ledger: Principal, amount: u64) -> Result<u64, String> {
    let response = Call::unbounded_wait(ledger, "transfer")
        .with_arg(amount)
        .await
        .map_err(|e| format!("ledger transfer failed: {e}"))?;
    response.candid::<u64>().map_err(|e| format!("ledger reply is not a nat64: {e}"))
}

/// Credits `amount` and returns the new balance (traps on overflow).
#[ic_cdk::update]
fn deposit(amount: u64) -> u64 {
    let balance = BALANCE.get().checked_add(amount).unwrap_or_else(|| ic_cdk::trap("bank: balance overflows u64"));
    BALANCE.set(balance);
    balance
}

/// The current balance.
#[ic_cdk::query]
fn balance() -> u64 {
    BALANCE.get()
}

/// Pays `amount` out through the ledger. Returns the new balance, or `Err` if the balance is insufficient or the
/// ledger call fails (in which case nothing changes).
#[ic_cdk::update]
async fn withdraw(ledger: Principal, amount: u64) -> Result<u64, String> {
    let read = BALANCE.get();
    if read < amount {
        return Err(format!("insufficient balance: {read} < {amount}"));
    }
    ledger_transfer(ledger, amount).await?;
    // BUG (deliberate): `read` is stale if another withdrawal ran during the await. The fix is to re-read (and
    // re-check) here, or to debit before the call and credit back on failure.
    let balance = read - amount;
    BALANCE.set(balance);
    WITHDRAW_COUNT.set(WITHDRAW_COUNT.get() + 1);
    Ok(balance)
}

/// Like `withdraw`, but traps after debiting in the callback: the callback's changes (debit and count) are rolled
/// back while the ledger keeps the transfer.
#[ic_cdk::update]
async fn withdraw_then_trap(ledger: Principal, amount: u64) {
    let read = BALANCE.get();
    if read < amount {
        ic_cdk::trap(format!("insufficient balance: {read} < {amount}"));
    }
    if let Err(e) = ledger_transfer(ledger, amount).await {
        ic_cdk::trap(e);
    }
    BALANCE.set(read - amount);
    WITHDRAW_COUNT.set(WITHDRAW_COUNT.get() + 1);
    panic!("withdraw_then_trap: trapping after the transfer completed");
}

/// Holds `LOCKED` while alive; dropping it releases the lock. ic-cdk drops the future (and so this guard) in the
/// cleanup callback when the code after an await traps, which is the only way the lock gets released below.
struct LockGuard;

impl LockGuard {
    fn acquire() -> Self {
        if LOCKED.get() {
            ic_cdk::trap("bank: lock already held");
        }
        LOCKED.set(true);
        LockGuard
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        LOCKED.set(false);
    }
}

/// Takes the lock, awaits `transfer(0)` on the ledger, then panics with the lock still held. The lock is released
/// only if the engine runs the cleanup callback (and commits its changes) after the trapping reply callback.
#[ic_cdk::update]
async fn locked_call(ledger: Principal) {
    let _guard = LockGuard::acquire();
    let result = ledger_transfer(ledger, 0).await;
    panic!("locked_call: trapping after the await (transfer result: {result:?})");
}

/// Whether the lock taken by `locked_call` is held.
#[ic_cdk::query]
fn is_locked() -> bool {
    LOCKED.get()
}

/// How many `withdraw` calls completed their post-await debit (the ones that returned `Ok`).
#[ic_cdk::query]
fn withdraw_count() -> u64 {
    WITHDRAW_COUNT.get()
}

ic_cdk::export_candid!();

#[cfg(test)]
mod tests {
    /// The checked-in `bank.did` is what tools and tests read; keep it identical to what the code exports.
    #[test]
    fn candid_file_matches_the_code() {
        assert_eq!(
            super::__export_service().trim(),
            include_str!("../bank.did").trim(),
            "regenerate bank.did from __export_service()"
        );
    }
}
