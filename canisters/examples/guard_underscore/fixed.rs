//! Rewards canister, fixed twin of `guard_underscore_vulnerable`: the per-caller `CallerGuard` is bound to
//! `_guard`, a named variable that lives until `claim` ends, so it covers the awaited notification and a reentrant
//! or concurrent claim by the same caller gets `Err`. (`let _ = ...` would drop it at once.)

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
    // The caller is marked only after the await, so hold the guard until then: any other claim of this caller
    // in the meantime fails here.
    let _guard = CallerGuard::new(caller)?;
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
