//! Rewards canister with a reentrancy bug: `claim` checks "not claimed yet", awaits a notification to the
//! recipient, and only then marks the caller as claimed. Nothing stops a second `claim` of the same caller from
//! running during the await (a recipient that calls `claim` back before replying, or two concurrent claims), and
//! both pass the check: the reward is paid twice. `reentrancy_fixed` holds a per-caller guard across the await.

use candid::Principal;
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
/// out. `Err` (nothing paid, caller not marked) if the caller has claimed already or the notification fails.
#[ic_cdk::update]
async fn claim(recipient: Principal) -> Result<u64, String> {
    let caller = ic_cdk::api::msg_caller();
    if CLAIMED.with_borrow(|c| c.contains(&caller)) {
        return Err("reward already claimed".to_string());
    }
    // BUG (deliberate): no guard. Until the await below completes the caller is not marked, so a reentrant or
    // concurrent claim passes the check above too.
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
