//! Rewards canister whose guard protects nothing: `claim` takes a per-caller `CallerGuard` but binds it to `_`,
//! which drops it on the spot, so the caller is unguarded during the awaited notification and a reentrant or
//! concurrent claim is paid twice (the same double payment as `reentrancy_vulnerable`). `guard_underscore_fixed`
//! binds the guard to `_guard`, which lives until the end of `claim`.

use candid::Principal;
use examples::CallerGuard;
use ic_cdk::call::Call;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

/// What one claim pays.
const REWARD: u64 = 10;

thread_local! {
    static CLAIMED: RefCell<BTreeSet<Principal>> = const { RefCell::new(BTreeSet::new()) };
    static PAID_OUT: Cell<u64> = const { Cell::new(0) };
}

/// Pays the caller's one-time reward of 10 by notifying `recipient.on_reward(10)`, and returns the total paid
/// out. `Err` (nothing paid, caller not marked) if the caller has claimed already, has a claim in progress, or the
/// notification fails.
#[ic_cdk::update]
async fn claim(recipient: Principal) -> Result<u64, String> {
    let caller = ic_cdk::api::msg_caller();
    if CLAIMED.with_borrow(|c| c.contains(&caller)) {
        return Err("reward already claimed".to_string());
    }
    // BUG (deliberate): `_` is not a variable, so the guard is dropped (and the caller unmarked) right here, before
    // the await it was meant to cover. It should be `let _guard = ...`.
    let _ = CallerGuard::new(caller)?;
    // Only whether the notification went through matters; the reply's content is ignored.
    Call::bounded_wait(recipient, "on_reward")
        .with_arg(REWARD)
        .await
        .map_err(|e| format!("notifying the recipient failed: {e}"))?;
    let paid = PAID_OUT.get().checked_add(REWARD).ok_or_else(|| "paid_out overflows nat64".to_string())?;
    PAID_OUT.set(paid);
    CLAIMED.with_borrow_mut(|c| c.insert(caller));
    Ok(paid)
}

/// The sum of all rewards paid.
#[ic_cdk::query]
fn paid_out() -> u64 {
    PAID_OUT.get()
}

/// How many principals have claimed (the invariant is `paid_out == claimants * 10`).
#[ic_cdk::query]
fn claimants() -> u64 {
    CLAIMED.with_borrow(|c| c.len() as u64)
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
