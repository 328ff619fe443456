//! A canister's state in the engine: settings, code, cycles, call contexts and callbacks, logs, and what the
//! management canister keeps for it (chunk store, snapshots, history).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ic_management_canister_types as mgmt;

use crate::runtime::{Code, HeapSnapshot, LoadedModule};
use crate::stable_memory::StableMemory;
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
    /// Its canister was uninstalled: the context was answered with a reject and stays only until its outstanding
    /// callbacks get their responses, which run no code (as the replica's deleted call contexts).
    pub deleted: bool,
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
    /// Who may fetch the canister's logs.
    pub log_visibility: mgmt::LogVisibility,
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
    /// The Wasm chunk store (`upload_chunk`), by SHA-256 of the chunk. Chunks are shared, not copied, by subnet
    /// snapshots and canister snapshots.
    pub chunks: BTreeMap<[u8; 32], Arc<[u8]>>,
    /// Canister snapshots by local id (the first 8 bytes of a snapshot id). Immutable once taken, so shared.
    pub snapshots: BTreeMap<u64, Arc<CanisterSnapshot>>,
    /// The local id the next snapshot gets: per canister, never reused.
    pub next_snapshot: u64,
    /// What `canister_info` reports.
    pub history: History,
}

/// A canister snapshot (`take_canister_snapshot`): what `load_canister_snapshot` puts back.
pub(crate) struct CanisterSnapshot {
    /// The module installed when it was taken.
    pub module: Arc<LoadedModule>,
    /// Heap and globals.
    pub heap: HeapSnapshot,
    /// Stable memory.
    pub stable: StableMemory,
    /// Certified data.
    pub certified_data: Vec<u8>,
    /// The chunk store.
    pub chunks: BTreeMap<[u8; 32], Arc<[u8]>>,
    /// `canister_version` when it was taken.
    pub canister_version: u64,
    /// Time it was taken (ns).
    pub taken_at_nanos: u64,
    /// Bytes, as the replica counts them: heap, stable memory, globals, module, chunk store, certified data.
    pub size: u64,
}

/// The last changes of a canister (creation, code deployments, uninstalls, controller changes, snapshot loads).
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    /// Oldest first, at most [`crate::limits::MAX_HISTORY_CHANGES`].
    pub changes: VecDeque<mgmt::Change>,
    /// Every change ever recorded, including those dropped.
    pub total: u64,
}

impl History {
    /// Records a change; the oldest is dropped beyond the limit.
    pub(crate) fn record(&mut self, change: mgmt::Change) {
        self.changes.push_back(change);
        self.total += 1;
        while self.changes.len() > crate::limits::MAX_HISTORY_CHANGES {
            self.changes.pop_front();
        }
    }
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
            chunks: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            next_snapshot: 0,
            history: History::default(),
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
            chunks: self.chunks.clone(),
            snapshots: self.snapshots.clone(),
            next_snapshot: self.next_snapshot,
            history: self.history.clone(),
        }
    }

    /// Records a change in the history, stamped with the current version.
    pub(crate) fn record_change(&mut self, timestamp_nanos: u64, origin: mgmt::ChangeOrigin, details: mgmt::ChangeDetails) {
        self.history.record(mgmt::Change {
            timestamp_nanos,
            canister_version: self.version,
            origin,
            details: Some(details),
        });
    }

    /// Bytes the chunk store counts for: every chunk as a full 1 MiB, whatever its length (as the replica).
    pub(crate) fn chunk_store_bytes(&self) -> u64 {
        self.chunks.len() as u64 * crate::limits::MAX_CHUNK_BYTES as u64
    }

    /// Bytes of all snapshots.
    pub(crate) fn snapshots_bytes(&self) -> u64 {
        self.snapshots.values().map(|s| s.size).sum()
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

    /// Heap, stable memory, chunk store and snapshots in bytes: what storage fees and the freezing limit are
    /// computed from.
    pub(crate) fn memory_bytes(&self) -> u64 {
        let code = self.code.as_ref().map_or(0, |code| {
            code.memory_size() + code.store.data().stable.size_pages() * crate::limits::WASM_PAGE
        });
        code + self.chunk_store_bytes() + self.snapshots_bytes()
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
            CallContext {
                origin,
                method,
                responded: false,
                available,
                deadline_nanos,
                instructions: 0,
                outstanding: 0,
                deleted: false,
            },
        );
        id
    }
}
