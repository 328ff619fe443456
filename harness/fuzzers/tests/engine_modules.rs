//! The engine fuzz target, run for a bounded number of deterministic pseudo-random inputs: generated modules
//! calling the System API at random never panic the harness and always run deterministically.

/// xorshift64*: deterministic input bytes without a dependency.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn generated_modules_never_break_the_engine() {
    let mut total = icfuzz_fuzzers::engine_modules::Outcome::default();
    let runs = 1000;
    for seed in 0..runs {
        let input = bytes(seed, 2048 + (seed as usize % 7) * 512);
        let o = icfuzz_fuzzers::engine_modules::engine_modules_run(&input);
        total.generated |= o.generated;
        total.installed |= o.installed;
        total.executions += o.executions;
        total.traps += o.traps;
    }
    eprintln!("{runs} inputs: {total:?}");
    // Not vacuous: modules install and their code runs, through traps and successful returns alike.
    assert!(total.installed && total.executions > runs as usize / 2, "{total:?}");
    assert!(total.traps > 0 && total.traps < total.executions, "{total:?}");
}
