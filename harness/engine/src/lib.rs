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
mod config;
pub mod coverage;
mod execution;
pub mod explore;
mod fees;
mod ic0;
mod limits;
mod management;
mod module;
mod runtime;
mod snapshot;
mod stable_memory;
mod subnet;
mod tracked_memory;
mod types;

pub use config::{Config, InstructionLimits};
pub use coverage::{set_compare_hook, CoverageCounters, FunctionCoverage, ModuleCoverage};
pub use fees::{Fees, DEFAULT_FREEZING_THRESHOLD_SECONDS};
pub use management::{InstallMode, UpgradeOptions, WasmMemoryPersistence};
pub use module::InvalidModule;
pub use snapshot::{RestoreStats, SubnetSnapshot};
pub use subnet::{Delivery, EngineError, Event, Fault, IngressStatus, MessageKind, PendingMessage, Subnet};
pub use types::{
    canister_id_from_index, CallResult, CanisterId, CanisterStatus, Cycles, ErrorCode, LogRecord, MessageId, Payload,
    Principal, RejectCode, RejectResponse,
};

/// Whether this process can list the heap pages an execution wrote (Linux ≥ 6.7 with userfaultfd). Without it,
/// rollback and snapshot restore copy whole heaps: correct, but slower for large heaps.
pub fn dirty_page_tracking() -> bool {
    tracked_memory::available()
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
