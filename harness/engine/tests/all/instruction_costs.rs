//! Instructions are counted as the IC counts them (`instruction_costs.rs`): weighted Wasm operators, System API
//! overheads, per-byte and per-dirty-page charges. Limits, fees and `performance_counter` all see that count.
//!
//! `canisters/stats` rescales stored readings with two loops that differ in one operator (`f64.mul`, weight 2, or
//! `f64.div`, weight 5), so the difference of their costs is exactly 3 per reading; counted as raw operators it
//! would be 0; its `stamp_costs` weighs a System API call the same way. The universal canister reads
//! `performance_counter` around stable memory writes and replies.

use candid::{Decode, Encode};
use icfuzz_engine::{Config, ErrorCode, InstructionLimits, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::{install, install_uc, update, user};

#[derive(candid::CandidType)]
enum Conversion {
    Multiply(f64),
    Divide(f64),
}

fn subnet_with_update_limit(update: u64) -> Subnet {
    let limits = InstructionLimits { update, ..InstructionLimits::uniform(5_000_000_000) };
    Subnet::new(Config { instruction_limits: limits, ..Config::default() }).expect("wasmtime starts")
}

/// Stores `n` readings in batches small enough for any limit used here.
fn readings(s: &mut Subnet, n: u32) -> icfuzz_engine::CanisterId {
    let canister = install(s, "stats", vec![]);
    const BATCH: u32 = 100_000;
    for batch in 0..n.div_ceil(BATCH) {
        let count = BATCH.min(n - batch * BATCH);
        let start = f64::from(batch * BATCH);
        s.update_call(canister, user(), "record", Encode!(&start, &1.0f64, &count).unwrap()).expect("recorded");
    }
    canister
}

fn rescale(s: &mut Subnet, canister: icfuzz_engine::CanisterId, conversion: Conversion) -> Result<u64, icfuzz_engine::RejectResponse> {
    let reply = s.update_call(canister, user(), "rescale", Encode!(&conversion).unwrap())?;
    Ok(Decode!(&reply, u64).unwrap())
}

#[test]
fn a_division_weighs_three_more_than_a_multiplication() {
    const N: u32 = 10_000;
    let mut s = subnet_with_update_limit(5_000_000_000);
    // Twice the readings against once: what the rescalings cost around their loops cancels out.
    let difference = |s: &mut Subnet, n: u32| {
        let canister = readings(s, n);
        let multiplied = rescale(s, canister, Conversion::Multiply(2.0)).unwrap();
        let divided = rescale(s, canister, Conversion::Divide(2.0)).unwrap();
        divided - multiplied
    };
    let once = difference(&mut s, N);
    let twice = difference(&mut s, 2 * N);
    assert_eq!(twice - once, 3 * u64::from(N), "f64.div weighs 5 and f64.mul 2: {twice} vs {once}");
}

/// The same number of Wasm operators runs in both rescalings; weighed as the IC weighs them, only the division
/// exceeds the limit (IC0522), as it would on the IC.
#[test]
fn an_update_under_the_limit_in_operators_exceeds_it_in_ic_instructions() {
    const N: u32 = 1_000_000;
    let mut measuring = subnet_with_update_limit(40_000_000_000);
    let canister = readings(&mut measuring, N);
    let multiplied = rescale(&mut measuring, canister, Conversion::Multiply(2.0)).unwrap();
    // Halfway between the two costs: the rest of the update (decoding, replying) is far below 1.5 M instructions.
    let limit = multiplied + 3 * u64::from(N) / 2;
    let mut s = subnet_with_update_limit(limit);
    let canister = readings(&mut s, N);
    rescale(&mut s, canister, Conversion::Multiply(2.0)).expect("multiplying fits the limit");
    let reject = rescale(&mut s, canister, Conversion::Divide(2.0)).expect_err("dividing does not");
    assert_eq!(reject.error_code, ErrorCode::CanisterInstructionLimitExceeded, "{reject:?}");
}

/// `performance_counter` around a block of the universal canister's program: the last 16 bytes of the reply are
/// the counter before and after.
fn measured(block: Program, reply_prefix: bool) -> Program {
    let program = Program::new().push_int(0).performance_counter();
    let program = if reply_prefix { program.swap() } else { program };
    program.append(block).push_int(0).performance_counter().concat().reply_data_append().reply()
}

fn cost(reply: &[u8]) -> u64 {
    let n = reply.len();
    let word = |at: usize| u64::from_le_bytes(reply[at..at + 8].try_into().unwrap());
    word(n - 8) - word(n - 16)
}

#[test]
fn a_stable_page_written_first_costs_the_dirty_page_overhead() {
    let mut s = crate::subnet();
    let uc = install_uc(&mut s);
    let writes = |stride: u64| {
        (0..8).fold(Program::new(), |p, i| p.push_int(i * stride).push_bytes(&[1]).stable_write())
    };
    let grow = || Program::new().push_int(1).stable_grow().drop();
    let spread = update(&mut s, uc, grow().append(measured(writes(4096), false))).unwrap();
    let packed = update(&mut s, uc, grow().append(measured(writes(1), false))).unwrap();
    // Eight pages against one: seven more first writes of a 4 KiB page, 1,000 instructions each.
    assert_eq!(cost(&spread) - cost(&packed), 7 * 1_000);
}

#[test]
fn reply_bytes_cost_fifty_instructions_each() {
    const N: usize = 100_000;
    let mut s = crate::subnet();
    let uc = install_uc(&mut s);
    let append = |n: usize| Program::new().push_bytes(&vec![7; n]).append(measured(Program::new().reply_data_append(), true));
    let long = update(&mut s, uc, append(N)).unwrap();
    let short = update(&mut s, uc, append(0)).unwrap();
    assert_eq!(long.len(), N + 16);
    let extra = cost(&long) - cost(&short);
    // 50 per byte for passing the reply out of the sandbox; freeing the bigger buffer costs a little more.
    assert!((50 * N as u64..50 * N as u64 + 2_000).contains(&extra), "{extra}");
}

#[test]
fn a_system_api_call_costs_its_overhead() {
    const N: u32 = 1_000;
    let mut s = crate::subnet();
    let stats = install(&mut s, "stats", vec![]);
    let reply = s.query_call(stats, user(), "stamp_costs", Encode!(&N).unwrap()).unwrap();
    let (clock, constant) = Decode!(&reply, u64, u64).unwrap();
    // Per reading: `ic0.time` costs its 500 and the `call` 5, and ic-cdk's wrapper around it a few more, where the
    // other loop has one `i64.const`.
    let extra = (clock - constant) as f64 / f64::from(N);
    assert!((504.0..=520.0).contains(&extra), "{clock} - {constant} over {N} readings = {extra}");
}

#[test]
fn performance_counter_includes_its_own_charge() {
    let mut s = crate::subnet();
    let uc = install_uc(&mut s);
    let back_to_back = cost(&update(&mut s, uc, measured(Program::new(), false)).unwrap());
    assert!(back_to_back >= 200, "{back_to_back}");
}

/// A pre_upgrade that serialises its state to stable memory pays for every byte and every page it dirties, out of
/// the install's one budget: past it the upgrade fails (IC0522) and the canister keeps its old code and state,
/// the outage a canister whose state outgrew its pre_upgrade suffers on the IC.
#[test]
fn a_pre_upgrade_over_the_install_limit_blocks_the_upgrade() {
    const LIMIT: u64 = 2_000_000;
    let limits = InstructionLimits { install: LIMIT, ..InstructionLimits::uniform(crate::TEST_INSTRUCTION_LIMIT) };
    let mut s = Subnet::new(Config { instruction_limits: limits, ..Config::default() }).expect("wasmtime starts");
    let uc = install_uc(&mut s);
    // Saves `kib` KiB of state: 1 per byte and 1,000 per 4 KiB page written, more than the limit for 2 MiB.
    let save = |kib: u64| {
        let doublings = kib.trailing_zeros();
        let data = (0..doublings).fold(Program::new().push_int(0).push_bytes(&[7; 1024]), |p, _| p.dup().concat());
        data.stable_write().build()
    };
    let prepare = |s: &mut Subnet, pre_upgrade: Vec<u8>| {
        let program = Program::new().push_int(32).stable_grow().drop().push_bytes(b"state").set_global();
        update(s, uc, program.push_bytes(&pre_upgrade).set_pre_upgrade().reply()).unwrap();
    };
    prepare(&mut s, save(2048));
    let hash = s.state_hash(uc).unwrap();
    let version = s.canister_version(uc).unwrap();
    let reject = s.upgrade_canister(uc, &crate::uc_wasm(), vec![], None).expect_err("pre_upgrade is over the limit");
    assert_eq!(reject.error_code, ErrorCode::CanisterInstructionLimitExceeded, "{reject:?}");
    assert!(reject.reject_message.contains("pre_upgrade"), "{reject}");
    assert_eq!(s.state_hash(uc).unwrap(), hash, "heap and stable memory as before");
    assert_eq!(s.canister_version(uc).unwrap(), version);
    assert_eq!(crate::global(&mut s, uc), b"state");
    // A smaller state fits, and the upgrade carries it over in stable memory.
    prepare(&mut s, save(64));
    s.upgrade_canister(uc, &crate::uc_wasm(), vec![], None).expect("pre_upgrade fits the limit");
    let read = Program::new().stable_read_at(65535, 1).reply_data_append().reply();
    assert_eq!(update(&mut s, uc, read).unwrap(), [7]);
}
