//! Stable memory functions: `stable64_*` on both widths, the legacy 32-bit `stable_*` on wasm32.

use wasmtime::{Caller, Linker};

use super::{allowed, charge, exec_in, memory, violation, HostError, HostState};
use crate::instruction_costs::system_api::{DIRTY_PAGE, PER_BYTE};
use crate::limits::{OS_PAGE, WASM_PAGE};
use crate::stable_memory::StableError;

/// The legacy 32-bit API works only while stable memory is at most 4 GiB.
const MAX_32BIT_STABLE_PAGES: u64 = (4 << 30) / WASM_PAGE;

fn stable_error(error: StableError, name: &str, dirty_limit_pages: u64) -> wasmtime::Error {
    match error {
        StableError::OutOfBounds => violation(format!("ic0_{name}: stable memory access out of bounds")),
        StableError::DirtyLimit => {
            wasmtime::Error::new(HostError::StableMemoryAccessLimit { limit: dirty_limit_pages * OS_PAGE / 1024 })
        }
    }
}

fn check_32bit(c: &Caller<'_, HostState>, name: &str) -> wasmtime::Result<()> {
    if c.data().stable.size_pages() > MAX_32BIT_STABLE_PAGES {
        return Err(violation(format!("ic0_{name}: stable memory is larger than 4 GiB; use the stable64 API")));
    }
    Ok(())
}

fn grow(c: &mut Caller<'_, HostState>, pages: u64, max_pages: u64, name: &str) -> wasmtime::Result<u64> {
    exec_in(c, allowed::ALL, name)?;
    Ok(c.data_mut().stable.grow(pages, max_pages).unwrap_or(u64::MAX))
}

fn read(c: &mut Caller<'_, HostState>, dst: u64, offset: u64, size: u64, name: &str) -> wasmtime::Result<()> {
    exec_in(c, allowed::ALL, name)?;
    charge(c, size.saturating_mul(PER_BYTE))?;
    let mem = memory(c, name)?;
    let (data, host) = mem.data_and_store_mut(&mut *c);
    let range = super::checked_range(dst, size, data.len())
        .ok_or_else(|| violation(format!("ic0_{name}: dst={dst} + size={size} exceeds the Wasm memory size")))?;
    host.stable.read(offset, &mut data[range]).map_err(|e| stable_error(e, name, 0))
}

fn write(c: &mut Caller<'_, HostState>, offset: u64, src: u64, size: u64, name: &str) -> wasmtime::Result<()> {
    let limit = exec_in(c, allowed::ALL, name)?.stable_dirty_page_limit;
    charge(c, size.saturating_mul(PER_BYTE))?;
    let mem = memory(c, name)?;
    let (data, host) = mem.data_and_store_mut(&mut *c);
    let range = super::checked_range(src, size, data.len())
        .ok_or_else(|| violation(format!("ic0_{name}: src={src} + size={size} exceeds the Wasm memory size")))?;
    let dirty_before = host.stable.dirty_pages();
    host.stable.write(offset, &data[range], limit).map_err(|e| stable_error(e, name, limit))?;
    // Every 4 KiB page written for the first time in this execution costs the dirty-page overhead.
    let dirtied = c.data().stable.dirty_pages() - dirty_before;
    charge(c, dirtied.saturating_mul(DIRTY_PAGE))
}

pub(super) fn add(linker: &mut Linker<HostState>, memory64: bool) -> wasmtime::Result<()> {
    linker.func_wrap("ic0", "stable64_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
        exec_in(&mut c, allowed::ALL, "stable64_size")?;
        Ok(c.data().stable.size_pages())
    })?;
    linker.func_wrap("ic0", "stable64_grow", |mut c: Caller<'_, HostState>, pages: u64| {
        grow(&mut c, pages, u64::MAX, "stable64_grow")
    })?;
    linker.func_wrap("ic0", "stable64_read", |mut c: Caller<'_, HostState>, dst: u64, off: u64, size: u64| {
        read(&mut c, dst, off, size, "stable64_read")
    })?;
    linker.func_wrap("ic0", "stable64_write", |mut c: Caller<'_, HostState>, off: u64, src: u64, size: u64| {
        write(&mut c, off, src, size, "stable64_write")
    })?;
    if !memory64 {
        linker.func_wrap("ic0", "stable_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
            exec_in(&mut c, allowed::ALL, "stable_size")?;
            check_32bit(&c, "stable_size")?;
            Ok(c.data().stable.size_pages() as u32)
        })?;
        linker.func_wrap("ic0", "stable_grow", |mut c: Caller<'_, HostState>, pages: u32| -> wasmtime::Result<i32> {
            check_32bit(&c, "stable_grow")?;
            let old = grow(&mut c, u64::from(pages), MAX_32BIT_STABLE_PAGES, "stable_grow")?;
            Ok(if old == u64::MAX { -1 } else { old as i32 })
        })?;
        linker.func_wrap("ic0", "stable_read", |mut c: Caller<'_, HostState>, dst: u32, off: u32, size: u32| {
            check_32bit(&c, "stable_read")?;
            read(&mut c, u64::from(dst), u64::from(off), u64::from(size), "stable_read")
        })?;
        linker.func_wrap("ic0", "stable_write", |mut c: Caller<'_, HostState>, off: u32, src: u32, size: u32| {
            check_32bit(&c, "stable_write")?;
            write(&mut c, u64::from(off), u64::from(src), u64::from(size), "stable_write")
        })?;
    }
    Ok(())
}
