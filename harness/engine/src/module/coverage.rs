//! Coverage instrumentation: block counters and a log of comparisons with constants, kept in a memory of their
//! own so the canister's memory, globals, imports and function indices stay exactly as they were.
//!
//! Applied to the output of [`super::rewrite`] when coverage is on. It:
//! - appends a 32-bit memory (index = number of memories the module has) exported as `__icfuzz_coverage`;
//! - adds at the start of every basic block (function entry, loop header, `if`/`else` arm, after `end` and the
//!   fall-through of `br_if`) an increment of that block's 8-bit counter;
//! - before every `i32`/`i64` comparison whose right operand is a constant (`x; C; cmp`), records `(x, C)` in a
//!   ring buffer, so a fuzzer can learn the magic values a canister compares against;
//! - appends two scratch locals per function (after all existing ones, so no local index changes).
//!
//! Layout of the coverage memory: `[0..4)` number of comparisons logged (wrapping), `[16..16+32·RING)` the ring
//! of entries `(x: u64, C: u64, width: u8)`, 32-bit counters from [`COUNTERS_OFFSET`].
//!
//! Cost: exactly [`counter_fuel`] units of fuel per executed block and [`cmp_fuel`] per logged comparison, weighed
//! with the IC's table for the module's pointer width (fuel is the IC's weighted count, see
//! `instruction_costs.rs`). The engine computes this overhead from the counters and subtracts it, so instruction
//! limits, fees and `performance_counter` see the canister's own instructions only.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, Instruction, MemArg, MemorySection, MemoryType, RawSection,
    ValType,
};
use wasmparser::{Name, NameSectionReader, Operator, Parser, Payload};

use super::{decoding_error, InvalidModule};

/// Export name of the coverage memory.
pub(crate) const COVERAGE_EXPORT: &str = "__icfuzz_coverage";
/// Offset of the logged-comparison count.
pub(crate) const CMP_COUNT_OFFSET: u64 = 0;
/// Offset of the comparison ring.
pub(crate) const CMP_ENTRIES_OFFSET: u64 = 16;
/// Entries in the comparison ring (a power of two).
pub(crate) const CMP_RING: u64 = 128;
/// Bytes per ring entry.
pub(crate) const CMP_ENTRY_BYTES: u64 = 32;
/// Offset of the first block counter (counters are 32-bit, little-endian).
pub(crate) const COUNTERS_OFFSET: u64 = 8192;
/// Fuel one counter increment consumes in a module of this pointer width.
pub(crate) fn counter_fuel(memory64: bool) -> u64 {
    static FUEL: OnceLock<[u64; 2]> = OnceLock::new();
    FUEL.get_or_init(|| [false, true].map(|wide| emit_counter(&mut Function::new([]), 1, &mut Vec::new(), 0, wide)))
        [usize::from(memory64)]
}

/// Fuel one comparison log consumes in a module of this pointer width (the same for both operand widths, by
/// construction).
pub(crate) fn cmp_fuel(memory64: bool) -> u64 {
    static FUEL: OnceLock<[u64; 2]> = OnceLock::new();
    FUEL.get_or_init(|| [false, true].map(|wide| emit_cmp_log(&mut Function::new([]), 1, false, 7, 0, 1, 2, wide)))
        [usize::from(memory64)]
}

/// An instrumented module and what its counters mean.
pub(crate) struct Instrumented {
    /// The instrumented module.
    pub wasm: Vec<u8>,
    /// For each counter, the index of the function its block belongs to.
    pub block_functions: Vec<u32>,
    /// Function names from the name section.
    pub function_names: BTreeMap<u32, String>,
}

/// Fuel the instrumentation consumed so far in an execution, from the coverage memory's contents: every counter
/// increment and every comparison log costs a known constant for the module's pointer width.
pub(crate) fn overhead(coverage_memory: &[u8], blocks: usize, memory64: bool) -> u64 {
    let start = COUNTERS_OFFSET as usize;
    let end = (start + 4 * blocks).min(coverage_memory.len());
    let hits: u64 = coverage_memory[start..end]
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .sum();
    let at = CMP_COUNT_OFFSET as usize;
    let logged = coverage_memory
        .get(at..at + 4)
        .map_or(0, |c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
    hits * counter_fuel(memory64) + logged * cmp_fuel(memory64)
}

fn rewrite_error(e: impl std::fmt::Display) -> InvalidModule {
    InvalidModule::Rewrite(format!("coverage instrumentation: {e}"))
}

/// Instruments `wasm` (the output of the rewrite) of the given pointer width. See the module docs.
pub(crate) fn instrument(wasm: &[u8], memory64: bool) -> Result<Instrumented, InvalidModule> {
    // First pass: what the function bodies need (parameter counts) and where sections go.
    let mut func_types: Vec<u32> = Vec::new();
    let mut type_params: Vec<u32> = Vec::new();
    let mut imported_functions = 0u32;
    let mut memories = 0u32;
    let mut function_names = BTreeMap::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(decoding_error)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.map_err(decoding_error)?.into_types() {
                        type_params.push(match &ty.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => f.params().len() as u32,
                            _ => 0,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import.map_err(decoding_error)?.ty, wasmparser::TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty.map_err(decoding_error)?);
                }
            }
            Payload::MemorySection(reader) => memories += reader.count(),
            Payload::CustomSection(reader) if reader.name() == "name" => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    collect_function_names(names, &mut function_names);
                }
            }
            _ => {}
        }
    }
    let memory_index = memories;

    // Second pass: instrument bodies first, so the memory can be sized to the number of counters.
    let mut block_functions = Vec::new();
    let mut code = CodeSection::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload.map_err(decoding_error)? {
            let index = imported_functions + code.len();
            let params = func_types
                .get(code.len() as usize)
                .and_then(|&t| type_params.get(t as usize))
                .copied()
                .ok_or_else(|| rewrite_error("function without a type"))?;
            let function = instrument_body(&body, params, memory_index, index, &mut block_functions, memory64)?;
            code.function(&function);
        }
    }
    let counters = block_functions.len() as u64;
    let pages = (COUNTERS_OFFSET + 4 * counters).div_ceil(65536).max(1);

    // Third pass: copy every section, replacing the code, extending memories and exports.
    let mut out = wasm_encoder::Module::new();
    let mut added_memory = false;
    let mut added_export = false;
    let add_memory = |out: &mut wasm_encoder::Module, section: Option<wasmparser::MemorySectionReader<'_>>| {
        let mut memories = MemorySection::new();
        if let Some(reader) = section {
            for memory in reader {
                let memory = memory.map_err(decoding_error)?;
                memories.memory(RoundtripReencoder.memory_type(memory).map_err(rewrite_error)?);
            }
        }
        memories.memory(MemoryType {
            minimum: pages,
            maximum: Some(pages),
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        out.section(&memories);
        Ok::<(), InvalidModule>(())
    };
    let add_export = |out: &mut wasm_encoder::Module, section: Option<wasmparser::ExportSectionReader<'_>>| {
        let mut exports = ExportSection::new();
        if let Some(reader) = section {
            RoundtripReencoder.parse_export_section(&mut exports, reader).map_err(rewrite_error)?;
        }
        exports.export(COVERAGE_EXPORT, ExportKind::Memory, memory_index);
        out.section(&exports);
        Ok::<(), InvalidModule>(())
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(decoding_error)?;
        let Some((id, range)) = payload.as_section() else { continue };
        // Sections after the memory (5) / export (7) positions get ours inserted before them if absent.
        let rank = section_rank(id);
        if !added_memory && rank > section_rank(5) {
            add_memory(&mut out, None)?;
            added_memory = true;
        }
        if !added_export && rank > section_rank(7) {
            add_export(&mut out, None)?;
            added_export = true;
        }
        match payload {
            Payload::MemorySection(reader) => {
                add_memory(&mut out, Some(reader))?;
                added_memory = true;
            }
            Payload::ExportSection(reader) => {
                add_export(&mut out, Some(reader))?;
                added_export = true;
            }
            Payload::CodeSectionStart { .. } => {
                out.section(&code);
            }
            _ => {
                out.section(&RawSection { id, data: &wasm[range] });
            }
        }
    }
    if !added_memory {
        add_memory(&mut out, None)?;
    }
    if !added_export {
        add_export(&mut out, None)?;
    }
    Ok(Instrumented { wasm: out.finish(), block_functions, function_names })
}

/// Position of a section id in the binary format's required order (custom sections: 0, kept in place).
fn section_rank(id: u8) -> u8 {
    match id {
        0 => 0,
        1..=5 => id,
        13 => 6,
        6 => 7,
        7 => 8,
        8 => 9,
        9 => 10,
        12 => 11,
        10 => 12,
        11 => 13,
        _ => 14,
    }
}

fn collect_function_names(reader: NameSectionReader<'_>, out: &mut BTreeMap<u32, String>) {
    for name in reader.into_iter().flatten() {
        if let Name::Function(map) = name {
            for naming in map.into_iter().flatten() {
                out.insert(naming.index, naming.name.to_string());
            }
        }
    }
}

fn mem(offset: u64, align: u32, memory_index: u32) -> MemArg {
    MemArg { offset, align, memory_index }
}

/// Emits `counter[id] += 1`; returns the fuel it costs (always [`counter_fuel`]).
fn emit_counter(f: &mut Function, memory: u32, blocks: &mut Vec<u32>, function: u32, memory64: bool) -> u64 {
    let offset = COUNTERS_OFFSET + 4 * blocks.len() as u64;
    blocks.push(function);
    let ops = [
        Instruction::I32Const(0),
        Instruction::I32Const(0),
        Instruction::I32Load(mem(offset, 2, memory)),
        Instruction::I32Const(1),
        Instruction::I32Add,
        Instruction::I32Store(mem(offset, 2, memory)),
    ];
    emit(f, &ops, memory64)
}

/// Emits `ops`; returns their fuel cost: their IC weights, read back from their encoding so the cost is the one
/// wasmtime charges for exactly these bytes.
fn emit(f: &mut Function, ops: &[Instruction<'_>], memory64: bool) -> u64 {
    let mut bytes = Vec::new();
    for op in ops {
        f.instruction(op);
        wasm_encoder::Encode::encode(op, &mut bytes);
    }
    let mut reader = wasmparser::OperatorsReader::new(wasmparser::BinaryReader::new(&bytes, 0));
    let mut fuel = 0;
    while !reader.eof() {
        match reader.read() {
            Ok(op) => fuel += crate::instruction_costs::weight(&op, memory64),
            // Our own encoding always decodes; count nothing rather than panic.
            Err(_) => break,
        }
    }
    fuel
}

/// Emits the logging of `(x, C)` where `x` is on the stack and `C` is about to be pushed; leaves `x` on the stack.
/// Returns the fuel it costs, which is [`cmp_fuel`] for both operand widths: the engine subtracts it exactly.
#[allow(clippy::too_many_arguments)]
fn emit_cmp_log(
    f: &mut Function,
    memory: u32,
    wide: bool,
    constant: u64,
    t64: u32,
    t32: u32,
    v32: u32,
    memory64: bool,
) -> u64 {
    let (save, value, restore) = if wide {
        // `nop` (weight 1) pads the wide path to the narrow one's cost (its `i64.extend_i32_u`).
        (vec![Instruction::LocalSet(t64), Instruction::Nop], vec![Instruction::LocalGet(t64)], Instruction::LocalGet(t64))
    } else {
        (vec![Instruction::LocalSet(v32)], vec![Instruction::LocalGet(v32), Instruction::I64ExtendI32U], Instruction::LocalGet(v32))
    };
    let mut fuel = emit(f, &save, memory64);
    // count += 1; slot = (old count mod RING) * ENTRY_BYTES
    fuel += emit(
        f,
        &[
            Instruction::I32Const(0),
            Instruction::I32Const(0),
            Instruction::I32Load(mem(CMP_COUNT_OFFSET, 2, memory)),
            Instruction::LocalTee(t32),
            Instruction::I32Const(1),
            Instruction::I32Add,
            Instruction::I32Store(mem(CMP_COUNT_OFFSET, 2, memory)),
            Instruction::LocalGet(t32),
            Instruction::I32Const((CMP_RING - 1) as i32),
            Instruction::I32And,
            Instruction::I32Const(CMP_ENTRY_BYTES.trailing_zeros() as i32),
            Instruction::I32Shl,
            Instruction::LocalTee(t32),
        ],
        memory64,
    );
    fuel += emit(f, &value, memory64);
    fuel += emit(
        f,
        &[
            Instruction::I64Store(mem(CMP_ENTRIES_OFFSET, 3, memory)),
            Instruction::LocalGet(t32),
            Instruction::I64Const(constant as i64),
            Instruction::I64Store(mem(CMP_ENTRIES_OFFSET + 8, 3, memory)),
            Instruction::LocalGet(t32),
            Instruction::I32Const(if wide { 8 } else { 4 }),
            Instruction::I32Store8(mem(CMP_ENTRIES_OFFSET + 16, 0, memory)),
            restore,
        ],
        memory64,
    );
    fuel
}

fn is_i32_cmp(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I32Eq
            | Operator::I32Ne
            | Operator::I32LtS
            | Operator::I32LtU
            | Operator::I32GtS
            | Operator::I32GtU
            | Operator::I32LeS
            | Operator::I32LeU
            | Operator::I32GeS
            | Operator::I32GeU
    )
}

fn is_i64_cmp(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I64Eq
            | Operator::I64Ne
            | Operator::I64LtS
            | Operator::I64LtU
            | Operator::I64GtS
            | Operator::I64GtU
            | Operator::I64LeS
            | Operator::I64LeU
            | Operator::I64GeS
            | Operator::I64GeU
    )
}

fn instrument_body(
    body: &wasmparser::FunctionBody<'_>,
    params: u32,
    memory: u32,
    function: u32,
    blocks: &mut Vec<u32>,
    memory64: bool,
) -> Result<Function, InvalidModule> {
    let mut locals: Vec<(u32, ValType)> = Vec::new();
    let mut declared = 0u32;
    for local in body.get_locals_reader().map_err(decoding_error)? {
        let (count, ty) = local.map_err(decoding_error)?;
        declared += count;
        locals.push((count, RoundtripReencoder.val_type(ty).map_err(rewrite_error)?));
    }
    let t64 = params + declared;
    let (t32, v32) = (t64 + 1, t64 + 2);
    locals.push((1, ValType::I64));
    locals.push((2, ValType::I32));
    let mut f = Function::new(locals);
    let fuel = emit_counter(&mut f, memory, blocks, function, memory64);
    debug_assert_eq!(fuel, counter_fuel(memory64));

    let mut depth = 0usize;
    // A constant held back until we know whether a comparison consumes it.
    let mut held: Option<Operator<'_>> = None;
    let mut reader = body.get_operators_reader().map_err(decoding_error)?;
    while !reader.eof() {
        let op = reader.read().map_err(decoding_error)?;
        if let Some(constant) = held.take() {
            match (&constant, &op) {
                (Operator::I32Const { value }, cmp) if is_i32_cmp(cmp) => {
                    let fuel = emit_cmp_log(&mut f, memory, false, u64::from(*value as u32), t64, t32, v32, memory64);
                    debug_assert_eq!(fuel, cmp_fuel(memory64));
                }
                (Operator::I64Const { value }, cmp) if is_i64_cmp(cmp) => {
                    let fuel = emit_cmp_log(&mut f, memory, true, *value as u64, t64, t32, v32, memory64);
                    debug_assert_eq!(fuel, cmp_fuel(memory64));
                }
                _ => {}
            }
            f.instruction(&RoundtripReencoder.instruction(constant).map_err(rewrite_error)?);
        }
        if matches!(op, Operator::I32Const { .. } | Operator::I64Const { .. }) {
            held = Some(op);
            continue;
        }
        let counter_after = match op {
            Operator::Block { .. } => {
                depth += 1;
                false
            }
            Operator::Loop { .. } | Operator::If { .. } => {
                depth += 1;
                true
            }
            Operator::Else | Operator::BrIf { .. } => true,
            Operator::End => {
                // The function's own final `end` closes nothing we opened: no block follows it.
                let inner = depth > 0;
                depth = depth.saturating_sub(1);
                inner
            }
            _ => false,
        };
        f.instruction(&RoundtripReencoder.instruction(op).map_err(rewrite_error)?);
        if counter_after {
            emit_counter(&mut f, memory, blocks, function, memory64);
        }
    }
    if let Some(constant) = held {
        f.instruction(&RoundtripReencoder.instruction(constant).map_err(rewrite_error)?);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrumentation_costs_are_the_same_for_both_operand_widths() {
        for memory64 in [false, true] {
            let mut f = Function::new([]);
            let mut blocks = Vec::new();
            // Two constants, a load and a store, an add and a constant: the stores and loads weigh double in wasm64.
            assert_eq!(emit_counter(&mut f, 1, &mut blocks, 0, memory64), if memory64 { 8 } else { 6 });
            let wide = emit_cmp_log(&mut f, 1, true, 7, 0, 1, 2, memory64);
            assert_eq!(wide, emit_cmp_log(&mut f, 1, false, 7, 0, 1, 2, memory64));
            assert_eq!(wide, cmp_fuel(memory64));
        }
    }
}
