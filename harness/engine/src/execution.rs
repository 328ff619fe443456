//! Running one entry point of one canister atomically: fuel, the call, and rollback on trap.
//!
//! Everything an execution may change lives either in its [`ExecState`] (replies, calls, cycles, certified data,
//! timer), in the heap and globals (snapshotted here), or in stable memory (journaled). On a trap all three are
//! discarded, which is the IC's rule that a trapped execution leaves no trace but its log lines.

use wasmtime::{Ref, Trap, Val, ValType};

use crate::ic0::{ExecState, HostError};
use crate::runtime::{Code, Runtime};
use crate::types::{ErrorCode, Principal};

/// With coverage instrumentation, fuel given is this multiple of the limit (instrumentation costs at most a
/// few times the instructions of the blocks it counts; see module/coverage.rs).
const COVERAGE_FUEL_MARGIN: u64 = 8;

/// The export ic-cdk's `export_candid!()` adds (not a canister method: the IC never calls it).
pub(crate) const CANDID_POINTER_EXPORT: &str = "get_candid_pointer";

/// Longest Candid text read from `get_candid_pointer` (a bound against a module that returns garbage).
const MAX_CANDID_TEXT: usize = 4 << 20;

/// What to run.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    /// An exported function, e.g. `canister_update transfer`.
    Export(String),
    /// A reply, reject or cleanup callback: a table index and the environment value passed to it.
    Callback {
        /// Index into the module's function table.
        fun: u64,
        /// The single argument.
        env: u64,
    },
    /// The module's start function (stripped by the rewrite and exported under a reserved name).
    Start,
    /// `get_candid_pointer`, which ic-cdk's `export_candid!` adds for tools to read the interface: it returns a
    /// pointer to a NUL-terminated Candid text, which is read out as the execution's reply (before rollback).
    CandidPointer,
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Export(name) => f.write_str(name),
            Entry::Callback { fun, env } => write!(f, "callback(table[{fun}], env={env})"),
            Entry::Start => f.write_str("(start)"),
            Entry::CandidPointer => f.write_str(CANDID_POINTER_EXPORT),
        }
    }
}

/// Why an execution trapped, as the IC reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trapped {
    /// The IC error code (IC0502 Wasm trap, IC0503 explicit trap, IC0504 contract violation, ...).
    pub code: ErrorCode,
    /// The message, in the IC's form ("Error from Canister <id>: ...").
    pub message: String,
}

/// The result of running one entry point.
pub(crate) struct Executed {
    /// The execution's state after the run: the response, calls, cycles and so on (meaningless after a trap
    /// except `logs`).
    pub exec: ExecState,
    /// `Err` when it trapped.
    pub result: Result<(), Trapped>,
    /// Instructions used, weighed as the IC does (`instruction_costs.rs`).
    pub instructions: u64,
}

/// Whether a successful execution's heap and stable-memory changes are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persist {
    /// Keep them (updates, callbacks, init, timers, cleanup).
    Keep,
    /// Discard them even on success (queries, inspect_message).
    Discard,
}

/// Runs `entry` with `exec` on `code`. Never panics on anything the canister does.
pub(crate) fn run(runtime: &Runtime, code: &mut Code, entry: &Entry, exec: ExecState, persist: Persist) -> Executed {
    let canister = exec.canister_id;
    let limit = exec.instruction_limit;
    // Instrumented code burns extra fuel that is not the canister's; give room for it and enforce the limit on
    // the canister's own count below.
    let fuel = if code.instrumented() { limit.saturating_mul(COVERAGE_FUEL_MARGIN) } else { limit };
    let mut exec = exec;
    exec.fuel_given = fuel;
    let checkpoint = runtime.checkpoint(code);
    code.store.data_mut().stable.begin();
    let memory64 = code.module.info.memory64;
    code.store.data_mut().owed_instructions = 0;
    let mut outcome = match code.store.set_fuel(fuel) {
        Ok(()) => {
            code.store.data_mut().exec = Some(exec);
            crate::native_stack::with_room(runtime.wasm_stack, || call(code, entry, memory64))
        }
        Err(e) => {
            code.store.data_mut().exec = Some(exec);
            Err(e)
        }
    };
    let raw = fuel.saturating_sub(code.store.get_fuel().unwrap_or(0));
    // The entry function's own entry charge (calls carry their callee's; see instruction_costs.rs) and what
    // operations owed beyond their fuel.
    let owed = std::mem::take(&mut code.store.data_mut().owed_instructions);
    let instructions = raw.saturating_sub(code.coverage_overhead()) + crate::instruction_costs::FUNCTION_ENTRY + owed;
    code.harvest_coverage();
    if instructions > limit || (code.instrumented() && outcome.as_ref().is_err_and(|e| matches!(e.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)))) {
        outcome = Err(wasmtime::Error::new(Trap::OutOfFuel));
    }
    let instructions = instructions.min(limit);
    let exec = code.store.data_mut().exec.take().unwrap_or_else(|| unreachable_exec(canister));
    let result = outcome.map_err(|error| classify(&error, canister, limit));
    let keep = result.is_ok() && persist == Persist::Keep;
    if keep {
        code.store.data_mut().stable.commit();
        runtime.commit(code, checkpoint);
    } else {
        code.store.data_mut().stable.rollback();
        if let Err(error) = runtime.rollback(code, checkpoint) {
            // Restoring re-instantiates a module that instantiated before; failing here is an engine bug.
            debug_assert!(false, "restoring canister {canister} failed: {error:#}");
        }
    }
    Executed { exec, result, instructions }
}

/// The exec state is always put back by `run`; this keeps the code total without a panic path.
fn unreachable_exec(canister: Principal) -> ExecState {
    debug_assert!(false, "execution state of {canister} went missing");
    ExecState::new(crate::ic0::ApiType::Update, canister)
}

fn call(code: &mut Code, entry: &Entry, memory64: bool) -> wasmtime::Result<()> {
    match entry {
        Entry::Export(name) => {
            let func = code
                .instance
                .get_func(&mut code.store, name)
                .ok_or_else(|| wasmtime::Error::msg(format!("the module does not export {name:?}")))?;
            func.typed::<(), ()>(&code.store)?.call(&mut code.store, ())
        }
        Entry::Start => match code.instance.get_func(&mut code.store, crate::module::START_EXPORT) {
            Some(func) => func.typed::<(), ()>(&code.store)?.call(&mut code.store, ()),
            None => Ok(()),
        },
        Entry::CandidPointer => {
            let func = code
                .instance
                .get_func(&mut code.store, CANDID_POINTER_EXPORT)
                .ok_or_else(|| wasmtime::Error::msg(format!("the module does not export {CANDID_POINTER_EXPORT:?}")))?;
            let pointer = if memory64 {
                func.typed::<(), u64>(&code.store)?.call(&mut code.store, ())?
            } else {
                u64::from(func.typed::<(), u32>(&code.store)?.call(&mut code.store, ())?)
            };
            let memory = code.memory.ok_or_else(|| wasmtime::Error::msg("the module has no memory"))?;
            let data = memory.data(&code.store);
            let start = usize::try_from(pointer)
                .ok()
                .filter(|&p| p < data.len())
                .ok_or_else(|| wasmtime::Error::new(Trap::MemoryOutOfBounds))?;
            let text = &data[start..data.len().min(start + MAX_CANDID_TEXT)];
            let end = text
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| wasmtime::Error::msg("the Candid text is not NUL-terminated"))?;
            let bytes = text[..end].to_vec();
            if let Some(exec) = code.store.data_mut().exec.as_mut() {
                exec.response = Some(crate::types::Payload::Reply(bytes));
            }
            Ok(())
        }
        Entry::Callback { fun, env } => {
            // Looked up when invoked, as the replica does (rs/embedders wasmtime_embedder.rs): an index outside the
            // table is "function not found" (IC0513) with no canister code run. Motoko passes -1 for the callbacks
            // of a one-way call (`f()` of a `shared () -> ()` without `await`), so its responses end here.
            let element = code.table.and_then(|table| table.get(&mut code.store, *fun));
            let func = match element {
                None => return Err(wasmtime::Error::new(Uncallable::NotFound { fun: *fun })),
                Some(Ref::Func(Some(func))) => func,
                Some(_) => return Err(wasmtime::Error::new(Uncallable::Null)),
            };
            let ty = func.ty(&code.store);
            let (param, arg) = if memory64 {
                (ValType::I64, Val::I64(*env as i64))
            } else {
                (ValType::I32, Val::I32(*env as u32 as i32))
            };
            let params: Vec<ValType> = ty.params().collect();
            if params.len() != 1 || !ValType::eq(&params[0], &param) || ty.results().len() != 0 {
                return Err(wasmtime::Error::new(Uncallable::Signature));
            }
            func.call(&mut code.store, &[arg], &mut [])
        }
    }
}

/// Why a callback's table entry could not be invoked (before any canister code ran).
#[derive(Debug, thiserror::Error)]
enum Uncallable {
    /// The index is outside the table.
    #[error("Canister requested to invoke a non-existent Wasm function {fun} from table 0")]
    NotFound { fun: u64 },
    /// The entry is a null reference.
    #[error("Canister violated contract: unexpected null function reference")]
    Null,
    /// The function does not take the one environment argument.
    #[error("Canister violated contract: function invocation does not match its signature")]
    Signature,
}

/// Maps a wasmtime error to the IC's error code and message.
pub(crate) fn classify(error: &wasmtime::Error, canister: Principal, limit: u64) -> Trapped {
    let (code, detail) = if let Some(uncallable) = error.downcast_ref::<Uncallable>() {
        let code = match uncallable {
            Uncallable::NotFound { .. } => ErrorCode::CanisterFunctionNotFound,
            Uncallable::Null | Uncallable::Signature => ErrorCode::CanisterContractViolation,
        };
        (code, uncallable.to_string())
    } else if let Some(host) = error.downcast_ref::<HostError>() {
        match host {
            HostError::ContractViolation(m) => (ErrorCode::CanisterContractViolation, format!("Canister violated contract: {m}")),
            HostError::ExplicitTrap(m) => {
                (ErrorCode::CanisterCalledTrap, format!("Canister called `ic0.trap` with message: '{m}'"))
            }
            HostError::WasmMemoryLimit { .. } => (ErrorCode::CanisterWasmMemoryLimitExceeded, host.to_string()),
            HostError::StableMemoryAccessLimit { .. } => {
                (ErrorCode::CanisterMemoryAccessLimitExceeded, format!("Canister exceeded memory access limits: {host}"))
            }
        }
    } else if let Some(trap) = error.downcast_ref::<Trap>() {
        match trap {
            Trap::OutOfFuel => (
                ErrorCode::CanisterInstructionLimitExceeded,
                format!("Canister exceeded the limit of {limit} instructions for single message execution."),
            ),
            Trap::StackOverflow => (ErrorCode::CanisterTrapped, "Canister trapped: stack overflow".to_owned()),
            Trap::MemoryOutOfBounds => {
                (ErrorCode::CanisterTrapped, "Canister trapped: heap out of bounds".to_owned())
            }
            Trap::UnreachableCodeReached => (ErrorCode::CanisterTrapped, "Canister trapped: unreachable".to_owned()),
            // The replica's words for these (TrapCode in rs/interfaces execution_environment/errors.rs).
            Trap::TableOutOfBounds => (ErrorCode::CanisterTrapped, "Canister trapped: table out of bounds".to_owned()),
            Trap::IntegerDivisionByZero => {
                (ErrorCode::CanisterTrapped, "Canister trapped: integer division by 0".to_owned())
            }
            other => (ErrorCode::CanisterTrapped, format!("Canister trapped: {other}")),
        }
    } else {
        (ErrorCode::CanisterTrapped, format!("Canister trapped: {error:#}"))
    };
    Trapped { code, message: format!("Error from Canister {canister}: {detail}") }
}
