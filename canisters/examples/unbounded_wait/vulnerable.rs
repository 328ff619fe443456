//! Notifier that waits unboundedly on an untrusted callee: `notify` calls `subscriber.on_event(event)` with an
//! unbounded wait. A subscriber that never answers keeps the call context open forever, and a canister with an
//! open call context cannot finish stopping, so it can no longer be stopped or upgraded.
//! `unbounded_wait_fixed` uses a bounded wait, which the system ends after 60 seconds at the latest.

use candid::Principal;
use ic_cdk::call::Call;
use std::cell::Cell;

thread_local! {
    static SENT: Cell<u64> = const { Cell::new(0) };
}

/// Delivers `event` to `subscriber.on_event`. `Ok` once the subscriber answered (its reply's content is
/// ignored), `Err` if the call failed.
#[ic_cdk::update]
async fn notify(subscriber: Principal, event: String) -> Result<(), String> {
    // BUG (deliberate): an unbounded wait on a canister we do not control. Nothing ends it but the subscriber.
    Call::unbounded_wait(subscriber, "on_event")
        .with_arg(event)
        .await
        .map_err(|e| format!("notifying the subscriber failed: {e}"))?;
    // A counter: saturating (not trapping) after the await; it cannot realistically reach u64::MAX.
    SENT.set(SENT.get().saturating_add(1));
    Ok(())
}

/// How many notifications the subscribers acknowledged.
#[ic_cdk::query]
fn notifications_sent() -> u64 {
    SENT.get()
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
