//! cargo-fuzz target for one of icfuzz's parsers (Candid argument text): every input is accepted or refused
//! with a message, never a panic, a hang or an unbounded allocation (see `icfuzz_fuzzers::parsers`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    icfuzz_fuzzers::parsers::run(icfuzz_fuzzers::parsers::Parser::CandidArgs, data);
});
