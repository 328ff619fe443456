//! The rewrite from a validated canister module to the module the engine instantiates.
//!
//! The engine needs handles on state the canister does not export: every global (the unexported mutable
//! `__stack_pointer` included) so that a trapped execution can be rolled back and a canister snapshotted, the memory
//! and the table, and the start function, which must run in the restricted "start" context rather than inside
//! instantiation. The rewrite therefore:
//!
//! - exports every global `i` as `__icfuzz_global_<i>`, the memory as `__icfuzz_memory`, table 0 as
//!   `__icfuzz_table`;
//! - turns an imported `env.memory` / `env.table` into a defined memory/table of the same type (imports come first
//!   in their index space and there is at most one memory, so every index stays the same and the engine needs no
//!   special linking);
//! - drops the start section and exports the start function as `__icfuzz_start`.
//!
//! Everything else is copied byte for byte (code, data, elements, names and all custom sections, in place), so the
//! module computes exactly what the original does, and code offsets within the code section (which DWARF and
//! backtraces refer to) are unchanged. Only the import, table, memory and export sections are re-encoded, through
//! wasm-encoder's `reencode` utilities.

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{ExportKind, ExportSection, ImportSection, MemorySection, RawSection, TableSection};
use wasmparser::{Parser, Payload, TypeRef};

use super::{decoding_error, InvalidModule, ModuleInfo};

/// Prefix of every export the rewrite adds; the rewrite drops the module's own exports under it.
pub(crate) const RESERVED_EXPORT_PREFIX: &str = "__icfuzz_";
/// Prefix of the global exports: global `i` is exported as `__icfuzz_global_<i>`.
pub(crate) const GLOBAL_EXPORT_PREFIX: &str = "__icfuzz_global_";
/// Name of the memory export (memory 0, if the module has a memory).
pub(crate) const MEMORY_EXPORT: &str = "__icfuzz_memory";
/// Name of the table export (table 0, if the module has a table).
pub(crate) const TABLE_EXPORT: &str = "__icfuzz_table";
/// Name of the start function's export (if the module has a start function).
pub(crate) const START_EXPORT: &str = "__icfuzz_start";

/// The export name the rewrite gives global `index`.
pub(crate) fn global_export_name(index: u32) -> String {
    format!("{GLOBAL_EXPORT_PREFIX}{index}")
}

/// Section ids, and their position in the order the binary format requires (custom sections aside).
mod order {
    pub const TABLE: u8 = 4;
    pub const MEMORY: u8 = 5;
    pub const EXPORT: u8 = 7;

    /// Position of a non-custom section with `id` in the required order (`tag` and `data count` sit out of
    /// numeric order); unknown ids sort last.
    pub fn rank(id: u8) -> u8 {
        match id {
            1..=5 => id,  // type, import, function, table, memory
            13 => 6,      // tag
            6 => 7,       // global
            7 => 8,       // export
            8 => 9,       // start
            9 => 10,      // element
            12 => 11,     // data count
            10 => 12,     // code
            11 => 13,     // data
            _ => u8::MAX, // unknown (never in a validated module)
        }
    }
}

/// State of one rewrite: what has been seen, and which additions are still to be written.
struct Rewriter {
    out: wasm_encoder::Module,
    /// Imported tables (`env.table`, possibly more than once), to be written as the first defined tables.
    pending_tables: Vec<wasmparser::TableType>,
    /// An imported `env.memory`, to be written as the (only) defined memory.
    pending_memory: Option<wasmparser::MemoryType>,
    /// The added exports are still to be written (in the export section, or in a new one).
    pending_exports: bool,
    has_memory: bool,
    has_table: bool,
    /// Globals in the index space so far (imported, then defined).
    globals: u32,
    /// Globals according to validation (checked against `globals` before any export is written).
    expected_globals: u32,
    /// The start function, known from validation: the export section precedes the start section.
    start: Option<u32>,
    /// Whether the start section was actually found (checked against `start`).
    start_seen: bool,
}

/// Rewrites a module that passed [`validate`](super::validate) (with `info` its result) into the module the engine
/// instantiates; see the module documentation.
///
/// Fails only if `wasm` and `info` disagree or `wasm` is not a valid module, i.e. on an engine bug.
pub(crate) fn rewrite(wasm: &[u8], info: &ModuleInfo) -> Result<Vec<u8>, InvalidModule> {
    let mut r = Rewriter {
        out: wasm_encoder::Module::new(),
        pending_tables: Vec::new(),
        pending_memory: None,
        pending_exports: true,
        has_memory: false,
        has_table: false,
        globals: 0,
        expected_globals: info.global_count,
        start: info.start_function,
        start_seen: false,
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(decoding_error)?;
        match payload {
            Payload::Version { .. } => {}
            Payload::ImportSection(reader) => {
                r.flush(Some(2))?;
                let mut section = ImportSection::new();
                for import in reader.into_imports() {
                    let import = import.map_err(decoding_error)?;
                    match import.ty {
                        // Imported memory/table become definitions (written with the memory/table section).
                        TypeRef::Memory(ty) => {
                            r.pending_memory = Some(ty);
                            r.has_memory = true;
                        }
                        TypeRef::Table(ty) => {
                            // Imported tables precede defined ones; written first and in order, they keep
                            // their indices.
                            r.pending_tables.push(ty);
                            r.has_table = true;
                        }
                        TypeRef::Global(_) => {
                            r.globals = r.globals.saturating_add(1);
                            RoundtripReencoder.parse_import(&mut section, import).map_err(reencode_error)?;
                        }
                        _ => RoundtripReencoder.parse_import(&mut section, import).map_err(reencode_error)?,
                    }
                }
                r.out.section(&section);
            }
            Payload::TableSection(reader) => {
                r.flush(Some(order::TABLE))?;
                let mut section = TableSection::new();
                for ty in std::mem::take(&mut r.pending_tables) {
                    section.table(RoundtripReencoder.table_type(ty).map_err(reencode_error)?);
                }
                r.has_table |= reader.count() > 0;
                RoundtripReencoder.parse_table_section(&mut section, reader).map_err(reencode_error)?;
                r.out.section(&section);
            }
            Payload::MemorySection(reader) => {
                r.flush(Some(order::MEMORY))?;
                let mut section = MemorySection::new();
                if let Some(ty) = r.pending_memory.take() {
                    section.memory(RoundtripReencoder.memory_type(ty).map_err(reencode_error)?);
                }
                r.has_memory |= reader.count() > 0;
                RoundtripReencoder.parse_memory_section(&mut section, reader).map_err(reencode_error)?;
                r.out.section(&section);
            }
            Payload::GlobalSection(ref reader) => {
                r.flush(Some(6))?;
                r.globals = r.globals.saturating_add(reader.count());
                r.raw(&payload, wasm)?;
            }
            Payload::ExportSection(reader) => {
                r.flush(Some(order::EXPORT))?;
                let mut section = ExportSection::new();
                // The module's own exports under the engine's prefix are dropped: the IC accepts them and never
                // calls them (it calls only `canister_*` exports), so dropping them changes nothing the canister
                // can observe, and the engine's exports cannot collide with them.
                for export in reader {
                    let export = export.map_err(decoding_error)?;
                    if !export.name.starts_with(RESERVED_EXPORT_PREFIX) {
                        RoundtripReencoder.parse_export(&mut section, export).map_err(reencode_error)?;
                    }
                }
                r.add_exports(&mut section)?;
                r.pending_exports = false;
                r.out.section(&section);
            }
            Payload::StartSection { func, .. } => {
                r.flush(Some(8))?;
                // Dropped: the engine calls the exported start function itself.
                if r.start != Some(func) {
                    return Err(rewrite_error("the start function differs from the validated one"));
                }
                r.start_seen = true;
            }
            // Function bodies are copied with their code section (`CodeSectionStart` covers the whole section).
            Payload::CodeSectionEntry(_) => {}
            Payload::End(_) => r.flush(None)?,
            Payload::CustomSection(_) => r.raw(&payload, wasm)?,
            _ => {
                if let Some((id, _)) = payload.as_section() {
                    r.flush(Some(id))?;
                }
                r.raw(&payload, wasm)?;
            }
        }
    }
    if r.start.is_some() && !r.start_seen {
        return Err(rewrite_error("the validated start function has no start section"));
    }
    Ok(r.out.finish())
}

impl Rewriter {
    /// Writes the additions whose place in the section order comes before the section with id `next` (`None`:
    /// the end of the module), for modules that lack the section they would otherwise be merged into.
    fn flush(&mut self, next: Option<u8>) -> Result<(), InvalidModule> {
        let before = |id: u8| next.is_none_or(|next| order::rank(next) > order::rank(id));
        if before(order::TABLE) && !self.pending_tables.is_empty() {
            let mut section = TableSection::new();
            for ty in std::mem::take(&mut self.pending_tables) {
                section.table(RoundtripReencoder.table_type(ty).map_err(reencode_error)?);
            }
            self.out.section(&section);
        }
        if before(order::MEMORY) {
            if let Some(ty) = self.pending_memory.take() {
                let mut section = MemorySection::new();
                section.memory(RoundtripReencoder.memory_type(ty).map_err(reencode_error)?);
                self.out.section(&section);
            }
        }
        if before(order::EXPORT) && self.pending_exports {
            self.pending_exports = false;
            let mut section = ExportSection::new();
            self.add_exports(&mut section)?;
            if !section.is_empty() {
                self.out.section(&section);
            }
        }
        Ok(())
    }

    /// Appends the engine's exports. Runs at the export section's place, after every table, memory and global
    /// has been seen.
    fn add_exports(&self, section: &mut ExportSection) -> Result<(), InvalidModule> {
        // Also bounds the loop below on inputs that never passed validation.
        if self.globals != self.expected_globals {
            return Err(rewrite_error("the number of globals differs from the validated one"));
        }
        for index in 0..self.globals {
            section.export(&global_export_name(index), ExportKind::Global, index);
        }
        if self.has_memory {
            section.export(MEMORY_EXPORT, ExportKind::Memory, 0);
        }
        if self.has_table {
            section.export(TABLE_EXPORT, ExportKind::Table, 0);
        }
        if let Some(start) = self.start {
            section.export(START_EXPORT, ExportKind::Func, start);
        }
        Ok(())
    }

    /// Copies the section of `payload` unchanged.
    fn raw(&mut self, payload: &Payload<'_>, wasm: &[u8]) -> Result<(), InvalidModule> {
        let (id, range) = payload.as_section().ok_or_else(|| rewrite_error("payload is not a section"))?;
        let data = wasm.get(range).ok_or_else(|| rewrite_error("section range out of bounds"))?;
        self.out.section(&RawSection { id, data });
        Ok(())
    }
}

/// An inconsistency between the module and its `ModuleInfo` (an engine bug).
fn rewrite_error(what: &str) -> InvalidModule {
    InvalidModule::Rewrite(what.to_string())
}

/// A failure while re-encoding a section: a decoding error if the input is malformed, an engine bug otherwise.
fn reencode_error(e: wasm_encoder::reencode::Error) -> InvalidModule {
    match e {
        wasm_encoder::reencode::Error::ParseError(e) => decoding_error(e),
        other => InvalidModule::Rewrite(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::validate;
    use std::collections::BTreeMap;
    use wasmparser::{ExternalKind, Validator, WasmFeatures};

    fn wat(src: &str) -> Vec<u8> {
        match wat::parse_str(src) {
            Ok(wasm) => wasm,
            Err(e) => panic!("bad test module: {e}\n{src}"),
        }
    }

    /// Validates `src` as a canister module, rewrites it and checks the result is valid Wasm.
    fn rewritten(src: &str) -> (Vec<u8>, Vec<u8>, ModuleInfo) {
        let wasm = wat(src);
        let info = validate(&wasm).unwrap();
        let out = rewrite(&wasm, &info).unwrap();
        // The engine's wasmtime admits at least the IC's features; the rewrite must not need more.
        Validator::new_with_features(WasmFeatures::WASM2 | WasmFeatures::MEMORY64 | WasmFeatures::EXTENDED_CONST)
            .validate_all(&out)
            .unwrap_or_else(|e| panic!("rewritten module is invalid: {e}"));
        (wasm, out, info)
    }

    /// What one module looks like, for comparisons.
    #[derive(Debug, Default)]
    struct Summary {
        /// Non-custom section ids in order.
        sections: Vec<u8>,
        imports: Vec<(String, String)>,
        exports: BTreeMap<String, (ExternalKind, u32)>,
        memories: Vec<wasmparser::MemoryType>,
        tables: Vec<wasmparser::TableType>,
        start: Option<u32>,
        /// Custom sections, in order: name and content.
        customs: Vec<(String, Vec<u8>)>,
        code: Vec<u8>,
        data: Vec<u8>,
        elements: Vec<u8>,
        globals: Vec<u8>,
    }

    fn summary(wasm: &[u8]) -> Summary {
        let mut s = Summary::default();
        for payload in Parser::new(0).parse_all(wasm) {
            let payload = payload.unwrap();
            match &payload {
                Payload::ImportSection(r) => {
                    for i in r.clone().into_imports() {
                        let i = i.unwrap();
                        s.imports.push((i.module.to_string(), i.name.to_string()));
                        match i.ty {
                            TypeRef::Memory(m) => s.memories.push(m),
                            TypeRef::Table(t) => s.tables.push(t),
                            _ => {}
                        }
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r.clone() {
                        let e = e.unwrap();
                        s.exports.insert(e.name.to_string(), (e.kind, e.index));
                    }
                }
                Payload::MemorySection(r) => s.memories.extend(r.clone().into_iter().map(|m| m.unwrap())),
                Payload::TableSection(r) => s.tables.extend(r.clone().into_iter().map(|t| t.unwrap().ty)),
                Payload::StartSection { func, .. } => s.start = Some(*func),
                Payload::CustomSection(c) => s.customs.push((c.name().to_string(), c.data().to_vec())),
                Payload::CodeSectionStart { range, .. } => s.code = wasm[range.clone()].to_vec(),
                Payload::DataSection(r) => s.data = wasm[r.range()].to_vec(),
                Payload::ElementSection(r) => s.elements = wasm[r.range()].to_vec(),
                Payload::GlobalSection(r) => s.globals = wasm[r.range()].to_vec(),
                _ => {}
            }
            if let Some((id, _)) = payload.as_section() {
                if id != 0 {
                    s.sections.push(id);
                }
            }
        }
        s
    }

    const CANISTER: &str = r#"
        (module $canister
          (import "ic0" "msg_reply" (func $reply))
          (import "ic0" "debug_print" (func $print (param i32 i32)))
          (memory $mem 1 8)
          (table $tbl 2 funcref)
          (elem (i32.const 0) $update $init)
          (global $__stack_pointer (mut i32) (i32.const 65536))
          (global $version i64 (i64.const 7))
          (global $flag (mut i32) (i32.const 0))
          (data (i32.const 16) "hello")
          (func $start (global.set $flag (i32.const 1)))
          (start $start)
          (func $init)
          (func $update (call $print (i32.const 16) (i32.const 5)) (call $reply))
          (export "memory" (memory $mem))
          (export "version" (global $version))
          (export "canister_init" (func $init))
          (export "canister_update go" (func $update)))
    "#;

    #[test]
    fn exports_internals_and_strips_start() {
        let (before, after, info) = rewritten(CANISTER);
        let (b, a) = (summary(&before), summary(&after));
        assert_eq!(b.start, Some(2));
        assert_eq!(a.start, None, "start section must be removed");
        let mut expected = b.exports.clone();
        expected.insert("__icfuzz_global_0".into(), (ExternalKind::Global, 0));
        expected.insert("__icfuzz_global_1".into(), (ExternalKind::Global, 1));
        expected.insert("__icfuzz_global_2".into(), (ExternalKind::Global, 2));
        expected.insert(MEMORY_EXPORT.into(), (ExternalKind::Memory, 0));
        expected.insert(TABLE_EXPORT.into(), (ExternalKind::Table, 0));
        expected.insert(START_EXPORT.into(), (ExternalKind::Func, 2));
        assert_eq!(a.exports, expected);
        assert_eq!(info.global_count, 3);
        assert_eq!(global_export_name(2), "__icfuzz_global_2");
        // Everything else is unchanged, byte for byte.
        assert_eq!(a.imports, b.imports);
        assert_eq!(a.memories, b.memories);
        assert_eq!(a.tables, b.tables);
        assert_eq!(a.code, b.code);
        assert_eq!(a.data, b.data);
        assert_eq!(a.elements, b.elements);
        assert_eq!(a.globals, b.globals);
        assert_eq!(a.customs, b.customs);
        assert!(a.customs.iter().any(|(name, _)| name == "name"), "name section kept");
        // Only the start section disappears.
        assert_eq!(a.sections, b.sections.iter().copied().filter(|&id| id != 8).collect::<Vec<_>>());
    }

    #[test]
    fn wasmtime_runs_the_rewrite() {
        // The point of the rewrite: instantiation runs no canister code, and every internal is reachable.
        let (_, after, _) = rewritten(CANISTER);
        let mut config = wasmtime::Config::new();
        config.wasm_memory64(true);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, &after).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let mut linker = wasmtime::Linker::new(&engine);
        linker.define_unknown_imports_as_traps(&module).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let global = |store: &mut wasmtime::Store<()>, i: u32| {
            instance.get_global(&mut *store, &global_export_name(i)).unwrap().get(&mut *store).i32()
        };
        assert_eq!(global(&mut store, 0), Some(65536), "__stack_pointer reachable");
        assert_eq!(global(&mut store, 2), Some(0), "start did not run at instantiation");
        let start = instance.get_typed_func::<(), ()>(&mut store, START_EXPORT).unwrap();
        start.call(&mut store, ()).unwrap();
        assert_eq!(global(&mut store, 2), Some(1), "start runs when called");
        // Globals can be restored, memory and table read, through the added exports.
        instance.get_global(&mut store, &global_export_name(0)).unwrap().set(&mut store, 7.into()).unwrap();
        assert_eq!(global(&mut store, 0), Some(7));
        let memory = instance.get_memory(&mut store, MEMORY_EXPORT).unwrap();
        assert_eq!(&memory.data(&store)[16..21], b"hello");
        let table = instance.get_table(&mut store, TABLE_EXPORT).unwrap();
        assert_eq!(table.size(&store), 2);
    }

    #[test]
    fn imported_memory_becomes_defined() {
        let (before, after, info) = rewritten(
            r#"(module
                 (import "ic0" "msg_reply" (func))
                 (import "env" "memory" (memory 2 10))
                 (data (i32.const 0) "x")
                 (func (export "canister_update f") (call 0)))"#,
        );
        assert!(info.memory_imported);
        let (b, a) = (summary(&before), summary(&after));
        assert_eq!(a.imports, vec![("ic0".to_string(), "msg_reply".to_string())]);
        assert_eq!(a.memories, b.memories);
        assert_eq!((a.memories[0].initial, a.memories[0].maximum), (2, Some(10)));
        assert_eq!(a.exports[MEMORY_EXPORT], (ExternalKind::Memory, 0));
        assert_eq!(a.data, b.data);
        assert_eq!(a.code, b.code);
        // The memory section sits in its place (after function, before export).
        assert_eq!(a.sections, vec![1, 2, 3, 5, 7, 10, 11]);
    }

    #[test]
    fn imported_memory64_alone() {
        let (_, after, _) = rewritten(r#"(module (import "env" "memory" (memory i64 1)))"#);
        let a = summary(&after);
        assert!(a.imports.is_empty());
        assert!(a.memories[0].memory64);
        assert_eq!(a.exports.len(), 1);
        assert_eq!(a.exports[MEMORY_EXPORT], (ExternalKind::Memory, 0));
        assert_eq!(a.sections, vec![2, 5, 7]);
    }

    #[test]
    fn imported_table_stays_table_zero() {
        let (before, after, info) = rewritten(
            r#"(module
                 (import "env" "table" (table 2 5 funcref))
                 (table 3 funcref)
                 (elem (table 0) (i32.const 0) func $f)
                 (elem (table 1) (i32.const 0) func $f $f)
                 (func $f)
                 (func (call_indirect 0 (i32.const 0)) (call_indirect 1 (i32.const 1))))"#,
        );
        assert_eq!(info.table.map(|t| t.imported), Some(true));
        let (b, a) = (summary(&before), summary(&after));
        assert!(a.imports.is_empty());
        assert_eq!(a.tables, b.tables, "same tables at the same indices");
        assert_eq!((a.tables[0].initial, a.tables[0].maximum), (2, Some(5)));
        assert_eq!(a.exports[TABLE_EXPORT], (ExternalKind::Table, 0));
        assert_eq!(a.elements, b.elements);
        assert_eq!(a.code, b.code);
    }

    #[test]
    fn twice_imported_table() {
        let (before, after, _) = rewritten(
            r#"(module (import "env" "table" (table 1 funcref)) (import "env" "table" (table 2 funcref))
                       (table 3 funcref))"#,
        );
        let (b, a) = (summary(&before), summary(&after));
        assert!(a.imports.is_empty());
        assert_eq!(a.tables, b.tables);
        assert_eq!(a.tables.iter().map(|t| t.initial).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn imported_table_without_table_section() {
        let (_, after, _) = rewritten(
            r#"(module (import "env" "table" (table 1 funcref)) (global (mut i32) (i32.const 0)) (func))"#,
        );
        let a = summary(&after);
        assert_eq!(a.tables.len(), 1);
        assert_eq!(a.sections, vec![1, 2, 3, 4, 6, 7, 10]);
        assert_eq!(a.exports["__icfuzz_global_0"], (ExternalKind::Global, 0));
        assert_eq!(a.exports[TABLE_EXPORT], (ExternalKind::Table, 0));
    }

    #[test]
    fn start_without_export_section() {
        let (_, after, _) = rewritten("(module (func $s) (start $s))");
        let a = summary(&after);
        assert_eq!(a.start, None);
        assert_eq!(a.exports.len(), 1);
        assert_eq!(a.exports[START_EXPORT], (ExternalKind::Func, 0));
        // The export section takes the start section's place.
        assert_eq!(a.sections, vec![1, 3, 7, 10]);
    }

    #[test]
    fn nothing_to_add() {
        let (before, after, _) = rewritten(r#"(module (func (export "canister_update f")))"#);
        assert_eq!(before, after, "a module without globals, memory, table or start is unchanged");
        let (before, after, _) = rewritten("(module)");
        assert_eq!(before, after);
    }

    #[test]
    fn custom_sections_keep_their_place() {
        let mut wasm = wat(r#"(module (memory 1) (global (mut i32) (i32.const 0)) (func $s) (start $s))"#);
        // The name section wat emits and an appended `icp:` section are copied where they are.
        use wasm_encoder::Encode;
        wasm.push(0);
        wasm_encoder::CustomSection { name: "icp:public candid:service".into(), data: b"service : {}".into() }
            .encode(&mut wasm);
        let info = validate(&wasm).unwrap();
        let out = rewrite(&wasm, &info).unwrap();
        let (b, a) = (summary(&wasm), summary(&out));
        assert_eq!(a.customs, b.customs);
        assert_eq!(a.customs.last().map(|(n, _)| n.as_str()), Some("icp:public candid:service"));
        assert!(out.ends_with(b"service : {}"));
    }

    #[test]
    fn inconsistent_info_is_an_error_not_a_panic() {
        let wasm = wat("(module (func $s) (start $s))");
        let mut info = validate(&wasm).unwrap();
        info.start_function = None;
        assert!(matches!(rewrite(&wasm, &info), Err(InvalidModule::Rewrite(_))));
        let wasm = wat("(module (func $s))");
        info.start_function = Some(0);
        assert!(matches!(rewrite(&wasm, &info), Err(InvalidModule::Rewrite(_))));
        let wasm = wat("(module (global i32 (i32.const 0)))");
        info.start_function = None;
        assert!(matches!(rewrite(&wasm, &info), Err(InvalidModule::Rewrite(_))));
        assert!(rewrite(b"\0asm\x01\0\0\0\x01", &info).is_err());
        assert!(rewrite(b"garbage", &info).is_err());
    }
}
