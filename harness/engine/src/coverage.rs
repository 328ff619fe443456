//! Coverage of canister code: per-module block counters (for a fuzzer) and reports (for people).
//!
//! With [`crate::Config::coverage`] on, every module is instrumented at install time (see
//! `module/coverage.rs`). After each execution the engine adds the instance's counters into its module's
//! [`CoverageCounters`], whose bytes never move, so a fuzzer can hand them to libFuzzer as 8-bit counters, and
//! forwards logged comparisons with constants to the hook set by [`set_compare_hook`]. The engine itself knows
//! nothing of libFuzzer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::types::CanisterId;

/// A module's block counters. The allocation is made once and never moves, so it can be registered with a fuzzer.
pub struct CoverageCounters {
    /// Hit counts since the fuzzer last cleared them (libFuzzer clears them before every input).
    counters: Box<[AtomicU8]>,
    /// 1 for every block ever executed in this process.
    ever: Box<[AtomicU8]>,
    /// Function index of each block.
    block_functions: Vec<u32>,
    /// Function names from the name section.
    function_names: BTreeMap<u32, String>,
}

impl CoverageCounters {
    pub(crate) fn new(block_functions: Vec<u32>, function_names: BTreeMap<u32, String>) -> CoverageCounters {
        let n = block_functions.len();
        CoverageCounters {
            counters: (0..n).map(|_| AtomicU8::new(0)).collect(),
            ever: (0..n).map(|_| AtomicU8::new(0)).collect(),
            block_functions,
            function_names,
        }
    }

    /// The counters as libFuzzer's 8-bit counters: start pointer and length. Valid as long as `self` lives.
    pub fn counters_region(&self) -> (*const u8, usize) {
        (self.counters.as_ptr() as *const u8, self.counters.len())
    }

    /// Number of blocks (counters).
    pub fn blocks(&self) -> usize {
        self.counters.len()
    }

    /// Adds an instance's 32-bit counters (little-endian), saturating at 255 as libFuzzer's 8-bit counters do.
    /// Clears nothing: the caller zeroes its own copy.
    pub(crate) fn merge(&self, instance: &[u8]) {
        for (i, chunk) in instance.chunks_exact(4).enumerate().take(self.counters.len()) {
            let hits = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if hits != 0 {
                let c = &self.counters[i];
                let hits = u8::try_from(hits).unwrap_or(u8::MAX);
                c.store(c.load(Ordering::Relaxed).saturating_add(hits), Ordering::Relaxed);
                self.ever[i].store(1, Ordering::Relaxed);
            }
        }
    }

    /// Per-function totals: (function index, name, blocks, blocks ever hit), in index order.
    pub fn functions(&self) -> Vec<FunctionCoverage> {
        let mut by_function: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for (block, &function) in self.block_functions.iter().enumerate() {
            let entry = by_function.entry(function).or_default();
            entry.0 += 1;
            if self.ever[block].load(Ordering::Relaxed) != 0 {
                entry.1 += 1;
            }
        }
        by_function
            .into_iter()
            .map(|(index, (blocks, hit))| FunctionCoverage {
                index,
                name: self.function_names.get(&index).cloned().unwrap_or_else(|| format!("func[{index}]")),
                blocks,
                hit,
            })
            .collect()
    }

    /// Blocks ever executed.
    pub fn blocks_hit(&self) -> usize {
        self.ever.iter().filter(|b| b.load(Ordering::Relaxed) != 0).count()
    }
}

/// Coverage of one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCoverage {
    /// Function index in the module.
    pub index: u32,
    /// Name from the name section (`func[i]` without one).
    pub name: String,
    /// Basic blocks instrumented.
    pub blocks: usize,
    /// Blocks ever executed.
    pub hit: usize,
}

/// Coverage of one installed module.
#[derive(Clone)]
pub struct ModuleCoverage {
    /// SHA-256 of the module.
    pub module_hash: [u8; 32],
    /// Canisters running it.
    pub canisters: Vec<CanisterId>,
    /// Its counters.
    pub counters: Arc<CoverageCounters>,
}

/// Receives each comparison with a constant that instrumented code logged: (value, constant, width in bytes).
pub type CompareHook = fn(u64, u64, u8);

static COMPARE_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Sets the process-wide receiver of logged comparisons (a fuzzer forwards them to its comparison tracing).
pub fn set_compare_hook(hook: CompareHook) {
    COMPARE_HOOK.store(hook as usize, Ordering::Relaxed);
}

pub(crate) fn compare_hook() -> Option<CompareHook> {
    let raw = COMPARE_HOOK.load(Ordering::Relaxed);
    // SAFETY: only ever set from a `CompareHook` in `set_compare_hook`.
    (raw != 0).then(|| unsafe { std::mem::transmute::<usize, CompareHook>(raw) })
}
