//! libFuzzer binary for the `whole_allowance` example, built with the stable toolchain: its only finding is of low
//! severity (a new trap), which libFuzzer must not take for a crash. Run it like any libFuzzer binary, e.g.
//! `target/debug/whole_allowance -runs=3000 -artifact_prefix=out/`.
#![no_main]

icfuzz::fuzz_target!(icfuzz_fuzzers::examples::example("whole_allowance")
    .expect("a known example")
    .fuzz_target_harness());
