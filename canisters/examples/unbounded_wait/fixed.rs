//! Notifier, fixed twin of `unbounded_wait_vulnerable`: `notify` calls the untrusted subscriber with a bounded
//! wait of 60 seconds, so a subscriber that never answers cannot keep the call context open (and the canister
//! unstoppable) past the deadline. The price is that the outcome can be unknown (SYS_UNKNOWN), which is reported,
//! not trapped on.

use candid::Principal;
use ic_cdk::call::{Call, CallFailed, RejectCode};
use std::cell::Cell;

/// How long `notify` waits for a subscriber.
const TIMEOUT_SECONDS: u32 = 60;

thread_local! {
    static SENT: Cell<u64> = const { Cell::new(0) };
}

/// Delivers `event` to `subscriber.on_event`. `Ok` once the subscriber answered (its reply's content is
/// ignored), `Err` if the call failed or the outcome is unknown (no answer within 60 seconds).
#[ic_cdk::update]
async fn notify(subscriber: Principal, event: String) -> Result<(), String> {
    let result = Call::bounded_wait(subscriber, "on_event").change_timeout(TIMEOUT_SECONDS).with_arg(event).await;
    match result {
        Ok(_reply) => {
            // A counter: saturating (not trapping) after the await; it cannot realistically reach u64::MAX.
            SENT.set(SENT.get().saturating_add(1));
            Ok(())
        }
        // The subscriber may or may not have seen the event; it is not counted.
        Err(CallFailed::CallRejected(r)) if r.reject_code() == Ok(RejectCode::SysUnknown) => {
            Err(format!("outcome unknown: {}", r.reject_message()))
        }
        Err(e) => Err(format!("notifying the subscriber failed: {e}")),
    }
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
