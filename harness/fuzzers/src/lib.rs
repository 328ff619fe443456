//! Fuzz targets as library code, shared by the stable-toolchain libFuzzer binaries here and the cargo-fuzz
//! targets in `fuzz/`, which are thin wrappers around them.
//!
//! Environment knobs: `ICFUZZ_FEEDBACK=0` turns canister coverage off; `ICFUZZ_COVERAGE_REPORT=1` prints the
//! coverage of everything run (e.g. `magic -runs=0 corpus/`) when the process exits.

use std::sync::{Mutex, MutexGuard};

pub mod engine_modules;
pub mod examples;
pub mod parsers;

use icfuzz::engine::{CanisterId, Config, Fees, InstructionLimits, Principal, Subnet, SubnetSnapshot};

/// The world of the `magic` target: one instrumented canister and a snapshot to reset to before each input.
pub struct MagicWorld {
    subnet: Subnet,
    snapshot: SubnetSnapshot,
    canister: CanisterId,
}

static MAGIC: Mutex<Option<MagicWorld>> = Mutex::new(None);

/// Whether canister coverage feeds the fuzzer: on unless `ICFUZZ_FEEDBACK=0` (used to measure what it buys).
pub fn feedback_enabled() -> bool {
    std::env::var("ICFUZZ_FEEDBACK").map_or(true, |v| v != "0")
}

/// Sets up the `magic` world and, with feedback on, registers its coverage with libFuzzer.
pub fn magic_init(hooks: icfuzz::libfuzzer::Hooks) {
    let feedback = feedback_enabled();
    let config = Config {
        coverage: feedback,
        fees: Fees::ZERO,
        instruction_limits: InstructionLimits::uniform(100_000_000),
        ..Config::default()
    };
    let mut subnet = Subnet::new(config).expect("wasmtime starts");
    let canister = subnet.create_canister();
    subnet
        .install_canister(canister, &icfuzz_test_canisters::wasm("magic"), vec![], None)
        .expect("the magic canister installs");
    if feedback {
        icfuzz::libfuzzer::register(&subnet, hooks);
    }
    let snapshot = subnet.snapshot();
    *lock() = Some(MagicWorld { subnet, snapshot, canister });
    if std::env::var_os("ICFUZZ_COVERAGE_REPORT").is_some() {
        // libFuzzer ends with exit(): print the corpus' coverage from an exit handler.
        extern "C" fn print_report() {
            if let Some(world) = lock().as_ref() {
                eprint!("{}", icfuzz::report::coverage_report(&world.subnet));
            }
        }
        // SAFETY: registering a plain `extern "C"` function.
        unsafe { libc::atexit(print_report) };
    }
}

fn lock() -> MutexGuard<'static, Option<MagicWorld>> {
    MAGIC.lock().unwrap_or_else(|e| e.into_inner())
}

/// One input: reset, call `check(data)`, and panic (a libFuzzer crash) if the canister reached its bug.
pub fn magic_run(data: &[u8]) {
    let mut guard = lock();
    let world = guard.as_mut().expect("magic_init ran");
    world.subnet.restore(&world.snapshot).expect("restore");
    let result = world.subnet.update_call(world.canister, Principal::anonymous(), "check", data.to_vec());
    if let Err(reject) = result {
        assert!(!reject.reject_message.contains("magic reached"), "the canister reached its bug: {reject}");
    }
}
