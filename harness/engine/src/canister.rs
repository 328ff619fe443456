//! A canister's state in the engine: settings, code, cycles, call contexts and callbacks, logs.

use std::collections::BTreeMap;

use crate::runtime::Code;
use crate::types::{CanisterStatus, Cycles, LogRecord, MessageId, Principal};

/// Where a call context came from, and so where its response goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallOrigin {
    /// An ingress message from a user.
    Ingress {
        /// The message.
        id: MessageId,
        /// The sender.
        sender: Principal,
    },
    /// A call from another canister; the response resumes its callback.
    Canister {
        /// The calling canister.
        caller: Principal,
        /// The caller's callback id.
        callback: u64,
    },
    /// A system task (timer, heartbeat): no response.
    System,
}

impl CallOrigin {
    /// `msg_caller` for executions of this context.
    pub(crate) fn caller(&self) -> Principal {
        match self {
            CallOrigin::Ingress { sender, .. } => *sender,
            CallOrigin::Canister { caller, .. } => *caller,
            CallOrigin::System => Principal::management_canister(),
        }
    }
}

/// An open call context: one incoming call (or system task) and the callbacks made on its behalf.
#[derive(Clone, Debug)]
pub(crate) struct CallContext {
    /// Where the response goes.
    pub origin: CallOrigin,
    /// The method it runs (for traces).
    pub method: String,
    /// Whether it was answered.
    pub responded: bool,
    /// Cycles attached by the caller and not accepted yet.
    pub available: Cycles,
    /// The incoming call's deadline in ns (0: none).
    pub deadline_nanos: u64,
    /// Instructions used by its executions so far.
    pub instructions: u64,
    /// Callbacks registered against it and still waiting for a response.
    pub outstanding: usize,
}

/// A callback waiting for the response to a call the canister made.
#[derive(Clone, Debug)]
pub(crate) struct Callback {
    /// The call context it belongs to.
    pub context: u64,
    /// The method called (for traces).
    pub method: String,
    /// Reply callback: table index and env.
    pub reply: (u64, u64),
    /// Reject callback: table index and env.
    pub reject: (u64, u64),
    /// Cleanup callback.
    pub cleanup: Option<(u64, u64)>,
    /// The bounded-wait deadline in ns, if the call was bounded-wait.
    pub deadline_nanos: Option<u64>,
    /// Cycles prepaid at `call_perform` for executing this callback; the unused part is refunded after it runs.
    pub execution_reserve: Cycles,
}

/// Mutable canister settings the engine honours.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Controllers.
    pub controllers: Vec<Principal>,
    /// `wasm_memory_limit` in bytes (0: unlimited up to the hard maximum).
    pub wasm_memory_limit: u64,
    /// Environment variables.
    pub env_vars: BTreeMap<String, String>,
    /// Freezing threshold in seconds.
    pub freezing_threshold: u64,
}

/// One canister.
pub(crate) struct Canister {
    /// Settings.
    pub settings: Settings,
    /// Running, stopping or stopped.
    pub status: CanisterStatus,
    /// Cycle balance.
    pub cycles: Cycles,
    /// Installed code (`None`: empty canister).
    pub code: Option<Code>,
    /// Certified data.
    pub certified_data: Vec<u8>,
    /// Global timer deadline in ns (0: off).
    pub global_timer: u64,
    /// `canister_version`.
    pub version: u64,
    /// Open call contexts by id.
    pub contexts: BTreeMap<u64, CallContext>,
    /// Pending callbacks by id.
    pub callbacks: BTreeMap<u64, Callback>,
    /// The log.
    pub logs: Vec<LogRecord>,
    /// Index the next log record gets.
    pub next_log_idx: u64,
    /// Next call-context id.
    pub next_context: u64,
    /// Next callback id.
    pub next_callback: u64,
}

impl Canister {
    pub(crate) fn new(settings: Settings, cycles: Cycles) -> Canister {
        Canister {
            settings,
            status: CanisterStatus::Running,
            cycles,
            code: None,
            certified_data: Vec::new(),
            global_timer: 0,
            version: 0,
            contexts: BTreeMap::new(),
            callbacks: BTreeMap::new(),
            logs: Vec::new(),
            next_log_idx: 0,
            next_context: 0,
            next_callback: 0,
        }
    }

    /// Everything but the code (which lives in a wasmtime store and cannot be cloned).
    pub(crate) fn clone_without_code(&self) -> Canister {
        Canister {
            settings: self.settings.clone(),
            status: self.status,
            cycles: self.cycles,
            code: None,
            certified_data: self.certified_data.clone(),
            global_timer: self.global_timer,
            version: self.version,
            contexts: self.contexts.clone(),
            callbacks: self.callbacks.clone(),
            logs: self.logs.clone(),
            next_log_idx: self.next_log_idx,
            next_context: self.next_context,
            next_callback: self.next_callback,
        }
    }

    /// Appends a log record, dropping the oldest once the log exceeds its byte budget (as the IC does).
    pub(crate) fn log(&mut self, timestamp_nanos: u64, content: String) {
        self.logs.push(LogRecord { idx: self.next_log_idx, timestamp_nanos, content });
        self.next_log_idx += 1;
        let mut total: usize = self.logs.iter().map(|r| r.content.len()).sum();
        while total > crate::limits::MAX_LOG_BYTES && self.logs.len() > 1 {
            total -= self.logs.remove(0).content.len();
        }
    }

    /// Heap plus stable memory in bytes: what storage fees and the freezing limit are computed from.
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.code.as_ref().map_or(0, |code| {
            code.memory_size() + code.store.data().stable.size_pages() * crate::limits::WASM_PAGE
        })
    }

    /// The balance the canister must keep (idle fees for its freezing threshold).
    pub(crate) fn freezing_limit(&self, fees: &crate::fees::Fees) -> Cycles {
        fees.freezing_limit(self.memory_bytes(), self.settings.freezing_threshold)
    }

    /// Opens a call context and returns its id.
    pub(crate) fn open_context(&mut self, origin: CallOrigin, method: String, available: Cycles, deadline_nanos: u64) -> u64 {
        let id = self.next_context;
        self.next_context += 1;
        self.contexts.insert(
            id,
            CallContext { origin, method, responded: false, available, deadline_nanos, instructions: 0, outstanding: 0 },
        );
        id
    }
}
