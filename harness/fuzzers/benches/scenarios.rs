//! Scenario throughput: 8-step scenarios on example canisters with one adversary, executions per second.
//!
//! `cargo bench -p icfuzz-fuzzers --bench scenarios` (results in BENCHMARKS.md). Inputs are random bytes from a
//! fixed seed, so runs are comparable; each scenario restores the snapshot, applies its steps with the oracles
//! after each, and runs the end checks.
//!
//! Profiling knobs: `ICFUZZ_BENCH_RUNS` (scenarios per example), `ICFUZZ_BENCH_DETAIL=1` (memory per canister,
//! time by step kind and restore work), `ICFUZZ_BENCH_EMPTY=1` (the fixed cost: empty scenarios only).

#![allow(clippy::disallowed_types)]

use std::time::Instant;

use icfuzz::scenario::GeneratorOptions;
use icfuzz_fuzzers::examples::{example, Twin};

fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let runs: usize = std::env::var("ICFUZZ_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    println!("scenario throughput: 8-step scenarios, fixed twins, one adversary each ({runs} scenarios per example)");
    for name in ["reentrancy", "stale_balance", "unbounded_wait", "lock_in_callback", "oversized_growth"] {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let options = GeneratorOptions { max_steps: 8, ..GeneratorOptions::default() };
        let mut harness = example(name).expect("example").builder(Twin::Fixed).generator(options).build().expect("builds");
        let mut seed = 0x5eed_u64;
        let inputs: Vec<Vec<u8>> = (0..runs)
            .map(|_| {
                (0..256)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (seed >> 33) as u8
                    })
                    .collect()
            })
            .collect();
        let scenarios: Vec<_> = inputs.iter().map(|i| harness.generate(i)).collect();
        let steps: usize = scenarios.iter().map(|s| s.steps.len()).sum();
        if std::env::var_os("ICFUZZ_BENCH_EMPTY").is_some() {
            let t = Instant::now();
            for _ in 0..runs {
                harness.run(&icfuzz::Scenario::default()).expect("runs");
            }
            println!("    empty scenario: {:.0} µs", 1e6 * t.elapsed().as_secs_f64() / runs as f64);
            continue;
        }
        // Warm-up: code caches, allocator.
        for s in scenarios.iter().take(50) {
            harness.run(s).expect("runs");
        }
        for c in harness.canisters().iter().map(|c| (c.name.clone(), c.id)).chain(harness.adversaries().iter().map(|a| (a.name.clone(), a.id))) {
            if std::env::var_os("ICFUZZ_BENCH_DETAIL").is_some() {
                println!("    {} memory {} KiB", c.0, harness.subnet().memory_bytes(c.1).unwrap_or(0) / 1024);
            }
        }
        let mut slowest = (0f64, 0usize);
        let start = Instant::now();
        for (i, s) in scenarios.iter().enumerate() {
            let t = Instant::now();
            harness.run(s).expect("runs");
            let secs = t.elapsed().as_secs_f64();
            if secs > slowest.0 {
                slowest = (secs, i);
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        if std::env::var_os("ICFUZZ_BENCH_DETAIL").is_some() {
            let mut by_kind: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
            for s in &scenarios {
                let t = Instant::now();
                harness.run(s).expect("runs");
                let secs = t.elapsed().as_secs_f64();
                let json = s.to_json();
                let r = *harness.last_restore();
                let e = by_kind.entry(format!("restore rebuilt {}", r.canisters_rebuilt)).or_default();
                e.0 += r.pages_copied as f64 / 1e6;
                e.1 += 1;
                for kind in ["oversized", "hold", "call_back", "advance_time", "release", "garbage", "fault", "stop"] {
                    let e = by_kind.entry(format!("{}{kind}", if json.contains(kind) { "with " } else { "without " })).or_default();
                    e.0 += secs;
                    e.1 += 1;
                }
            }
            for probe in [icfuzz::Scenario::default(), scenarios[0].clone()] {
                for _ in 0..3 {
                    let t = Instant::now();
                    harness.run(&probe).expect("runs");
                    let restore = *harness.last_restore();
                    println!("    probe {} steps: {:.0} µs {restore:?}", probe.steps.len(), 1e6 * t.elapsed().as_secs_f64());
                }
            }
            for (k, (secs, n)) in by_kind {
                println!("    {k:<22} {n:>5} scenarios, {:.0} µs avg", 1e6 * secs / n.max(1) as f64);
            }
        }
        println!(
            "  {name:<18} {:>7.0} scenarios/s  ({:.1} steps avg, {:.0} µs/scenario, slowest {:.1} ms: {})",
            runs as f64 / elapsed,
            steps as f64 / runs as f64,
            1e6 * elapsed / runs as f64,
            slowest.0 * 1e3,
            scenarios[slowest.1].steps.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" | ")
        );
    }
}
