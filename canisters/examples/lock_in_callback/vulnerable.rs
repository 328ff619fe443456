//! Price cache whose lock is released by callback code: `refresh` takes a global lock, awaits the oracle and
//! releases the lock with a plain assignment at the end. When the code after the await traps (here: a reply that
//! is not a nat64), the callback's changes are rolled back and that assignment never takes effect, so the lock
//! stays held and every later `refresh` answers "busy". `lock_in_callback_fixed` releases it in a `Drop` guard.

use candid::Principal;
use ic_cdk::call::Call;
use std::cell::Cell;

thread_local! {
    static LOCKED: Cell<bool> = const { Cell::new(false) };
    static PRICE: Cell<u64> = const { Cell::new(0) };
}

/// Fetches `oracle.get_price()`, stores and returns it. `Err` if a refresh is already running ("busy") or the call
/// fails. Traps, deliberately, if the oracle's reply is not a nat64.
#[ic_cdk::update]
async fn refresh(oracle: Principal) -> Result<u64, String> {
    if LOCKED.get() {
        return Err("busy".to_string());
    }
    LOCKED.set(true);
    let response = match Call::bounded_wait(oracle, "get_price").await {
        Ok(response) => response,
        Err(e) => {
            LOCKED.set(false);
            return Err(format!("oracle call failed: {e}"));
        }
    };
    // Trapping on a malformed reply is part of the scenario (both versions do it): what matters is the lock.
    let price = response.candid::<u64>().expect("oracle reply is not a nat64");
    PRICE.set(price);
    // BUG (deliberate): released by code that a trap above rolls back. Use a guard whose `Drop` releases it:
    // ic-cdk drops the future in the cleanup callback after a trap.
    LOCKED.set(false);
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
