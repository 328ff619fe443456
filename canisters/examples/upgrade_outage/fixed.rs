//! Guestbook, fixed twin of `upgrade_outage_vulnerable`: each entry is appended to a `StableLog` in stable memory
//! when it is signed, so the state already is where an upgrade needs it. `pre_upgrade` has nothing to save and
//! `post_upgrade` nothing to restore: an upgrade costs the same with one entry or a million.

use std::borrow::Cow;
use std::cell::RefCell;

use candid::{CandidType, Decode, Deserialize, Encode, Principal};
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::storable::Bound;
use ic_stable_structures::{DefaultMemoryImpl, StableLog, Storable};

/// One signature of the guestbook.
#[derive(CandidType, Deserialize, Clone)]
struct Entry {
    author: Principal,
    message: String,
    signed_at: u64,
}

impl Storable for Entry {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(Encode!(self).expect("an entry encodes"))
    }

    fn into_bytes(self) -> Vec<u8> {
        Encode!(&self).expect("an entry encodes")
    }

    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        Decode!(&bytes, Entry).expect("a stored entry decodes")
    }

    const BOUND: Bound = Bound::Unbounded;
}

/// Longest message accepted, in bytes.
const MAX_MESSAGE: usize = 1024;

type Memory = VirtualMemory<DefaultMemoryImpl>;

thread_local! {
    static MEMORY_MANAGER: RefCell<MemoryManager<DefaultMemoryImpl>> =
        RefCell::new(MemoryManager::init(DefaultMemoryImpl::default()));
    static ENTRIES: RefCell<StableLog<Entry, Memory, Memory>> = RefCell::new(MEMORY_MANAGER.with_borrow(|manager| {
        StableLog::init(manager.get(MemoryId::new(0)), manager.get(MemoryId::new(1)))
    }));
}

/// Signs the guestbook; returns the number of entries.
#[ic_cdk::update]
fn sign(message: String) -> Result<u64, String> {
    if message.len() > MAX_MESSAGE {
        return Err(format!("messages are at most {MAX_MESSAGE} bytes"));
    }
    let entry = Entry { author: ic_cdk::api::msg_caller(), message, signed_at: ic_cdk::api::time() };
    ENTRIES.with_borrow(|entries| entries.append(&entry).map(|index| index + 1).map_err(|e| format!("guestbook full: {e:?}")))
}

/// Number of entries.
#[ic_cdk::query]
fn count() -> u64 {
    ENTRIES.with_borrow(|entries| entries.len())
}

/// The `n` newest entries, newest first.
#[ic_cdk::query]
fn latest(n: u64) -> Vec<Entry> {
    ENTRIES.with_borrow(|entries| {
        let len = entries.len();
        (len.saturating_sub(n.min(100))..len).rev().filter_map(|i| entries.get(i)).collect()
    })
}

ic_cdk::export_candid!();
