//! Metadata importer, fixed twin of `oversized_growth_vulnerable`: `import_metadata` checks the raw size of the
//! reply and refuses anything over 1 KiB before decoding it, and the cache keeps only the newest 64 imports, so
//! what a source sends can no longer grow the heap without bound.

use candid::Principal;
use ic_cdk::call::Call;
use std::cell::RefCell;
use std::collections::VecDeque;

/// The largest reply accepted, in bytes (Candid header included).
const MAX_REPLY_BYTES: usize = 1024;
/// How many imports the cache keeps.
const MAX_ENTRIES: usize = 64;

thread_local! {
    /// The newest imports, oldest first: (source, metadata).
    static CACHE: RefCell<VecDeque<(Principal, String)>> = const { RefCell::new(VecDeque::new()) };
}

/// Fetches `source.metadata()`, caches the text and returns its length in bytes. `Err` if the call fails, the
/// reply is over 1 KiB or is not a text.
#[ic_cdk::update]
async fn import_metadata(source: Principal) -> Result<u64, String> {
    let response = Call::bounded_wait(source, "metadata").await.map_err(|e| format!("metadata call failed: {e}"))?;
    // The reply is in memory already (the system delivers it whole), but only until this message ends: check the
    // raw size before spending instructions on decoding it, and never keep an oversized one.
    let bytes = response.into_bytes();
    if bytes.len() > MAX_REPLY_BYTES {
        return Err(format!("metadata reply too large: {} > {MAX_REPLY_BYTES} bytes", bytes.len()));
    }
    let text: String = candid::decode_one(&bytes).map_err(|e| format!("metadata reply is not a text: {e}"))?;
    let len = text.len() as u64;
    CACHE.with_borrow_mut(|c| examples::push_bounded(c, MAX_ENTRIES, (source, text)));
    Ok(len)
}

/// How many imports are cached (at most 64).
#[ic_cdk::query]
fn cached() -> u64 {
    CACHE.with_borrow(|c| c.len() as u64)
}

/// The total size of the cached metadata, in bytes.
#[ic_cdk::query]
fn cache_bytes() -> u64 {
    CACHE.with_borrow(|c| c.iter().map(|(_, text)| text.len() as u64).sum())
}

#[ic_cdk::query(hidden = true)]
fn __get_candid_interface_tmp_hack() -> String {
    __export_service()
}

ic_cdk::export_candid!();
