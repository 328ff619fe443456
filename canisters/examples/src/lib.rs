//! Code shared by the example canisters: the client side of the honest ledger, the internal balances of a bank,
//! and a per-caller guard.
//!
//! Nothing here is an entry point (no `#[update]`/`#[query]`): each example is its own canister and must export
//! only its own methods. State lives in `thread_local!`s, so every example gets a private copy.

use candid::Principal;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, VecDeque};

thread_local! {
    static LEDGER: Cell<Principal> = const { Cell::new(Principal::anonymous()) };
    static IN_PROGRESS: RefCell<BTreeSet<Principal>> = const { RefCell::new(BTreeSet::new()) };
}

/// Remembers the ledger canister (the init argument of the bank examples).
pub fn set_ledger(ledger: Principal) {
    LEDGER.set(ledger);
}

/// The ledger canister set at init (the anonymous principal, which no call can reach, before that).
pub fn ledger_id() -> Principal {
    LEDGER.get()
}

/// Traps unless the caller controls this canister: for setup methods (`credit`, `set_admin`), which run no await.
pub fn require_controller() {
    if !ic_cdk::api::is_controller(&ic_cdk::api::msg_caller()) {
        ic_cdk::trap("only a controller may call this method");
    }
}

/// Marks one caller as having a call in progress for as long as it lives; dropping it (at the end of the method,
/// or in ic-cdk's cleanup callback after a trap) clears the mark. Bind it to a named variable (`_guard`): `let _ =`
/// drops it on the spot.
#[must_use = "the guard protects only while it is alive: bind it to a named variable such as `_guard`"]
pub struct CallerGuard(Principal);

impl CallerGuard {
    /// Takes the mark for `caller`, or `Err` if a call of the same caller is already in progress.
    pub fn new(caller: Principal) -> Result<Self, String> {
        if IN_PROGRESS.with_borrow_mut(|callers| callers.insert(caller)) {
            Ok(CallerGuard(caller))
        } else {
            Err(format!("a call by {caller} is already in progress"))
        }
    }
}

impl Drop for CallerGuard {
    fn drop(&mut self) {
        IN_PROGRESS.with_borrow_mut(|callers| callers.remove(&self.0));
    }
}

/// The internal balances a bank owes its users.
///
/// Amounts taken out for a transfer that has not settled yet are counted as *reserved*. `credit` keeps the sum of
/// all balances plus the reserve within `u64`, so giving a reserved amount back (`refund`) can never overflow: a
/// fixed example can undo a debit in a callback without a failure path.
pub mod balances {
    use candid::Principal;
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    thread_local! {
        static BALANCES: RefCell<BTreeMap<Principal, u64>> = const { RefCell::new(BTreeMap::new()) };
        static RESERVED: Cell<u64> = const { Cell::new(0) };
    }

    /// The balance of `user` (0 if unknown).
    pub fn get(user: Principal) -> u64 {
        BALANCES.with_borrow(|b| b.get(&user).copied().unwrap_or(0))
    }

    /// Overwrites the balance of `user` (removing the entry at 0, so the map holds only users with funds).
    pub fn set(user: Principal, value: u64) {
        BALANCES.with_borrow_mut(|b| if value == 0 { b.remove(&user) } else { b.insert(user, value) });
    }

    /// The sum of all balances. Summed in `u128` and clamped because `set` (used by a vulnerable example) can
    /// break the bound `credit` keeps.
    pub fn liabilities() -> u64 {
        let sum: u128 = BALANCES.with_borrow(|b| b.values().map(|&v| u128::from(v)).sum());
        u64::try_from(sum).unwrap_or(u64::MAX)
    }

    /// Adds `amount` to `user`, or `Err` if the balances plus the reserve would no longer fit in `u64`.
    pub fn credit(user: Principal, amount: u64) -> Result<(), String> {
        liabilities()
            .checked_add(RESERVED.get())
            .and_then(|owed| owed.checked_add(amount))
            .ok_or_else(|| "total liabilities would overflow nat64".to_string())?;
        set(user, get(user).saturating_add(amount)); // cannot saturate: the balance is part of the sum checked above
        Ok(())
    }

    /// Takes `amount` from `user` and returns the new balance, or `Err` if the balance is insufficient.
    pub fn debit(user: Principal, amount: u64) -> Result<u64, String> {
        let balance = get(user);
        let rest = balance.checked_sub(amount).ok_or_else(|| format!("insufficient balance: {balance} < {amount}"))?;
        set(user, rest);
        Ok(rest)
    }

    /// Like `debit`, but holds `amount` in the reserve until `settle` (paid out) or `refund` (not paid).
    pub fn reserve(user: Principal, amount: u64) -> Result<u64, String> {
        let rest = debit(user, amount)?;
        RESERVED.set(RESERVED.get() + amount); // cannot overflow: the amount moved out of the balances
        Ok(rest)
    }

    /// A reserved amount was paid out: it leaves the books.
    pub fn settle(amount: u64) {
        RESERVED.set(RESERVED.get().saturating_sub(amount));
    }

    /// A reserved amount was not paid out: it goes back to `user`. Never overflows (see the module comment).
    pub fn refund(user: Principal, amount: u64) {
        RESERVED.set(RESERVED.get().saturating_sub(amount));
        set(user, get(user).saturating_add(amount));
    }
}

/// The client side of the honest ledger's `transfer : (principal, nat64) -> (variant { Ok : nat64; Err : text })`.
pub mod ledger {
    use candid::Principal;
    use ic_cdk::call::{Call, CallFailed, RejectCode};
    use std::fmt;

    /// Why a transfer did not (certainly) happen.
    #[derive(Debug)]
    pub enum TransferError {
        /// The transfer did not happen: the call was not sent, was rejected, or the ledger answered `Err`.
        NotDone(String),
        /// The transfer may have happened: SYS_UNKNOWN (a bounded wait expired after the request may have been
        /// delivered) or a reply that does not decode.
        Unknown(String),
    }

    impl fmt::Display for TransferError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TransferError::NotDone(msg) => write!(f, "transfer failed: {msg}"),
                TransferError::Unknown(msg) => write!(f, "outcome unknown: {msg}"),
            }
        }
    }

    /// Sends `transfer(to, amount)` through `call` (which names the ledger and the kind of wait) and returns the
    /// block index.
    ///
    /// A reject other than SYS_UNKNOWN counts as "not done": the ledger is trusted and calls nobody, so when it
    /// traps (or is stopped, or its queue is full) it has changed nothing. Only SYS_UNKNOWN, which a bounded wait
    /// gets when its deadline expires, leaves the outcome open.
    pub async fn transfer(call: Call<'_, '_>, to: Principal, amount: u64) -> Result<u64, TransferError> {
        let response = match call.with_args(&(to, amount)).await {
            Ok(response) => response,
            Err(CallFailed::CallRejected(reject)) if reject.reject_code() == Ok(RejectCode::SysUnknown) => {
                return Err(TransferError::Unknown(format!("ledger call: {reject}")))
            }
            Err(e) => return Err(TransferError::NotDone(format!("ledger call: {e}"))),
        };
        match response.candid::<Result<u64, String>>() {
            Ok(Ok(block)) => Ok(block),
            Ok(Err(msg)) => Err(TransferError::NotDone(format!("ledger refused: {msg}"))),
            Err(e) => Err(TransferError::Unknown(format!("ledger reply: {e}"))),
        }
    }
}

/// A bounded log: keeps the newest `capacity` entries. For the examples' histories and caches.
pub fn push_bounded<T>(log: &mut VecDeque<T>, capacity: usize, entry: T) {
    log.push_back(entry);
    while log.len() > capacity {
        log.pop_front();
    }
}
