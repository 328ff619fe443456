//! The IC's install-time module validation (ic-semantics §2), mirroring `rs/embedders/src/wasm_utils/validation.rs`
//! in dfinity/ic: the same checks, in the same order, with the same messages.
//!
//! One streaming pass over the module feeds wasmparser's validator (with the IC's Wasm feature set) and collects
//! what the IC-specific checks need; those checks then run in the IC's order: imports, exports, data, globals,
//! functions, memory size, code, custom sections. Only the code-section size is checked first, as the IC does,
//! before any function body is looked at.

use std::collections::BTreeSet;

use wasmparser::{
    CompositeInnerType, DataKind, ExternalKind, FuncValidatorAllocations, FunctionBody, Operator, Parser, Payload,
    TypeRef, ValType, ValidPayload, Validator, WasmFeatures,
};

use super::{
    decoding_error, ic0_signature, CustomSectionVisibility, InvalidModule, ModuleInfo, TableInfo, MAX_MODULE_SIZE,
    WASM_MAGIC,
};

/// Most `canister_update`/`canister_query`/`canister_composite_query` exports.
const MAX_METHOD_EXPORTS: usize = 1_000;
/// Largest sum of the `<name>` lengths of those exports.
const MAX_METHOD_NAME_LENGTHS: usize = 20_000;
/// Most defined functions.
const MAX_FUNCTIONS: usize = 50_000;
/// Most globals.
const MAX_GLOBALS: usize = 1_000;
/// Most `icp:` custom sections.
const MAX_CUSTOM_SECTIONS: usize = 16;
/// Largest Σ(name length + content length) over the `icp:` custom sections.
const MAX_CUSTOM_SECTIONS_SIZE: usize = 1 << 20;
/// Largest code section in bytes.
const MAX_CODE_SECTION_SIZE: u64 = 10 << 20;
/// Most instructions in one function body.
const MAX_FUNCTION_INSTRUCTIONS: usize = 1_000_000;
/// Largest complexity of one function body (see [`instruction_complexity`]).
const MAX_FUNCTION_COMPLEXITY: u64 = 1_000_000;
/// Largest declared wasm32 memory maximum: 4 GiB in 64 KiB pages.
const MAX_WASM32_PAGES: u64 = 65_536;
/// Largest declared wasm64 memory maximum: 6 GiB in 64 KiB pages (ic-semantics §2/§5).
const MAX_WASM64_PAGES: u64 = 98_304;

/// The module name every function import must come from.
const IC0: &str = "ic0";
/// Exports the IC reserves for its own instrumentation; a canister may not export them.
const RESERVED_SYMBOLS: [&str; 6] = [
    "canister counter_instructions",
    "canister_start",
    "canister counter_dirty_pages",
    "canister counter_accessed_pages",
    "stable_memory",
    "stable_bytemap_memory",
];
/// The custom section Motoko's enhanced orthogonal persistence marks its modules with (as `icp:private`).
const EOP_SECTION: &str = "enhanced-orthogonal-persistence";

/// The Wasm features the IC's wasmtime configuration admits (ic-semantics §11): the Wasm 2.0 core plus memory64,
/// SIMD and extended constant expressions (on by default in wasmtime); no threads, relaxed SIMD, multi-memory,
/// tail calls, function references, GC (incl. `externref`, which the engine's wasmtime build could not compile
/// anyway), exceptions or any later proposal.
fn ic_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::SIMD
        | WasmFeatures::FLOATS
        | WasmFeatures::MEMORY64
        | WasmFeatures::EXTENDED_CONST
}

/// An import as written in the module.
struct ImportEntry {
    module: String,
    name: String,
    ty: TypeRef,
}

/// An export as written in the module.
struct ExportEntry {
    name: String,
    kind: ExternalKind,
    index: u32,
}

/// How an active data segment computes its offset, as far as the IC cares.
enum DataOffset {
    /// A single `i32.const`.
    I32Const,
    /// A single `i64.const`.
    I64Const,
    /// Anything else, described for the error message.
    Other(String),
}

/// What the streaming pass collects for the IC-specific checks.
#[derive(Default)]
struct Collected {
    imports: Vec<ImportEntry>,
    exports: Vec<ExportEntry>,
    global_types: Vec<ValType>,
    data_offsets: Vec<DataOffset>,
    /// Active data segments with constant offsets: (offset, bytes).
    active_data: Vec<(u64, Vec<u8>)>,
    /// `icp:` custom sections (others are ignored, as the IC does): name and content.
    icp_sections: Vec<(String, Vec<u8>)>,
    start: Option<u32>,
    defined_functions: u32,
    /// Index (code-section order) of the next function body.
    next_body: usize,
    /// The first function-body violation, reported after the import/export/data/global checks as the IC does.
    code_error: Option<InvalidModule>,
}

/// Validates `wasm` (already gunzipped) as the IC does at install time and describes it.
///
/// Never panics, whatever the input; every rejection is an [`InvalidModule`] with the IC's message.
pub fn validate(wasm: &[u8]) -> Result<ModuleInfo, InvalidModule> {
    if wasm.len() as u64 > MAX_MODULE_SIZE {
        return Err(InvalidModule::ModuleTooLarge { size: wasm.len() as u64, allowed: MAX_MODULE_SIZE });
    }
    if !wasm.starts_with(&WASM_MAGIC) {
        return Err(InvalidModule::NotWasm);
    }
    let features = ic_features();
    let mut parser = Parser::new(0);
    // Decode with the same features the validator enforces, so e.g. compact imports fail at parse time.
    parser.set_features(features);
    let mut validator = Validator::new_with_features(features);
    let mut allocations = FuncValidatorAllocations::default();
    let mut c = Collected::default();
    let mut types = None;

    for payload in parser.parse_all(wasm) {
        let payload = payload.map_err(decoding_error)?;
        // The IC rejects an oversized code section before validating anything else in it.
        if let Payload::CodeSectionStart { size, .. } = &payload {
            if u64::from(*size) > MAX_CODE_SECTION_SIZE {
                return Err(InvalidModule::CodeSectionTooLarge {
                    size: u64::from(*size),
                    allowed: MAX_CODE_SECTION_SIZE,
                });
            }
        }
        match validator.payload(&payload).map_err(decoding_error)? {
            ValidPayload::Func(func, body) => {
                let mut func = func.into_validator(std::mem::take(&mut allocations));
                func.validate(&body).map_err(decoding_error)?;
                allocations = func.into_allocations();
                let index = c.next_body;
                c.next_body += 1;
                if c.code_error.is_none() {
                    c.code_error = check_body(index, &body).map_err(decoding_error)?.err();
                }
            }
            ValidPayload::End(t) => types = Some(t),
            ValidPayload::Ok | ValidPayload::Parser(_) => {}
        }
        collect(&mut c, &payload).map_err(decoding_error)?;
    }
    // `parse_all` ends with `End`, which the validator answers with the module's types; a stream that stops
    // early has already failed above. Guard anyway rather than trust that.
    let types = types.ok_or_else(|| InvalidModule::Decoding {
        offset: wasm.len(),
        message: "unexpected end of module".to_string(),
    })?;
    let types = types.as_ref();

    // The memory's width decides `I` for the ic0 signatures and the data-segment offset type. The validator
    // guarantees at most one memory (multi-memory is off).
    let memory = (types.memory_count() > 0).then(|| types.memory_at(0));
    let memory64 = memory.is_some_and(|m| m.memory64);

    let ic0_imports = check_imports(&c, &types, memory64)?;
    let mut info = check_exports(&c, &types)?;
    check_data(&c, memory64)?;
    check_globals(&c)?;
    if c.defined_functions as usize > MAX_FUNCTIONS {
        return Err(InvalidModule::TooManyFunctions { defined: c.defined_functions as usize, allowed: MAX_FUNCTIONS });
    }
    if let Some(m) = memory {
        let allowed = if m.memory64 { MAX_WASM64_PAGES } else { MAX_WASM32_PAGES };
        if let Some(max) = m.maximum {
            if max > allowed {
                return Err(InvalidModule::WasmMemoryTooLarge { defined_size: max, allowed_size: allowed });
            }
        }
    }
    if let Some(e) = c.code_error.take() {
        return Err(e);
    }
    info.custom_sections = check_custom_sections(&c)?;
    // Instrumentation comes after validation on the replica; its data-segment check, here, comes last too.
    let initial_bytes = memory.map_or(0, |m| m.initial.saturating_mul(crate::limits::WASM_PAGE));
    if let Some((offset, data)) = c.active_data.iter().find(|(offset, data)| offset.saturating_add(data.len() as u64) > initial_bytes) {
        return Err(InvalidModule::InvalidDataSegment { offset: *offset, len: data.len() });
    }

    info.enhanced_orthogonal_persistence =
        matches!(info.custom_sections.get(EOP_SECTION), Some((CustomSectionVisibility::Private, _)));
    info.memory64 = memory64;
    info.has_memory = memory.is_some();
    info.memory_imported = c.imports.iter().any(|i| matches!(i.ty, TypeRef::Memory(_)));
    info.initial_memory_pages = memory.map_or(0, |m| m.initial);
    info.max_memory_pages = memory.and_then(|m| m.maximum);
    info.ic0_imports = ic0_imports;
    info.has_start = c.start.is_some();
    info.start_function = c.start;
    info.table_count = types.table_count();
    info.table = (types.table_count() > 0).then(|| {
        let t = types.table_at(0);
        TableInfo {
            initial: t.initial,
            maximum: t.maximum,
            // Imports precede definitions in the index space, so table 0 is the imported one if there is one.
            imported: c.imports.iter().any(|i| matches!(i.ty, TypeRef::Table(_))),
        }
    });
    info.function_count = c.defined_functions;
    info.imported_function_count = types.function_count().saturating_sub(c.defined_functions);
    info.global_count = types.global_count();
    info.active_data = std::mem::take(&mut c.active_data);
    Ok(info)
}

/// Records what the IC-specific checks need from one (already validated) payload.
fn collect(c: &mut Collected, payload: &Payload<'_>) -> wasmparser::Result<()> {
    match payload {
        Payload::ImportSection(reader) => {
            for import in reader.clone().into_imports() {
                let import = import?;
                c.imports.push(ImportEntry {
                    module: import.module.to_string(),
                    name: import.name.to_string(),
                    ty: import.ty,
                });
            }
        }
        Payload::FunctionSection(reader) => c.defined_functions = reader.count(),
        Payload::GlobalSection(reader) => {
            for global in reader.clone() {
                c.global_types.push(global?.ty.content_type);
            }
        }
        Payload::ExportSection(reader) => {
            for export in reader.clone() {
                let export = export?;
                c.exports.push(ExportEntry { name: export.name.to_string(), kind: export.kind, index: export.index });
            }
        }
        Payload::StartSection { func, .. } => c.start = Some(*func),
        Payload::DataSection(reader) => {
            for data in reader.clone() {
                let data = data?;
                if let DataKind::Active { offset_expr, .. } = data.kind {
                    let mut ops = offset_expr.get_operators_reader();
                    let first = ops.read()?;
                    // A constant expression is its instructions followed by `end`: exactly one instruction means
                    // the second read is that `end`.
                    let single = matches!(ops.read()?, Operator::End);
                    c.data_offsets.push(match first {
                        Operator::I32Const { value } if single => {
                            c.active_data.push((u64::from(value as u32), data.data.to_vec()));
                            DataOffset::I32Const
                        }
                        Operator::I64Const { value } if single => {
                            c.active_data.push((value as u64, data.data.to_vec()));
                            DataOffset::I64Const
                        }
                        other => DataOffset::Other(format!("{other:?}")),
                    });
                }
            }
        }
        Payload::CustomSection(reader) if reader.name().starts_with("icp:") => {
            c.icp_sections.push((reader.name().to_string(), reader.data().to_vec()));
        }
        _ => {}
    }
    Ok(())
}

/// Checks one function body: rejected table instructions, complexity and size, in the IC's order.
/// The outer error is a decoding failure; the inner one the IC rule the body breaks.
fn check_body(index: usize, body: &FunctionBody<'_>) -> wasmparser::Result<Result<(), InvalidModule>> {
    let mut reader = body.get_operators_reader()?;
    let mut size: usize = 0;
    let mut complexity: u64 = 0;
    while !reader.eof() {
        let op = reader.read()?;
        size += 1;
        match instruction_complexity(&op) {
            Ok(cost) => complexity = complexity.saturating_add(cost),
            Err(instruction) => {
                return Ok(Err(InvalidModule::UnsupportedWasmInstruction {
                    index,
                    instruction: instruction.to_string(),
                }))
            }
        }
    }
    if complexity > MAX_FUNCTION_COMPLEXITY {
        return Ok(Err(InvalidModule::FunctionComplexityTooHigh {
            index,
            complexity,
            allowed: MAX_FUNCTION_COMPLEXITY,
        }));
    }
    if size > MAX_FUNCTION_INSTRUCTIONS {
        return Ok(Err(InvalidModule::FunctionTooLarge { index, size, allowed: MAX_FUNCTION_INSTRUCTIONS }));
    }
    Ok(Ok(()))
}

/// The IC's estimate of an instruction's compilation cost (`wasm_function_complexity`), or the name of an
/// instruction the IC rejects outright: tables are immutable on the IC, so none of the table-mutating
/// instructions may appear (`table.get`, `ref.func` and `call_indirect` are fine).
fn instruction_complexity(op: &Operator<'_>) -> Result<u64, &'static str> {
    use Operator::*;
    Ok(match op {
        TableGrow { .. } => return Err("table.grow"),
        TableSet { .. } => return Err("table.set"),
        TableFill { .. } => return Err("table.fill"),
        TableCopy { .. } => return Err("table.copy"),
        TableInit { .. } => return Err("table.init"),
        Block { .. } | Loop { .. } | If { .. } | Br { .. } | BrIf { .. } | BrTable { .. } | Call { .. }
        | CallIndirect { .. } | MemoryGrow { .. } => 50,
        TableGet { .. } => 14,
        RefFunc { .. } => 8,
        RefIsNull => 6,
        I32TruncF32S | I32TruncF32U | I32TruncF64S | I32TruncF64U | I64ExtendI32S | I64ExtendI32U | I64TruncF32S
        | I64TruncF32U | I64TruncF64S | I64TruncF64U | F32ConvertI32S | F32ConvertI32U | F32ConvertI64S
        | F32ConvertI64U | F32DemoteF64 | F64ConvertI32S | F64ConvertI32U | F64ConvertI64S | F64ConvertI64U => 5,
        F32Neg | F32Abs | F64Neg | F64Abs | MemoryCopy { .. } => 4,
        F32Copysign | F64Copysign | F64Eq | I32RemU | I32RemS | I64RemU | I64RemS | I32DivU | I32DivS | I64DivU
        | I64DivS | MemoryFill { .. } | I32Load { .. } | I64Load { .. } | F32Load { .. } | F64Load { .. }
        | I32Load8S { .. } | I32Load8U { .. } | I32Load16S { .. } | I32Load16U { .. } | I64Load8S { .. }
        | I64Load8U { .. } | I64Load16S { .. } | I64Load16U { .. } | I64Load32S { .. } | I64Load32U { .. }
        | I32TruncSatF32S | I32TruncSatF32U | I32TruncSatF64S | I32TruncSatF64U | I64TruncSatF32S
        | I64TruncSatF32U | I64TruncSatF64S | I64TruncSatF64U => 3,
        GlobalGet { .. } | I32Popcnt | I64Popcnt | Select | MemorySize { .. } | I32Store { .. }
        | I32Store16 { .. } | I32Store8 { .. } | I64Store { .. } | I64Store32 { .. } | I64Store16 { .. }
        | I64Store8 { .. } | F64Store { .. } | F32Store { .. } | I32Eqz | I32Eq | I32Ne | I32LtS | I32LtU
        | I32GtS | I32GtU | I32LeS | I32LeU | I32GeS | I32GeU | I64Eqz | I64Eq | I64Ne | I64LtS | I64LtU
        | I64GtS | I64GtU | I64LeS | I64LeU | I64GeS | I64GeU | F32Eq | F32Ne | F32Lt | F32Gt | F32Le | F32Ge
        | F64Ne | F64Lt | F64Gt | F64Le | F64Ge | F32Ceil | F64Ceil | F32Floor | F64Floor | F32Sqrt | F64Sqrt
        | F32Trunc | F64Trunc | I32ReinterpretF32 | I64ReinterpretF64 | F32ReinterpretI32 | F64ReinterpretI64
        | I32WrapI64 | I32Extend8S | I32Extend16S | I64Extend8S | I64Extend16S | I64Extend32S | F64PromoteF32 => 2,
        _ => 1,
    })
}

/// The imports rule: functions only from `ic0` with the exact signature for the memory width, memory only as
/// `env.memory`, tables only as `env.table`, no globals or tags. Returns the ic0 names imported.
fn check_imports(
    c: &Collected,
    types: &wasmparser::types::TypesRef<'_>,
    memory64: bool,
) -> Result<BTreeSet<String>, InvalidModule> {
    let mut ic0_imports = BTreeSet::new();
    for import in &c.imports {
        match import.ty {
            TypeRef::Func(type_index) | TypeRef::FuncExact(type_index) => {
                let Some(expected) = ic0_signature(&import.name, memory64) else {
                    return Err(InvalidModule::InvalidImportSection(format!(
                        "Module imports function '{}' from '{}' that is not exported by the runtime.",
                        import.name, import.module
                    )));
                };
                if import.module != IC0 {
                    return Err(InvalidModule::InvalidImportSection(format!(
                        "Module imports function {:?} from {:?}, expected to be imported from one of {{{IC0:?}}} \
                         instead.",
                        import.name, import.module
                    )));
                }
                let func_ty = func_type_at(types, type_index).ok_or_else(|| {
                    InvalidModule::InvalidImportSection(format!(
                        "Function import '{}' doesn't have a function type.",
                        import.name
                    ))
                })?;
                check_signature(expected, &import.name, func_ty.params(), func_ty.results())?;
                ic0_imports.insert(import.name.clone());
            }
            TypeRef::Table(_) => {
                if import.module != "env" || import.name != "table" {
                    return Err(InvalidModule::InvalidImportSection(
                        "Only tables imported from env.table are allowed.".to_string(),
                    ));
                }
            }
            TypeRef::Memory(_) => {
                if import.module != "env" || import.name != "memory" {
                    return Err(InvalidModule::InvalidImportSection(
                        "Only memory imported from env.memory is allowed.".to_string(),
                    ));
                }
            }
            TypeRef::Global(_) => {
                return Err(InvalidModule::InvalidImportSection("Importing globals is not allowed.".to_string()))
            }
            TypeRef::Tag(_) => {
                return Err(InvalidModule::InvalidImportSection("Importing tags is not allowed.".to_string()))
            }
        }
    }
    Ok(ic0_imports)
}

/// The function type with index `type_index` in the module's type section, if it is one.
fn func_type_at<'t>(types: &'t wasmparser::types::TypesRef<'_>, type_index: u32) -> Option<&'t wasmparser::FuncType> {
    if type_index >= types.core_type_count_in_module() {
        return None;
    }
    match &types[types.core_type_at_in_module(type_index)].composite_type.inner {
        CompositeInnerType::Func(f) => Some(f),
        _ => None,
    }
}

/// Compares a function type against the expected `(params, results)`, with the IC's messages.
fn check_signature(
    (params, results): (&[ValType], &[ValType]),
    name: &str,
    actual_params: &[ValType],
    actual_results: &[ValType],
) -> Result<(), InvalidModule> {
    if actual_params != params {
        return Err(InvalidModule::InvalidFunctionSignature(format!(
            "Expected input params {params:?} for '{name}', got {actual_params:?}."
        )));
    }
    if actual_results != results {
        return Err(InvalidModule::InvalidFunctionSignature(format!(
            "Expected return type {results:?} for '{name}', got {actual_results:?}."
        )));
    }
    Ok(())
}

/// The exports rule. Returns a `ModuleInfo` with the method sets and entry-point flags filled in.
fn check_exports(c: &Collected, types: &wasmparser::types::TypesRef<'_>) -> Result<ModuleInfo, InvalidModule> {
    let mut info = ModuleInfo::default();
    let mut seen_methods: BTreeSet<&str> = BTreeSet::new();
    let mut method_exports = 0usize;
    let mut method_name_lengths = 0usize;
    for export in &c.exports {
        let name = export.name.as_str();
        if RESERVED_SYMBOLS.contains(&name) {
            return Err(InvalidModule::InvalidExportSection(format!("Exporting reserved symbol {name} not allowed.")));
        }
        if !name.starts_with("canister_") {
            continue;
        }
        // Every `canister_*` export is an entry point the system calls, so it must be a function. (The IC only
        // inspects function exports here; a non-function `canister_*` export would fail when called.)
        if export.kind != ExternalKind::Func {
            return Err(InvalidModule::InvalidExportSection(format!(
                "Exporting '{name}' with \"canister_\" prefix is only allowed for functions."
            )));
        }
        // `canister_<kind> <name>`: the method name is everything after the first space (it may contain spaces,
        // and may be empty).
        let method = [
            ("canister_update ", &mut info.update_methods),
            ("canister_query ", &mut info.query_methods),
            ("canister_composite_query ", &mut info.composite_query_methods),
        ]
        .into_iter()
        .find_map(|(prefix, set)| name.strip_prefix(prefix).map(|method| (method, set)));
        if let Some((method, set)) = method {
            if !seen_methods.insert(method) {
                return Err(InvalidModule::DuplicateExport { name: method.to_string() });
            }
            set.insert(method.to_string());
            method_exports += 1;
            method_name_lengths += method.len();
        } else {
            match name {
                "canister_init" => info.has_init = true,
                "canister_pre_upgrade" => info.has_pre_upgrade = true,
                "canister_post_upgrade" => info.has_post_upgrade = true,
                "canister_inspect_message" => info.has_inspect_message = true,
                "canister_heartbeat" => info.has_heartbeat = true,
                "canister_global_timer" => info.has_global_timer = true,
                "canister_on_low_wasm_memory" => info.has_on_low_wasm_memory = true,
                _ => {
                    return Err(InvalidModule::InvalidExportSection(format!(
                        "Exporting reserved function '{name}' with \"canister_\" prefix"
                    )));
                }
            }
        }
        // All entry points take and return nothing (arguments and replies go through ic0).
        let func_ty = (export.index < types.function_count())
            .then(|| &types[types.core_function_at(export.index)].composite_type.inner)
            .and_then(|inner| match inner {
                CompositeInnerType::Func(f) => Some(f),
                _ => None,
            })
            .ok_or_else(|| {
                InvalidModule::InvalidExportSection(format!("Function export '{name}' doesn't have a function type."))
            })?;
        check_signature((&[], &[]), name, func_ty.params(), func_ty.results())?;
    }
    if method_exports > MAX_METHOD_EXPORTS {
        return Err(InvalidModule::TooManyExports { defined: method_exports, allowed: MAX_METHOD_EXPORTS });
    }
    if method_name_lengths > MAX_METHOD_NAME_LENGTHS {
        return Err(InvalidModule::ExportedNamesTooLong {
            total_length: method_name_lengths,
            allowed: MAX_METHOD_NAME_LENGTHS,
        });
    }
    Ok(info)
}

/// Active data segments must use a single constant of the memory's index type: the IC (and orthogonal
/// persistence, which re-applies segments on upgrade) needs their placement without evaluating code.
fn check_data(c: &Collected, memory64: bool) -> Result<(), InvalidModule> {
    for offset in &c.data_offsets {
        let problem = match (offset, memory64) {
            (DataOffset::I32Const, false) | (DataOffset::I64Const, true) => continue,
            (DataOffset::I32Const, true) => "I32Const".to_string(),
            (DataOffset::I64Const, false) => "I64Const".to_string(),
            (DataOffset::Other(op), _) => op.clone(),
        };
        let width = if memory64 { 64 } else { 32 };
        return Err(InvalidModule::InvalidDataSection(format!(
            "Invalid offset expression in data segment for {width}bit memory: {problem}"
        )));
    }
    Ok(())
}

/// At most 1,000 globals, each of a numeric or vector type.
fn check_globals(c: &Collected) -> Result<(), InvalidModule> {
    if c.global_types.len() > MAX_GLOBALS {
        return Err(InvalidModule::TooManyGlobals { defined: c.global_types.len(), allowed: MAX_GLOBALS });
    }
    for ty in &c.global_types {
        match ty {
            ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 | ValType::V128 => {}
            other => {
                return Err(InvalidModule::InvalidGlobalSection(format!("Unsupported global type: {other:?}")));
            }
        }
    }
    Ok(())
}

/// The `icp:` custom section rules; returns the sections keyed by `<name>`.
fn check_custom_sections(
    c: &Collected,
) -> Result<std::collections::BTreeMap<String, (CustomSectionVisibility, Vec<u8>)>, InvalidModule> {
    let mut sections = std::collections::BTreeMap::new();
    let mut total_size = 0usize;
    for (section_name, content) in &c.icp_sections {
        let (name, visibility) = if let Some(name) = section_name.strip_prefix("icp:public ") {
            (name, CustomSectionVisibility::Public)
        } else if let Some(name) = section_name.strip_prefix("icp:private ") {
            (name, CustomSectionVisibility::Private)
        } else if section_name == "icp:public" || section_name == "icp:private" {
            return Err(InvalidModule::InvalidCustomSection(
                "'icp:' section names must have a space after the public/private scope".to_string(),
            ));
        } else {
            return Err(InvalidModule::InvalidCustomSection(format!(
                "Invalid custom section: Custom section '{section_name}' has no public/private scope defined."
            )));
        };
        if sections.contains_key(name) {
            return Err(InvalidModule::InvalidCustomSection(format!(
                "Invalid custom section: name {name} already exists"
            )));
        }
        total_size = total_size.saturating_add(name.len() + content.len());
        if total_size > MAX_CUSTOM_SECTIONS_SIZE {
            return Err(InvalidModule::InvalidCustomSection(format!(
                "Invalid custom sections: total size of the custom sections exceeds the maximum allowed: size \
                 {total_size} bytes, allowed {MAX_CUSTOM_SECTIONS_SIZE} bytes"
            )));
        }
        sections.insert(name.to_string(), (visibility, content.clone()));
        if sections.len() > MAX_CUSTOM_SECTIONS {
            return Err(InvalidModule::TooManyCustomSections {
                defined: sections.len(),
                allowed: MAX_CUSTOM_SECTIONS,
            });
        }
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, CustomSection, Encode, ExportKind, ExportSection, Function, FunctionSection, Module, TypeSection,
    };

    fn wat(src: &str) -> Vec<u8> {
        match wat::parse_str(src) {
            Ok(wasm) => wasm,
            Err(e) => panic!("bad test module: {e}\n{src}"),
        }
    }

    fn ok(src: &str) -> ModuleInfo {
        match validate(&wat(src)) {
            Ok(info) => info,
            Err(e) => panic!("rejected: {e}\n{src}"),
        }
    }

    fn err(src: &str) -> InvalidModule {
        match validate(&wat(src)) {
            Ok(_) => panic!("accepted:\n{src}"),
            Err(e) => e,
        }
    }

    fn is_decoding(e: &InvalidModule) -> bool {
        matches!(e, InvalidModule::Decoding { .. })
    }

    /// Appends a custom section (custom sections may appear anywhere, including at the end).
    fn with_custom(mut wasm: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
        wasm.push(0);
        CustomSection { name: name.into(), data: data.into() }.encode(&mut wasm);
        wasm
    }

    /// A module with `functions` defined `() -> ()` functions, each exported under the names `exports(i)`.
    fn module_with(functions: u32, exports: impl Fn(u32) -> Vec<String>) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        let mut exps = ExportSection::new();
        for i in 0..functions {
            funcs.function(0);
            let mut f = Function::new([]);
            f.instructions().end();
            code.function(&f);
            for name in exports(i) {
                exps.export(&name, ExportKind::Func, i);
            }
        }
        module.section(&funcs);
        module.section(&exps);
        module.section(&code);
        module.finish()
    }

    /// A module with one `() -> ()` function whose body is `body` (instructions without the final `end`).
    fn module_with_body(body: &[u8]) -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        module.section(&funcs);
        let mut code = CodeSection::new();
        let mut raw = vec![0]; // no locals
        raw.extend_from_slice(body);
        raw.push(0x0b); // end
        code.raw(&raw);
        module.section(&code);
        module.finish()
    }

    const CANISTER: &str = r#"
        (module
          (import "ic0" "msg_reply" (func $reply))
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (import "ic0" "debug_print" (func $print (param i32 i32)))
          (import "ic0" "stable_size" (func $stable_size (result i32)))
          (memory 2 16)
          (table 2 funcref)
          (elem (i32.const 0) $update $query)
          (global $__stack_pointer (mut i32) (i32.const 65536))
          (global $counter (mut i64) (i64.const 0))
          (global $v (mut v128) (v128.const i64x2 0 0))
          (data (i32.const 16) "hello")
          (func $start (global.set $counter (i64.const 1)))
          (start $start)
          (func $update (global.set $counter (i64.add (global.get $counter) (i64.const 1))) (call $reply))
          (func $query (call $append (i32.const 16) (i32.const 5)) (call $reply))
          (func $noop)
          (func $indirect (call_indirect (i32.const 1)) (drop (table.get (i32.const 0))) (drop (ref.func $noop)))
          (export "memory" (memory 0))
          (export "canister_init" (func $noop))
          (export "canister_pre_upgrade" (func $noop))
          (export "canister_post_upgrade" (func $noop))
          (export "canister_inspect_message" (func $noop))
          (export "canister_heartbeat" (func $noop))
          (export "canister_global_timer" (func $noop))
          (export "canister_on_low_wasm_memory" (func $noop))
          (export "canister_update inc" (func $update))
          (export "canister_query get value" (func $query))
          (export "canister_query " (func $query))
          (export "canister_composite_query cq" (func $indirect))
          (export "helper" (func $noop)))
    "#;

    #[test]
    fn valid_canister_is_described() {
        let info = ok(CANISTER);
        assert!(!info.memory64);
        assert!(info.has_memory && !info.memory_imported);
        assert_eq!((info.initial_memory_pages, info.max_memory_pages), (2, Some(16)));
        assert_eq!(info.update_methods, BTreeSet::from(["inc".to_string()]));
        assert_eq!(info.query_methods, BTreeSet::from(["get value".to_string(), String::new()]));
        assert_eq!(info.composite_query_methods, BTreeSet::from(["cq".to_string()]));
        assert!(info.has_init && info.has_pre_upgrade && info.has_post_upgrade && info.has_inspect_message);
        assert!(info.has_heartbeat && info.has_global_timer && info.has_on_low_wasm_memory);
        assert_eq!(
            info.ic0_imports,
            ["debug_print", "msg_reply", "msg_reply_data_append", "stable_size"].map(String::from).into()
        );
        assert!(info.has_start);
        assert_eq!(info.start_function, Some(4));
        assert_eq!(info.table, Some(TableInfo { initial: 2, maximum: None, imported: false }));
        assert_eq!(info.table_count, 1);
        assert_eq!((info.function_count, info.imported_function_count, info.global_count), (5, 4, 3));
        assert!(info.custom_sections.is_empty());
        assert!(!info.enhanced_orthogonal_persistence);
    }

    #[test]
    fn minimal_modules_are_valid() {
        let info = ok("(module)");
        assert!(!info.has_memory && !info.memory64 && info.table.is_none() && !info.has_start);
        ok(r#"(module (func (export "canister_update f")))"#);
    }

    // ---- imports ----

    #[test]
    fn unknown_ic0_import_is_rejected() {
        let e = err(r#"(module (import "ic0" "foo" (func)))"#);
        assert_eq!(
            e.to_string(),
            "Wasm module has an invalid import section. Module imports function 'foo' from 'ic0' that is not \
             exported by the runtime."
        );
        // Only for the cycles-minting canister; not linked by the engine.
        let e = err(r#"(module (import "ic0" "mint_cycles128" (func (param i64 i64 i32))) (memory 1))"#);
        assert!(matches!(e, InvalidModule::InvalidImportSection(_)), "{e}");
    }

    #[test]
    fn function_imports_only_from_ic0() {
        let e = err(r#"(module (import "env" "msg_reply" (func)))"#);
        assert_eq!(
            e.to_string(),
            "Wasm module has an invalid import section. Module imports function \"msg_reply\" from \"env\", \
             expected to be imported from one of {\"ic0\"} instead."
        );
        let e = err(r#"(module (import "env" "my_helper" (func)))"#);
        assert!(e.to_string().contains("Module imports function 'my_helper' from 'env' that is not exported"));
    }

    #[test]
    fn import_signatures_must_match_exactly() {
        let e = err(r#"(module (import "ic0" "msg_arg_data_size" (func (result i64))))"#);
        assert_eq!(
            e.to_string(),
            "Wasm module has an invalid function signature. Expected return type [I32] for 'msg_arg_data_size', got \
             [I64]."
        );
        let e = err(r#"(module (import "ic0" "msg_reply_data_append" (func (param i32))))"#);
        assert_eq!(
            e,
            InvalidModule::InvalidFunctionSignature(
                "Expected input params [I32, I32] for 'msg_reply_data_append', got [I32].".to_string()
            )
        );
        err(r#"(module (import "ic0" "msg_reply" (func (result i32))))"#);
        err(r#"(module (import "ic0" "call_perform" (func)))"#);
    }

    #[test]
    fn pointer_width_follows_the_memory() {
        // No memory: I = i32.
        ok(r#"(module (import "ic0" "msg_reply_data_append" (func (param i32 i32))))"#);
        err(r#"(module (import "ic0" "msg_reply_data_append" (func (param i64 i64))))"#);
        // wasm32.
        ok(r#"(module (import "ic0" "msg_arg_data_size" (func (result i32))) (memory 1))"#);
        err(r#"(module (import "ic0" "msg_arg_data_size" (func (result i64))) (memory 1))"#);
        // memory64: I = i64, fixed widths stay.
        let info = ok(r#"(module
            (import "ic0" "msg_reply_data_append" (func (param i64 i64)))
            (import "ic0" "msg_reject_code" (func (result i32)))
            (import "ic0" "msg_cycles_accept128" (func (param i64 i64 i64)))
            (import "ic0" "stable64_grow" (func (param i64) (result i64)))
            (memory i64 1))"#);
        assert!(info.memory64 && info.has_memory);
        err(r#"(module (import "ic0" "msg_reply_data_append" (func (param i32 i32))) (memory i64 1))"#);
        // A memory64 import decides the width just the same.
        ok(r#"(module (import "env" "memory" (memory i64 1)) (import "ic0" "msg_arg_data_size" (func (result i64))))"#);
    }

    #[test]
    fn wasm32_only_imports() {
        for (name, ty) in [
            ("stable_size", "(result i32)"),
            ("stable_grow", "(param i32) (result i32)"),
            ("stable_read", "(param i32 i32 i32)"),
            ("stable_write", "(param i32 i32 i32)"),
            ("msg_cycles_available", "(result i64)"),
            ("msg_cycles_refunded", "(result i64)"),
            ("msg_cycles_accept", "(param i64) (result i64)"),
            ("canister_cycle_balance", "(result i64)"),
            ("call_cycles_add", "(param i64)"),
        ] {
            ok(&format!(r#"(module (import "ic0" "{name}" (func {ty})) (memory 1))"#));
            ok(&format!(r#"(module (import "ic0" "{name}" (func {ty})))"#));
            let e = err(&format!(r#"(module (import "ic0" "{name}" (func {ty})) (memory i64 1))"#));
            assert!(e.to_string().contains("not exported by the runtime"), "{name}: {e}");
        }
    }

    #[test]
    fn memory_and_table_imports_only_from_env() {
        let info = ok(r#"(module (import "env" "memory" (memory 1 2)))"#);
        assert!(info.has_memory && info.memory_imported);
        assert_eq!((info.initial_memory_pages, info.max_memory_pages), (1, Some(2)));
        let mem_msg = "Wasm module has an invalid import section. Only memory imported from env.memory is allowed.";
        assert_eq!(err(r#"(module (import "env" "mem" (memory 1)))"#).to_string(), mem_msg);
        assert_eq!(err(r#"(module (import "ic0" "memory" (memory 1)))"#).to_string(), mem_msg);

        let info = ok(r#"(module (import "env" "table" (table 3 funcref)) (table 1 funcref))"#);
        assert_eq!(info.table, Some(TableInfo { initial: 3, maximum: None, imported: true }));
        assert_eq!(info.table_count, 2);
        let table_msg = "Wasm module has an invalid import section. Only tables imported from env.table are allowed.";
        assert_eq!(err(r#"(module (import "env" "tbl" (table 1 funcref)))"#).to_string(), table_msg);
        assert_eq!(err(r#"(module (import "x" "table" (table 1 funcref)))"#).to_string(), table_msg);
    }

    #[test]
    fn global_and_tag_imports_are_rejected() {
        assert_eq!(
            err(r#"(module (import "env" "g" (global i32)))"#),
            InvalidModule::InvalidImportSection("Importing globals is not allowed.".to_string())
        );
        // Tags need the exception-handling proposal, which is off: rejected while decoding.
        assert!(is_decoding(&err(r#"(module (import "env" "t" (tag)))"#)));
    }

    // ---- Wasm features ----

    #[test]
    fn ic_feature_set() {
        // Allowed: SIMD, bulk memory, reference types, sign extension, saturating conversions, multi-value.
        ok("(module (func (result v128) (v128.const i32x4 1 2 3 4)))");
        ok("(module (memory 1) (func (memory.copy (i32.const 0) (i32.const 1) (i32.const 1))
              (memory.fill (i32.const 0) (i32.const 0) (i32.const 1))))");
        ok("(module (memory 1) (data $d \"x\") (func (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))
              (data.drop $d)))");
        ok("(module (table 1 funcref) (func (result i32) (ref.is_null (table.get (i32.const 0)))))");
        ok("(module (func (result i32 i64) (i32.const 0) (i64.const 0)))");
        ok("(module (func (result i32) (i32.extend8_s (i32.trunc_sat_f32_s (f32.const 1)))))");
        // Rejected while decoding, with the offset of the problem.
        for src in [
            "(module (memory 1) (memory 1))",
            "(module (memory 1 1 shared))",
            "(module (func $f (return_call $f)))",
            "(module (func (result v128) (i32x4.relaxed_trunc_f32x4_s (v128.const i32x4 0 0 0 0))))",
            "(module (tag $t) (func (throw $t)))",
            "(module (type $t (func)) (func (param (ref $t)) (call_ref $t (local.get 0))))",
            "(module (global externref (ref.null extern)))",
            "(module (type (struct)))",
        ] {
            match err(src) {
                InvalidModule::Decoding { offset, .. } => assert!(offset > 8, "{src}: offset {offset}"),
                e => panic!("{src}: {e}"),
            }
        }
    }

    #[test]
    fn garbage_reports_decoding_errors() {
        assert_eq!(validate(b""), Err(InvalidModule::NotWasm));
        assert_eq!(validate(b"\x1f\x8b\x08\x00"), Err(InvalidModule::NotWasm));
        assert!(is_decoding(&validate(b"\0asm").unwrap_err()));
        assert!(is_decoding(&validate(b"\0asm\x02\0\0\0").unwrap_err()));
        // A component is not a module.
        assert!(is_decoding(&validate(b"\0asm\x0d\0\x01\0").unwrap_err()));
        let e = validate(b"\0asm\x01\0\0\0\x01\x05\x01").unwrap_err();
        assert!(matches!(e, InvalidModule::Decoding { offset: 10.., .. }), "{e:?}");
    }

    #[test]
    fn too_large_module_is_rejected() {
        // `vec!` of zeroes is lazily allocated: cheap despite the size.
        let wasm = vec![0u8; (MAX_MODULE_SIZE + 1) as usize];
        assert_eq!(
            validate(&wasm),
            Err(InvalidModule::ModuleTooLarge { size: MAX_MODULE_SIZE + 1, allowed: MAX_MODULE_SIZE })
        );
    }

    // ---- memories ----

    #[test]
    fn memory_limits() {
        ok("(module (memory 1 65536))");
        // Above 4 GiB is not even valid wasm32.
        assert!(is_decoding(&err("(module (memory 1 65537))")));
        ok("(module (memory i64 1 98304))");
        ok("(module (memory i64 1))");
        assert_eq!(
            err("(module (memory i64 1 98305))"),
            InvalidModule::WasmMemoryTooLarge { defined_size: 98_305, allowed_size: 98_304 }
        );
        assert_eq!(
            err(r#"(module (import "env" "memory" (memory i64 1 100000)))"#),
            InvalidModule::WasmMemoryTooLarge { defined_size: 100_000, allowed_size: 98_304 }
        );
    }

    // ---- exports ----

    #[test]
    fn method_names_are_everything_after_the_first_space() {
        let info = ok(r#"(module (func $f)
            (export "canister_update a b  c" (func $f))
            (export "canister_query  leading" (func $f))
            (export "canister_composite_query x" (func $f)))"#);
        assert!(info.update_methods.contains("a b  c"));
        assert!(info.query_methods.contains(" leading"));
        assert!(info.composite_query_methods.contains("x"));
    }

    #[test]
    fn unknown_canister_exports_are_rejected() {
        for name in ["canister_update", "canister_query", "canister_updatefoo", "canister_foo", "canister_init2"] {
            let e = err(&format!(r#"(module (func $f) (export "{name}" (func $f)))"#));
            assert_eq!(
                e.to_string(),
                format!(
                    "Wasm module has an invalid export section. Exporting reserved function '{name}' with \
                     \"canister_\" prefix"
                )
            );
        }
        // Not `canister_`-prefixed: fine.
        ok(r#"(module (func $f) (export "canister" (func $f)) (export "Canister_foo" (func $f)))"#);
    }

    #[test]
    fn duplicate_method_names_are_rejected() {
        let e = err(r#"(module (func $f)
            (export "canister_update foo" (func $f)) (export "canister_query foo" (func $f)))"#);
        assert_eq!(e, InvalidModule::DuplicateExport { name: "foo".to_string() });
        assert_eq!(
            e.to_string(),
            "Wasm module has an invalid export section. Duplicate function 'foo' exported multiple times with \
             different call types: update, query, or composite_query."
        );
        err(r#"(module (func $f)
            (export "canister_composite_query foo" (func $f)) (export "canister_update foo" (func $f)))"#);
    }

    #[test]
    fn entry_points_must_be_unit_functions() {
        for name in ["canister_update f", "canister_query f", "canister_init", "canister_heartbeat"] {
            let e = err(&format!(r#"(module (func $f (param i32)) (export "{name}" (func $f)))"#));
            assert_eq!(
                e,
                InvalidModule::InvalidFunctionSignature(format!("Expected input params [] for '{name}', got [I32]."))
            );
            let e = err(&format!(r#"(module (func $f (result i32) (i32.const 0)) (export "{name}" (func $f)))"#));
            assert_eq!(
                e,
                InvalidModule::InvalidFunctionSignature(format!("Expected return type [] for '{name}', got [I32]."))
            );
        }
        // An imported ic0 function of the right type may be exported directly.
        ok(r#"(module (import "ic0" "msg_reply" (func $r)) (export "canister_update r" (func $r)))"#);
        // A `canister_*` export must be a function at all.
        let e = err(r#"(module (global i32 (i32.const 0)) (export "canister_init" (global 0)))"#);
        assert!(matches!(e, InvalidModule::InvalidExportSection(_)), "{e}");
        err(r#"(module (memory 1) (export "canister_query m" (memory 0)))"#);
    }

    #[test]
    fn reserved_exports_are_rejected() {
        for name in [
            "canister_start",
            "canister counter_instructions",
            "canister counter_dirty_pages",
            "canister counter_accessed_pages",
            "stable_memory",
            "stable_bytemap_memory",
        ] {
            let e = err(&format!(r#"(module (func $f) (export "{name}" (func $f)))"#));
            assert_eq!(
                e,
                InvalidModule::InvalidExportSection(format!("Exporting reserved symbol {name} not allowed.")),
            );
        }
        // The engine's own prefix is not reserved on the IC: the rewrite drops such exports instead.
        for export in [r#"(export "__icfuzz_memory" (memory 0))"#, r#"(export "__icfuzz_x" (func 0))"#] {
            validate(&wat(&format!("(module (memory 1) (func) {export})"))).unwrap();
        }
    }

    #[test]
    fn method_export_count_limit() {
        validate(&module_with(1, |_| (0..1000).map(|i| format!("canister_update m{i}")).collect())).unwrap();
        let e = validate(&module_with(1, |_| (0..1001).map(|i| format!("canister_query m{i}")).collect()));
        assert_eq!(e, Err(InvalidModule::TooManyExports { defined: 1001, allowed: 1000 }));
        // Other exports do not count.
        validate(&module_with(1, |_| {
            let mut names: Vec<_> = (0..1000).map(|i| format!("canister_update m{i}")).collect();
            names.extend((0..10).map(|i| format!("other{i}")));
            names
        }))
        .unwrap();
    }

    #[test]
    fn method_name_length_limit() {
        let names = |last: usize| {
            move |_| {
                vec![
                    format!("canister_update {}", "a".repeat(10_000)),
                    format!("canister_query {}", "b".repeat(last)),
                ]
            }
        };
        validate(&module_with(1, names(10_000))).unwrap();
        let e = validate(&module_with(1, names(10_001)));
        assert_eq!(e, Err(InvalidModule::ExportedNamesTooLong { total_length: 20_001, allowed: 20_000 }));
    }

    // ---- functions and globals ----

    #[test]
    fn function_count_limit() {
        let info = validate(&module_with(50_000, |_| vec![])).unwrap();
        assert_eq!(info.function_count, 50_000);
        let e = validate(&module_with(50_001, |_| vec![]));
        assert_eq!(e, Err(InvalidModule::TooManyFunctions { defined: 50_001, allowed: 50_000 }));
    }

    #[test]
    fn global_limits() {
        let globals = |n: usize| format!("(module {})", "(global (mut i32) (i32.const 0))".repeat(n));
        assert_eq!(ok(&globals(1000)).global_count, 1000);
        assert_eq!(err(&globals(1001)), InvalidModule::TooManyGlobals { defined: 1001, allowed: 1000 });
        ok("(module (global i64 (i64.const 0)) (global f32 (f32.const 0)) (global f64 (f64.const 0))
                    (global v128 (v128.const i64x2 0 0)))");
        let e = err("(module (global funcref (ref.null func)))");
        assert!(matches!(e, InvalidModule::InvalidGlobalSection(_)), "{e}");
    }

    // ---- custom sections ----

    #[test]
    fn icp_custom_sections() {
        let base = wat("(module)");
        let wasm = with_custom(base.clone(), "icp:public candid:service", b"service : {}");
        let wasm = with_custom(wasm, "icp:private secret", b"s");
        let wasm = with_custom(wasm, "name", b"\0"); // not `icp:`: ignored (even though it is malformed)
        let wasm = with_custom(wasm, "icpx:whatever", b"");
        let info = validate(&wasm).unwrap();
        assert_eq!(info.custom_sections.len(), 2);
        assert_eq!(
            info.custom_sections["candid:service"],
            (CustomSectionVisibility::Public, b"service : {}".to_vec())
        );
        assert_eq!(info.custom_sections["secret"], (CustomSectionVisibility::Private, b"s".to_vec()));
        assert_eq!(info.custom_sections_size(), 14 + 12 + 6 + 1);
        // Spaces after the first belong to the name; empty names are allowed.
        let info = validate(&with_custom(base.clone(), "icp:public ", b"")).unwrap();
        assert!(info.custom_sections.contains_key(""));
        let info = validate(&with_custom(base.clone(), "icp:public  x", b"")).unwrap();
        assert!(info.custom_sections.contains_key(" x"));

        assert_eq!(
            validate(&with_custom(base.clone(), "icp:public", b"")).unwrap_err().to_string(),
            "Wasm module has an invalid custom section. 'icp:' section names must have a space after the \
             public/private scope"
        );
        assert_eq!(
            validate(&with_custom(base.clone(), "icp:protected x", b"")).unwrap_err().to_string(),
            "Wasm module has an invalid custom section. Invalid custom section: Custom section 'icp:protected x' \
             has no public/private scope defined."
        );
        let dup = with_custom(with_custom(base.clone(), "icp:public x", b""), "icp:private x", b"");
        assert_eq!(
            validate(&dup),
            Err(InvalidModule::InvalidCustomSection("Invalid custom section: name x already exists".to_string()))
        );
    }

    #[test]
    fn icp_custom_section_limits() {
        let base = wat("(module)");
        let many = |n: usize| (0..n).fold(base.clone(), |w, i| with_custom(w, &format!("icp:public s{i}"), b""));
        validate(&many(16)).unwrap();
        assert_eq!(validate(&many(17)), Err(InvalidModule::TooManyCustomSections { defined: 17, allowed: 16 }));
        // Σ(name + content) ≤ 1 MiB.
        let content = vec![7u8; (1 << 20) - 1];
        validate(&with_custom(base.clone(), "icp:private a", &content)).unwrap();
        let e = validate(&with_custom(base.clone(), "icp:private ab", &content)).unwrap_err();
        assert!(matches!(e, InvalidModule::InvalidCustomSection(_)), "{e}");
    }

    #[test]
    fn enhanced_orthogonal_persistence_flag() {
        let base = wat("(module (memory i64 1))");
        let info = validate(&with_custom(base.clone(), "icp:private enhanced-orthogonal-persistence", b"")).unwrap();
        assert!(info.enhanced_orthogonal_persistence);
        let info = validate(&with_custom(base.clone(), "icp:public enhanced-orthogonal-persistence", b"")).unwrap();
        assert!(!info.enhanced_orthogonal_persistence);
        assert!(!validate(&base).unwrap().enhanced_orthogonal_persistence);
    }

    // ---- data segments ----

    #[test]
    fn data_segment_offsets_must_be_single_constants() {
        ok(r#"(module (memory 1) (data (i32.const 8) "x") (data "passive"))"#);
        ok(r#"(module (memory i64 1) (data (i64.const 8) "x"))"#);
        let e = err(r#"(module (memory 1) (data (i32.add (i32.const 1) (i32.const 2)) "x"))"#);
        let InvalidModule::InvalidDataSection(message) = &e else { panic!("{e}") };
        assert!(message.starts_with("Invalid offset expression in data segment for 32bit memory: I32Const"), "{e}");
        let e = err(r#"(module (memory i64 1) (data (i64.sub (i64.const 9) (i64.const 1)) "x"))"#);
        assert!(matches!(&e, InvalidModule::InvalidDataSection(m) if m.contains("64bit")), "{e}");
    }

    // ---- code ----

    #[test]
    fn table_mutation_instructions_are_rejected() {
        for (instruction, body) in [
            ("table.grow", "(drop (table.grow (ref.null func) (i32.const 1)))"),
            ("table.set", "(table.set (i32.const 0) (ref.null func))"),
            ("table.fill", "(table.fill (i32.const 0) (ref.null func) (i32.const 1))"),
            ("table.copy", "(table.copy (i32.const 0) (i32.const 0) (i32.const 1))"),
            ("table.init", "(table.init $e (i32.const 0) (i32.const 0) (i32.const 1))"),
        ] {
            let src = format!("(module (table 2 funcref) (elem $e func $ok) (func $ok) (func {body}))");
            assert_eq!(
                err(&src),
                InvalidModule::UnsupportedWasmInstruction { index: 1, instruction: instruction.to_string() },
                "{src}"
            );
        }
        assert_eq!(
            InvalidModule::UnsupportedWasmInstruction { index: 1, instruction: "table.grow".to_string() }.to_string(),
            "Wasm module contains a function at index 1 with unsupported instruction table.grow."
        );
        // Reading and calling through tables is fine; so is `elem.drop`.
        ok("(module (table 1 funcref) (elem $e func $f) (func $f)
              (func (drop (table.get (i32.const 0))) (drop (table.size)) (call_indirect (i32.const 0))
                    (elem.drop $e)))");
    }

    #[test]
    fn code_errors_come_after_import_errors() {
        // Both an unknown import and a table.grow: the IC reports the import first.
        let e = err(r#"(module (import "ic0" "nope" (func)) (table 1 funcref)
                      (func (drop (table.grow (ref.null func) (i32.const 1)))))"#);
        assert!(matches!(e, InvalidModule::InvalidImportSection(_)), "{e}");
    }

    #[test]
    fn function_size_limit() {
        // 999,999 nops + end = 1,000,000 instructions: allowed. One more is not. Every instruction costs at least
        // one complexity unit and both limits are 1,000,000, so the IC (which checks complexity first) reports such
        // a function as too complex; the size error is only reachable if the limits ever diverge.
        validate(&module_with_body(&vec![0x01; 999_999])).unwrap();
        assert_eq!(
            validate(&module_with_body(&vec![0x01; 1_000_000])),
            Err(InvalidModule::FunctionComplexityTooHigh { index: 0, complexity: 1_000_001, allowed: 1_000_000 })
        );
    }

    #[test]
    fn function_complexity_limit() {
        // memory.grow costs 50: 20,000 × (i32.const 0; memory.grow; drop) plus `end` is 1,040,001 units in only
        // 60,001 instructions.
        let body: Vec<u8> = [0x41, 0x00, 0x40, 0x00, 0x1a].repeat(20_000);
        // Like `module_with_body`, plus the memory `memory.grow` needs.
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let mut mems = wasm_encoder::MemorySection::new();
        mems.memory(wasm_encoder::MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&mems);
        let mut code = CodeSection::new();
        let mut raw = vec![0];
        raw.extend_from_slice(&body);
        raw.push(0x0b);
        code.raw(&raw);
        m.section(&code);
        let e = validate(&m.finish()).unwrap_err();
        assert_eq!(
            e,
            InvalidModule::FunctionComplexityTooHigh { index: 0, complexity: 1_040_001, allowed: 1_000_000 }
        );
    }

    #[test]
    fn code_section_size_limit() {
        // One body of 10 MiB of nops: the code section exceeds 10 MiB and is rejected before any body is read.
        let wasm = module_with_body(&vec![0x01; 10 << 20]);
        match validate(&wasm) {
            Err(InvalidModule::CodeSectionTooLarge { size, allowed }) => {
                assert!(size > allowed);
                assert_eq!(allowed, 10 << 20);
            }
            other => panic!("{other:?}"),
        }
    }

    // ---- robustness ----

    #[test]
    fn never_panics_on_mutated_modules() {
        let valid = wat(CANISTER);
        // Deterministic: the same mutations on every run.
        let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for round in 0..3000 {
            let mut wasm = valid.clone();
            match round % 4 {
                0 => wasm.truncate(rng.usize(..wasm.len())),
                1 => {
                    for _ in 0..rng.usize(1..=4) {
                        let i = rng.usize(..wasm.len());
                        wasm[i] ^= 1 << rng.u8(..8);
                    }
                }
                2 => {
                    let i = rng.usize(..wasm.len());
                    wasm[i] = rng.u8(..);
                }
                _ => {
                    wasm.truncate(8);
                    wasm.extend((0..rng.usize(..64)).map(|_| rng.u8(..)));
                }
            }
            if let Ok(info) = validate(&wasm) {
                accepted += 1;
                // Whatever validates must also rewrite into a valid module.
                let out = super::super::rewrite(&wasm, &info).expect("rewrite of a validated module");
                let mut v = Validator::new_with_features(ic_features());
                v.validate_all(&out).expect("rewritten module is valid");
            }
        }
        assert!(accepted > 0, "no mutant validated: the test exercises nothing past decoding");
    }
}
