//! Modules written to hurt the harness: each installs within the IC's limits or is refused with the IC's error
//! (code and text), and the subnet keeps working. The memory they ask for is never committed: limits are checked
//! on the module's bytes before compiling (functions, size, declared maxima) or when wasmtime reserves a table or
//! memory at instantiation, so a campaign's memory is the size of the modules plus what canisters really use.

use icfuzz_engine::{Config, ErrorCode, InstructionLimits, RejectResponse, Subnet};
use wasm_encoder::{
    CodeSection, DataSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, MemorySection, MemoryType,
    Module, RefType, TableSection, TableType, TypeSection,
};

use crate::*;

/// Installs `wasm` on a fresh canister of a fresh subnet; the universal canister beside it must still work after.
fn install_hostile(wasm: &[u8]) -> Result<(), RejectResponse> {
    let mut s = subnet();
    let witness = install_uc(&mut s);
    let canister = s.create_canister();
    let result = s.install_canister(canister, wasm, Vec::new(), None);
    let echo = update(&mut s, witness, Program::new().push_bytes(b"alive").reply_data_append().reply()).unwrap();
    assert_eq!(echo, b"alive", "the subnet is harmed");
    result
}

fn refused(wasm: &[u8], code: ErrorCode, text: &str) {
    let reject = install_hostile(wasm).expect_err("the module is refused");
    assert_eq!(reject.error_code, code, "{reject}");
    assert!(reject.reject_message.contains(text), "{reject}");
}

/// A module with `functions` empty functions and one update method.
fn many_functions(functions: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instruction(&Instruction::End);
    for _ in 0..functions {
        funcs.function(0);
        code.function(&body);
    }
    let mut exports = ExportSection::new();
    exports.export("canister_update f", ExportKind::Func, 0);
    let mut module = Module::new();
    module.section(&types).section(&funcs).section(&exports).section(&code);
    module.finish()
}

#[test]
fn a_hundred_thousand_functions_are_refused_as_on_the_ic() {
    refused(
        &many_functions(100_000),
        ErrorCode::CanisterInvalidWasm,
        "Wasm module defined 100000 functions which exceeds the maximum number allowed 50000",
    );
    install_hostile(&many_functions(50_000)).expect("50,000 functions are allowed");
}

#[test]
fn a_module_over_100_mib_is_refused_and_one_just_under_installs() {
    let module = |data_bytes: usize| {
        let mut memory = MemorySection::new();
        let pages = (data_bytes as u64).div_ceil(65_536) + 1;
        memory.memory(MemoryType { minimum: pages, maximum: None, memory64: false, shared: false, page_size_log2: None });
        let mut data = DataSection::new();
        data.active(0, &wasm_encoder::ConstExpr::i32_const(0), vec![0xab; data_bytes]);
        let mut module = Module::new();
        module.section(&memory).section(&data);
        module.finish()
    };
    refused(&module(100 << 20), ErrorCode::CanisterInvalidWasm, "exceeds the maximum allowed size of 104857600");
    install_hostile(&module(99 << 20)).expect("a 99 MiB data segment fits the 100 MiB module limit");
}

#[test]
fn a_data_segment_past_the_initial_memory_is_refused_before_instantiation() {
    let wasm = wat::parse_str(r#"(module (memory 1) (data (i32.const 65530) "twelve bytes"))"#).unwrap();
    refused(&wasm, ErrorCode::CanisterInvalidWasm, "Wasm module has invalid data segment of 12 bytes at 65530");
    let fits = wat::parse_str(r#"(module (memory 1) (data (i32.const 65524) "twelve bytes"))"#).unwrap();
    install_hostile(&fits).expect("a segment ending at the memory's end fits");
}

fn with_tables(sizes: &[u64]) -> Vec<u8> {
    let mut tables = TableSection::new();
    for &minimum in sizes {
        tables.table(TableType { element_type: RefType::FUNCREF, minimum, maximum: None, table64: false, shared: false });
    }
    let mut module = Module::new();
    module.section(&tables);
    module.finish()
}

#[test]
fn tables_are_held_to_the_replicas_store_limits() {
    install_hostile(&with_tables(&[1_000_000])).expect("one table of 1,000,000 elements is allowed");
    refused(&with_tables(&[1_000_001]), ErrorCode::CanisterWasmEngineError, "Failed to instantiate module");
    refused(&with_tables(&[1, 1]), ErrorCode::CanisterWasmEngineError, "Failed to instantiate module");
}

fn memory64(minimum: u64, maximum: Option<u64>) -> Vec<u8> {
    let mut memory = MemorySection::new();
    memory.memory(MemoryType { minimum, maximum, memory64: true, shared: false, page_size_log2: None });
    let mut module = Module::new();
    module.section(&memory);
    module.finish()
}

#[test]
fn a_wasm64_module_asking_for_terabytes_is_refused() {
    const TIB_PAGES: u64 = (1 << 40) / 65_536;
    // A declared maximum above the wasm64 limit is invalid; a minimum that large cannot be instantiated.
    refused(&memory64(1, Some(TIB_PAGES)), ErrorCode::CanisterInvalidWasm, "declares a maximum memory size of 16777216");
    refused(&memory64(TIB_PAGES, None), ErrorCode::CanisterWasmEngineError, "Failed to instantiate module");
    install_hostile(&memory64(1, Some(1024))).expect("a modest wasm64 memory installs");
}

#[test]
fn a_start_function_that_loops_ends_at_the_install_limit() {
    let wasm = wat::parse_str(r#"(module (func $spin (loop $l (br $l))) (start $spin) (memory 1))"#).unwrap();
    refused(&wasm, ErrorCode::CanisterInstructionLimitExceeded, "instructions");
}

#[test]
fn exports_named_like_the_engines_own_are_ignored_as_on_the_ic() {
    // The engine exports a module's memory, globals, table and start function under `__icfuzz_`; the IC reserves
    // no such prefix, so a module may export anything under it. The canister must behave as if they were absent:
    // its memory persists, its start function runs once per install, its global counts.
    let wasm = wat::parse_str(
        r#"(module
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (import "ic0" "msg_reply" (func $reply))
          (memory 1)
          (table 1 funcref)
          (global $calls (mut i32) (i32.const 0))
          (func $start (i32.store8 (i32.const 0) (i32.const 65)))
          (start $start)
          (func $bump
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            (i32.store8 (i32.const 1) (i32.add (i32.const 48) (global.get $calls)))
            (call $append (i32.const 0) (i32.const 2))
            (call $reply))
          (export "canister_update bump" (func $bump))
          (export "__icfuzz_memory" (func $bump))
          (export "__icfuzz_coverage" (func $start))
          (export "__icfuzz_global_0" (memory 0))
          (export "__icfuzz_start" (global $calls))
          (export "__icfuzz_table" (table 0)))"#,
    )
    .unwrap();
    for coverage in [false, true] {
        let config = Config {
            instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT),
            coverage,
            ..Config::default()
        };
        let mut s = Subnet::new(config).unwrap();
        let canister = s.create_canister();
        s.install_canister(canister, &wasm, Vec::new(), None)
            .expect("the IC accepts these exports");
        let bump = |s: &mut Subnet| {
            s.update_call(canister, user(), "bump", Vec::new())
                .expect("bump replies")
        };
        assert_eq!(bump(&mut s), b"A1");
        assert_eq!(
            bump(&mut s),
            b"A2",
            "memory and globals persist between messages"
        );
        s.upgrade_canister(canister, &wasm, Vec::new(), None)
            .unwrap();
        assert_eq!(
            bump(&mut s),
            b"A1",
            "an upgrade starts a fresh instance: start runs again"
        );
        assert_eq!(!s.coverage().is_empty(), coverage);
    }
}
