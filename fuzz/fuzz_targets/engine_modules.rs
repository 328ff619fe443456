//! cargo-fuzz target for the engine itself: generated modules calling the System API at random must never panic,
//! hang or behave nondeterministically (see `icfuzz_fuzzers::engine_modules`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    icfuzz_fuzzers::engine_modules::engine_modules_run(data);
});
