//! Linear memories whose written pages can be listed, so that rollback and snapshot restore cost what an execution
//! touched instead of the whole heap.
//!
//! The engine supplies wasmtime's linear memories itself ([`TrackedMemoryCreator`]). Each one is an anonymous
//! mapping registered with a process-wide userfaultfd in *asynchronous write-protect* mode: the kernel write-protects
//! the pages and, on the first write to one, simply clears the protection (no signal, no fault handler).
//! `PAGEMAP_SCAN` with `PM_SCAN_WP_MATCHING` then reports the pages written since the previous scan and re-protects
//! them atomically. Both need Linux ≥ 6.7; where they are missing (or userfaultfd is not permitted) [`dirty_pages`]
//! returns `None` and the engine falls back to copying whole heaps.
//!
//! Why not mprotect and a SIGSEGV handler: wasmtime owns SIGSEGV for its own traps. Why not soft-dirty bits: clearing
//! them is process-wide, so two subnets in one process (parallel tests, fuzz workers) would corrupt each other.

use std::sync::OnceLock;

use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

/// Host page size the tracker reports in (the kernel's granularity).
pub(crate) const HOST_PAGE: usize = 4096;

// Kernel ABI constants (include/uapi/linux/userfaultfd.h, include/uapi/linux/fs.h).
const UFFD_API: u64 = 0xAA;
const UFFD_USER_MODE_ONLY: libc::c_int = 1;
const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
const UFFDIO_WRITEPROTECT_MODE_WP: u64 = 1 << 0;
const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;
const PAGE_IS_WRITTEN: u64 = 1 << 1;

const fn iowr(ty: u64, nr: u64, size: usize) -> libc::c_ulong {
    ((3u64 << 30) | ((size as u64) << 16) | (ty << 8) | nr) as libc::c_ulong
}

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioWriteprotect {
    range: UffdioRange,
    mode: u64,
}

#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

const UFFDIO_API: libc::c_ulong = iowr(0xAA, 0x3F, std::mem::size_of::<UffdioApi>());
const UFFDIO_REGISTER: libc::c_ulong = iowr(0xAA, 0x00, std::mem::size_of::<UffdioRegister>());
const UFFDIO_WRITEPROTECT: libc::c_ulong = iowr(0xAA, 0x06, std::mem::size_of::<UffdioWriteprotect>());
const PAGEMAP_SCAN: libc::c_ulong = iowr(b'f' as u64, 16, std::mem::size_of::<PmScanArg>());

/// The process-wide userfaultfd and pagemap file, if the kernel supports what we need.
struct Tracker {
    uffd: libc::c_int,
    pagemap: libc::c_int,
}

fn tracker() -> Option<&'static Tracker> {
    static TRACKER: OnceLock<Option<Tracker>> = OnceLock::new();
    TRACKER.get_or_init(open_tracker).as_ref()
}

fn open_tracker() -> Option<Tracker> {
    if std::env::var_os("ICFUZZ_NO_DIRTY_TRACKING").is_some() {
        return None;
    }
    // SAFETY: plain syscalls on fds we own; every return value is checked.
    unsafe {
        let uffd = libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY);
        if uffd < 0 {
            return None;
        }
        let uffd = uffd as libc::c_int;
        let mut api = UffdioApi { api: UFFD_API, features: UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, ioctls: 0 };
        let wanted = api.features;
        if libc::ioctl(uffd, UFFDIO_API, &mut api) != 0 || api.features & wanted != wanted {
            libc::close(uffd);
            return None;
        }
        let pagemap = libc::open(c"/proc/self/pagemap".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if pagemap < 0 {
            libc::close(uffd);
            return None;
        }
        Some(Tracker { uffd, pagemap })
    }
}

/// Whether dirty-page tracking works in this process.
pub(crate) fn available() -> bool {
    tracker().is_some()
}

/// Write-protects `[start, start+len)` so the next write to each page is recorded.
fn write_protect(t: &Tracker, start: usize, len: usize) -> bool {
    if len == 0 {
        return true;
    }
    let mut wp = UffdioWriteprotect {
        range: UffdioRange { start: start as u64, len: len as u64 },
        mode: UFFDIO_WRITEPROTECT_MODE_WP,
    };
    // SAFETY: the range is a mapping we created and registered; the ioctl only changes page protections.
    unsafe { libc::ioctl(t.uffd, UFFDIO_WRITEPROTECT, &mut wp) == 0 }
}

/// The host pages in `[base, base+len)` written since the previous call (or since the memory was created or grew),
/// as page indices relative to `base`; re-arms tracking for them. `None` when tracking is unavailable.
///
/// # Safety
///
/// `[base, base+len)` must lie inside a memory created by [`TrackedMemoryCreator`].
pub(crate) unsafe fn dirty_pages(base: *const u8, len: usize) -> Option<Vec<usize>> {
    let t = tracker()?;
    let start = base as u64;
    let end = start + len as u64;
    let mut out = Vec::new();
    let mut regions = [PageRegion::default(); 256];
    let mut at = start;
    while at < end {
        let mut arg = PmScanArg {
            size: std::mem::size_of::<PmScanArg>() as u64,
            flags: PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
            start: at,
            end,
            walk_end: 0,
            vec: regions.as_mut_ptr() as u64,
            vec_len: regions.len() as u64,
            max_pages: 0,
            category_inverted: 0,
            category_mask: PAGE_IS_WRITTEN,
            category_anyof_mask: 0,
            return_mask: PAGE_IS_WRITTEN,
        };
        // SAFETY: `arg` and `regions` are valid for the ioctl's reads and writes; the scanned range is ours.
        let n = unsafe { libc::ioctl(t.pagemap, PAGEMAP_SCAN, &mut arg) };
        if n < 0 {
            return None;
        }
        for region in &regions[..n as usize] {
            let first = ((region.start - start) as usize) / HOST_PAGE;
            let last = ((region.end - start) as usize) / HOST_PAGE;
            out.extend(first..last);
        }
        if arg.walk_end <= at {
            return None;
        }
        at = arg.walk_end;
    }
    Some(out)
}

/// Creates wasmtime linear memories that [`dirty_pages`] can scan.
pub(crate) struct TrackedMemoryCreator;

// SAFETY: `new_memory` returns memories that honour wasmtime's contract: zero-filled, the requested reservation
// plus an unmapped guard after it, a base pointer that never moves.
unsafe impl MemoryCreator for TrackedMemoryCreator {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        let reserved = reserved_size_in_bytes.unwrap_or_else(|| maximum.unwrap_or(minimum).max(minimum));
        let reserved = round_up(reserved);
        let total = reserved.checked_add(guard_size_in_bytes).ok_or("memory reservation overflows")?;
        let overwritten = OVERWRITTEN_NEXT.with(|f| f.replace(0));
        let mut memory = match (overwritten > 0).then(|| recycled(reserved, total)).flatten() {
            Some(mut memory) => {
                memory.overwritten = round_up(overwritten);
                memory
            }
            None => Self::map(reserved, total)?,
        };
        memory.grow_to(minimum).map_err(|e| format!("{e:#}"))?;
        Ok(Box::new(memory))
    }
}

/// Faults in the pages of `[ptr, ptr + len)` with one `madvise(MADV_POPULATE_WRITE)` (Linux ≥ 5.14): far cheaper
/// than one page fault per page when a whole heap is about to be written into a fresh memory. Best effort: where it
/// fails, the writes fault the pages in as usual.
pub(crate) fn prefault(ptr: *mut u8, len: usize) {
    const MADV_POPULATE_WRITE: libc::c_int = 23;
    if len == 0 {
        return;
    }
    let start = ptr as usize & !(HOST_PAGE - 1);
    let end = round_up(ptr as usize + len);
    // SAFETY: the range lies within a mapping the caller owns; populating pages does not change their contents.
    unsafe { libc::madvise(start as *mut libc::c_void, end - start, MADV_POPULATE_WRITE) };
}

impl TrackedMemoryCreator {
    /// A fresh reservation: inaccessible, registered with the userfaultfd where possible.
    fn map(reserved: usize, total: usize) -> Result<TrackedMemory, String> {
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!("mmap of {total} bytes failed: {}", std::io::Error::last_os_error()));
        }
        let mut memory = TrackedMemory { base: base as *mut u8, size: 0, reserved, total, tracked: false, stale: 0, overwritten: 0 };
        if let Some(t) = tracker() {
            let mut reg = UffdioRegister {
                range: UffdioRange { start: base as u64, len: reserved as u64 },
                mode: UFFDIO_REGISTER_MODE_WP,
                ioctls: 0,
            };
            // SAFETY: registering our own mapping with our userfaultfd.
            memory.tracked = unsafe { libc::ioctl(t.uffd, UFFDIO_REGISTER, &mut reg) } == 0;
        }
        Ok(memory)
    }
}

/// Mappings of dropped memories, made inaccessible again but not zeroed, kept for a memory whose whole initial size
/// the caller overwrites: rebuilding an instance after an execution grew its memory (which wasmtime cannot
/// shrink). The rebuild then writes into resident pages instead of faulting fresh zero pages in one at a time, and
/// nothing is unmapped. Old contents past the new size are zeroed when growth exposes them (see `stale`).
static RECYCLED: std::sync::Mutex<Vec<TrackedMemory>> = std::sync::Mutex::new(Vec::new());
/// Most mappings kept, and the most bytes a kept mapping may have in use (larger ones are unmapped).
const RECYCLE_MAX_MAPPINGS: usize = 16;
const RECYCLE_MAX_BYTES: usize = 64 << 20;

thread_local! {
    /// Set by [`overwritten_next`]: bytes of the next memory created on this thread its creator overwrites.
    static OVERWRITTEN_NEXT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Promises that the caller overwrites the first `bytes` of the next memory this thread creates (growing it to at
/// least that size) before anything reads them, so it may come from the recycled mappings with old contents there.
pub(crate) fn overwritten_next(bytes: usize) {
    OVERWRITTEN_NEXT.with(|f| f.set(bytes));
}

fn recycled(reserved: usize, total: usize) -> Option<TrackedMemory> {
    let mut pool = RECYCLED.lock().unwrap_or_else(|e| e.into_inner());
    let index = pool.iter().position(|m| m.reserved == reserved && m.total == total)?;
    Some(pool.swap_remove(index))
}

fn round_up(bytes: usize) -> usize {
    bytes.div_ceil(HOST_PAGE) * HOST_PAGE
}

struct TrackedMemory {
    base: *mut u8,
    size: usize,
    reserved: usize,
    total: usize,
    tracked: bool,
    /// Bytes from the start that may hold a previous user's data (recycled mappings): growth past the current size
    /// zeroes what it exposes below this mark, so new pages read as zero as Wasm requires.
    stale: usize,
    /// Bytes from the start the creator promised to overwrite (see [`overwritten_next`]): never zeroed.
    overwritten: usize,
}

// SAFETY: the mapping is owned by this value and only accessed through wasmtime, which synchronises access.
unsafe impl Send for TrackedMemory {}
// SAFETY: as above.
unsafe impl Sync for TrackedMemory {}

// SAFETY: `as_ptr` is stable, `byte_size` bytes are readable and writable, growth stays within the reservation.
unsafe impl LinearMemory for TrackedMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.reserved
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if new_size > self.reserved {
            wasmtime::bail!("cannot grow memory to {new_size} bytes: the reservation is {} bytes", self.reserved);
        }
        let old = round_up(self.size);
        let new = round_up(new_size);
        if new > old {
            // SAFETY: `[old, new)` lies inside our reservation.
            let rc = unsafe {
                libc::mprotect(self.base.add(old) as *mut libc::c_void, new - old, libc::PROT_READ | libc::PROT_WRITE)
            };
            if rc != 0 {
                wasmtime::bail!("mprotect failed: {}", std::io::Error::last_os_error());
            }
            let start = old.max(self.overwritten);
            let end = self.stale.min(new);
            if end > start {
                // SAFETY: `[start, end)` was just made accessible and lies inside our reservation.
                unsafe { std::ptr::write_bytes(self.base.add(start), 0, end - start) };
            }
            if self.tracked {
                if let Some(t) = tracker() {
                    // New pages start clean: they are zero in the shadow copy too.
                    self.tracked = write_protect(t, self.base as usize + old, new - old);
                }
            }
        }
        self.size = new_size;
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.base
    }
}

impl Drop for TrackedMemory {
    fn drop(&mut self) {
        let used = round_up(self.size).max(self.stale);
        if used <= RECYCLE_MAX_BYTES {
            let mut pool = RECYCLED.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: `[0, size)` is our accessible range; made inaccessible, the mapping is as `map` left it apart
            // from resident, possibly non-zero pages below `stale`.
            if pool.len() < RECYCLE_MAX_MAPPINGS
                && unsafe { libc::mprotect(self.base as *mut libc::c_void, round_up(self.size), libc::PROT_NONE) } == 0
            {
                pool.push(TrackedMemory { size: 0, stale: used, overwritten: 0, ..*self });
                return;
            }
        }
        // SAFETY: unmapping our own mapping; the userfaultfd registration goes with it.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_written_page_once() {
        if !available() {
            eprintln!("skipped: userfaultfd write-protect tracking is not available on this kernel");
            return;
        }
        let len = 16 * HOST_PAGE;
        let mut memory = TrackedMemoryCreator.new_memory(MemoryType::new(1, None), len, None, Some(1 << 20), 0).unwrap();
        let base = memory.as_ptr();
        // SAFETY: `base..base+len` is the memory just created; written through raw pointers as wasm code would.
        unsafe {
            assert_eq!(dirty_pages(base, len), Some(vec![]), "a fresh memory is clean");
            *base.add(HOST_PAGE + 7) = 1;
            *base.add(9 * HOST_PAGE) = 2;
            let _read = *base.add(3 * HOST_PAGE);
            assert_eq!(dirty_pages(base, len), Some(vec![1, 9]), "written pages, not read ones");
            assert_eq!(dirty_pages(base, len), Some(vec![]), "scanning re-arms tracking");
            *base.add(HOST_PAGE) = 3;
            assert_eq!(dirty_pages(base, len), Some(vec![1]));
        }
        memory.grow_to(2 * len).unwrap();
        // SAFETY: as above, within the grown size.
        unsafe {
            assert_eq!(dirty_pages(base, 2 * len), Some(vec![]), "grown pages start clean");
            *base.add(20 * HOST_PAGE) = 4;
            assert_eq!(dirty_pages(base, 2 * len), Some(vec![20]));
        }
    }
}
