//! Price cache, fixed twin of `lock_in_callback_vulnerable`: the global lock is held by a guard whose `Drop`
//! releases it. If the code after the await traps, ic-cdk's cleanup callback drops the future, and with it the
//! guard, so the lock is released even though the callback itself was rolled back.

use candid::Principal;
use ic_cdk::call::Call;
use std::cell::Cell;

thread_local! {
    static LOCKED: Cell<bool> = const { Cell::new(false) };
    static PRICE: Cell<u64> = const { Cell::new(0) };
}

/// Holds the lock while alive.
struct Lock;

impl Lock {
    /// Takes the lock, or `Err("busy")` if it is held.
    fn acquire() -> Result<Self, String> {
        if LOCKED.replace(true) {
            return Err("busy".to_string());
        }
        Ok(Lock)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        LOCKED.set(false);
    }
}

/// Fetches `oracle.get_price()`, stores and returns it. `Err` if a refresh is already running ("busy") or the call
/// fails. Traps, deliberately, if the oracle's reply is not a nat64.
#[ic_cdk::update]
async fn refresh(oracle: Principal) -> Result<u64, String> {
    let _lock = Lock::acquire()?;
    let response = Call::bounded_wait(oracle, "get_price").await.map_err(|e| format!("oracle call failed: {e}"))?;
    // Trapping on a malformed reply is part of the scenario (both versions do it): `_lock` is released anyway,
    // by the cleanup callback.
    let price = response.candid::<u64>().expect("oracle reply is not a nat64");
    PRICE.set(price);
    Ok(price)
}

/// Whether a refresh holds the lock (it must be false whenever no message is in flight).
#[ic_cdk::query]
fn is_locked() -> bool {
    LOCKED.get()
}

/// The last price fetched (0 before the first).
#[ic_cdk::query]
fn price() -> u64 {
    PRICE.get()
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
