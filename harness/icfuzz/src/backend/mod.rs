//! Backends: what a scenario runs on.
//!
//! [`Backend`] is the set of operations the scenario executor ([`crate::session`]) needs, at the level PocketIC
//! offers them: create canisters (at given ids), install and upgrade code, submit ingress calls and poll them,
//! run rounds (`tick`), move time, query, stop and start canisters, snapshot and restore them, read their logs.
//! Two implementations exist: [`EngineBackend`] over the embedded engine (the default, and the fuzz hot path) and
//! `PocketIcBackend` in the `icfuzz-pocketic` crate, over a PocketIC server; [`RoundsOnly`] restricts any backend to
//! round-level operations, which previews a replica replay on the engine.
//!
//! What only the engine can do — list the pending messages and deliver a chosen one, inject system faults, report
//! typed execution events, count open call contexts — are optional methods, and [`Capabilities`] says which a
//! backend has. The executor is written once against this trait, so a finding on the engine and its replay
//! elsewhere run the same code.

use candid::Principal;
use serde::Serialize;

use crate::engine::{CanisterStatus, Delivery, ErrorCode, Event, Fault, HttpAnswer, HttpOutcall, PendingMessage, RejectResponse};

mod engine;
mod rounds;

pub use engine::EngineBackend;
pub use rounds::RoundsOnly;

/// What a backend can do beyond the operations every backend has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// It lists the pending messages and delivers a chosen one ([`Backend::pending`], [`Backend::deliver`]);
    /// otherwise it only runs whole rounds.
    pub exact_delivery_order: bool,
    /// It can inject the system faults the IC may produce (SYS_TRANSIENT on a full queue, shedding).
    pub faults: bool,
    /// Adversaries can hold calls and release them (the adversary canister polls itself while it holds).
    pub hold_and_release: bool,
    /// It can snapshot canisters and restore them (reset between scenarios).
    pub snapshots: bool,
    /// It can stop and start canisters.
    pub stop_start: bool,
    /// It can upgrade canisters.
    pub upgrade: bool,
    /// It can read canister logs.
    pub canister_logs: bool,
    /// It creates canisters at the ids the engine gives them, so principals in saved scenarios stay valid.
    pub exact_canister_ids: bool,
    /// It reports typed execution events ([`Backend::take_events`]): which execution trapped and how. The trap
    /// oracles need them; without them a trap is seen only as the reject of the call it ended.
    pub execution_events: bool,
    /// It counts open call contexts and outstanding callbacks, so it can tell exactly when nothing is in flight
    /// ("at quiescence" invariants). Without it, quiescence is "every call the scenario made has completed".
    pub exact_quiescence: bool,
    /// It holds canisters' HTTP outcalls until answered ([`Backend::pending_outcalls`],
    /// [`Backend::answer_outcall`]), so scenarios choose what the server says.
    pub http_outcalls: bool,
}

impl Capabilities {
    /// Everything: the embedded engine.
    pub const ENGINE: Capabilities = Capabilities {
        exact_delivery_order: true,
        faults: true,
        hold_and_release: true,
        snapshots: true,
        stop_start: true,
        upgrade: true,
        canister_logs: true,
        exact_canister_ids: true,
        execution_events: true,
        exact_quiescence: true,
        http_outcalls: true,
    };
}

/// A canister's answer, the same on every backend: reply bytes or a reject.
pub type Outcome = Result<Vec<u8>, Reject>;

/// A reject, as every backend reports it (PocketIC's `RejectResponse` without its backend-specific types).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// The reject code (1 SYS_FATAL … 6 SYS_UNKNOWN).
    pub code: u32,
    /// The detailed error code (`IC0xxx`), when the backend gives one the engine knows.
    #[serde(serialize_with = "error_code_number")]
    pub error_code: Option<ErrorCode>,
    /// The message. Backends word it differently: compare codes, not messages.
    pub message: String,
}

impl Reject {
    /// A reject that no backend produced (e.g. a backend failure reported as a reject), without error code.
    pub fn other(message: impl Into<String>) -> Reject {
        Reject { code: 0, error_code: None, message: message.into() }
    }

    /// The canister does not run (stopped, stopping, frozen, empty): a query to it says nothing about its state.
    pub fn canister_not_running(&self) -> bool {
        self.error_code.is_some_and(ErrorCode::canister_not_running)
    }
}

impl From<&RejectResponse> for Reject {
    fn from(r: &RejectResponse) -> Reject {
        Reject { code: r.reject_code as u32, error_code: Some(r.error_code), message: r.reject_message.clone() }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.error_code {
            Some(code) => write!(f, "{} (reject code {}, {code})", self.message, self.code),
            None => write!(f, "{} (reject code {})", self.message, self.code),
        }
    }
}

/// An error code as its `IC0xxx` number.
fn error_code_number<S: serde::Serializer>(code: &Option<ErrorCode>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&code.map(|c| c as u32))
}

/// A submitted ingress call, as the backend that accepted it names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CallId(pub u64);

/// A backend could not do what was asked (infrastructure or capability, never a canister outcome).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    /// The backend does not have this capability.
    #[error("{backend} cannot {what}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// What was asked.
        what: &'static str,
    },
    /// The operation failed.
    #[error("{0}")]
    Failed(String),
}

/// The operations a scenario needs. Calls are asynchronous: [`Backend::submit`] enqueues, [`Backend::tick`] or
/// [`Backend::deliver`] make progress, [`Backend::status`] tells whether a call completed — never "run until
/// done" behind the caller's back, so the executor decides how much progress each step makes.
pub trait Backend {
    /// Short name (`engine`, `pocket-ic`).
    fn name(&self) -> &'static str;
    /// What it can do beyond the common operations.
    fn capabilities(&self) -> Capabilities;
    /// Creates an empty canister controlled by `controller` with `cycles` (the backend's default when `None`), at
    /// `id` when the backend can ([`Capabilities::exact_canister_ids`]); returns the id it got.
    fn create_canister(&mut self, id: Principal, controller: Principal, cycles: Option<u128>) -> Result<Principal, BackendError>;
    /// Installs a module on an empty canister and runs its init.
    fn install(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject>;
    /// Upgrades a canister (pre_upgrade, new module, post_upgrade), to completion.
    fn upgrade(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject>;
    /// Submits an ingress update call without running it (`canister_inspect_message` runs now; its refusal is
    /// the `Err`).
    fn submit(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Result<CallId, Reject>;
    /// Submits a call to the management canister about `canister` (e.g. `stop_canister`) without running it.
    fn submit_management(&mut self, method: &str, canister: Principal, sender: Principal, arg: Vec<u8>) -> Result<CallId, Reject>;
    /// The outcome of a submitted call, if it has completed. Makes no progress.
    fn status(&mut self, call: CallId) -> Option<Outcome>;
    /// Runs one round: every message deliverable now (and due timers, heartbeats).
    fn tick(&mut self);
    /// Moves time forward (timers become due and bounded-wait deadlines pass in the next round).
    fn advance_time(&mut self, nanos: u64);
    /// Current time, ns since 1970.
    fn time_nanos(&mut self) -> u64;
    /// Runs a query method (non-replicated).
    fn query(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Outcome;
    /// A canister's run status.
    fn canister_status(&mut self, canister: Principal, sender: Principal) -> Result<CanisterStatus, BackendError>;
    /// Memory a canister uses, in bytes, if the backend can tell.
    fn memory_bytes(&mut self, canister: Principal, sender: Principal) -> Option<u64>;
    /// The log lines of a canister from the `from`-th on (debug prints and trap messages, oldest first). A
    /// restore or reinstall may shorten a log: `from` past its end gives nothing.
    fn canister_logs(&mut self, canister: Principal, sender: Principal, from: usize) -> Result<Vec<String>, BackendError>;
    /// How many log lines a canister has.
    fn log_len(&mut self, canister: Principal, sender: Principal) -> usize;
    /// Snapshots these canisters (replacing any earlier snapshot) for [`Backend::restore`].
    fn snapshot(&mut self, canisters: &[Principal], controller: Principal) -> Result<(), BackendError>;
    /// Restores the canisters of the last [`Backend::snapshot`].
    fn restore(&mut self, controller: Principal) -> Result<(), BackendError>;

    /// Runs a submitted ingress call now, before anything else (exact delivery order only).
    fn deliver_ingress(&mut self, call: CallId) -> Result<(), BackendError> {
        let _ = call;
        Err(BackendError::Unsupported { backend: self.name(), what: "deliver one chosen message" })
    }
    /// Every message that may be delivered next, oldest first (exact delivery order only). Ingress messages
    /// are named by the [`CallId`] their submission returned: `Delivery::Ingress(MessageId(call.0))`.
    fn pending(&mut self) -> Result<Vec<PendingMessage>, BackendError> {
        Err(BackendError::Unsupported { backend: self.name(), what: "list pending messages" })
    }
    /// Delivers one of [`Backend::pending`] (exact delivery order only).
    fn deliver(&mut self, delivery: Delivery) -> Result<(), BackendError> {
        let _ = delivery;
        Err(BackendError::Unsupported { backend: self.name(), what: "deliver one chosen message" })
    }
    /// The system faults the IC could produce now (faults only).
    fn faults(&mut self) -> Result<Vec<Fault>, BackendError> {
        Err(BackendError::Unsupported { backend: self.name(), what: "inject system faults" })
    }
    /// Injects one of [`Backend::faults`] (faults only).
    fn inject_fault(&mut self, fault: Fault) -> Result<(), BackendError> {
        let _ = fault;
        Err(BackendError::Unsupported { backend: self.name(), what: "inject system faults" })
    }
    /// HTTP outcalls waiting for an answer, oldest first (HTTP outcalls only).
    fn pending_outcalls(&mut self) -> Result<Vec<HttpOutcall>, BackendError> {
        Err(BackendError::Unsupported { backend: self.name(), what: "hold HTTP outcalls" })
    }
    /// Answers one of [`Backend::pending_outcalls`] (HTTP outcalls only).
    fn answer_outcall(&mut self, id: u64, answer: HttpAnswer) -> Result<(), BackendError> {
        let _ = (id, answer);
        Err(BackendError::Unsupported { backend: self.name(), what: "answer HTTP outcalls" })
    }
    /// Typed events since the last call, appended to `into`; `false` if the backend reports none
    /// ([`Capabilities::execution_events`]).
    fn take_events(&mut self, into: &mut Vec<Event>) -> bool {
        let _ = into;
        false
    }
    /// The engine underneath, for oracles that read engine state (balances, call contexts); `None` on every
    /// backend but the engine's own.
    fn subnet(&self) -> Option<&crate::engine::Subnet> {
        None
    }
    /// Discards the events since the last call (e.g. those of the invariants' own queries).
    fn discard_events(&mut self) {}
    /// Open call contexts of a canister (exact quiescence only).
    fn open_call_contexts(&mut self, canister: Principal) -> Option<usize> {
        let _ = canister;
        None
    }
    /// Calls a canister made whose answer has not run yet (exact quiescence only).
    fn outstanding_callbacks(&mut self, canister: Principal) -> Option<usize> {
        let _ = canister;
        None
    }
}
