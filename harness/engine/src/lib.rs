//! An embedded, deterministic Internet Computer subnet on wasmtime.
//!
//! The engine runs real canister Wasm (Rust/ic-cdk, Motoko, any `.wasm`) with the IC's System API and message
//! semantics, and lets its user choose which message runs next among those the IC could deliver. It knows nothing
//! of fuzzing, Candid values or scenarios: those are layered on top.
//!
//! ```no_run
//! use icfuzz_engine::{Config, Principal, Subnet};
//! # let wasm: Vec<u8> = vec![];
//! let mut subnet = Subnet::new(Config::default()).unwrap();
//! let canister = subnet.create_canister();
//! subnet.install_canister(canister, &wasm, vec![], None).unwrap();
//! let msg = subnet.submit_call(canister, Principal::anonymous(), "inc", vec![]).unwrap();
//! for pending in subnet.pending() {
//!     println!("could deliver {pending:?}");
//! }
//! let result = subnet.await_call(msg).unwrap();
//! ```
//!
//! See `shared/ic-semantics.md` in the repository for the rules the engine follows and `docs/engine.md` for
//! what it does not implement yet.

#![deny(missing_docs)]

mod canister;
mod certification;
mod config;
pub mod coverage;
mod execution;
pub mod explore;
mod fees;
mod instruction_costs;
mod ic0;
mod limits;
mod module;
pub mod native_stack;
mod runtime;
mod snapshot;
mod stable_memory;
mod subnet;
mod threshold;
mod tracked_memory;
mod types;
mod vetkd;

pub use config::{Config, InstructionLimits};
/// The kind of an execution (update, callback, query, ...): what an [`Event::Executed`] ran.
pub use ic0::ApiType as ExecutionKind;
pub use coverage::{set_compare_hook, CoverageCounters, FunctionCoverage, ModuleCoverage};
pub use fees::{Fees, DEFAULT_FREEZING_THRESHOLD_SECONDS};
pub use module::InvalidModule;
pub use snapshot::{RestoreStats, SubnetSnapshot};
pub use subnet::{
    Delivery, EngineError, Event, Fault, HttpAnswer, HttpOutcall, IngressStatus, InstallMode, MessageKind, PendingMessage,
    Subnet, UpgradeOptions, WasmMemoryPersistence,
};
pub use types::{
    canister_id_from_index, CallResult, CanisterId, CanisterStatus, Cycles, ErrorCode, LogRecord, MessageId, Payload,
    Principal, RejectCode, RejectResponse, Unimplemented,
};

/// What a canister module exports, as [`check_module`] reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleExports {
    /// Methods exported as `canister_update`, `canister_query` or `canister_composite_query`.
    pub methods: std::collections::BTreeSet<String>,
    /// It exports `canister_init`.
    pub init: bool,
    /// It uses enhanced orthogonal persistence (Motoko): an upgrade must keep the heap
    /// (`wasm_memory_persistence = keep`), as dfx and icp pass for such modules.
    pub enhanced_orthogonal_persistence: bool,
}

/// Checks a module the way `install_code` does (gzip, size, Wasm validity, the IC's import and export rules)
/// without installing it, so a tool can reject bad input with the engine's own reasons before building anything.
pub fn check_module(bytes: &[u8]) -> Result<ModuleExports, InvalidModule> {
    let info = module::validate(&module::decode_module(bytes)?)?;
    let mut methods = info.update_methods;
    methods.extend(info.query_methods);
    methods.extend(info.composite_query_methods);
    Ok(ModuleExports { methods, init: info.has_init, enhanced_orthogonal_persistence: info.enhanced_orthogonal_persistence })
}

/// Whether this process can list the heap pages an execution wrote (Linux ≥ 6.7 with userfaultfd). Without it,
/// rollback and snapshot restore copy whole heaps: correct, but slower for large heaps.
pub fn dirty_page_tracking() -> bool {
    tracked_memory::available()
}

/// A Wasm module that imports every ic0 function with its signature for the given pointer width (and defines
/// nothing else). Module generators use it as the menu of imports a generated canister may call.
pub fn ic0_imports_module(memory64: bool) -> Vec<u8> {
    use wasm_encoder::{EntityType, ImportSection, Module, TypeSection, ValType};
    let convert = |t: &wasmparser::ValType| match t {
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        _ => ValType::I32,
    };
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    let mut names: Vec<&str> = module::ic0_names().collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        if let Some((params, results)) = module::ic0_signature(name, memory64) {
            let index = types.len();
            types.ty().function(params.iter().map(convert), results.iter().map(convert));
            imports.import("ic0", name, EntityType::Function(index));
        }
    }
    let mut out = Module::new();
    out.section(&types).section(&imports);
    out.finish()
}

/// Validates a canister module as the IC does at install time, without installing it.
pub fn validate_module(bytes: &[u8]) -> Result<(), InvalidModule> {
    let wasm = module::decode_module(bytes)?;
    module::validate(&wasm).map(|_| ())
}

#[allow(dead_code)]
fn _assert_send<T: Send>() {}
#[allow(dead_code)]
fn _assertions() {
    // The fuzzer moves a subnet between threads (one per worker); keep it Send.
    _assert_send::<Subnet>();
}
