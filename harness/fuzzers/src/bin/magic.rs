//! libFuzzer binary for the `magic` canister, built with the stable toolchain. Run it like any libFuzzer binary,
//! e.g. `target/debug/magic -runs=1000000`; `ICFUZZ_FEEDBACK=0` turns canister coverage off.
#![no_main]

libfuzzer_sys::fuzz_target!(init: { icfuzz_fuzzers::magic_init(icfuzz::libfuzzer_hooks!()) }, |data: &[u8]| {
    icfuzz_fuzzers::magic_run(data)
});
