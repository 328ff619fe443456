//! Fuzzes the `sys_unknown_as_clean` example (`canisters/examples/sys_unknown_as_clean/`): the vulnerable twin by default, the fixed one with
//! `ICFUZZ_TWIN=fixed`. The environment (canisters, adversaries, invariants) is in
//! `harness/fuzzers/src/examples.rs`; copy it and this file to fuzz your own canister.
#![no_main]

icfuzz::fuzz_target!(icfuzz_fuzzers::examples::example("sys_unknown_as_clean").expect("a known example").fuzz_target_harness());
