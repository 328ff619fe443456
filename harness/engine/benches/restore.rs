//! Snapshot restore cost versus pages touched since the snapshot, on a canister with a large heap.
//!
//! Run with `cargo bench -p icfuzz-engine --bench restore`. Prints, for 1, 16, 256 and 4096 touched 4 KiB pages
//! of a 512 MiB heap, the median restore time and its ratio to the 1-page case, next to the time a full heap
//! copy takes. With dirty-page tracking the cost follows the pages touched, not the heap size.

#![allow(clippy::disallowed_types)] // A benchmark measures wall-clock time on purpose.

use std::time::{Duration, Instant};

use icfuzz_engine::{Config, InstructionLimits, Principal, Subnet};
use icfuzz_test_canisters::uc::{self, Program};

const HEAP_WASM_PAGES: u64 = 8192; // 512 MiB
const SAMPLES: usize = 31;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let config = Config { instruction_limits: InstructionLimits::uniform(10_000_000_000), ..Config::default() };
    let mut subnet = Subnet::new(config).expect("wasmtime");
    let id = subnet.create_canister();
    subnet.install_canister(id, &icfuzz_test_canisters::wasm("universal"), vec![], None).expect("install");
    let user = Principal::anonymous();
    let grow = Program::new().push_int(HEAP_WASM_PAGES).wasm_memory_grow().reply_data_append().reply();
    let old_pages = uc::int(&subnet.update_call(id, user, "update", grow.build()).expect("grow"));
    let base = old_pages * 65536;
    // Fill the heap once so it is resident and the snapshot holds real data.
    let fill = Program::new().push_int(base).push_int(HEAP_WASM_PAGES * 16).touch_heap().reply();
    subnet.update_call(id, user, "update", fill.build()).expect("fill");
    let snapshot = subnet.snapshot();

    let heap_bytes = (old_pages + HEAP_WASM_PAGES) as usize * 65536;
    let source = vec![1u8; heap_bytes];
    let mut target = vec![0u8; heap_bytes];
    let full_copy = median(
        (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                target.copy_from_slice(&source);
                std::hint::black_box(&target);
                start.elapsed()
            })
            .collect(),
    );

    println!("snapshot restore on a {} MiB heap (dirty-page tracking: {})", heap_bytes >> 20, icfuzz_engine::dirty_page_tracking());
    println!("{:>14} {:>14} {:>14} {:>12} {:>14}", "touched pages", "pages copied", "restore", "vs 1 page", "vs full copy");
    let mut first = None;
    for touched in [1u64, 16, 256, 4096] {
        let touch = Program::new().push_int(base).push_int(touched).touch_heap().reply().build();
        let mut times = Vec::with_capacity(SAMPLES);
        let mut copied = 0;
        for _ in 0..SAMPLES {
            subnet.update_call(id, user, "update", touch.clone()).expect("touch");
            let start = Instant::now();
            let stats = subnet.restore(&snapshot).expect("restore");
            times.push(start.elapsed());
            copied = stats.pages_copied;
        }
        let t = median(times);
        let base_time = *first.get_or_insert(t);
        println!(
            "{:>14} {:>14} {:>14.2?} {:>11.1}x {:>13.4}x",
            touched,
            copied,
            t,
            t.as_secs_f64() / base_time.as_secs_f64(),
            t.as_secs_f64() / full_copy.as_secs_f64()
        );
    }
    println!("full copy of the heap (what restore costs without tracking): {full_copy:.2?}");
}
