//! The ic0 System API: host functions, the contexts they may run in, and per-execution host state.
//!
//! One file per group of functions (`msg`, `call`, `cycles`, `stable`, `misc`), each with an `add` function that
//! registers its functions on a wasmtime `Linker`. Every function is generic over the pointer type [`Ptr`] so that
//! one definition serves wasm32 (`u32` pointers) and wasm64 (`u64` pointers) modules.
//!
//! A call made in a context the IC does not allow traps with a [`HostError::ContractViolation`] whose text follows
//! the IC (`"ic0_<name>" cannot be executed in <mode> mode`).

mod call;
mod cycles;
mod misc;
mod msg;
mod stable;

use std::collections::BTreeMap;

use wasmtime::{Caller, Linker, Memory, WasmTy};

use crate::instruction_costs::{system_api, FUNCTION_ENTRY};
use crate::limits::{MAX_REPLY_NON_REPLICATED, MAX_REPLY_REPLICATED};
use crate::stable_memory::StableMemory;
use crate::types::{Cycles, Payload, Principal};

pub(crate) use call::OutgoingCall;

/// The kind of execution, which decides the ic0 functions available (ic-semantics §1 "Context letters").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiType {
    /// The module's start function (`s`).
    Start,
    /// `canister_init` or `canister_post_upgrade` (`I`).
    Init,
    /// `canister_pre_upgrade` (`G`).
    PreUpgrade,
    /// An update method (`U`).
    Update,
    /// A query method run through an update or inter-canister call; state is discarded (`RQ`).
    ReplicatedQuery,
    /// A query method run through a query call (`NRQ`).
    NonReplicatedQuery,
    /// A composite query method run through a query call (`CQ`).
    CompositeQuery,
    /// A reply callback (`Ry`).
    ReplyCallback,
    /// A reject callback (`Rt`).
    RejectCallback,
    /// A cleanup callback after a trapping reply/reject callback (`C`).
    Cleanup,
    /// `canister_inspect_message` (`F`).
    InspectMessage,
    /// Heartbeat, global timer, on_low_wasm_memory (`T`).
    SystemTask,
    /// A reply callback of a call a composite query made (`CRy`): non-replicated, nothing persists.
    CompositeReplyCallback,
    /// A reject callback of a call a composite query made (`CRt`).
    CompositeRejectCallback,
    /// A cleanup callback in a composite query call graph (`CC`).
    CompositeCleanup,
}

impl std::fmt::Display for ApiType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl ApiType {
    const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// Whether this is a reply or reject callback of a replicated call: code after an `await` whose effects persist
    /// (composite-query callbacks are not: nothing of a query call graph persists).
    pub fn is_callback(self) -> bool {
        matches!(self, ApiType::ReplyCallback | ApiType::RejectCallback)
    }

    /// Whether this is a query execution (replicated, non-replicated or composite, or a callback in a composite
    /// query's call graph): nothing it does persists.
    pub fn is_query(self) -> bool {
        matches!(
            self,
            ApiType::ReplicatedQuery
                | ApiType::NonReplicatedQuery
                | ApiType::CompositeQuery
                | ApiType::CompositeReplyCallback
                | ApiType::CompositeRejectCallback
                | ApiType::CompositeCleanup
        )
    }

    /// The mode name the IC uses in its contract-violation messages.
    pub fn name(self) -> &'static str {
        self.mode_name()
    }

    /// The mode name the IC uses in its contract-violation messages.
    pub(crate) fn mode_name(self) -> &'static str {
        match self {
            ApiType::Start => "start",
            ApiType::Init => "init",
            ApiType::PreUpgrade => "pre_upgrade",
            ApiType::Update => "update",
            ApiType::ReplicatedQuery => "replicated query",
            ApiType::NonReplicatedQuery => "non-replicated query",
            ApiType::CompositeQuery => "composite query",
            ApiType::ReplyCallback => "reply callback",
            ApiType::RejectCallback => "reject callback",
            ApiType::Cleanup => "cleanup",
            ApiType::InspectMessage => "inspect message",
            ApiType::SystemTask => "system task",
            ApiType::CompositeReplyCallback => "composite reply callback",
            ApiType::CompositeRejectCallback => "composite reject callback",
            ApiType::CompositeCleanup => "composite cleanup",
        }
    }

    /// Whether the execution is replicated (`ic0.in_replicated_execution`).
    pub(crate) fn is_replicated(self) -> bool {
        !matches!(
            self,
            ApiType::NonReplicatedQuery
                | ApiType::CompositeQuery
                | ApiType::InspectMessage
                | ApiType::CompositeReplyCallback
                | ApiType::CompositeRejectCallback
                | ApiType::CompositeCleanup
        )
    }

    /// The largest reply payload: 2 MiB in replicated executions, 3 MiB in non-replicated ones (ic-semantics §5).
    pub(crate) fn max_reply_bytes(self) -> usize {
        if self.is_replicated() {
            MAX_REPLY_REPLICATED
        } else {
            MAX_REPLY_NON_REPLICATED
        }
    }
}

/// Bit masks of the contexts each group of functions is allowed in (ic-semantics §1 table).
pub(crate) mod allowed {
    use super::ApiType::*;

    const fn set(types: &[super::ApiType]) -> u32 {
        let mut mask = 0;
        let mut i = 0;
        while i < types.len() {
            mask |= types[i].bit();
            i += 1;
        }
        mask
    }

    /// Every context including the start function.
    pub const ALL: u32 = set(&[
        Start, Init, PreUpgrade, Update, ReplicatedQuery, NonReplicatedQuery, CompositeQuery, ReplyCallback,
        RejectCallback, Cleanup, InspectMessage, SystemTask, CompositeReplyCallback, CompositeRejectCallback,
        CompositeCleanup,
    ]);
    /// `*`: every context except the start function.
    pub const STAR: u32 = ALL & !Start.bit();
    /// `msg_arg_data_*`.
    pub const ARG: u32 = set(&[
        Init, Update, ReplicatedQuery, NonReplicatedQuery, CompositeQuery, ReplyCallback, InspectMessage,
        CompositeReplyCallback,
    ]);
    /// `msg_caller_info_*`.
    pub const CALLER_INFO: u32 = set(&[
        Update, ReplicatedQuery, NonReplicatedQuery, CompositeQuery, ReplyCallback, RejectCallback, Cleanup,
        InspectMessage, CompositeReplyCallback, CompositeRejectCallback, CompositeCleanup,
    ]);
    /// `msg_reject_code` (the newer spec adds cleanup).
    pub const REJECT_CODE: u32 =
        set(&[ReplyCallback, RejectCallback, Cleanup, CompositeReplyCallback, CompositeRejectCallback, CompositeCleanup]);
    /// `msg_reject_msg_*`.
    pub const REJECT_MSG: u32 = set(&[RejectCallback, CompositeRejectCallback]);
    /// `msg_deadline`.
    pub const DEADLINE: u32 = set(&[
        Update, ReplicatedQuery, NonReplicatedQuery, CompositeQuery, ReplyCallback, RejectCallback,
        CompositeReplyCallback, CompositeRejectCallback,
    ]);
    /// `msg_reply*`, `msg_reject`.
    pub const RESPOND: u32 = set(&[
        Update, ReplicatedQuery, NonReplicatedQuery, CompositeQuery, ReplyCallback, RejectCallback,
        CompositeReplyCallback, CompositeRejectCallback,
    ]);
    /// `accept_message`, `msg_method_name_*`.
    pub const INSPECT: u32 = set(&[InspectMessage]);
    /// `msg_cycles_available*`, `msg_cycles_accept*`.
    pub const MSG_CYCLES: u32 = set(&[Update, ReplicatedQuery, ReplyCallback, RejectCallback]);
    /// `msg_cycles_refunded*`.
    pub const REFUNDED: u32 = set(&[ReplyCallback, RejectCallback]);
    /// `cycles_burn128`.
    pub const BURN: u32 =
        set(&[Init, PreUpgrade, Update, ReplicatedQuery, ReplyCallback, RejectCallback, Cleanup, SystemTask]);
    /// `root_key_*` (replicated executions only).
    pub const ROOT_KEY: u32 = BURN;
    /// `call_new`, `call_on_cleanup`, `call_data_append`, `call_with_best_effort_response`, `call_perform`.
    pub const CALL: u32 = set(&[
        Update, CompositeQuery, ReplyCallback, RejectCallback, SystemTask, CompositeReplyCallback,
        CompositeRejectCallback,
    ]);
    /// `call_cycles_add*` (not in composite queries).
    pub const CALL_CYCLES: u32 = set(&[Update, ReplyCallback, RejectCallback, SystemTask]);
    /// `certified_data_set`.
    pub const CERTIFIED_SET: u32 = set(&[Init, PreUpgrade, Update, ReplyCallback, RejectCallback, SystemTask]);
    /// `data_certificate_size/copy`.
    pub const CERTIFICATE: u32 = set(&[NonReplicatedQuery, CompositeQuery]);
    /// `global_timer_set` (replicated only).
    pub const TIMER_SET: u32 =
        set(&[Init, PreUpgrade, Update, ReplyCallback, RejectCallback, Cleanup, SystemTask]);
}

/// Debug-print and trap messages are truncated to this length.
const MAX_DEBUG_MESSAGE: usize = 32 << 10;
/// Longest method name a call may name.
const MAX_METHOD_NAME: usize = 20_000;
/// A principal is at most 29 bytes.
const MAX_PRINCIPAL_LEN: usize = 29;

/// Why a host function stopped the execution. Travels inside a `wasmtime::Error` and is downcast afterwards.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostError {
    /// The System API was used against its contract (wrong context, bad range, double reply, ...): IC0504.
    #[error("{0}")]
    ContractViolation(String),
    /// The canister called `ic0.trap`: IC0503.
    #[error("{0}")]
    ExplicitTrap(String),
    /// `memory.grow` went past the canister's `wasm_memory_limit` where the IC enforces it: IC0539.
    #[error("Canister exceeded its current Wasm memory limit of {limit} bytes. The peak Wasm memory usage was {requested} bytes.")]
    WasmMemoryLimit {
        /// The limit.
        limit: u64,
        /// What the growth would have reached.
        requested: u64,
    },
    /// Stable memory writes went past the per-execution dirty-page limit (IC0524, as the replica's
    /// `MemoryAccessLimitExceeded`).
    #[error("Exceeded the limit for the number of modified pages in the stable memory in a single execution: limit {limit} KB.")]
    StableMemoryAccessLimit {
        /// The limit in KiB.
        limit: u64,
    },
}

/// Records that this execution used `ic0.{name}`, which the engine answers with a stand-in for lack of `missing`.
fn unimplemented(c: &mut Caller<'_, HostState>, name: &'static str, missing: &'static str) {
    if let Some(exec) = c.data_mut().exec.as_mut() {
        let feature = crate::types::Unimplemented::SystemApi { name, missing };
        if !exec.unimplemented.contains(&feature) {
            exec.unimplemented.push(feature);
        }
    }
}

fn violation(message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(HostError::ContractViolation(message.into()))
}

/// A pointer or size in the module's address space: `u32` for wasm32, `u64` for wasm64.
pub(crate) trait Ptr: WasmTy + Copy + Send + Sync + 'static {
    /// Widens to u64.
    fn get(self) -> u64;
    /// Narrows a size that is known to fit (sizes of in-engine buffers, far below 4 GiB).
    fn from_usize(value: usize) -> Self;
}

impl Ptr for u32 {
    fn get(self) -> u64 {
        u64::from(self)
    }
    fn from_usize(value: usize) -> Self {
        u32::try_from(value).unwrap_or(u32::MAX)
    }
}

impl Ptr for u64 {
    fn get(self) -> u64 {
        self
    }
    fn from_usize(value: usize) -> Self {
        value as u64
    }
}

/// State of the one execution under way in a canister's store: what the ic0 functions read and write.
///
/// It is built before the entry point runs and taken back afterwards; on a trap everything in it except `logs`
/// is thrown away, which is how rollback of replies, calls, cycles, certified data and the timer works.
#[derive(Debug)]
pub(crate) struct ExecState {
    /// The kind of execution.
    pub api: ApiType,
    /// This canister.
    pub canister_id: Principal,
    /// `msg_caller`: the original caller of the call context (installer in init, management canister in tasks).
    pub caller: Principal,
    /// `msg_arg_data`: the argument, or the reply bytes in a reply callback.
    pub arg: Vec<u8>,
    /// Reject code and message in a reject callback; code 0 elsewhere.
    pub reject_code: u32,
    /// Reject message in a reject callback.
    pub reject_message: String,
    /// Method name (inspect_message).
    pub method_name: String,
    /// `msg_deadline` in ns, 0 when the incoming call has none.
    pub deadline_nanos: u64,
    /// The call context answered in an earlier execution.
    pub already_responded: bool,
    /// Reply bytes appended so far in this execution.
    pub reply_buf: Vec<u8>,
    /// The reply or reject made in this execution.
    pub response: Option<Payload>,
    /// `accept_message` was called (inspect_message).
    pub accepted_message: bool,
    /// The call under construction.
    pub call_in_prep: Option<OutgoingCall>,
    /// Calls performed in this execution, in order; sent only if the execution does not trap.
    pub calls: Vec<OutgoingCall>,
    /// Requests already queued towards each callee before this execution (for the 500-request queue limit).
    pub queued_towards: BTreeMap<Principal, usize>,
    /// Working cycle balance: accepted added, attached and burned subtracted.
    pub balance: Cycles,
    /// Cycles the caller attached that are not accepted yet.
    pub cycles_available: Cycles,
    /// Cycles refunded with the response being handled (callbacks).
    pub cycles_refunded: Cycles,
    /// Cycles burned in this execution.
    pub cycles_burned: Cycles,
    /// New certified data, if set.
    pub certified_data: Option<Vec<u8>>,
    /// Working value of the global timer (0 = off).
    pub global_timer: u64,
    /// `debug_print` output; kept even when the execution traps.
    pub logs: Vec<String>,
    /// What the execution reached that the engine answers with a stand-in (reported even when it traps).
    pub unimplemented: Vec<crate::types::Unimplemented>,
    /// `ic0.time`.
    pub time_nanos: u64,
    /// `ic0.canister_status`.
    pub status: u32,
    /// `ic0.canister_version`.
    pub version: u64,
    /// Controllers, for `is_controller`.
    pub controllers: Vec<Principal>,
    /// The subnet id.
    pub subnet_id: Principal,
    /// The root key.
    pub root_key: Vec<u8>,
    /// The data certificate (query calls only).
    pub certificate: Option<crate::certification::LazyCertificate>,
    /// Environment variables, in name order (their index order for `env_var_name_*`).
    pub env_vars: BTreeMap<String, String>,
    /// The execution's instruction limit.
    pub instruction_limit: u64,
    /// Fuel given to the execution: the limit, or more when coverage instrumentation's own (subtracted) cost
    /// needs room. Instructions used = fuel given − fuel left − instrumentation overhead.
    pub fuel_given: u64,
    /// Instructions the call context used in earlier executions (`performance_counter(1)`).
    pub context_instructions: u64,
    /// `wasm_memory_limit` in bytes when this context enforces it (update, init, start).
    pub wasm_memory_limit: Option<u64>,
    /// Stable-memory pages this execution may dirty.
    pub stable_dirty_page_limit: u64,
    /// The fee model (what `cost_*` report and `call_perform` takes).
    pub fees: crate::fees::Fees,
    /// The balance the canister must keep: liquid balance = balance − freezing limit.
    pub freezing_limit: Cycles,
    /// Whether the module is wasm64 (instruction fees double).
    pub memory64: bool,
    /// Instruction limit of callbacks, whose execution `call_perform` prepays.
    pub callback_instruction_limit: u64,
    /// Bytes the canister log can take before it drops old records (what `debug_print` pays to pass out).
    pub log_room: u64,
}

impl ExecState {
    /// Cycles the canister may spend now without dropping below its freezing limit.
    pub(crate) fn liquid_balance(&self) -> Cycles {
        self.balance.saturating_sub(self.freezing_limit)
    }
}

impl ExecState {
    /// A state with nothing in it: no argument, no cycles, no limits beyond the instruction limit 0.
    /// The subnet fills in what the execution needs.
    pub(crate) fn new(api: ApiType, canister_id: Principal) -> ExecState {
        ExecState {
            api,
            canister_id,
            caller: Principal::management_canister(),
            arg: Vec::new(),
            reject_code: 0,
            reject_message: String::new(),
            method_name: String::new(),
            deadline_nanos: 0,
            already_responded: false,
            reply_buf: Vec::new(),
            response: None,
            accepted_message: false,
            call_in_prep: None,
            calls: Vec::new(),
            queued_towards: BTreeMap::new(),
            balance: 0,
            cycles_available: 0,
            cycles_refunded: 0,
            cycles_burned: 0,
            certified_data: None,
            global_timer: 0,
            logs: Vec::new(),
            time_nanos: 0,
            status: 1,
            version: 0,
            controllers: Vec::new(),
            subnet_id: Principal::management_canister(),
            root_key: Vec::new(),
            certificate: None,
            env_vars: BTreeMap::new(),
            instruction_limit: 0,
            fuel_given: 0,
            context_instructions: 0,
            wasm_memory_limit: None,
            stable_dirty_page_limit: 0,
            fees: crate::fees::Fees::ZERO,
            freezing_limit: 0,
            memory64: false,
            callback_instruction_limit: 0,
            log_room: crate::limits::MAX_LOG_BYTES as u64,
            unimplemented: Vec::new(),
        }
    }
}

/// Data of a canister's wasmtime store: the handles host functions need, stable memory, and the execution.
pub(crate) struct HostState {
    /// The module's memory (exported by the rewrite as `__icfuzz_memory`), if it has one.
    pub memory: Option<Memory>,
    /// Stable memory; it outlives the instance across upgrades and is moved to the new store.
    pub stable: StableMemory,
    /// The execution under way, if any.
    pub exec: Option<ExecState>,
    /// The hard maximum of the memory in bytes (4 GiB wasm32, 6 GiB wasm64): growth beyond returns −1.
    pub hard_memory_max: u64,
    /// The coverage instrumentation's memory and block count, when instrumented.
    pub coverage: Option<(Memory, usize)>,
    /// Instructions the execution owes beyond its fuel: the part of `memory.grow`'s weight a wasmtime fuel table
    /// cannot hold, collected by the next System API call or when the execution ends.
    pub owed_instructions: u64,
}

impl HostState {
    pub(crate) fn new(stable: StableMemory, memory64: bool) -> HostState {
        HostState {
            memory: None,
            stable,
            exec: None,
            coverage: None,
            owed_instructions: 0,
            hard_memory_max: if memory64 { crate::limits::WASM64_MAX_MEMORY } else { crate::limits::WASM32_MAX_MEMORY },
        }
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if self.exec.is_some() {
            self.owed_instructions += crate::instruction_costs::GROW_REMAINDER;
        }
        let desired = desired as u64;
        if desired > self.hard_memory_max {
            return Ok(false);
        }
        if let Some(limit) = self.exec.as_ref().and_then(|e| e.wasm_memory_limit) {
            if desired > limit {
                return Err(wasmtime::Error::new(HostError::WasmMemoryLimit { limit, requested: desired }));
            }
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Validation rejects table.grow; tables only reach their initial size, which the replica's store limits
        // (`MAX_STORE_TABLE_ELEMENTS`, rs/embedders/src/wasmtime_embedder.rs) bound.
        Ok(desired <= crate::limits::MAX_TABLE_ELEMENTS)
    }

    fn tables(&self) -> usize {
        crate::limits::MAX_TABLES
    }
}

/// The execution state, after charging the fixed cost of System API call `name` and checking that it may run in
/// the current context. Called once at the start of every ic0 function, as the replica charges before it checks
/// anything (`charge_for_cpu` in its linker); a second look at the state within the same call uses [`exec`].
fn exec_in<'a>(caller: &'a mut Caller<'_, HostState>, allowed: u32, name: &str) -> wasmtime::Result<&'a mut ExecState> {
    // The `call` of an import already paid a function entry that no host function has (instruction_costs.rs).
    charge_signed(caller, i128::from(system_api::overhead(name)) - i128::from(FUNCTION_ENTRY))?;
    let exec = exec(caller, name)?;
    if exec.api.bit() & allowed == 0 {
        return Err(violation(format!("\"ic0_{name}\" cannot be executed in {} mode", exec.api.mode_name())));
    }
    Ok(exec)
}

/// The execution state, for an ic0 function that already went through [`exec_in`].
fn exec<'a>(caller: &'a mut Caller<'_, HostState>, name: &str) -> wasmtime::Result<&'a mut ExecState> {
    caller.data_mut().exec.as_mut().ok_or_else(|| violation(format!("\"ic0_{name}\" called outside of an execution")))
}

/// Charges `instructions` on top of a System API call's fixed cost (its per-byte part). Running out traps as the
/// instruction limit does.
fn charge(caller: &mut Caller<'_, HostState>, instructions: u64) -> wasmtime::Result<()> {
    charge_signed(caller, i128::from(instructions))
}

fn charge_signed(caller: &mut Caller<'_, HostState>, instructions: i128) -> wasmtime::Result<()> {
    // Instructions owed by operations that could not take fuel themselves (`memory.grow`'s remainder).
    let owed = std::mem::take(&mut caller.data_mut().owed_instructions);
    let fuel = i128::from(caller.get_fuel()?);
    let left = fuel - instructions - i128::from(owed);
    if left < 0 {
        caller.set_fuel(0)?;
        return Err(wasmtime::Error::new(wasmtime::Trap::OutOfFuel));
    }
    caller.set_fuel(u64::try_from(left).unwrap_or(u64::MAX))
}

/// What `debug_print` and `trap` pay for a message of `len` bytes reaching the canister log: 2 per byte stored
/// (capped by the log's capacity) and 50 per byte passed out (capped by the room left), as the replica's
/// `logging_charge_bytes`.
fn log_charge(exec: &ExecState, len: u64) -> u64 {
    let capacity = crate::limits::MAX_LOG_BYTES as u64;
    let logged: u64 = exec.logs.iter().map(|l| l.len() as u64).sum();
    let room = exec.log_room.saturating_sub(logged);
    2 * len.min(capacity) + system_api::LOG_TRANSMISSION_PER_BYTE * len.min(room)
}

fn memory(caller: &Caller<'_, HostState>, name: &str) -> wasmtime::Result<Memory> {
    caller.data().memory.ok_or_else(|| violation(format!("\"ic0_{name}\" needs a memory but the module has none")))
}

/// Reads `len` bytes at `ptr` from the canister's memory; out of bounds traps.
fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: u64, len: u64, name: &str) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller, name)?;
    let data = mem.data(&*caller);
    let range = checked_range(ptr, len, data.len())
        .ok_or_else(|| violation(format!("ic0_{name}: src={ptr} + length={len} exceeds the Wasm memory size")))?;
    Ok(data[range].to_vec())
}

/// Writes `bytes` at `dst` in the canister's memory; out of bounds traps.
fn write_bytes(caller: &mut Caller<'_, HostState>, dst: u64, bytes: &[u8], name: &str) -> wasmtime::Result<()> {
    let mem = memory(caller, name)?;
    let data = mem.data_mut(&mut *caller);
    let range = checked_range(dst, bytes.len() as u64, data.len()).ok_or_else(|| {
        violation(format!("ic0_{name}: dst={dst} + length={} exceeds the Wasm memory size", bytes.len()))
    })?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

/// The `*_copy(dst, offset, size)` pattern: copies `source[offset..offset+size]` to `dst`; either range out of
/// bounds traps. `select` picks the source from the host state so nothing is cloned.
fn copy_out(
    caller: &mut Caller<'_, HostState>,
    dst: u64,
    offset: u64,
    size: u64,
    name: &str,
    select: impl FnOnce(&HostState) -> &[u8],
) -> wasmtime::Result<()> {
    charge(caller, size.saturating_mul(system_api::PER_BYTE))?;
    let mem = memory(caller, name)?;
    let (data, host) = mem.data_and_store_mut(&mut *caller);
    let source = select(host);
    let src = checked_range(offset, size, source.len()).ok_or_else(|| {
        violation(format!("ic0_{name}: offset {offset} + size {size} exceeds the source length {}", source.len()))
    })?;
    let dst_range = checked_range(dst, size, data.len())
        .ok_or_else(|| violation(format!("ic0_{name}: dst={dst} + size={size} exceeds the Wasm memory size")))?;
    data[dst_range].copy_from_slice(&source[src]);
    Ok(())
}

/// `copy_out` for a source the caller owns (e.g. a value looked up by name).
fn copy_out_owned(
    caller: &mut Caller<'_, HostState>,
    dst: u64,
    offset: u64,
    size: u64,
    name: &str,
    source: &[u8],
) -> wasmtime::Result<()> {
    charge(caller, size.saturating_mul(system_api::PER_BYTE))?;
    let src = checked_range(offset, size, source.len()).ok_or_else(|| {
        violation(format!("ic0_{name}: offset {offset} + size {size} exceeds the source length {}", source.len()))
    })?;
    write_bytes(caller, dst, &source[src], name)
}

fn checked_range(start: u64, len: u64, bound: usize) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    if end > bound as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

/// Writes a 128-bit cycle amount as 16 little-endian bytes.
fn write_cycles(caller: &mut Caller<'_, HostState>, dst: u64, amount: Cycles, name: &str) -> wasmtime::Result<()> {
    write_bytes(caller, dst, &amount.to_le_bytes(), name)
}

fn cycles_from_parts(high: u64, low: u64) -> Cycles {
    (u128::from(high) << 64) | u128::from(low)
}

/// Reads a principal argument; more than 29 bytes traps.
fn read_principal(caller: &mut Caller<'_, HostState>, src: u64, size: u64, name: &str) -> wasmtime::Result<Principal> {
    if size > MAX_PRINCIPAL_LEN as u64 {
        return Err(violation(format!("ic0_{name}: invalid principal of {size} bytes")));
    }
    let bytes = read_bytes(caller, src, size, name)?;
    Principal::try_from_slice(&bytes).map_err(|e| violation(format!("ic0_{name}: invalid principal: {e}")))
}

/// Truncates a debug/trap message to the IC's 32 KiB and decodes it lossily.
fn debug_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_DEBUG_MESSAGE)]).into_owned()
}

/// Registers every ic0 function for one pointer width. The wasm32-only legacy functions are added only when
/// `P = u32` (the caller passes `memory64 = false`).
pub(crate) fn add_to_linker<P: Ptr>(linker: &mut Linker<HostState>, memory64: bool) -> wasmtime::Result<()> {
    msg::add::<P>(linker)?;
    call::add::<P>(linker)?;
    cycles::add::<P>(linker, memory64)?;
    stable::add(linker, memory64)?;
    misc::add::<P>(linker)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ApiType::{self, *};

    const KINDS: [ApiType; 15] = [
        Start, Init, PreUpgrade, Update, ReplicatedQuery, NonReplicatedQuery, CompositeQuery, ReplyCallback,
        RejectCallback, Cleanup, InspectMessage, SystemTask, CompositeReplyCallback, CompositeRejectCallback,
        CompositeCleanup,
    ];

    /// Traces and findings show these names; the oracles select executions by the two predicates.
    #[test]
    fn execution_kinds_have_names_and_say_what_they_are() {
        let names: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            names,
            [
                "start", "init", "pre_upgrade", "update", "replicated query", "non-replicated query", "composite query",
                "reply callback", "reject callback", "cleanup", "inspect message", "system task",
                "composite reply callback", "composite reject callback", "composite cleanup",
            ]
        );
        let callbacks: Vec<_> = KINDS.into_iter().filter(|k| k.is_callback()).collect();
        assert_eq!(callbacks, [ReplyCallback, RejectCallback]);
        let queries: Vec<_> = KINDS.into_iter().filter(|k| k.is_query()).collect();
        assert_eq!(
            queries,
            [ReplicatedQuery, NonReplicatedQuery, CompositeQuery, CompositeReplyCallback, CompositeRejectCallback, CompositeCleanup]
        );
    }
}
