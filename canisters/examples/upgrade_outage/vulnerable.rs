//! Guestbook, vulnerable twin of `upgrade_outage_fixed`: every entry lives on the heap and `pre_upgrade`
//! serialises all of them to stable memory with `stable_save`. What the upgrade costs grows with what anyone has
//! signed, and once it exceeds the install's instruction limit (300 billion on the IC) every upgrade fails in
//! `pre_upgrade`: the canister can never be upgraded again, not even to fix the bug.
//! `upgrade_outage_fixed` keeps the entries in stable memory as they are signed, so an upgrade moves nothing.

use std::cell::RefCell;

use candid::{CandidType, Deserialize, Principal};

/// One signature of the guestbook.
#[derive(CandidType, Deserialize, Clone)]
struct Entry {
    author: Principal,
    message: String,
    signed_at: u64,
}

/// Longest message accepted, in bytes.
const MAX_MESSAGE: usize = 1024;

thread_local! {
    static ENTRIES: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Signs the guestbook; returns the number of entries.
#[ic_cdk::update]
fn sign(message: String) -> Result<u64, String> {
    if message.len() > MAX_MESSAGE {
        return Err(format!("messages are at most {MAX_MESSAGE} bytes"));
    }
    let entry = Entry { author: ic_cdk::api::msg_caller(), message, signed_at: ic_cdk::api::time() };
    Ok(ENTRIES.with_borrow_mut(|entries| {
        entries.push(entry);
        entries.len() as u64
    }))
}

/// Number of entries.
#[ic_cdk::query]
fn count() -> u64 {
    ENTRIES.with_borrow(|entries| entries.len() as u64)
}

/// The `n` newest entries, newest first.
#[ic_cdk::query]
fn latest(n: u64) -> Vec<Entry> {
    ENTRIES.with_borrow(|entries| entries.iter().rev().take(n.min(100) as usize).cloned().collect())
}

#[ic_cdk::pre_upgrade]
fn pre_upgrade() {
    // The bug: the whole guestbook is encoded in one execution, whose cost has no bound.
    ENTRIES.with_borrow(|entries| ic_cdk::storage::stable_save((entries,)).expect("saving the guestbook"));
}

#[ic_cdk::post_upgrade]
fn post_upgrade() {
    let (entries,): (Vec<Entry>,) = ic_cdk::storage::stable_restore().expect("restoring the guestbook");
    ENTRIES.set(entries);
}

ic_cdk::export_candid!();
