//! cargo-fuzz target for the `magic` canister: canister coverage (block counters and comparisons) feeds libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(init: { icfuzz_fuzzers::magic_init(icfuzz::libfuzzer_hooks!()) }, |data: &[u8]| {
    icfuzz_fuzzers::magic_run(data)
});
