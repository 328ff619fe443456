//! Fuzzes the `owner_handover` example (`canisters/examples/owner_handover/`): the vulnerable twin by default, the fixed one with
//! `ICFUZZ_TWIN=fixed`. The environment (canisters, adversaries, invariants) is in
//! `harness/fuzzers/src/examples.rs`; copy it and this file to fuzz your own canister.
#![no_main]

icfuzz::fuzz_target!(icfuzz_fuzzers::examples::example("owner_handover").expect("a known example").fuzz_target_harness());
