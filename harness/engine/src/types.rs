//! Plain data shared by the engine's public API: ids, reject codes, responses.
//!
//! These types are shaped like PocketIC's (`RejectResponse`, `RejectCode`, `ErrorCode`) so that results
//! from the embedded engine and from the replica can be compared field by field.

use std::fmt;

pub use candid::Principal;

/// A canister id is a principal (PocketIC uses the same convention).
pub type CanisterId = Principal;

/// An amount of cycles. The IC uses 128-bit amounts everywhere.
pub type Cycles = u128;

/// The reject codes a canister can observe (IC interface spec, "Reject codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum RejectCode {
    /// Fatal system error; retry unlikely to help.
    SysFatal = 1,
    /// Transient system error (e.g. a full queue); retry may help. The callee did not run.
    SysTransient = 2,
    /// The destination does not exist or is invalid.
    DestinationInvalid = 3,
    /// The canister rejected the message explicitly with `msg_reject`.
    CanisterReject = 4,
    /// The canister trapped, did not reply, or is not in a state to run the message.
    CanisterError = 5,
    /// Bounded-wait calls only: the outcome is unknown (deadline passed or response shed).
    SysUnknown = 6,
}

impl RejectCode {
    /// The code from its number, as `msg_reject_code` returns it.
    pub fn from_u32(code: u32) -> Option<RejectCode> {
        Some(match code {
            1 => RejectCode::SysFatal,
            2 => RejectCode::SysTransient,
            3 => RejectCode::DestinationInvalid,
            4 => RejectCode::CanisterReject,
            5 => RejectCode::CanisterError,
            6 => RejectCode::SysUnknown,
            _ => return None,
        })
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $num:expr,)*) => {
        /// The IC's detailed error code (`IC0xxx`; its first digit is the reject code).
        /// Canisters never see it; ingress callers and PocketIC users do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u32)]
        pub enum ErrorCode {
            $($(#[$doc])* $name = $num,)*
        }

        impl ErrorCode {
            /// Every error code the engine can produce, for round-trip tests and documentation.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];
        }
    };
}

error_codes! {
    /// Not an IC error code: the HTTP endpoint refused an ingress message over the size limit (413) before it
    /// entered the state. The IC gives no `IC0xxx` code for this.
    RequestTooLarge = 1,
    /// Not an IC error code: an HTTP outcall failed in the adapter or its checks (the canister sees only the reject
    /// code, SYS_TRANSIENT or SYS_FATAL, and the message).
    HttpOutcallFailed = 2,
    /// A queue between two canisters is full.
    CanisterQueueFull = 201,
    /// A pending `stop_canister` call timed out.
    StopCanisterRequestTimeout = 206,
    /// The canister is below its freezing threshold.
    CanisterOutOfCycles = 207,
    /// No canister with that id exists.
    CanisterNotFound = 301,
    /// No canister snapshot with that id.
    CanisterSnapshotNotFound = 305,
    /// `canister_inspect_message` did not accept, or the canister called `msg_reject`.
    CanisterRejectedMessage = 406,
    /// `create_canister` without enough cycles attached for the creation fee.
    InsufficientCyclesForCreateCanister = 403,
    /// The management canister has no such method.
    UnknownManagementMessage = 407,
    /// The management canister could not decode the argument.
    InvalidManagementPayload = 408,
    /// A Wasm trap (unreachable, out-of-bounds access, stack overflow, ...).
    CanisterTrapped = 502,
    /// The canister called `ic0.trap` (a Rust panic ends here).
    CanisterCalledTrap = 503,
    /// The canister used the System API against its contract.
    CanisterContractViolation = 504,
    /// The Wasm module was rejected at install time.
    CanisterInvalidWasm = 505,
    /// The canister returned without replying and nothing is outstanding.
    CanisterDidNotReply = 506,
    /// The canister ran out of memory (e.g. stable memory limit).
    CanisterOutOfMemory = 507,
    /// The canister is stopped.
    CanisterStopped = 508,
    /// The canister is stopping.
    CanisterStopping = 509,
    /// `delete_canister` on a canister that is not stopped.
    CanisterNotStopped = 510,
    /// A pending `stop_canister` was cancelled by `start_canister`.
    CanisterStoppingCancelled = 511,
    /// The caller is not a controller of the canister.
    CanisterInvalidController = 512,
    /// A callback's table index is outside the table (no canister code ran; Motoko's one-way calls end here).
    CanisterFunctionNotFound = 513,
    /// `install_code` in install mode on a non-empty canister.
    CanisterNonEmpty = 514,
    /// wasmtime could not instantiate the module within the replica's store limits (one table of at most
    /// 1,000,000 elements, memories within the Wasm memory maximum).
    CanisterWasmEngineError = 521,
    /// The message exceeded the instruction limit.
    CanisterInstructionLimitExceeded = 522,
    /// The execution wrote more stable memory than one message may (the dirty-page limit).
    CanisterMemoryAccessLimitExceeded = 524,
    /// A composite query call graph went deeper than the IC allows.
    QueryCallGraphTooDeep = 525,
    /// A composite query call graph used more instructions than the IC allows.
    QueryCallGraphTotalInstructionLimitExceeded = 526,
    /// A composite query was called in replicated mode.
    CompositeQueryCalledInReplicatedMode = 527,
    /// The canister does not export the method (or not as this kind of call).
    CanisterMethodNotFound = 536,
    /// The canister is empty.
    CanisterWasmModuleNotFound = 537,
    /// The canister exceeded its `wasm_memory_limit`.
    CanisterWasmMemoryLimitExceeded = 539,
    /// A bounded-wait call's deadline passed before a response arrived.
    DeadlineExpired = 601,
    /// A bounded-wait response was shed.
    ResponseDropped = 602,
}

impl ErrorCode {
    /// The error code with this `IC0xxx` number, for backends that report numbers.
    pub fn from_u32(n: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| *c as u32 == n)
    }

    /// The execution failed before any canister code ran (a callback index outside the table): nothing the
    /// canister's code did, so no oracle should call it a trap of the canister.
    pub fn ran_no_code(self) -> bool {
        self == ErrorCode::CanisterFunctionNotFound
    }

    /// The execution hit the instruction limit.
    pub fn is_instruction_limit(self) -> bool {
        self == ErrorCode::CanisterInstructionLimitExceeded
    }

    /// The execution ran out of memory: a memory limit, the `wasm_memory_limit`, or the per-message limit on stable
    /// memory written.
    pub fn is_out_of_memory(self) -> bool {
        matches!(
            self,
            ErrorCode::CanisterOutOfMemory
                | ErrorCode::CanisterWasmMemoryLimitExceeded
                | ErrorCode::CanisterMemoryAccessLimitExceeded
        )
    }

    /// The canister does not run (frozen, stopped, stopping, empty): a query to it says nothing about its state.
    pub fn canister_not_running(self) -> bool {
        matches!(
            self,
            ErrorCode::CanisterOutOfCycles
                | ErrorCode::CanisterStopped
                | ErrorCode::CanisterStopping
                | ErrorCode::CanisterWasmModuleNotFound
        )
    }

    /// The canister returned without replying and had nothing outstanding.
    pub fn did_not_reply(self) -> bool {
        self == ErrorCode::CanisterDidNotReply
    }

    /// The reject code implied by this error code (its first digit).
    pub fn reject_code(self) -> RejectCode {
        RejectCode::from_u32(self as u32 / 100).unwrap_or(RejectCode::SysFatal)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::RequestTooLarge => f.write_str("HTTP 413"),
            ErrorCode::HttpOutcallFailed => f.write_str("HTTP outcall"),
            code => write!(f, "IC{:04}", *code as u32),
        }
    }
}

/// A rejected call as an ingress caller sees it (PocketIC's `RejectResponse`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectResponse {
    /// The reject code.
    pub reject_code: RejectCode,
    /// The human-readable message. Implementation-specific; don't compare it with PocketIC's.
    pub reject_message: String,
    /// The detailed error code.
    pub error_code: ErrorCode,
}

impl RejectResponse {
    /// A reject with the reject code implied by `error_code`.
    pub fn new(error_code: ErrorCode, message: impl Into<String>) -> RejectResponse {
        RejectResponse { reject_code: error_code.reject_code(), reject_message: message.into(), error_code }
    }
}

impl fmt::Display for RejectResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reject {:?} ({}): {}", self.reject_code, self.error_code, self.reject_message)
    }
}

impl std::error::Error for RejectResponse {}

/// The outcome of a call: reply bytes or a reject.
pub type CallResult = Result<Vec<u8>, RejectResponse>;

/// A response payload travelling between canisters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A reply with its bytes.
    Reply(Vec<u8>),
    /// A reject; `error_code` is kept for ingress callers and traces (canisters see only code and message).
    Reject(RejectResponse),
}

impl Payload {
    /// Converts into the ingress-caller view.
    pub fn into_result(self) -> CallResult {
        match self {
            Payload::Reply(bytes) => Ok(bytes),
            Payload::Reject(reject) => Err(reject),
        }
    }
}

/// Identifies one ingress message submitted to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ingress#{}", self.0)
    }
}

/// A canister's run status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CanisterStatus {
    /// Runs messages.
    Running,
    /// Rejects new calls, still runs responses; becomes stopped when no call context is open.
    Stopping,
    /// Runs nothing.
    Stopped,
}

impl CanisterStatus {
    /// The value `ic0.canister_status` returns.
    pub fn as_ic0(self) -> u32 {
        match self {
            CanisterStatus::Running => 1,
            CanisterStatus::Stopping => 2,
            CanisterStatus::Stopped => 3,
        }
    }
}

/// One record of a canister's log (`debug_print` and trap messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Position in the canister's log, starting at 0.
    pub idx: u64,
    /// Time of the execution that wrote it, in ns since the epoch.
    pub timestamp_nanos: u64,
    /// The text (lossy UTF-8).
    pub content: String,
}

/// The principal of a canister with the given index, as the IC allocates them (8 big-endian bytes, then `01 01`).
pub fn canister_id_from_index(index: u64) -> CanisterId {
    let mut bytes = index.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[1, 1]);
    Principal::from_slice(&bytes)
}

/// Something of the IC the engine does not implement, reached by canister code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unimplemented {
    /// A management-canister method the IC has (the engine rejects the call, which the IC would not).
    ManagementMethod(String),
    /// A system API function, or a use of one, the engine answers with a stand-in: its name and what is missing.
    SystemApi {
        /// The `ic0` function.
        name: &'static str,
        /// What the engine lacks for it.
        missing: &'static str,
    },
}

impl std::fmt::Display for Unimplemented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unimplemented::ManagementMethod(method) => write!(f, "management method `{method}`"),
            Unimplemented::SystemApi { name, missing } => write!(f, "ic0.{name} ({missing})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_through_their_numbers() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u32(code as u32), Some(code), "{code:?}");
        }
        assert_eq!(ErrorCode::from_u32(0), None);
        assert_eq!(ErrorCode::from_u32(599), None);
    }

    /// The library decides what a finding is from these predicates alone, so each names exactly the IC numbers.
    #[test]
    fn error_code_predicates_name_the_ic_numbers() {
        let numbers = |pred: fn(ErrorCode) -> bool| -> Vec<u32> {
            ErrorCode::ALL.iter().copied().filter(|&c| pred(c)).map(|c| c as u32).collect()
        };
        assert_eq!(numbers(ErrorCode::is_instruction_limit), [522]);
        assert_eq!(numbers(ErrorCode::is_out_of_memory), [507, 524, 539]);
        assert_eq!(numbers(ErrorCode::canister_not_running), [207, 508, 509, 537]);
        assert_eq!(numbers(ErrorCode::did_not_reply), [506]);
        assert_eq!(numbers(ErrorCode::ran_no_code), [513]);
    }
}
