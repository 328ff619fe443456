//! Room on the native stack for canister code.
//!
//! wasmtime runs Wasm on the calling thread's own stack and bounds only the Wasm frames (`max_wasm_stack`, measured
//! from where Wasm is entered). A thread whose native stack is smaller than that plus the host's frames would not
//! trap on deep recursion: the process would die on the stack's guard page. The IC gives canister code 5 MiB of
//! Wasm stack on execution threads that have more (`MAX_WASM_STACK_SIZE` in rs/embedders), while Rust test threads
//! get 2 MiB by default. So an execution entered on a thread without enough room switches to a spare stack that
//! has it (one per thread, allocated on first need and reused; `psm` switches the stack pointer, as `stacker` does
//! for rustc, but without an allocation per call). Threads with enough stack (CLI workers, a fuzz target's main
//! thread) take the direct path.

use std::cell::{Cell, RefCell};

/// Native stack kept for the host beyond the Wasm stack: the frames below the Wasm entry (the engine, the caller)
/// and the system API functions that Wasm calls into, which run on top of the deepest Wasm frame.
pub(crate) const HOST_ROOM: usize = 1 << 20;

/// Native stack a thread needs to run canister code with a Wasm stack of `wasm_stack` bytes.
pub const fn needed(wasm_stack: usize) -> usize {
    wasm_stack + HOST_ROOM
}

thread_local! {
    /// The lowest usable address of this thread's stack (0 if unknown), looked up once per thread.
    static STACK_LOW: Cell<Option<usize>> = const { Cell::new(None) };
    /// This thread's spare stack, while it is not in use.
    static SPARE: RefCell<Option<Spare>> = const { RefCell::new(None) };
    /// Whether this thread is running on its spare stack (then `remaining` would measure the wrong stack, and a
    /// nested execution stays where it is: the spare has room for one Wasm stack plus the host's frames).
    static ON_SPARE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, which enters Wasm with a Wasm stack of `wasm_stack` bytes, on this thread's stack when it has room
/// for that, otherwise on this thread's spare stack.
pub(crate) fn with_room<R>(wasm_stack: usize, f: impl FnOnce() -> R) -> R {
    let needed = needed(wasm_stack);
    if ON_SPARE.get() || remaining().is_none_or(|left| left >= needed) {
        return f();
    }
    let spare = match SPARE.take() {
        Some(spare) if spare.usable >= needed => spare,
        _ => Spare::new(needed),
    };
    ON_SPARE.set(true);
    let mut f = Some(f);
    let mut result = None;
    let mut panic = None;
    // SAFETY: `spare` is a page-aligned, writable mapping of `usable` bytes above a guard page, alive until after
    // the switch back; the callback cannot unwind across the switch because every panic is caught inside it.
    unsafe {
        psm::on_stack(spare.low, spare.usable, || {
            let run = std::panic::AssertUnwindSafe(|| result = f.take().map(|f| f()));
            panic = std::panic::catch_unwind(run).err();
        });
    }
    ON_SPARE.set(false);
    SPARE.set(Some(spare));
    match (result, panic) {
        (_, Some(panic)) => std::panic::resume_unwind(panic),
        (Some(result), None) => result,
        (None, None) => unreachable!("the callback ran to completion without a result"),
    }
}

/// A stack of our own: an anonymous mapping with an inaccessible guard page below it.
struct Spare {
    mapping: *mut libc::c_void,
    len: usize,
    low: *mut u8,
    usable: usize,
}

impl Spare {
    const GUARD: usize = 64 * 1024;

    fn new(usable: usize) -> Spare {
        let usable = usable.div_ceil(Self::GUARD) * Self::GUARD;
        let len = usable + Self::GUARD;
        // SAFETY: a fresh private anonymous mapping; on success its first GUARD bytes are made inaccessible.
        unsafe {
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
            let mapping = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0);
            if mapping == libc::MAP_FAILED || libc::mprotect(mapping, Self::GUARD, libc::PROT_NONE) != 0 {
                // The address space is exhausted: nothing the engine could run would be faithful.
                panic!("icfuzz engine: cannot map {len} bytes of stack for canister code: {}", std::io::Error::last_os_error());
            }
            Spare { mapping, len, low: mapping.cast::<u8>().add(Self::GUARD), usable }
        }
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Spare::new` with this length and nothing runs on it any more.
        unsafe {
            libc::munmap(self.mapping, self.len);
        }
    }
}

/// Bytes of native stack left below the current frame, or `None` where the platform does not say.
fn remaining() -> Option<usize> {
    let low = STACK_LOW.with(|cell| match cell.get() {
        Some(low) => low,
        None => {
            let low = stack_low().unwrap_or(0);
            cell.set(Some(low));
            low
        }
    });
    if low == 0 {
        return None;
    }
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    Some(here.saturating_sub(low))
}

/// The lowest address of the current thread's stack, plus a margin for its guard page.
#[cfg(target_os = "linux")]
fn stack_low() -> Option<usize> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed once; the out-pointers
    // are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if got != 0 || addr.is_null() {
            return None;
        }
        // The guard page (and, on the main thread, whatever the kernel keeps below the stack limit) is not usable.
        Some(addr as usize + 64 * 1024)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_low() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uses at least `kib` KiB of native stack (a frame holds 1 KiB, and a copy or two of it in debug builds).
    #[inline(never)]
    fn recurse(kib: usize) -> usize {
        let frame = std::hint::black_box([1u8; 1024]);
        if kib == 0 {
            return frame[0] as usize;
        }
        recurse(kib - 1) + std::hint::black_box(frame)[1023] as usize
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_thread_without_room_runs_on_its_spare_stack_and_keeps_it() {
        let small = std::thread::Builder::new().stack_size(256 * 1024).spawn(|| {
            assert!(remaining().expect("linux reports thread stacks") < 256 * 1024);
            let here = psm::stack_pointer() as usize;
            let (sp, sum) = with_room(1 << 20, || (psm::stack_pointer() as usize, recurse(400)));
            assert_eq!(sum, 401, "400 KiB of frames (or more) ran on a 256 KiB thread");
            let thread_stack = stack_low().unwrap() - 64 * 1024..here + 64 * 1024;
            assert!(!thread_stack.contains(&sp), "it ran on another stack");
            let again = with_room(1 << 20, || psm::stack_pointer() as usize);
            assert!(again.abs_diff(sp) < 64 * 1024, "the same spare stack is reused");
            let caught = std::panic::catch_unwind(|| with_room(1 << 20, || panic!("inside")));
            assert!(caught.is_err(), "a panic on the spare stack reaches the caller");
            assert_eq!(with_room(1 << 20, || recurse(8)), 9, "and the spare stack is usable after it");
        });
        small.unwrap().join().unwrap();
        let big = std::thread::Builder::new().stack_size(needed(1 << 20) + (1 << 20)).spawn(|| {
            let here = psm::stack_pointer() as usize;
            let sp = with_room(1 << 20, || psm::stack_pointer() as usize);
            assert!(sp.abs_diff(here) < 64 * 1024, "enough room: it runs on the thread's own stack");
        });
        big.unwrap().join().unwrap();
    }
}
