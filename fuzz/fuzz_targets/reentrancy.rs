//! Fuzzes the `reentrancy` example (`canisters/examples/reentrancy/`): the vulnerable twin by default, the fixed one with
//! `ICFUZZ_TWIN=fixed`. The environment (canisters, adversaries, invariants) is in
//! `harness/fuzzers/src/examples.rs`; copy it and this file to fuzz your own canister.
#![no_main]

icfuzz::fuzz_target!(icfuzz_fuzzers::examples::example("reentrancy").expect("a known example").fuzz_target_harness());
