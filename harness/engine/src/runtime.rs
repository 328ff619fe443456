//! The wasmtime side: one `wasmtime::Engine`, a linker per pointer width, compiled modules, and a canister's
//! live instance ([`Code`]) with the snapshot/restore that gives executions their atomicity.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::{Global, Instance, Linker, Memory, Module, Mutability, Store, Table, Val};

use crate::config::Config;
use crate::ic0::{self, HostState};
use crate::module::{self, InvalidModule, ModuleInfo};
use crate::stable_memory::StableMemory;
use crate::tracked_memory::{self, TrackedMemoryCreator, HOST_PAGE};

/// A validated, rewritten and compiled canister module, shared by every canister that installs the same bytes.
pub(crate) struct LoadedModule {
    /// The compiled rewrite.
    pub module: Module,
    /// What validation learned about the module.
    pub info: ModuleInfo,
    /// SHA-256 of the module as installed (after gunzip), reported as `module_hash`.
    pub hash: [u8; 32],
    /// Block counters, when the module is instrumented for coverage.
    pub coverage: Option<Arc<crate::coverage::CoverageCounters>>,
    /// Bytes of the module as installed (after gunzip), which a canister snapshot counts.
    pub wasm_size: u64,
}

/// A wasmtime engine and the modules it compiled, shared by every subnet of the process with the same engine
/// settings. Tools build subnets again and again for the same canisters (a harness per worker, a preflight, a
/// replay, each test), and compiling canister Wasm with Cranelift is most of what building one costs. Compiled code
/// is immutable and per-canister state lives in stores, so sharing it changes nothing a canister can observe.
struct SharedEngine {
    engine: wasmtime::Engine,
    /// Compiled modules by the SHA-256 of the exact bytes compiled (after rewriting and instrumentation).
    compiled: Mutex<CompiledCache>,
}

/// At most [`CompiledCache::CAPACITY`] modules, oldest out first: a process that compiles endless distinct modules
/// (the engine's own module fuzzer) must not keep them all.
#[derive(Default)]
struct CompiledCache {
    modules: BTreeMap<[u8; 32], Module>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl CompiledCache {
    const CAPACITY: usize = 64;

    fn get(&self, key: &[u8; 32]) -> Option<Module> {
        self.modules.get(key).cloned()
    }

    fn insert(&mut self, key: [u8; 32], module: Module) {
        if self.modules.insert(key, module).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.modules.remove(&old);
            }
        }
    }
}

/// The shared engine for these settings: the Wasm stack size (the only engine setting a [`Config`] changes) and
/// the pointer width of the modules it compiles, whose fuel table differs (the IC weighs wasm64 memory accesses
/// double, and wasmtime takes one table per engine).
fn shared_engine(config: &Config, memory64: bool) -> wasmtime::Result<Arc<SharedEngine>> {
    static ENGINES: OnceLock<Mutex<BTreeMap<(usize, bool), Arc<SharedEngine>>>> = OnceLock::new();
    let mut engines = ENGINES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = engines.get(&(config.max_wasm_stack, memory64)) {
        return Ok(shared.clone());
    }
    let mut wt = wasmtime::Config::new();
    // Determinism (ic-semantics §11): canonical NaNs, fuel instead of wall-clock interruption.
    wt.cranelift_nan_canonicalization(true);
    wt.consume_fuel(true);
    // Fuel is the IC's weighted instruction count, not one unit per operator.
    wt.operator_cost(crate::instruction_costs::operator_cost(memory64));
    wt.max_wasm_stack(config.max_wasm_stack);
    // wasmtime refuses a Wasm stack above its async stack size (2 MiB by default) even though nothing runs async.
    wt.async_stack_size(crate::native_stack::needed(config.max_wasm_stack));
    // Reference types are on and threads off by default in this wasmtime build (no `gc`/`threads` features).
    // The IC's feature set. Our own validation enforces it on the canister's module; wasmtime's flags only
    // need to admit it (multi-memory stays on for instrumentation that adds a counters memory).
    wt.wasm_memory64(true);
    wt.wasm_multi_memory(true);
    wt.wasm_bulk_memory(true);
    wt.wasm_simd(true);
    wt.wasm_relaxed_simd(false);
    wt.wasm_tail_call(false);
    wt.wasm_gc(false);
    // Linear memories come from us so that written pages can be listed (tracked_memory.rs). 8 GiB of address
    // space covers wasm32's 4 GiB and wasm64's 6 GiB without ever moving a memory.
    wt.with_host_memory(Arc::new(TrackedMemoryCreator));
    wt.memory_reservation(8 << 30);
    wt.memory_may_move(false);
    // Copy-on-write images need wasmtime's own mmap memories; data segments are copied in instead.
    wt.memory_init_cow(false);
    let shared = Arc::new(SharedEngine { engine: wasmtime::Engine::new(&wt)?, compiled: Mutex::new(CompiledCache::default()) });
    engines.insert((config.max_wasm_stack, memory64), shared.clone());
    Ok(shared)
}

/// The wasmtime engine and linkers, plus a cache of compiled modules keyed by hash.
pub(crate) struct Runtime {
    /// The engines for wasm32 and wasm64 modules, in that order.
    shared: [Arc<SharedEngine>; 2],
    linker32: Linker<HostState>,
    linker64: Linker<HostState>,
    modules: BTreeMap<[u8; 32], Arc<LoadedModule>>,
    coverage: bool,
    /// The Wasm stack limit the engine was built with (executions make sure the native stack has room for it).
    pub(crate) wasm_stack: usize,
}

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// The module breaks the IC's rules.
    #[error(transparent)]
    Invalid(#[from] InvalidModule),
    /// wasmtime refused it (should not happen after validation; reported, never panicked on).
    #[error("wasmtime could not compile the module: {0}")]
    Compile(String),
}

impl Runtime {
    pub(crate) fn new(config: &Config) -> wasmtime::Result<Runtime> {
        let shared = [shared_engine(config, false)?, shared_engine(config, true)?];
        let mut linker32 = Linker::new(&shared[0].engine);
        ic0::add_to_linker::<u32>(&mut linker32, false)?;
        let mut linker64 = Linker::new(&shared[1].engine);
        ic0::add_to_linker::<u64>(&mut linker64, true)?;
        Ok(Runtime { shared, linker32, linker64, modules: BTreeMap::new(), coverage: config.coverage, wasm_stack: config.max_wasm_stack })
    }

    /// The engine that compiles and runs modules of this pointer width.
    fn engine(&self, memory64: bool) -> &wasmtime::Engine {
        &self.shared[usize::from(memory64)].engine
    }

    /// Decodes (gunzip), validates, rewrites and compiles `bytes`, once per distinct module.
    pub(crate) fn load(&mut self, bytes: &[u8]) -> Result<Arc<LoadedModule>, LoadError> {
        let wasm = module::decode_module(bytes)?;
        let hash: [u8; 32] = Sha256::digest(&wasm).into();
        if let Some(loaded) = self.modules.get(&hash) {
            return Ok(loaded.clone());
        }
        let info = module::validate(&wasm)?;
        let mut rewritten = module::rewrite(&wasm, &info)?;
        let mut coverage = None;
        if self.coverage {
            let instrumented = module::coverage::instrument(&rewritten, info.memory64)?;
            rewritten = instrumented.wasm;
            coverage = Some(Arc::new(crate::coverage::CoverageCounters::new(
                instrumented.block_functions,
                instrumented.function_names,
            )));
        }
        let key: [u8; 32] = Sha256::digest(&rewritten).into();
        let shared = &self.shared[usize::from(info.memory64)];
        let cached = shared.compiled.lock().unwrap_or_else(|e| e.into_inner()).get(&key);
        let module = match cached {
            Some(module) => module,
            None => {
                let module = Module::new(&shared.engine, &rewritten).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
                shared.compiled.lock().unwrap_or_else(|e| e.into_inner()).insert(key, module.clone());
                module
            }
        };
        let loaded = Arc::new(LoadedModule { module, info, hash, coverage, wasm_size: wasm.len() as u64 });
        self.modules.insert(hash, loaded.clone());
        Ok(loaded)
    }

    /// Instantiates `module` in a fresh store that owns `stable`.
    pub(crate) fn instantiate(&self, module: Arc<LoadedModule>, stable: StableMemory) -> wasmtime::Result<Code> {
        let mut code = self.instantiate_bare(module, stable)?;
        if tracked_memory::available() {
            let snapshot = code.snapshot();
            // Re-arm tracking: data segments were just written and are part of the committed state.
            if code.take_dirty().is_some() || code.memory.is_none() {
                code.shadow = Some(snapshot);
            }
        }
        Ok(code)
    }

    /// Instantiates without taking the shadow copy (the caller installs one).
    fn instantiate_bare(&self, module: Arc<LoadedModule>, stable: StableMemory) -> wasmtime::Result<Code> {
        let memory64 = module.info.memory64;
        let mut store = Store::new(self.engine(memory64), HostState::new(stable, memory64));
        store.limiter(|host| host);
        // Data segments run at instantiation and count against no message; give them ample fuel.
        store.set_fuel(u64::MAX)?;
        let linker = if memory64 { &self.linker64 } else { &self.linker32 };
        let instance = linker.instantiate(&mut store, &module.module)?;
        let memory = instance.get_memory(&mut store, module::MEMORY_EXPORT);
        store.data_mut().memory = memory;
        let table = instance.get_table(&mut store, module::TABLE_EXPORT);
        let coverage_memory = instance.get_memory(&mut store, module::coverage::COVERAGE_EXPORT);
        let blocks = module.coverage.as_ref().map_or(0, |c| c.blocks());
        store.data_mut().coverage = coverage_memory.map(|m| (m, blocks));
        let mut globals = Vec::new();
        for export in module.module.exports() {
            if export.name().starts_with(module::GLOBAL_EXPORT_PREFIX) {
                if let Some(global) = instance.get_global(&mut store, export.name()) {
                    if global.ty(&store).mutability() == Mutability::Var {
                        globals.push(global);
                    }
                }
            }
        }
        static NEXT_CODE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT_CODE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Code { id, module, store, instance, memory, table, globals, shadow: None, since_snapshot: None, coverage_memory })
    }

    /// Rebuilds `code` as a fresh instance holding `snapshot`: used when a trapped execution grew the memory,
    /// because a wasmtime memory cannot shrink back.
    fn rebuild(&self, code: &mut Code, snapshot: &HeapSnapshot) -> wasmtime::Result<()> {
        // Reuse the old shadow's buffer: its pages are already resident, a fresh clone would fault each one in.
        let mut shadow = code.shadow.take().unwrap_or_default();
        shadow.memory.clear();
        shadow.memory.extend_from_slice(&snapshot.memory);
        shadow.globals.clone_from(&snapshot.globals);
        self.rebuild_owned(code, shadow)
    }

    /// [`Runtime::rebuild`] from a heap the caller gives up, which becomes the new instance's shadow.
    fn rebuild_owned(&self, code: &mut Code, snapshot: HeapSnapshot) -> wasmtime::Result<()> {
        let stable = std::mem::take(&mut code.store.data_mut().stable);
        // The snapshot is written over the whole new memory, so it may reuse a dropped instance's pages.
        tracked_memory::overwritten_next(snapshot.memory.len());
        let fresh = self.instantiate_bare(code.module.clone(), stable);
        // A module without memory leaves the promise unused; it must not reach an unrelated memory.
        tracked_memory::overwritten_next(0);
        let mut fresh = match fresh {
            Ok(fresh) => fresh,
            Err(e) => {
                code.shadow = Some(snapshot);
                return Err(e);
            }
        };
        if let Some(memory) = fresh.memory {
            let pages = memory.size(&fresh.store);
            let wanted = snapshot.memory.len() as u64 / crate::limits::WASM_PAGE;
            if wanted > pages {
                memory.grow(&mut fresh.store, wanted - pages)?;
            }
        }
        if let Some(memory) = fresh.memory {
            let data = memory.data_mut(&mut fresh.store);
            tracked_memory::prefault(data.as_mut_ptr(), snapshot.memory.len().min(data.len()));
        }
        fresh.write_snapshot(&snapshot)?;
        if tracked_memory::available() && (fresh.take_dirty().is_some() || fresh.memory.is_none()) {
            fresh.shadow = Some(snapshot);
        }
        *code = fresh;
        Ok(())
    }

    /// Restores `code` to `snapshot` (heap and globals; stable memory has its own journal).
    pub(crate) fn restore(&self, code: &mut Code, snapshot: &HeapSnapshot) -> wasmtime::Result<()> {
        let grown = code.memory.is_some_and(|m| m.data_size(&code.store) != snapshot.memory.len());
        if grown {
            self.rebuild(code, snapshot)
        } else {
            code.write_snapshot(snapshot)?;
            if let Some(shadow) = code.shadow.as_mut() {
                shadow.memory.copy_from_slice(&snapshot.memory);
                shadow.globals.clone_from(&snapshot.globals);
                code.take_dirty();
            }
            Ok(())
        }
    }

    /// Patches `code` back to the state it had at subnet snapshot `id`, copying only the pages committed since.
    /// Returns the number of host pages copied, or `None` (nothing changed) when patching is impossible: no
    /// tracking, another instance, or the memory grew.
    pub(crate) fn restore_to_snapshot(&self, code: &mut Code, id: u64, heap: &HeapSnapshot) -> Option<usize> {
        let size = code.memory.map_or(0, |m| m.data_size(&code.store));
        let fast = code.shadow.is_some()
            && size == heap.memory.len()
            && code.since_snapshot.as_ref().is_some_and(|(marked, _)| *marked == id);
        if !fast || !code.store.data_mut().stable.restore_snapshot(id) {
            return None;
        }
        let (_, pages) = code.since_snapshot.take().expect("checked");
        let copied = pages.len();
        let mut shadow = code.shadow.take().expect("checked");
        if let Some(memory) = code.memory {
            let data = memory.data_mut(&mut code.store);
            for page in pages {
                let range = page * HOST_PAGE..((page + 1) * HOST_PAGE).min(data.len());
                data[range.clone()].copy_from_slice(&heap.memory[range.clone()]);
                shadow.memory[range.clone()].copy_from_slice(&heap.memory[range]);
            }
        }
        for (global, value) in code.globals.iter().zip(&heap.globals) {
            if global.set(&mut code.store, *value).is_err() {
                code.shadow = Some(shadow);
                return None;
            }
        }
        shadow.globals.clone_from(&heap.globals);
        code.shadow = Some(shadow);
        code.take_dirty();
        code.since_snapshot = Some((id, BTreeSet::new()));
        Some(copied)
    }

    /// Instantiates `module` on a kept heap (upgrade with `wasm_memory_persistence = keep`): the old memory's
    /// contents, then the new module's active data segments written over them; globals start fresh.
    pub(crate) fn instantiate_keeping(
        &self,
        module: Arc<LoadedModule>,
        stable: StableMemory,
        old_heap: &HeapSnapshot,
    ) -> wasmtime::Result<Code> {
        let mut code = self.instantiate(module, stable)?;
        let Some(memory) = code.memory else {
            wasmtime::bail!("the new module has no memory to keep the heap in");
        };
        let pages = memory.size(&code.store);
        let wanted = old_heap.memory.len() as u64 / crate::limits::WASM_PAGE;
        if wanted > pages {
            memory.grow(&mut code.store, wanted - pages)?;
        }
        let data = memory.data_mut(&mut code.store);
        if data.len() < old_heap.memory.len() {
            wasmtime::bail!("the kept heap does not fit the new module's memory");
        }
        data[..old_heap.memory.len()].copy_from_slice(&old_heap.memory);
        for (offset, bytes) in &code.module.info.active_data {
            let start = *offset as usize;
            let Some(target) = data.get_mut(start..start + bytes.len()) else {
                wasmtime::bail!("a data segment at {offset} lies outside the kept heap");
            };
            target.copy_from_slice(bytes);
        }
        if code.shadow.is_some() {
            code.shadow = Some(code.snapshot());
            code.take_dirty();
        }
        Ok(code)
    }

    /// Builds a new instance of `module` holding `heap` and `stable` (the slow path of a snapshot restore).
    pub(crate) fn instantiate_with(
        &self,
        module: Arc<LoadedModule>,
        heap: &HeapSnapshot,
        stable: StableMemory,
    ) -> wasmtime::Result<Code> {
        let mut code = self.instantiate_bare(module, StableMemory::default())?;
        code.store.data_mut().stable = stable;
        self.rebuild(&mut code, heap)?;
        Ok(code)
    }

    /// Marks the start of an execution on `code`: what [`Runtime::rollback`] needs to undo it.
    pub(crate) fn checkpoint(&self, code: &mut Code) -> Checkpoint {
        if code.shadow.is_some() {
            Checkpoint::Tracked
        } else {
            Checkpoint::Copy(code.snapshot())
        }
    }

    /// Keeps what the execution since `checkpoint` did: with tracking, copies the written pages into the shadow.
    pub(crate) fn commit(&self, code: &mut Code, _checkpoint: Checkpoint) {
        if code.shadow.is_none() {
            return;
        }
        let dirty = code.take_dirty();
        let globals: Vec<Val> = code.globals.iter().map(|g| g.get(&mut code.store)).collect();
        let data = code.memory.map(|m| m.data(&code.store)).unwrap_or(&[]);
        let shadow = code.shadow.as_mut().expect("checked above");
        // Grown pages are zero unless written, and written ones are in `dirty`.
        shadow.memory.resize(data.len(), 0);
        match dirty {
            Some(pages) => {
                for &page in &pages {
                    let range = page * HOST_PAGE..((page + 1) * HOST_PAGE).min(data.len());
                    shadow.memory[range.clone()].copy_from_slice(&data[range]);
                }
                if let Some((_, since)) = code.since_snapshot.as_mut() {
                    since.extend(pages);
                }
            }
            // Tracking failed: fall back to a full copy rather than lose changes.
            None => {
                shadow.memory.copy_from_slice(data);
                code.since_snapshot = None;
            }
        }
        shadow.globals = globals;
    }

    /// Undoes everything since `checkpoint`: heap and globals (stable memory has its own journal).
    pub(crate) fn rollback(&self, code: &mut Code, checkpoint: Checkpoint) -> wasmtime::Result<()> {
        match checkpoint {
            Checkpoint::Copy(snapshot) => self.restore(code, &snapshot),
            Checkpoint::Tracked => {
                let shadow_len = code.shadow.as_ref().map_or(0, |s| s.memory.len());
                let dirty = code.take_dirty();
                let size = code.memory.map_or(0, |m| m.data_size(&code.store));
                match dirty {
                    Some(pages) if size == shadow_len => {
                        let shadow = code.shadow.take().expect("tracked");
                        if let Some(memory) = code.memory {
                            let data = memory.data_mut(&mut code.store);
                            for page in pages {
                                let range = page * HOST_PAGE..((page + 1) * HOST_PAGE).min(data.len());
                                data[range.clone()].copy_from_slice(&shadow.memory[range]);
                            }
                        }
                        for (global, value) in code.globals.iter().zip(&shadow.globals) {
                            global.set(&mut code.store, *value)?;
                        }
                        code.shadow = Some(shadow);
                        // Our own copying counts as writes; re-arm so the next execution starts clean.
                        code.take_dirty();
                        Ok(())
                    }
                    _ => {
                        // The memory grew (wasmtime memories cannot shrink) or tracking failed: rebuild from the
                        // shadow, which holds the committed state (and stays the shadow of the new instance).
                        let shadow = code.shadow.take().expect("tracked");
                        self.rebuild_owned(code, shadow)
                    }
                }
            }
        }
    }
}

/// A canister's installed module: its store (with stable memory inside) and instance.
pub(crate) struct Code {
    /// The module.
    pub module: Arc<LoadedModule>,
    /// The store; its data is the canister's [`HostState`].
    pub store: Store<HostState>,
    /// The instance.
    pub instance: Instance,
    /// The memory, if the module has one.
    pub memory: Option<Memory>,
    /// The function table, if any (callbacks are table indices).
    pub table: Option<Table>,
    /// Every mutable global (exported by the rewrite), for snapshots.
    pub globals: Vec<Global>,
    /// With dirty-page tracking: the committed heap and globals, kept in step page by page.
    shadow: Option<HeapSnapshot>,
    /// Unique per instantiation: a snapshot can patch this very instance only if the id matches.
    pub id: u64,
    /// The instrumentation's counters memory, when coverage is on.
    coverage_memory: Option<Memory>,
    /// Host pages committed since subnet snapshot `.0` (with tracking).
    since_snapshot: Option<(u64, BTreeSet<usize>)>,
}

/// Heap and globals at one point in time.
#[derive(Clone, Default)]
pub(crate) struct HeapSnapshot {
    memory: Vec<u8>,
    globals: Vec<Val>,
}

/// What undoing an execution needs (see [`Runtime::checkpoint`]).
pub(crate) enum Checkpoint {
    /// Pages written are tracked; the shadow copy holds the committed state.
    Tracked,
    /// No tracking: a full copy taken before the execution.
    Copy(HeapSnapshot),
}

impl HeapSnapshot {
    /// Bytes a canister snapshot counts for it: the heap, and each global as the replica's in-memory value
    /// (32 bytes).
    pub(crate) fn bytes(&self) -> u64 {
        self.memory.len() as u64 + 32 * self.globals.len() as u64
    }
}

impl Code {
    /// Copies the heap and mutable globals.
    pub(crate) fn snapshot(&mut self) -> HeapSnapshot {
        let memory = self.memory.map(|m| m.data(&self.store).to_vec()).unwrap_or_default();
        let globals = self.globals.iter().map(|g| g.get(&mut self.store)).collect();
        HeapSnapshot { memory, globals }
    }

    fn write_snapshot(&mut self, snapshot: &HeapSnapshot) -> wasmtime::Result<()> {
        if let Some(memory) = self.memory {
            memory.data_mut(&mut self.store)[..snapshot.memory.len()].copy_from_slice(&snapshot.memory);
        }
        for (global, value) in self.globals.iter().zip(&snapshot.globals) {
            global.set(&mut self.store, *value)?;
        }
        Ok(())
    }

    /// The committed heap and globals (for a subnet snapshot).
    pub(crate) fn committed_heap(&mut self) -> HeapSnapshot {
        match &self.shadow {
            Some(shadow) => shadow.clone(),
            None => self.snapshot(),
        }
    }

    /// Starts recording what changes from now on, for a fast restore of subnet snapshot `id`.
    pub(crate) fn mark_snapshot(&mut self, id: u64) {
        if self.shadow.is_some() {
            self.since_snapshot = Some((id, BTreeSet::new()));
        }
        self.store.data_mut().stable.mark_snapshot(id);
    }

    /// Host pages written since the last call (re-arms tracking); `None` without tracking.
    fn take_dirty(&mut self) -> Option<Vec<usize>> {
        let memory = self.memory?;
        let ptr = memory.data_ptr(&self.store);
        let len = memory.data_size(&self.store);
        // SAFETY: the range is this instance's linear memory, created by TrackedMemoryCreator.
        unsafe { tracked_memory::dirty_pages(ptr, len) }
    }

    /// Fuel the coverage instrumentation used in the current execution (0 without coverage).
    pub(crate) fn coverage_overhead(&self) -> u64 {
        match (self.coverage_memory, &self.module.coverage) {
            (Some(memory), Some(counters)) => {
                module::coverage::overhead(memory.data(&self.store), counters.blocks(), self.module.info.memory64)
            }
            _ => 0,
        }
    }

    /// Whether the module is instrumented for coverage.
    pub(crate) fn instrumented(&self) -> bool {
        self.coverage_memory.is_some()
    }

    /// Moves the instance's coverage counters into its module's counters and hands logged comparisons to the
    /// compare hook. Called after every execution, before any rollback (a trapped execution's coverage counts).
    pub(crate) fn harvest_coverage(&mut self) {
        use module::coverage::{CMP_COUNT_OFFSET, CMP_ENTRIES_OFFSET, CMP_ENTRY_BYTES, CMP_RING, COUNTERS_OFFSET};
        let (Some(memory), Some(counters)) = (self.coverage_memory, self.module.coverage.clone()) else { return };
        let data = memory.data_mut(&mut self.store);
        let start = COUNTERS_OFFSET as usize;
        let end = (start + 4 * counters.blocks()).min(data.len());
        counters.merge(&data[start..end]);
        data[start..end].fill(0);
        let at = CMP_COUNT_OFFSET as usize;
        let logged = u32::from_le_bytes(data[at..at + 4].try_into().unwrap_or_default()) as u64;
        if logged > 0 {
            if let Some(hook) = crate::coverage::compare_hook() {
                for i in 0..logged.min(CMP_RING) {
                    let e = (CMP_ENTRIES_OFFSET + i * CMP_ENTRY_BYTES) as usize;
                    let value = u64::from_le_bytes(data[e..e + 8].try_into().unwrap_or_default());
                    let constant = u64::from_le_bytes(data[e + 8..e + 16].try_into().unwrap_or_default());
                    hook(value, constant, data[e + 16]);
                }
            }
            data[at..at + 4].fill(0);
        }
    }

    /// Heap size in bytes.
    pub(crate) fn memory_size(&self) -> u64 {
        self.memory.map_or(0, |m| m.data_size(&self.store) as u64)
    }

    /// Feeds heap, globals and stable memory to a hasher: two canisters with equal hashes are in equal states.
    pub(crate) fn hash_into(&mut self, hasher: &mut Sha256) {
        if let Some(memory) = self.memory {
            hasher.update(memory.data(&self.store));
        }
        for global in &self.globals {
            match global.get(&mut self.store) {
                Val::I32(v) => hasher.update(v.to_le_bytes()),
                Val::I64(v) => hasher.update(v.to_le_bytes()),
                Val::F32(v) => hasher.update(v.to_le_bytes()),
                Val::F64(v) => hasher.update(v.to_le_bytes()),
                Val::V128(v) => hasher.update(v.as_u128().to_le_bytes()),
                _ => hasher.update([0xff]),
            }
        }
        self.store.data().stable.hash_into(hasher);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val_type(t: &wasmparser::ValType) -> wasmtime::ValType {
        match t {
            wasmparser::ValType::I32 => wasmtime::ValType::I32,
            wasmparser::ValType::I64 => wasmtime::ValType::I64,
            wasmparser::ValType::F32 => wasmtime::ValType::F32,
            wasmparser::ValType::F64 => wasmtime::ValType::F64,
            other => panic!("unexpected ic0 value type {other:?}"),
        }
    }

    /// Validation accepts exactly the imports the linker provides, with the same signatures, for both widths: a
    /// module that validates always links.
    #[test]
    fn linker_matches_the_validated_ic0_signatures() {
        let runtime = Runtime::new(&Config::default()).unwrap();
        for memory64 in [false, true] {
            let linker = if memory64 { &runtime.linker64 } else { &runtime.linker32 };
            let mut store = Store::new(runtime.engine(memory64), HostState::new(StableMemory::default(), memory64));
            for name in module::ic0_names() {
                let defined = linker.get(&mut store, "ic0", name).ok().and_then(|e| e.into_func());
                match (module::ic0_signature(name, memory64), defined) {
                    (Some((params, results)), Some(func)) => {
                        let ty = func.ty(&store);
                        let want_params: Vec<_> = params.iter().map(val_type).collect();
                        let want_results: Vec<_> = results.iter().map(val_type).collect();
                        let got_params: Vec<_> = ty.params().collect();
                        let got_results: Vec<_> = ty.results().collect();
                        assert!(
                            got_params.len() == want_params.len()
                                && got_params.iter().zip(&want_params).all(|(a, b)| wasmtime::ValType::eq(a, b))
                                && got_results.len() == want_results.len()
                                && got_results.iter().zip(&want_results).all(|(a, b)| wasmtime::ValType::eq(a, b)),
                            "{name} (memory64={memory64}): linker {got_params:?}->{got_results:?}, validation {want_params:?}->{want_results:?}"
                        );
                    }
                    (None, None) => {}
                    (Some(_), None) => panic!("{name} (memory64={memory64}) validates but is not linked"),
                    (None, Some(_)) => panic!("{name} (memory64={memory64}) is linked but validation rejects it"),
                }
            }
        }
    }
}
