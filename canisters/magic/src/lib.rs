//! A bug behind chained exact comparisons. `check(arg)` traps with "magic reached" when the argument starts with
//! the bytes `I`, `C`, `F`, `Z` (compared one by one, each in its own branch) followed by the 64-bit
//! little-endian value `0x0123_4567_89ab_cdef` (compared at once); otherwise it replies "no". Random inputs
//! essentially never get there; block coverage leads a fuzzer through the bytes and comparison feedback hands it
//! the 64-bit value.

#[link(wasm_import_module = "ic0")]
extern "C" {
    fn msg_arg_data_size() -> usize;
    fn msg_arg_data_copy(dst: usize, offset: usize, size: usize);
    fn msg_reply_data_append(src: usize, size: usize);
    fn msg_reply();
    fn trap(src: usize, size: usize) -> !;
}

/// How far the last input got: written in every branch so that the compiler keeps one branch per comparison
/// instead of merging them into a single wide comparison.
static mut STAGE: u32 = 0;

fn reached(stage: u32) {
    // SAFETY: single-threaded canister; a volatile write the optimiser must keep.
    unsafe { core::ptr::write_volatile(&raw mut STAGE, stage) }
}

#[export_name = "canister_update check"]
extern "C" fn check() {
    let mut a = [0u8; 64];
    // SAFETY: copies at most 64 bytes into a 64-byte buffer.
    let len = unsafe {
        let len = msg_arg_data_size().min(a.len());
        msg_arg_data_copy(a.as_mut_ptr() as usize, 0, len);
        len
    };
    if len >= 12 {
        reached(1);
        if a[0] == b'I' {
            reached(2);
            if a[1] == b'C' {
                reached(3);
                if a[2] == b'F' {
                    reached(4);
                    if a[3] == b'Z' {
                        reached(5);
                        let word = u64::from_le_bytes([a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]]);
                        if word == 0x0123_4567_89ab_cdef {
                            let message = b"magic reached";
                            // SAFETY: a live local buffer.
                            unsafe { trap(message.as_ptr() as usize, message.len()) }
                        }
                    }
                }
            }
        }
    }
    let reply = b"no";
    // SAFETY: a live local buffer.
    unsafe {
        msg_reply_data_append(reply.as_ptr() as usize, reply.len());
        msg_reply();
    }
}
