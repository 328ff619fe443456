//! Engine configuration: limits and initial conditions.

use crate::fees::Fees;
use crate::types::{Cycles, Principal};

/// Instruction limits per kind of execution, in the IC's weighted instructions (`instruction_costs.rs`), enforced
/// with wasmtime fuel.
///
/// The defaults are the IC's application-subnet limits. A fuzzer usually wants lower ones so that a canister
/// stuck in a loop costs milliseconds, not the tens of seconds 40 billion instructions take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstructionLimits {
    /// Update calls, reply/reject callbacks, cleanup, timers and heartbeats.
    pub update: u64,
    /// Queries, replicated or not.
    pub query: u64,
    /// install/reinstall/upgrade: start function plus init (or pre_upgrade + start + post_upgrade) together.
    pub install: u64,
    /// `canister_inspect_message`.
    pub inspect_message: u64,
}

impl Default for InstructionLimits {
    fn default() -> Self {
        InstructionLimits {
            update: 40_000_000_000,
            query: 5_000_000_000,
            install: 300_000_000_000,
            inspect_message: 200_000_000,
        }
    }
}

impl InstructionLimits {
    /// The same limit for every kind of execution (handy in tests and fuzzing).
    pub fn uniform(limit: u64) -> Self {
        InstructionLimits { update: limit, query: limit, install: limit, inspect_message: limit }
    }
}

/// Configuration of an engine [`crate::Subnet`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Instruction limits per execution kind.
    pub instruction_limits: InstructionLimits,
    /// Wasm stack available to canister code, in bytes (IC: 5 MiB, `MAX_WASM_STACK_SIZE` in rs/embedders). Deeper
    /// recursion traps as a stack overflow.
    ///
    /// An execution entered on a thread with less native stack than [`crate::native_stack::needed`] of this runs
    /// on a helper thread that has it (correct, but a thread per execution); threads that run many executions
    /// should be spawned with that much stack (or run with `RUST_MIN_STACK` set).
    pub max_wasm_stack: usize,
    /// `wasm_memory_limit` of new canisters (IC default: 3 GiB). Exceeding it in update, init or start traps.
    pub default_wasm_memory_limit: u64,
    /// Cycles a canister created by `create_canister` without attached cycles or by the provisional API gets.
    pub default_cycles: Cycles,
    /// Time at creation, in nanoseconds since 1970.
    pub initial_time_nanos: u64,
    /// Seed of the deterministic `raw_rand`.
    pub seed: [u8; 32],
    /// The subnet's principal, returned by `ic0.subnet_self_*`.
    pub subnet_id: Principal,
    /// Cycle fees charged and reported by `ic0.cost_*` (default: a 13-node application subnet's).
    pub fees: Fees,
    /// Instrument every installed module for coverage (block counters and comparison logging; see
    /// [`crate::Subnet::coverage`]). Adds a bounded number of instructions per block (docs/engine.md).
    pub coverage: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instruction_limits: InstructionLimits::default(),
            max_wasm_stack: 5 << 20,
            default_wasm_memory_limit: 3 << 30,
            default_cycles: 100_000_000_000_000,
            // 2025-01-01T00:00:00Z: a fixed, realistic time; never the host clock.
            initial_time_nanos: 1_735_689_600_000_000_000,
            seed: [0; 32],
            subnet_id: Principal::from_slice(&[0xd2; 29]),
            fees: Fees::APPLICATION_SUBNET,
            coverage: false,
        }
    }
}
