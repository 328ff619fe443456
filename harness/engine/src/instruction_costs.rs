//! The IC's instruction cost model: what a Wasm operator costs, as the replica counts it.
//!
//! The replica does not count Wasm instructions one by one: its instrumentation
//! (`rs/embedders/src/wasm_utils/instrumentation.rs`, `instruction_to_cost` and `injections`) charges each operator
//! a weight (a division 10, a call 5, `memory.grow` 300, loads and stores twice as much in wasm64), every function
//! body 1 on entry, and bulk memory operations 1 per byte or element on top of their weight. Limits, fees and
//! `performance_counter` all see that weighted count, so a canister that fits a limit as a raw operator count may
//! exceed it on the IC. The engine reproduces the count with wasmtime fuel: [`operator_cost`] is the weight table
//! as wasmtime's [`OperatorCost`], one per pointer width (wasmtime takes one table per engine).
//!
//! Two differences of mechanism are compensated so the totals agree:
//! - wasmtime has no charge on function entry, so `call` and `call_indirect` carry the callee's entry charge
//!   ([`FUNCTION_ENTRY`]); a call of an imported (host) function has no body to enter, and the System API charge
//!   gives that unit back ([`crate::ic0`]), and the execution's own entry function is charged when it starts
//!   ([`crate::execution`]);
//! - the replica charges bulk operations before they run and wasmtime as they run; both charge the same amount.
//!
//! System API calls cost more than their `call` (fixed overheads and per-byte charges); those are in
//! [`system_api`].

use std::sync::OnceLock;

use wasmparser::Operator;
use wasmtime::OperatorCost;

/// What the replica charges on entry to every function body ("even empty functions should consume at least some
/// fuel").
pub(crate) const FUNCTION_ENTRY: u64 = 1;

/// The replica's weights as a wasmtime fuel table for modules of one pointer width.
pub(crate) fn operator_cost(memory64: bool) -> OperatorCost {
    let mut cost = OperatorCost::new();
    // Everything not listed below weighs 1 on the IC ("Default cost of an instruction is 1"), which is also
    // wasmtime's default except for the operators it charges nothing for.
    macro_rules! weigh {
        ($($weight:expr => [$($op:ident),* $(,)?];)*) => {
            $($(cost.$op = $weight;)*)*
        };
    }
    let access: u8 = if memory64 { 2 } else { 1 };
    let call = 5 + FUNCTION_ENTRY as u8;
    let call_indirect = 10 + FUNCTION_ENTRY as u8;
    weigh! {
        // Block boundaries generate no code.
        0 => [Block, Else, End, Loop];
        // wasmtime charges these nothing; the IC charges 1.
        1 => [Nop, Drop, Unreachable, Return];
        // Integer division and remainder.
        10 => [I32DivS, I32DivU, I32RemS, I32RemU, I64DivS, I64DivU, I64RemS, I64RemU];
        // Floating point.
        2 => [
            F32Add, F32Sub, F32Mul, F32Ceil, F32Floor, F32Trunc, F32Nearest, F64Add, F64Sub, F64Mul, F64Ceil,
            F64Floor, F64Trunc, F64Nearest, F32Copysign,
        ];
        3 => [
            F32Div, F64Copysign, F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge, F64Eq, F64Ne, F64Lt, F64Gt, F64Le,
            F64Ge, F32ConvertI32S, F64ConvertI64S, F32ConvertI64S, F64ConvertI32S,
        ];
        5 => [F64Div, F32Sqrt];
        8 => [F64Sqrt];
        18 => [F32Min, F32Max, F64Min, F64Max];
        16 => [F64ConvertI32U, F32ConvertI64U, F32ConvertI32U, F64ConvertI64U];
        20 => [
            I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U, I32TruncSatF32S, I32TruncSatF32U,
            I32TruncSatF64S, I32TruncSatF64U, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U, I64TruncF32S,
            I64TruncF32U, I64TruncF64S, I64TruncF64U,
        ];
        // Memory accesses: twice as much in wasm64 (bounds checks).
        access => [
            I32Load, I64Load, F32Load, F64Load, I32Load8S, I32Load8U, I32Load16S, I32Load16U, I64Load8S, I64Load8U,
            I64Load16S, I64Load16U, I64Load32S, I64Load32U, I32Store, I64Store, F32Store, F64Store, I32Store8,
            I32Store16, I64Store8, I64Store16, I64Store32, V128Load, V128Load8x8S, V128Load8x8U, V128Load16x4S,
            V128Load16x4U, V128Load32x2S, V128Load32x2U, V128Load8Splat, V128Load16Splat, V128Load32Splat,
            V128Load64Splat, V128Load32Zero, V128Load64Zero, V128Store, V128Load8Lane, V128Load16Lane,
            V128Load32Lane, V128Load64Lane, V128Store8Lane, V128Store16Lane, V128Store32Lane, V128Store64Lane,
        ];
        2 => [GlobalGet, GlobalSet, If, Br, BrIf, BrTable];
        5 => [TableGet, TableSet, RefIsNull];
        // The IC weighs these 300, more than a wasmtime table entry holds; `memory.grow` is topped up by
        // `GROW_REMAINDER` when it runs (ic0's resource limiter), the others are rare (`table.grow` is refused at
        // install) and stay 45 short.
        255 => [TableGrow, MemoryGrow, DataDrop, ElemDrop];
        20 => [MemorySize];
        100 => [TableSize, MemoryFill, MemoryCopy, TableFill, TableCopy, MemoryInit, TableInit];
        130 => [RefFunc];
        call => [Call];
        call_indirect => [CallIndirect];
        3 => [ReturnCall];
        60 => [ReturnCallIndirect];
        // SIMD (the ones that do not weigh 1).
        2 => [
            I8x16LtU, I8x16GtU, I16x8LtU, I16x8GtU, I32x4LtU, I32x4GtU, I8x16ShrU, I16x8ExtAddPairwiseI8x16U,
            I16x8ExtMulHighI8x16S, I16x8ExtMulHighI8x16U, I16x8Shl, I16x8ShrS, I16x8ShrU, I32x4Shl, I32x4ShrS,
            I32x4ShrU, I32x4Mul, I32x4ExtMulLowI16x8S, I32x4ExtMulHighI16x8S, I32x4ExtMulLowI16x8U,
            I32x4ExtMulHighI16x8U, I64x2Shl, I64x2ShrU, F32x4Ceil, F32x4Floor, F32x4Trunc, F32x4Nearest, F32x4Abs,
            F32x4Neg, F32x4Add, F32x4Sub, F32x4Mul, F64x2Ceil, F64x2Floor, F64x2Trunc, F64x2Nearest, F64x2Abs,
            F64x2Neg, F64x2Add, F64x2Sub, F64x2Mul, I32x4TruncSatF32x4S, I32x4TruncSatF64x2SZero,
        ];
        3 => [I8x16Shuffle, I8x16Popcnt, I8x16Shl, I8x16ShrS, I32x4ExtAddPairwiseI16x8U, I64x2ShrS, I32x4TruncSatF64x2UZero];
        4 => [I64x2Mul, F32x4Min, F32x4Max, F64x2Min, I32x4TruncSatF32x4U, F32x4ConvertI32x4U];
        5 => [F32x4Sqrt, F64x2Max];
        10 => [F32x4Div];
        12 => [F64x2Div];
        14 => [F64x2Sqrt];
    }
    // Bulk operations: 1 per byte or element on top of the weight; growing costs its weight only.
    cost.variable.memory_copy_per_byte = 1;
    cost.variable.memory_fill_per_byte = 1;
    cost.variable.memory_init_per_byte = 1;
    cost.variable.memory_grow_per_page = 0;
    cost.variable.table_copy_per_element = 1;
    cost.variable.table_fill_per_element = 1;
    cost.variable.table_init_per_element = 1;
    cost.variable.table_grow_per_element = 0;
    cost
}

/// What `memory.grow` weighs on the IC beyond the 255 a wasmtime table entry holds; charged when it runs.
pub(crate) const GROW_REMAINDER: u64 = 300 - 255;

/// The weight of one operator in a module of the given pointer width, as the IC charges it.
pub(crate) fn weight(op: &Operator<'_>, memory64: bool) -> u64 {
    static TABLES: OnceLock<[OperatorCost; 2]> = OnceLock::new();
    let tables = TABLES.get_or_init(|| [operator_cost(false), operator_cost(true)]);
    match op {
        Operator::MemoryGrow { .. } | Operator::TableGrow { .. } | Operator::DataDrop { .. } | Operator::ElemDrop { .. } => 300,
        _ => tables[usize::from(memory64)].cost(op).max(0) as u64,
    }
}

/// Fixed charges of System API calls, in instructions, as the replica's
/// `rs/embedders/src/wasmtime_embedder/system_api_complexity.rs` (`overhead`) has them. Calls that move bytes
/// between the canister's memory and the system add 1 instruction per byte ([`system_api::PER_BYTE`]).
pub(crate) mod system_api {
    /// Instructions per byte a System API call copies (application subnets; `get_num_instructions_from_bytes`).
    pub const PER_BYTE: u64 = 1;
    /// `debug_print` and `trap` charge this many instructions per byte that reaches the canister log, for
    /// passing it out of the sandbox (`BYTE_TRANSMISSION_COST_FACTOR`), plus 2 per byte stored.
    pub const LOG_TRANSMISSION_PER_BYTE: u64 = 50;
    /// Most calls.
    pub const DEFAULT: u64 = 500;
    /// `call_new`.
    pub const CALL_NEW: u64 = 1_500;
    /// `call_perform`.
    pub const CALL_PERFORM: u64 = 5_000;
    /// `is_controller`.
    pub const IS_CONTROLLER: u64 = 1_000;
    /// `debug_print`.
    pub const DEBUG_PRINT: u64 = 100;
    /// `performance_counter`.
    pub const PERFORMANCE_COUNTER: u64 = 200;
    /// `stable_read`, `stable_write` and their 64-bit forms.
    pub const STABLE_ACCESS: u64 = 20;
    /// `cost_http_request_v2`.
    pub const COST_HTTP_REQUEST_V2: u64 = 10_000;
    /// `stable_grow` and `stable64_grow` (the replica runs stable memory natively in Wasm: `overhead_native`).
    pub const STABLE_GROW: u64 = 100;
    /// Per 4 KiB stable-memory page a write dirties for the first time in an execution (`dirty_page_overhead`).
    pub const DIRTY_PAGE: u64 = 1_000;
    /// `msg_reply_data_append`, `msg_reject` and `call_data_append` pay this per byte for passing the payload out
    /// of the sandbox (`BYTE_TRANSMISSION_COST_FACTOR`).
    pub const PAYLOAD_PER_BYTE: u64 = 50;

    /// The fixed cost of ic0 function `name`, charged before it checks anything.
    pub fn overhead(name: &str) -> u64 {
        match name {
            "call_new" => CALL_NEW,
            "call_perform" => CALL_PERFORM,
            "is_controller" => IS_CONTROLLER,
            "debug_print" => DEBUG_PRINT,
            "performance_counter" => PERFORMANCE_COUNTER,
            "cost_http_request_v2" => COST_HTTP_REQUEST_V2,
            "stable_read" | "stable_write" | "stable64_read" | "stable64_write" => STABLE_ACCESS,
            "stable_grow" | "stable64_grow" => STABLE_GROW,
            // Native Wasm in the replica: `memory.size` only.
            "stable_size" | "stable64_size" => 0,
            _ => DEFAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few weights straight from the replica's table, for both widths.
    #[test]
    fn weights_follow_the_replica() {
        let load = Operator::I64Load { memarg: wasmparser::MemArg { align: 3, max_align: 3, offset: 0, memory: 0 } };
        assert_eq!(weight(&Operator::I64DivU, false), 10);
        assert_eq!(weight(&Operator::I64Add, false), 1);
        assert_eq!(weight(&Operator::F64Min, false), 18);
        assert_eq!(weight(&Operator::Call { function_index: 0 }, false), 5 + FUNCTION_ENTRY);
        assert_eq!(weight(&Operator::MemoryGrow { mem: 0 }, true), 300);
        assert_eq!(weight(&load, false), 1);
        assert_eq!(weight(&load, true), 2);
        assert_eq!(weight(&Operator::Drop, false), 1);
        assert_eq!(weight(&Operator::End, false), 0);
    }
}
