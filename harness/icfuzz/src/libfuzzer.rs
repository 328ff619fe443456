//! Feeding canister coverage to libFuzzer.
//!
//! libFuzzer sees the harness, not the canister: [`register`] hands it every instrumented module's block counters
//! (as 8-bit counters) and forwards the comparisons with constants that canister code made (for its table of
//! recent compares, which is how magic values get into inputs). Enable [`Config::coverage`] on the subnet.
//!
//! The libFuzzer entry points come in through [`Hooks`], built by [`libfuzzer_hooks!`] inside the fuzz target,
//! so this library never references libFuzzer symbols itself and links into ordinary binaries and tests too.
//!
//! [`Config::coverage`]: crate::engine::Config::coverage

use std::collections::BTreeSet;
use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

use crate::engine::{set_compare_hook, CoverageCounters, Subnet};

/// libFuzzer's coverage and comparison-tracing entry points (see [`libfuzzer_hooks!`]).
#[derive(Clone, Copy, Debug)]
pub struct Hooks {
    /// `__sanitizer_cov_8bit_counters_init`.
    pub counters_init: unsafe extern "C" fn(*mut u8, *mut u8),
    /// `__sanitizer_cov_pcs_init`: under cargo-fuzz, libFuzzer requires a PC table beside every counter region.
    pub pcs_init: unsafe extern "C" fn(*const usize, *const usize),
    /// `__sanitizer_cov_trace_const_cmp4`.
    pub const_cmp4: unsafe extern "C" fn(u32, u32),
    /// `__sanitizer_cov_trace_const_cmp8`.
    pub const_cmp8: unsafe extern "C" fn(u64, u64),
}

/// Builds [`Hooks`] from the libFuzzer symbols linked into the current binary (a fuzz target using
/// `libfuzzer-sys`, or built by `cargo fuzz`).
#[macro_export]
macro_rules! libfuzzer_hooks {
    () => {{
        extern "C" {
            fn __sanitizer_cov_8bit_counters_init(start: *mut u8, stop: *mut u8);
            fn __sanitizer_cov_pcs_init(start: *const usize, stop: *const usize);
            fn __sanitizer_cov_trace_const_cmp4(a: u32, b: u32);
            fn __sanitizer_cov_trace_const_cmp8(a: u64, b: u64);
        }
        $crate::libfuzzer::Hooks {
            counters_init: __sanitizer_cov_8bit_counters_init,
            pcs_init: __sanitizer_cov_pcs_init,
            const_cmp4: __sanitizer_cov_trace_const_cmp4,
            const_cmp8: __sanitizer_cov_trace_const_cmp8,
        }
    }};
}

struct Registered {
    modules: BTreeSet<[u8; 32]>,
    // Kept alive for the life of the process: libFuzzer reads these regions until exit.
    keep: Vec<(Arc<CoverageCounters>, Box<[usize]>)>,
    // Fake PCs must be distinct across modules.
    next_pc: usize,
}

static HOOKS: OnceLock<Hooks> = OnceLock::new();
static REGISTERED: Mutex<Registered> = Mutex::new(Registered { modules: BTreeSet::new(), keep: Vec::new(), next_pc: 1 });

/// Registers every instrumented module of `subnet` not registered yet, and routes canister comparisons to
/// libFuzzer. Call it after installing canisters (e.g. in the fuzz target's `init:`) and again after installing
/// new modules; modules are registered once each.
pub fn register(subnet: &Subnet, hooks: Hooks) {
    let hooks = *HOOKS.get_or_init(|| hooks);
    set_compare_hook(forward_compare);
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    for module in subnet.coverage() {
        if !registered.modules.insert(module.module_hash) {
            continue;
        }
        let (start, len) = module.counters.counters_region();
        if len == 0 {
            continue;
        }
        // One (pc, flags) pair per counter; flag 1 marks a function entry for the first block of each function.
        let first_pc = registered.next_pc;
        let pcs: Box<[usize]> = (0..len).flat_map(|i| [first_pc + i, 0]).collect();
        registered.next_pc += len;
        // SAFETY: both regions live as long as the process (kept in REGISTERED); lengths match as libFuzzer
        // requires; the counters never move (boxed once by the engine).
        unsafe {
            (hooks.counters_init)(start as *mut u8, start.add(len) as *mut u8);
            (hooks.pcs_init)(pcs.as_ptr(), pcs.as_ptr().add(pcs.len()));
        }
        registered.keep.push((module.counters.clone(), pcs));
    }
}

/// Forwards one logged comparison. libFuzzer's table of recent compares keeps 4- and 8-byte operands; its
/// mutator then writes the constant where the compared value appeared in the input.
fn forward_compare(value: u64, constant: u64, width: u8) {
    let Some(hooks) = HOOKS.get() else { return };
    // SAFETY: libFuzzer's tracing functions accept any operands.
    unsafe {
        if width == 8 {
            (hooks.const_cmp8)(constant, value);
        } else {
            (hooks.const_cmp4)(constant as u32, value as u32);
        }
    }
}

/// Sets up a fuzz target's harness once (`init:` of `libfuzzer_sys::fuzz_target!`): registers its canister coverage
/// with libFuzzer when the harness's subnet collects coverage. Used by [`fuzz_target!`](crate::fuzz_target).
///
/// The harness lives in a thread-local slot: libFuzzer runs `init` and every input on its main thread, and a
/// harness is not `Send` (Candid types are reference-counted).
pub fn install(slot: &'static std::thread::LocalKey<RefCell<Option<crate::Harness>>>, harness: crate::Harness, hooks: Hooks) {
    if harness.subnet().config().coverage {
        register(harness.subnet(), hooks);
    }
    slot.with(|s| *s.borrow_mut() = Some(harness));
}

/// Runs one libFuzzer input: decodes it into a scenario and runs it. On a high-severity finding, writes the
/// scenario as JSON next to the crash file libFuzzer is about to write (`<artifact_prefix>crash-<sha1>.json`),
/// prints the trace, and panics, which libFuzzer reports as a crash. A low-severity finding (a new trap, ICF-010)
/// does not stop the campaign: its scenario is saved once per signature as `<artifact_prefix>low-<sha1>.json`
/// (the hash of the signature, so reruns never pile up copies) and its trace printed once per process.
pub fn run_input(slot: &'static std::thread::LocalKey<RefCell<Option<crate::Harness>>>, data: &[u8]) {
    slot.with(|s| {
        let mut guard = s.borrow_mut();
        let harness = guard.as_mut().expect("icfuzz::libfuzzer::install ran in the fuzz target's init");
        run_in(harness, data);
    });
}

thread_local! {
    /// Signatures of the low-severity findings this process already reported.
    static LOW_SEEN: RefCell<std::collections::BTreeSet<String>> = RefCell::new(std::collections::BTreeSet::new());
}

fn run_in(harness: &mut crate::Harness, data: &[u8]) {
    let scenario = harness.generate(data);
    let execution = match harness.run(&scenario) {
        Ok(execution) => execution,
        // A scenario the generator made must run; anything else is a harness bug, which is worth a crash too.
        Err(e) => panic!("icfuzz harness error (a bug in icfuzz): {e}\nscenario: {}", scenario.to_json()),
    };
    let Some(finding) = &execution.finding else { return };
    let low = finding.kind.severity() == crate::Severity::Low;
    let signature = finding.signature();
    if low && !LOW_SEEN.with(|seen| seen.borrow_mut().insert(signature.clone())) {
        return;
    }
    // Only new coverage is worth a new corpus file; libFuzzer decides that. Findings are reported once each.
    let json_path = artifact_prefix().map(|prefix| match low {
        false => format!("{prefix}crash-{}.json", crate::report::sha1_hex(data)),
        true => format!("{prefix}low-{}.json", crate::report::sha1_hex(signature.as_bytes())),
    });
    let saved = json_path.as_ref().and_then(|path| {
        let path = std::path::Path::new(path);
        // Never overwrite: the same input always gives the same scenario, so an existing file is this one (or,
        // for a low finding, one with the same signature, which is as good a reproducer).
        if crate::save::write_new(path, execution.scenario.to_json().as_bytes()).is_ok() {
            Some(path.display().to_string())
        } else {
            None
        }
    });
    let banner = if low { "icfuzz finding (low severity; the campaign goes on)" } else { "icfuzz finding" };
    eprintln!("\n==== {banner} ====\n{}", crate::report::render_trace(&execution));
    if let Some(path) = &saved {
        eprintln!("scenario saved to {path}");
    }
    if !low {
        panic!("icfuzz finding: {signature}");
    }
}

/// libFuzzer's `-artifact_prefix=` argument (cargo-fuzz passes `fuzz/artifacts/<target>/`), or the current directory.
fn artifact_prefix() -> Option<String> {
    let from_args = std::env::args().find_map(|a| a.strip_prefix("-artifact_prefix=").map(str::to_owned));
    Some(from_args.unwrap_or_default())
}


/// Defines a libFuzzer fuzz target that runs scenarios in the harness built by `$build` (run once, at start-up).
/// The target crate must depend on `libfuzzer-sys`, as every cargo-fuzz package does.
///
/// ```ignore
/// #![no_main]
/// icfuzz::fuzz_target!(my_environment().build().expect("environment"));
/// ```
#[macro_export]
macro_rules! fuzz_target {
    ($build:expr) => {
        ::std::thread_local! {
            static ICFUZZ_HARNESS: ::std::cell::RefCell<::std::option::Option<$crate::Harness>> =
                const { ::std::cell::RefCell::new(None) };
        }
        ::libfuzzer_sys::fuzz_target!(
            init: {
                let harness: $crate::Harness = $build;
                $crate::libfuzzer::install(&ICFUZZ_HARNESS, harness, $crate::libfuzzer_hooks!());
            },
            |data: &[u8]| {
                $crate::libfuzzer::run_input(&ICFUZZ_HARNESS, data);
            }
        );
    };
}
