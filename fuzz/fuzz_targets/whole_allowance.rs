//! Fuzzes the `whole_allowance` example (`canisters/examples/whole_allowance/`): the vulnerable twin by default, the fixed one with
//! `ICFUZZ_TWIN=fixed`. The environment (canisters, adversaries, invariants) is in
//! `harness/fuzzers/src/examples.rs`; copy it and this file to fuzz your own canister.
#![no_main]

icfuzz::fuzz_target!(icfuzz_fuzzers::examples::example("whole_allowance").expect("a known example").fuzz_target_harness());
