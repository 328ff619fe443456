//! Resident memory over a long campaign: 1,000,000 executions, each from a restored snapshot, mixing the paths a
//! fuzzer takes (committed updates, traps that roll back, queries, and one execution in ten growing memory, which
//! forces an instance rebuild).
//!
//! Run with `cargo bench --workspace --bench soak --locked` (`ICFUZZ_SOAK_EXECUTIONS` overrides the count). Prints
//! the resident set size after warm-up and at the end; the target is growth under 10% after warm-up.

#![allow(clippy::disallowed_types)] // A benchmark measures wall-clock time on purpose.

use std::time::Instant;

use icfuzz_engine::{Config, Principal, Subnet};
use icfuzz_test_canisters::uc::Program;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm has a resident field");
    pages * 4096
}

fn main() {
    let executions: u64 = std::env::var("ICFUZZ_SOAK_EXECUTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let warm_up = (executions / 20).max(1);
    let mut subnet = Subnet::new(Config::default()).expect("wasmtime");
    let uc = subnet.create_canister();
    subnet.install_canister(uc, &icfuzz_test_canisters::wasm("universal"), vec![], None).expect("installs");
    let user = Principal::anonymous();
    let snapshot = subnet.snapshot();
    let programs = [
        Program::new().push_bytes(b"some state").set_global().inc_counter().reply_data_append().reply().build(),
        Program::new().push_bytes(b"rolled back").set_global().push_bytes(b"trap").trap().build(),
        Program::new().push_int(1).wasm_memory_grow().drop().push_bytes(b"grown").set_global().reply().build(),
        Program::new().push_int(1).wasm_memory_grow().drop().push_bytes(b"grown, then trap").trap().build(),
    ];
    let query = Program::new().get_global().reply_data_append().reply().build();
    let mut at_warm_up = 0;
    let start = Instant::now();
    for i in 0..executions {
        subnet.restore(&snapshot).expect("restores");
        // Mostly plain updates and traps; every tenth execution grows memory (the rebuild path), as fuzzing does
        // when queries or traps grow a heap.
        let program = &programs[match i % 20 {
            0 => 2,
            10 => 3,
            n => (n % 2) as usize,
        }];
        let _ = subnet.update_call(uc, user, "update", program.clone());
        if i % 7 == 0 {
            let _ = subnet.query_call(uc, user, "query", query.clone());
        }
        subnet.take_events();
        if i + 1 == warm_up {
            at_warm_up = resident_bytes();
        }
    }
    let end = resident_bytes();
    let secs = start.elapsed().as_secs_f64();
    println!("soak: {executions} executions from a restored snapshot in {secs:.0} s ({:.0} /s)", executions as f64 / secs);
    println!("  resident after warm-up ({warm_up} executions): {:>8.1} MiB", at_warm_up as f64 / (1 << 20) as f64);
    println!("  resident at the end:                      {:>8.1} MiB", end as f64 / (1 << 20) as f64);
    println!("  growth after warm-up: {:+.1} %  (target < 10%)", 100.0 * (end as f64 - at_warm_up as f64) / at_warm_up as f64);
}
