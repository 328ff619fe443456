//! Metadata importer that keeps whatever it is sent: `import_metadata` fetches `source.metadata()` and caches the
//! text, with no limit on its size or on the number of cached imports. A source answering with ~2 MiB of text
//! grows the heap by megabytes per call until the canister runs out of memory. `oversized_growth_fixed` refuses
//! replies over 1 KiB before decoding them and keeps only the newest 64 imports.

use candid::Principal;
use ic_cdk::call::Call;
use std::cell::RefCell;
use std::collections::VecDeque;

thread_local! {
    /// Every import, oldest first: (source, metadata).
    static CACHE: RefCell<VecDeque<(Principal, String)>> = const { RefCell::new(VecDeque::new()) };
}

/// Fetches `source.metadata()`, caches the text and returns its length in bytes. `Err` if the call fails or the
/// reply is not a text.
#[ic_cdk::update]
async fn import_metadata(source: Principal) -> Result<u64, String> {
    let response = Call::bounded_wait(source, "metadata").await.map_err(|e| format!("metadata call failed: {e}"))?;
    let text = response.candid::<String>().map_err(|e| format!("metadata reply is not a text: {e}"))?;
    let len = text.len() as u64;
    // BUG (deliberate): the source decides how much memory this keeps, and the cache never evicts anything.
    CACHE.with_borrow_mut(|c| c.push_back((source, text)));
    Ok(len)
}

/// How many imports are cached.
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
