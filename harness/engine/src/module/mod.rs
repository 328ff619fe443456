//! Canister modules: decoding (optional gzip), the IC's install-time validation (ic-semantics §2) and the rewrite
//! that turns a validated module into the one the engine instantiates.
//!
//! The pipeline is `decode_module` → `validate` → `rewrite`. Validation answers "would the IC accept this module?"
//! and describes it ([`ModuleInfo`]); the rewrite only exposes internals (all globals, the memory, the table, the
//! start function) as exports so that the engine can snapshot, restore and drive them, without changing what the
//! module computes.
//!
//! Everything here runs on untrusted bytes (fuzzers feed it garbage): no panics, no unchecked indexing, bounded
//! allocation.

pub(crate) mod coverage;
mod imports;
mod rewrite;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

#[allow(unused_imports)] // The engine's linker test uses `ic0_names`; validation uses `ic0_signature`.
pub(crate) use imports::{ic0_names, ic0_signature};
#[allow(unused_imports)] // Part of the rewrite's contract with the engine even where not referenced yet.
pub(crate) use rewrite::{
    global_export_name, rewrite, GLOBAL_EXPORT_PREFIX, MEMORY_EXPORT, RESERVED_EXPORT_PREFIX, START_EXPORT,
    TABLE_EXPORT,
};
pub(crate) use validate::validate;

/// Largest module the IC accepts, after gunzip (100 MiB).
pub(crate) const MAX_MODULE_SIZE: u64 = 100 << 20;

/// The gzip magic plus the deflate method byte, as the IC checks it.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
/// The Wasm binary magic (`\0asm`).
const WASM_MAGIC: [u8; 4] = [0x00, 0x61, 0x73, 0x6d];

/// Why a canister module was rejected. The messages mirror the IC's (`WasmValidationError` in `ic-wasm-types`);
/// the IC reports them as `Canister's Wasm module is not valid: <message>` with error code IC0505, a prefix the
/// caller adds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidModule {
    /// The bytes are neither gzip nor start with the Wasm magic `\0asm`.
    #[error("Failed to decode wasm module: not a Wasm module (bad magic).")]
    NotWasm,
    /// The input looked like gzip but could not be decompressed.
    #[error("Failed to decode wasm module: gzip decompression failed: {0}")]
    Gzip(String),
    /// The (uncompressed) module is larger than 100 MiB.
    #[error("Wasm module size of {size} exceeds the maximum allowed size of {allowed}.")]
    ModuleTooLarge {
        /// Size of the module in bytes.
        size: u64,
        /// The limit in bytes.
        allowed: u64,
    },
    /// The gzip stream decompresses to more than 100 MiB (decompression stopped at the limit).
    #[error("Wasm module size exceeds the maximum allowed size of {allowed} after gzip decompression.")]
    DecompressedTooLarge {
        /// The limit in bytes.
        allowed: u64,
    },
    /// The module is not valid Wasm for the IC's feature set (wasmparser's message).
    #[error("Wasm module failed validation: {message} (at offset {offset:#x})")]
    Decoding {
        /// Byte offset in the module where the problem was found.
        offset: usize,
        /// What was wrong.
        message: String,
    },
    /// An ic0 import or a `canister_*` export has the wrong type.
    #[error("Wasm module has an invalid function signature. {0}")]
    InvalidFunctionSignature(String),
    /// An import is not allowed (unknown ic0 function, wrong module, global/tag import, misnamed memory/table).
    #[error("Wasm module has an invalid import section. {0}")]
    InvalidImportSection(String),
    /// An export is not allowed (unknown or non-function `canister_*`, reserved name).
    #[error("Wasm module has an invalid export section. {0}")]
    InvalidExportSection(String),
    /// A method name is exported under more than one of update, query and composite query.
    #[error(
        "Wasm module has an invalid export section. Duplicate function '{name}' exported multiple times with \
         different call types: update, query, or composite_query."
    )]
    DuplicateExport {
        /// The method name.
        name: String,
    },
    /// More than 1,000 `canister_update`/`canister_query`/`canister_composite_query` exports.
    #[error(
        "Wasm module has an invalid export section. The number of exported functions called `canister_update \
         <name>`, `canister_query <name>`, or `canister_composite_query <name>` is {defined} which exceeds {allowed}."
    )]
    TooManyExports {
        /// Number of method exports.
        defined: usize,
        /// The limit.
        allowed: usize,
    },
    /// The method names of those exports are longer than 20,000 bytes together.
    #[error(
        "Wasm module has an invalid export section. The sum of `<name>` lengths in exported functions called \
         `canister_update <name>`, `canister_query <name>`, or `canister_composite_query <name>` is {total_length} \
         which exceeds the allowed limit of {allowed}."
    )]
    ExportedNamesTooLong {
        /// Sum of the method-name lengths in bytes.
        total_length: usize,
        /// The limit.
        allowed: usize,
    },
    /// An active data segment's offset is not a single `i32.const` (wasm32) / `i64.const` (wasm64).
    #[error("Wasm module has an invalid data section. {0}")]
    InvalidDataSection(String),
    /// An active data segment reaches past the memory's initial size (the replica refuses it while instrumenting,
    /// `Segments::validate`, before any instantiation would fail on it).
    #[error("Wasm module has invalid data segment of {len} bytes at {offset}")]
    InvalidDataSegment {
        /// Where the segment starts in memory.
        offset: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// An `icp:` custom section breaks the naming, uniqueness or size rules.
    #[error("Wasm module has an invalid custom section. {0}")]
    InvalidCustomSection(String),
    /// A global has a type other than i32/i64/f32/f64/v128.
    #[error("Wasm module has an invalid global section. {0}")]
    InvalidGlobalSection(String),
    /// More than 1,000 globals.
    #[error("Wasm module defined {defined} globals which exceeds the maximum number allowed {allowed}.")]
    TooManyGlobals {
        /// Number of globals.
        defined: usize,
        /// The limit.
        allowed: usize,
    },
    /// More than 50,000 defined functions.
    #[error("Wasm module defined {defined} functions which exceeds the maximum number allowed {allowed}.")]
    TooManyFunctions {
        /// Number of defined functions.
        defined: usize,
        /// The limit.
        allowed: usize,
    },
    /// More than 16 `icp:` custom sections.
    #[error("Wasm module defined {defined} custom sections which exceeds the maximum number allowed {allowed}.")]
    TooManyCustomSections {
        /// Number of `icp:` sections.
        defined: usize,
        /// The limit.
        allowed: usize,
    },
    /// The memory's declared maximum is above what the IC allows for its width.
    #[error(
        "Wasm module declares a maximum memory size of {defined_size} Wasm pages which exceeds the maximum allowed \
         {allowed_size} Wasm pages."
    )]
    WasmMemoryTooLarge {
        /// Declared maximum, in 64 KiB pages.
        defined_size: u64,
        /// The limit, in 64 KiB pages.
        allowed_size: u64,
    },
    /// A function's compile-cost estimate is above 1,000,000 (the IC's complexity measure).
    #[error(
        "Wasm module contains a function at index {index} with complexity {complexity} which exceeds the maximum \
         complexity allowed {allowed}."
    )]
    FunctionComplexityTooHigh {
        /// Index of the function among the module's defined functions (code-section order).
        index: usize,
        /// Its complexity.
        complexity: u64,
        /// The limit.
        allowed: u64,
    },
    /// A function uses `table.grow`, `table.set`, `table.fill`, `table.copy` or `table.init`.
    #[error("Wasm module contains a function at index {index} with unsupported instruction {instruction}.")]
    UnsupportedWasmInstruction {
        /// Index of the function among the module's defined functions (code-section order).
        index: usize,
        /// The instruction's text name.
        instruction: String,
    },
    /// A function has more than 1,000,000 instructions.
    #[error(
        "Wasm module contains a function at index {index} of size {size} that exceeds the maximum allowed size of \
         {allowed}."
    )]
    FunctionTooLarge {
        /// Index of the function among the module's defined functions (code-section order).
        index: usize,
        /// Its number of instructions.
        size: usize,
        /// The limit.
        allowed: usize,
    },
    /// The code section is larger than 10 MiB.
    #[error("Wasm module code section size of {size} exceeds the maximum allowed size of {allowed}.")]
    CodeSectionTooLarge {
        /// Size of the code section in bytes.
        size: u64,
        /// The limit in bytes.
        allowed: u64,
    },
    /// The engine could not rewrite a module that passed validation (an engine bug, never the canister's fault).
    #[error("Internal error: the engine could not prepare the validated module: {0}")]
    Rewrite(String),
}

/// Whether an `icp:` custom section is readable by anyone (`icp:public`) or only by controllers (`icp:private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CustomSectionVisibility {
    /// `icp:public <name>`.
    Public,
    /// `icp:private <name>`.
    Private,
}

/// Table 0 of a module (the one `call_indirect` without an index, and the IC's callbacks, use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    /// Initial number of elements.
    pub initial: u64,
    /// Declared maximum number of elements, if any.
    pub maximum: Option<u64>,
    /// Whether the module imported it as `env.table` (the rewrite turns it into a defined table).
    pub imported: bool,
}

/// What validation learned about a canister module that the IC accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleInfo {
    /// The memory is 64-bit: ic0 pointers are `i64` and the wasm32-only imports are unavailable.
    pub memory64: bool,
    /// The module defines or imports a memory.
    pub has_memory: bool,
    /// The memory was imported as `env.memory` (the rewrite turns it into a defined memory).
    pub memory_imported: bool,
    /// Initial size of the memory in 64 KiB pages (0 without memory).
    pub initial_memory_pages: u64,
    /// Declared maximum of the memory in 64 KiB pages, if any.
    pub max_memory_pages: Option<u64>,
    /// Method names exported as `canister_update <name>`.
    pub update_methods: BTreeSet<String>,
    /// Method names exported as `canister_query <name>`.
    pub query_methods: BTreeSet<String>,
    /// Method names exported as `canister_composite_query <name>`.
    pub composite_query_methods: BTreeSet<String>,
    /// Exports `canister_init`.
    pub has_init: bool,
    /// Exports `canister_pre_upgrade`.
    pub has_pre_upgrade: bool,
    /// Exports `canister_post_upgrade`.
    pub has_post_upgrade: bool,
    /// Exports `canister_inspect_message`.
    pub has_inspect_message: bool,
    /// Exports `canister_heartbeat`.
    pub has_heartbeat: bool,
    /// Exports `canister_global_timer`.
    pub has_global_timer: bool,
    /// Exports `canister_on_low_wasm_memory`.
    pub has_on_low_wasm_memory: bool,
    /// The `icp:public <name>` / `icp:private <name>` custom sections, keyed by `<name>`.
    pub custom_sections: BTreeMap<String, (CustomSectionVisibility, Vec<u8>)>,
    /// The module carries the private section `enhanced-orthogonal-persistence` (Motoko EOP, ic-semantics §7).
    pub enhanced_orthogonal_persistence: bool,
    /// Names of the functions imported from `ic0`.
    pub ic0_imports: BTreeSet<String>,
    /// The module has a start function (the rewrite exports it instead of letting instantiation run it).
    pub has_start: bool,
    /// Index of the start function, if any.
    pub start_function: Option<u32>,
    /// Table 0, if the module has a table.
    pub table: Option<TableInfo>,
    /// Number of tables (imported and defined).
    pub table_count: u32,
    /// Number of functions defined by the module (imports excluded).
    pub function_count: u32,
    /// Number of imported functions (all from `ic0`).
    pub imported_function_count: u32,
    /// Number of globals (all defined: global imports are rejected); the rewrite exports each.
    pub global_count: u32,
    /// Active data segments: (offset in memory 0, bytes). An upgrade that keeps the heap (enhanced orthogonal
    /// persistence) writes them into the kept memory, as the IC does.
    pub active_data: Vec<(u64, Vec<u8>)>,
}

impl ModuleInfo {
    /// Total size of the `icp:` custom sections as the IC accounts for them (Σ name length + content length), e.g.
    /// for `canister_status`'s memory metrics.
    #[allow(dead_code)] // For the management canister's status reply; not every build path reads it.
    pub fn custom_sections_size(&self) -> u64 {
        self.custom_sections.iter().map(|(name, (_, content))| (name.len() + content.len()) as u64).sum()
    }
}

/// Returns the raw Wasm of a canister module as submitted to `install_code`: gunzipped if it starts with the gzip
/// magic `1f 8b 08`, as is otherwise. Rejects anything larger than 100 MiB (after decompression; decompression is
/// bounded so a gzip bomb costs at most that much memory) and anything that does not start with the Wasm magic.
pub fn decode_module(bytes: &[u8]) -> Result<Vec<u8>, InvalidModule> {
    let wasm = if bytes.starts_with(&GZIP_MAGIC) {
        gunzip_bounded(bytes, MAX_MODULE_SIZE)?
    } else {
        if bytes.len() as u64 > MAX_MODULE_SIZE {
            return Err(InvalidModule::ModuleTooLarge { size: bytes.len() as u64, allowed: MAX_MODULE_SIZE });
        }
        bytes.to_vec()
    };
    if !wasm.starts_with(&WASM_MAGIC) {
        return Err(InvalidModule::NotWasm);
    }
    Ok(wasm)
}

/// Decompresses a gzip stream, failing once the output would exceed `limit` bytes.
fn gunzip_bounded(bytes: &[u8], limit: u64) -> Result<Vec<u8>, InvalidModule> {
    let mut out = Vec::new();
    // Read one byte past the limit so "exactly at the limit" and "over it" can be told apart without reading
    // (or allocating) the rest of a bomb.
    flate2::read::GzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| InvalidModule::Gzip(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(InvalidModule::DecompressedTooLarge { allowed: limit });
    }
    Ok(out)
}

/// Turns a wasmparser error into [`InvalidModule::Decoding`], keeping the offset.
fn decoding_error(e: wasmparser::BinaryReaderError) -> InvalidModule {
    InvalidModule::Decoding { offset: e.offset(), message: e.message().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn raw_wasm_is_returned_as_is() {
        assert_eq!(decode_module(EMPTY_MODULE).unwrap(), EMPTY_MODULE);
    }

    #[test]
    fn gzip_is_decoded() {
        let gz = gzip(EMPTY_MODULE);
        assert!(gz.starts_with(&GZIP_MAGIC));
        assert_eq!(decode_module(&gz).unwrap(), EMPTY_MODULE);
    }

    #[test]
    fn gzip_output_is_bounded() {
        let data = vec![0u8; 4096];
        let gz = gzip(&data);
        assert_eq!(gunzip_bounded(&gz, 4096).unwrap().len(), 4096);
        assert_eq!(gunzip_bounded(&gz, 4095), Err(InvalidModule::DecompressedTooLarge { allowed: 4095 }));
    }

    #[test]
    fn garbage_is_rejected_cleanly() {
        assert_eq!(decode_module(b""), Err(InvalidModule::NotWasm));
        assert_eq!(decode_module(b"hello world"), Err(InvalidModule::NotWasm));
        assert_eq!(decode_module(b"\0as"), Err(InvalidModule::NotWasm));
        // Gzip of something that is not Wasm.
        assert_eq!(decode_module(&gzip(b"not wasm")), Err(InvalidModule::NotWasm));
        // Gzip magic followed by garbage or a truncated stream.
        assert!(matches!(decode_module(&[0x1f, 0x8b, 0x08]), Err(InvalidModule::Gzip(_))));
        assert!(matches!(decode_module(&[0x1f, 0x8b, 0x08, 0xff, 0xff, 0xff, 0xff]), Err(InvalidModule::Gzip(_))));
        let gz = gzip(EMPTY_MODULE);
        for len in 0..gz.len() {
            assert!(decode_module(&gz[..len]).is_err(), "truncated gzip of length {len} accepted");
        }
        assert_eq!(
            InvalidModule::NotWasm.to_string(),
            "Failed to decode wasm module: not a Wasm module (bad magic)."
        );
    }
}
