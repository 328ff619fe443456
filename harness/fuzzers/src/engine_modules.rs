//! Fuzzing the engine itself: generated Wasm modules that may call any ic0 function with any arguments, in any
//! entry point, must never panic, hang or leak the harness, and must run deterministically.
//!
//! Each input picks a pointer width and generates a module with `wasm-smith` (features restricted to what the IC
//! allows, imports drawn from the ic0 API, exports the engine calls), installs it next to a universal canister,
//! calls it, runs the subnet to quiescence, and then does it all again from the snapshot: both runs must produce
//! the same trace.

use std::sync::{Mutex, MutexGuard};

use arbitrary::{Result, Unstructured};
use icfuzz::engine::{Config, Event, Fees, InstructionLimits, Principal, Subnet, SubnetSnapshot};
use wasm_encoder::{CodeSection, ExportKind, ExportSection, Function, FunctionSection, Module, TypeSection};

/// Methods every generated module exports (wasm-smith fills their bodies).
const EXPORTS: [&str; 6] = [
    "canister_update run",
    "canister_query peek",
    "canister_init",
    "canister_global_timer",
    "canister_pre_upgrade",
    "canister_post_upgrade",
];

fn exports_module() -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    for (i, name) in EXPORTS.iter().enumerate() {
        functions.function(0);
        exports.export(name, ExportKind::Func, i as u32);
        let mut body = Function::new([]);
        body.instruction(&wasm_encoder::Instruction::End);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&exports).section(&code);
    module.finish()
}

/// A wasm-smith configuration for canisters the IC could accept. `no_wasm_traps` makes the generator avoid Wasm
/// traps (unreachable, out-of-bounds, division by zero), so that more modules survive `canister_init` and their
/// System API calls get exercised; misused System API calls still trap.
fn config(memory64: bool, no_wasm_traps: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        disallow_traps: no_wasm_traps,
        available_imports: Some(icfuzz::engine::ic0_imports_module(memory64)),
        exports: Some(exports_module()),
        memory64_enabled: memory64,
        min_memories: 1,
        max_memories: 1,
        max_memory32_bytes: 16 << 20,
        max_memory64_bytes: 16 << 20,
        max_tables: 1,
        max_instructions: 400,
        max_funcs: 20,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: false,
        gc_enabled: false,
        // wasm-smith would emit externref, which the IC (and this engine) reject; funcref tables remain.
        reference_types_enabled: false,
        exceptions_enabled: false,
        relaxed_simd_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    }
}

/// The subnet and its starting snapshot (one partner canister the generated code can call).
pub struct EngineWorld {
    subnet: Subnet,
    snapshot: SubnetSnapshot,
    partner: Principal,
}

static WORLD: Mutex<Option<EngineWorld>> = Mutex::new(None);

fn world() -> MutexGuard<'static, Option<EngineWorld>> {
    let mut guard = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let config = Config {
            instruction_limits: InstructionLimits::uniform(2_000_000),
            default_wasm_memory_limit: 32 << 20,
            fees: Fees::APPLICATION_SUBNET,
            ..Config::default()
        };
        let mut subnet = Subnet::new(config).expect("wasmtime starts");
        let partner = subnet.create_canister();
        subnet.install_canister(partner, &icfuzz_test_canisters::wasm("universal"), vec![], None).expect("install");
        let snapshot = subnet.snapshot();
        *guard = Some(EngineWorld { subnet, snapshot, partner });
    }
    guard
}

/// Everything one input does; returns the trace so runs can be compared.
fn scenario(world: &mut EngineWorld, wasm: &[u8], u: &mut Unstructured<'_>) -> Result<Vec<Event>> {
    let s = &mut world.subnet;
    s.restore(&world.snapshot).expect("restore");
    let id = s.create_canister();
    let init_arg: Vec<u8> = u.arbitrary()?;
    if s.install_canister(id, wasm, init_arg, None).is_err() {
        return Ok(s.take_events());
    }
    for _ in 0..u.int_in_range(1..=4)? {
        let arg: Vec<u8> = u.arbitrary()?;
        match u.int_in_range(0..=4)? {
            0 => drop(s.query_call(id, Principal::anonymous(), "peek", arg)),
            1 => s.advance_time(u.int_in_range(0..=10_000_000_000u64)?),
            2 => drop(s.upgrade_canister(id, wasm, arg, None)),
            3 => {
                let program = icfuzz_test_canisters::uc::Program::new()
                    .call_new(id.as_slice(), "run", icfuzz_test_canisters::uc::Program::new(), icfuzz_test_canisters::uc::Program::new())
                    .push_bytes(&arg)
                    .call_data_append()
                    .call_perform()
                    .drop()
                    .reply();
                drop(s.submit_call(world.partner, Principal::anonymous(), "update", program.build()));
            }
            _ => drop(s.submit_call(id, Principal::anonymous(), "run", arg)),
        }
        // Bounded: generated code may keep calling itself.
        let _ = s.run_until_quiet(50);
    }
    Ok(world.subnet.take_events())
}

/// What one input did (so a bounded run can show it exercised the engine rather than bouncing off validation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A module was generated.
    pub generated: bool,
    /// It passed validation and installed.
    pub installed: bool,
    /// Entry points executed (both runs).
    pub executions: usize,
    /// Executions that trapped.
    pub traps: usize,
}

/// One fuzz input. Panics (a finding) only if the engine misbehaves: a harness panic, or two runs of the same
/// input that differ.
pub fn engine_modules_run(data: &[u8]) -> Outcome {
    let mut outcome = Outcome::default();
    let mut u = Unstructured::new(data);
    let (Ok(memory64), Ok(no_wasm_traps)) = (u.arbitrary::<bool>(), u.arbitrary::<bool>()) else { return outcome };
    let Ok(module) = wasm_smith::Module::new(config(memory64, no_wasm_traps), &mut u) else { return outcome };
    outcome.generated = true;
    let wasm = module.to_bytes();
    let rest = u.take_rest();
    let mut guard = world();
    let world = guard.as_mut().expect("initialised");
    let first = scenario(world, &wasm, &mut Unstructured::new(rest));
    let second = scenario(world, &wasm, &mut Unstructured::new(rest));
    if let (Ok(first), Ok(second)) = (first, second) {
        for event in &first {
            if let Event::Executed { trap, .. } = event {
                outcome.executions += 1;
                outcome.traps += usize::from(trap.is_some());
            }
        }
        outcome.installed = world.subnet.module_hash(icfuzz::engine::canister_id_from_index(1)).ok().flatten().is_some()
            || outcome.executions > 0;
        assert_eq!(first, second, "the same input ran differently twice: the engine is not deterministic");
    }
    outcome
}
