//! Fuzzes the `lock_in_callback` example (`canisters/examples/lock_in_callback/`): the vulnerable twin by default, the fixed one with
//! `ICFUZZ_TWIN=fixed`. The environment (canisters, adversaries, invariants) is in
//! `harness/fuzzers/src/examples.rs`; copy it and this file to fuzz your own canister.
#![no_main]

icfuzz::fuzz_target!(icfuzz_fuzzers::examples::example("lock_in_callback").expect("a known example").fuzz_target_harness());
