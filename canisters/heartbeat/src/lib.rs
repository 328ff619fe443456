//! Counts heartbeats. `canister_heartbeat` increments a counter; the query `beats` replies with it as 8
//! little-endian bytes. Its mere export makes the engine offer a heartbeat at every step.

use std::cell::Cell;

#[link(wasm_import_module = "ic0")]
extern "C" {
    fn msg_reply_data_append(src: usize, size: usize);
    fn msg_reply();
}

thread_local! {
    static BEATS: Cell<u64> = const { Cell::new(0) };
}

#[export_name = "canister_heartbeat"]
extern "C" fn heartbeat() {
    BEATS.with(|b| b.set(b.get() + 1));
}

#[export_name = "canister_query beats"]
extern "C" fn beats() {
    let bytes = BEATS.with(Cell::get).to_le_bytes();
    // SAFETY: `bytes` is a live local; the System API copies it before returning.
    unsafe {
        msg_reply_data_append(bytes.as_ptr() as usize, bytes.len());
        msg_reply();
    }
}
