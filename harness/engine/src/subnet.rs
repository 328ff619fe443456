//! The subnet: canisters, message queues, ingress, and the scheduling API that lets a caller choose which
//! message runs next.
//!
//! # What may be delivered next
//!
//! Canister-to-canister messages travel in *streams*, one per ordered pair (sender → receiver), holding requests
//! and responses in the order they were produced. Only the head of a stream can be delivered: the replica keeps one
//! input queue per counterpart holding both kinds of message, so a schedule in which a later message from B to A
//! overtakes an earlier one is one the IC cannot produce. Ingress messages may be delivered in any order, and
//! different streams interleave freely. Each delivery runs to completion before the next starts, so a canister
//! never runs two executions at once.
//!
//! [`Subnet::pending`] lists exactly these choices; [`Subnet::deliver`] runs one. [`Subnet::run_until_quiet`]
//! and [`Subnet::await_call`] deliver in the default order: oldest message first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sha2::{Digest, Sha256};

use crate::canister::{CallOrigin, Canister};
use crate::config::Config;
use crate::execution::{self, Entry, Persist, Trapped};
use crate::ic0::{ApiType, ExecState};
use crate::limits;
use crate::runtime::Runtime;
use crate::types::{
    canister_id_from_index, CallResult, CanisterId, CanisterStatus, Cycles, ErrorCode, LogRecord, MessageId, Payload,
    Principal, RejectResponse,
};

/// Errors in using the engine (not canister outcomes, which are [`CallResult`]s).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    /// The delivery chosen is not among [`Subnet::pending`].
    #[error("{0:?} is not a pending message")]
    NotPending(Delivery),
    /// No ingress message has this id.
    #[error("unknown ingress message {0}")]
    UnknownMessage(MessageId),
    /// Nothing is pending, but the awaited message has not completed (e.g. a callee holds the call forever).
    #[error("{0} cannot complete: no message is pending")]
    Stuck(MessageId),
    /// `run_until_quiet` delivered its maximum number of messages and messages are still pending.
    #[error("still {pending} messages pending after {delivered} deliveries")]
    NotQuiet {
        /// Messages delivered.
        delivered: usize,
        /// Messages still pending.
        pending: usize,
    },
    /// The fault is not among [`Subnet::faults`].
    #[error("{0:?} is not a fault the IC could produce now")]
    NotAFault(Fault),
    /// No canister has this id.
    #[error("canister {0} does not exist")]
    UnknownCanister(CanisterId),
    /// wasmtime could not be set up.
    #[error("wasmtime: {0}")]
    Wasmtime(String),
}

/// Names one deliverable choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Delivery {
    /// An ingress message not yet executed.
    Ingress(MessageId),
    /// The head of the stream from one canister (or the management canister) to another.
    Stream {
        /// Sender of the messages in the stream.
        from: Principal,
        /// Receiver.
        to: Principal,
    },
    /// The canister's global timer is due: run `canister_global_timer`.
    Timer(CanisterId),
    /// Run `canister_heartbeat` (offered whenever the canister runs and exports it; never needed for quiescence).
    Heartbeat(CanisterId),
    /// A bounded-wait call's deadline passed: its callback gets SYS_UNKNOWN and a later response is dropped.
    DeadlineExpired {
        /// The calling canister.
        canister: CanisterId,
        /// Its callback id.
        callback: u64,
    },
}

/// What a pending message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// An ingress update call.
    Ingress {
        /// The method.
        method: String,
    },
    /// A request from one canister to another.
    Request {
        /// The method.
        method: String,
        /// Whether it is a bounded-wait call.
        bounded_wait: bool,
    },
    /// A response to a request.
    Response {
        /// `true` for a reply, `false` for a reject.
        reply: bool,
        /// The method of the request answered.
        method: String,
    },
    /// The global timer task.
    Timer,
    /// The heartbeat task.
    Heartbeat,
    /// The system's SYS_UNKNOWN reject for a bounded-wait call whose deadline passed.
    DeadlineExpired {
        /// The method of the call.
        method: String,
    },
}

/// A message that may be delivered next (see the module docs for which ones are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMessage {
    /// How to deliver it.
    pub delivery: Delivery,
    /// Global sequence number: the order in which messages were produced.
    pub seq: u64,
    /// Sender (user principal for ingress).
    pub from: Principal,
    /// Receiver.
    pub to: Principal,
    /// What it is.
    pub kind: MessageKind,
}

/// Where an ingress message stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngressStatus {
    /// Submitted and waiting to be delivered.
    Received,
    /// Executed; its call context waits for responses to calls it made.
    Processing,
    /// Done.
    Completed(CallResult),
}

/// One entry of the engine's trace: what happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An ingress message was accepted for delivery.
    IngressSubmitted {
        /// The message.
        id: MessageId,
        /// Sender.
        sender: Principal,
        /// Target.
        canister: CanisterId,
        /// Method.
        method: String,
    },
    /// A message was delivered.
    Delivered {
        /// Its sequence number.
        seq: u64,
        /// Sender.
        from: Principal,
        /// Receiver.
        to: Principal,
        /// What it was.
        kind: MessageKind,
    },
    /// An entry point ran.
    Executed {
        /// The canister.
        canister: CanisterId,
        /// What ran (method export or callback).
        entry: String,
        /// The execution kind.
        kind: crate::ExecutionKind,
        /// The method of the call context it ran in (for a callback: the method whose code awaited).
        method: String,
        /// Instructions used.
        instructions: u64,
        /// `None` if it returned, the trap's message otherwise.
        trap: Option<String>,
        /// The trap's error code (`None` if it returned): tells instruction and memory limits from other traps.
        code: Option<ErrorCode>,
    },
    /// A request could not be delivered and the system answered it with a reject.
    SystemReject {
        /// Who sent the request.
        caller: Principal,
        /// Intended receiver.
        callee: Principal,
        /// The reject.
        reject: RejectResponse,
    },
    /// A response arrived for a callback that no longer exists, and was dropped.
    ResponseDropped {
        /// The canister it was for.
        canister: CanisterId,
        /// The callback id.
        callback: u64,
    },
    /// A bounded-wait message timed out in its queue and was dropped (its caller gets SYS_UNKNOWN).
    MessageTimedOut {
        /// Sender.
        from: Principal,
        /// Receiver.
        to: Principal,
        /// What it was.
        kind: MessageKind,
    },
    /// The system answered a call context on the canister's behalf: the execution trapped, or it returned
    /// without replying with nothing outstanding ("did not reply"). The caller, canister or user, gets `reject`.
    ContextRejected {
        /// The canister whose call context it was.
        canister: CanisterId,
        /// The context's method.
        method: String,
        /// The reject its caller gets.
        reject: RejectResponse,
    },
    /// A fault was injected.
    Fault(Fault),
    /// An ingress message completed.
    IngressCompleted {
        /// The message.
        id: MessageId,
        /// Its result.
        result: CallResult,
    },
}

/// A system fault the IC may produce, which a caller of the engine can choose to inject (see [`Subnet::faults`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Reject the request at the head of a stream with SYS_TRANSIENT, as if the callee's queue were full or the
    /// subnet out of message memory: the callee never runs.
    RejectTransient {
        /// Caller.
        from: Principal,
        /// Callee.
        to: Principal,
    },
    /// Shed a bounded-wait message (request or response) from a stream, as the IC does under load. The caller
    /// learns nothing until the call's deadline passes, then gets SYS_UNKNOWN: the callee may have run.
    Shed {
        /// Sender of the message.
        from: Principal,
        /// Receiver.
        to: Principal,
        /// The message's sequence number.
        seq: u64,
    },
}

/// A canister-to-canister request in a stream.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub sender: Principal,
    pub receiver: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub cycles: Cycles,
    pub callback: u64,
    pub deadline_nanos: Option<u64>,
}

/// A response in a stream.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub originator: Principal,
    pub callback: u64,
    pub method: String,
    pub payload: Payload,
    pub refund: Cycles,
    /// Copied from the request: a bounded-wait response can time out too.
    pub deadline_nanos: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    fn deadline_nanos(&self) -> Option<u64> {
        match self {
            Message::Request(r) => r.deadline_nanos,
            Message::Response(r) => r.deadline_nanos,
        }
    }
}

/// Where the response to a management call that completes later (stop_canister) goes.
#[derive(Clone, Debug)]
pub(crate) enum Responder {
    Ingress(MessageId),
    Canister { caller: Principal, callback: u64, deadline_nanos: Option<u64> },
}

/// A `stop_canister` call waiting for the canister to stop.
#[derive(Clone, Debug)]
pub(crate) struct PendingStop {
    pub responder: Responder,
    pub since_nanos: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Queued {
    seq: u64,
    message: Message,
}

#[derive(Clone)]
pub(crate) struct Ingress {
    seq: u64,
    sender: Principal,
    canister: CanisterId,
    method: String,
    arg: Vec<u8>,
    status: IngressStatus,
}

/// How a method is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MethodKind {
    Update,
    Query,
    CompositeQuery,
}

/// Input to a callback or method execution beyond what the call context holds.
#[derive(Default)]
struct Input {
    arg: Vec<u8>,
    reject_code: u32,
    reject_message: String,
    refunded: Cycles,
    method_name: String,
}

/// An embedded, deterministic IC subnet: the engine's main type.
///
/// Conveniences mirror PocketIC (`create_canister`, `install_canister`, `update_call`, `query_call`,
/// `submit_call`, `await_call`); the scheduling API (`pending`, `deliver`, `run_until_quiet`) exposes every
/// interleaving the IC could produce.
pub struct Subnet {
    pub(crate) config: Config,
    pub(crate) runtime: Runtime,
    pub(crate) time_nanos: u64,
    pub(crate) canisters: BTreeMap<CanisterId, Canister>,
    pub(crate) next_canister_index: u64,
    pub(crate) streams: BTreeMap<(Principal, Principal), VecDeque<Queued>>,
    pub(crate) ingress: BTreeMap<MessageId, Ingress>,
    /// Ingress messages not delivered yet (`IngressStatus::Received`): the ingress history keeps every message, so
    /// scheduling must not scan it.
    pub(crate) received: BTreeSet<MessageId>,
    pub(crate) next_message: u64,
    pub(crate) next_seq: u64,
    pub(crate) rand_counter: u64,
    /// Callbacks whose deadline passed, with the sequence number they became deliverable at.
    pub(crate) expired: BTreeMap<(CanisterId, u64), u64>,
    /// stop_canister calls waiting, per canister.
    pub(crate) pending_stops: BTreeMap<CanisterId, Vec<PendingStop>>,
    pub(crate) events: Vec<Event>,
}

impl Subnet {
    /// A subnet with no canisters.
    pub fn new(config: Config) -> Result<Subnet, EngineError> {
        let runtime = Runtime::new(&config).map_err(|e| EngineError::Wasmtime(format!("{e:#}")))?;
        Ok(Subnet {
            time_nanos: config.initial_time_nanos,
            config,
            runtime,
            canisters: BTreeMap::new(),
            next_canister_index: 0,
            streams: BTreeMap::new(),
            ingress: BTreeMap::new(),
            received: BTreeSet::new(),
            next_message: 0,
            next_seq: 0,
            rand_counter: 0,
            expired: BTreeMap::new(),
            pending_stops: BTreeMap::new(),
            events: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Current time in ns since 1970.
    pub fn time_nanos(&self) -> u64 {
        self.time_nanos
    }

    /// Moves time forward. Deadlines that pass time out: bounded-wait messages still queued are dropped, their
    /// callbacks become deliverable as SYS_UNKNOWN, due timers become deliverable, and `stop_canister` calls
    /// pending for 5 minutes are rejected.
    pub fn advance_time(&mut self, nanos: u64) {
        self.time_nanos = self.time_nanos.saturating_add(nanos);
        self.time_passed(nanos);
    }

    /// Sets the time; it can only move forward (the IC's time is monotonic), so an earlier time is ignored.
    pub fn set_time(&mut self, nanos: u64) {
        if nanos > self.time_nanos {
            let elapsed = nanos - self.time_nanos;
            self.time_nanos = nanos;
            self.time_passed(elapsed);
        }
    }

    fn time_passed(&mut self, elapsed_nanos: u64) {
        self.charge_idle_fees(elapsed_nanos);
        let now = self.time_nanos;
        // Bounded-wait messages past their deadline leave the queues without being delivered.
        let mut timed_out = Vec::new();
        for (&(from, to), queue) in self.streams.iter_mut() {
            queue.retain(|q| match q.message.deadline_nanos() {
                Some(deadline) if deadline <= now => {
                    timed_out.push((from, to, kind_of(&q.message)));
                    false
                }
                _ => true,
            });
        }
        self.streams.retain(|_, q| !q.is_empty());
        for (from, to, kind) in timed_out {
            self.events.push(Event::MessageTimedOut { from, to, kind });
        }
        // Their callbacks (and any other bounded-wait callback past its deadline) expire.
        let mut due = Vec::new();
        for (&id, c) in &self.canisters {
            for (&callback, cb) in &c.callbacks {
                if cb.deadline_nanos.is_some_and(|d| d <= now) && !self.expired.contains_key(&(id, callback)) {
                    due.push((id, callback));
                }
            }
        }
        for (canister, callback) in due {
            self.expire_callback(canister, callback);
        }
        self.time_out_stops();
    }

    // ---------------------------------------------------------------- canisters

    /// Creates an empty canister controlled by the anonymous principal, with the default cycles.
    pub fn create_canister(&mut self) -> CanisterId {
        self.create_canister_with_controllers(vec![Principal::anonymous()], self.config.default_cycles)
    }

    /// Creates an empty canister with the given controllers and cycles.
    pub fn create_canister_with_controllers(&mut self, controllers: Vec<Principal>, cycles: Cycles) -> CanisterId {
        let id = self.allocate_canister_id();
        self.create_canister_with_controllers_at(id, controllers, cycles);
        id
    }

    pub(crate) fn allocate_canister_id(&mut self) -> CanisterId {
        loop {
            let id = canister_id_from_index(self.next_canister_index);
            self.next_canister_index += 1;
            if !self.canisters.contains_key(&id) {
                return id;
            }
        }
    }

    /// Installs `wasm` (raw or gzipped) on an empty canister, running its start function and `canister_init`.
    /// `sender` must be a controller (default: the anonymous principal).
    pub fn install_canister(
        &mut self,
        canister: CanisterId,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        let sender = sender.unwrap_or_else(Principal::anonymous);
        self.install_code(sender, canister, crate::management::InstallMode::Install, wasm, arg)
    }

    /// Replaces the code and wipes all state (heap and stable memory), then runs start and `canister_init`.
    pub fn reinstall_canister(
        &mut self,
        canister: CanisterId,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        let sender = sender.unwrap_or_else(Principal::anonymous);
        self.install_code(sender, canister, crate::management::InstallMode::Reinstall, wasm, arg)
    }

    /// Upgrades: `canister_pre_upgrade` on the old code, then start and `canister_post_upgrade` on the new;
    /// stable memory is kept, heap and globals are fresh. Atomic: any trap leaves the old canister as it was.
    pub fn upgrade_canister(
        &mut self,
        canister: CanisterId,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.upgrade_canister_with(canister, wasm, arg, sender, crate::management::UpgradeOptions::default())
    }

    /// [`Subnet::upgrade_canister`] with upgrade options, e.g. `wasm_memory_persistence: Some(Keep)` for Motoko
    /// canisters with enhanced orthogonal persistence.
    pub fn upgrade_canister_with(
        &mut self,
        canister: CanisterId,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Option<Principal>,
        options: crate::management::UpgradeOptions,
    ) -> Result<(), RejectResponse> {
        let sender = sender.unwrap_or_else(Principal::anonymous);
        self.install_code(sender, canister, crate::management::InstallMode::Upgrade(options), wasm, arg)
    }

    /// Adds cycles to a canister's balance; returns the new balance.
    pub fn add_cycles(&mut self, canister: CanisterId, amount: Cycles) -> Result<Cycles, EngineError> {
        let c = self.canisters.get_mut(&canister).ok_or(EngineError::UnknownCanister(canister))?;
        c.cycles = c.cycles.saturating_add(amount);
        Ok(c.cycles)
    }

    /// A canister's cycle balance.
    pub fn cycle_balance(&self, canister: CanisterId) -> Result<Cycles, EngineError> {
        Ok(self.canister(canister)?.cycles)
    }

    /// Sets an environment variable of a canister (`ic0.env_var_*`; newer ic-cdk canisters read ids from them).
    pub fn set_env_var(&mut self, canister: CanisterId, name: &str, value: &str) -> Result<(), EngineError> {
        let c = self.canisters.get_mut(&canister).ok_or(EngineError::UnknownCanister(canister))?;
        c.settings.env_vars.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    /// Ids of all canisters, in order.
    pub fn canister_ids(&self) -> Vec<CanisterId> {
        self.canisters.keys().copied().collect()
    }

    /// Whether a canister with this id exists.
    pub fn canister_exists(&self, canister: CanisterId) -> bool {
        self.canisters.contains_key(&canister)
    }

    /// A canister's run status.
    pub fn canister_status(&self, canister: CanisterId) -> Result<CanisterStatus, EngineError> {
        Ok(self.canister(canister)?.status)
    }

    /// The SHA-256 of the installed module, `None` for an empty canister.
    pub fn module_hash(&self, canister: CanisterId) -> Result<Option<[u8; 32]>, EngineError> {
        Ok(self.canister(canister)?.code.as_ref().map(|code| code.module.hash))
    }

    /// The canister's log (debug prints and trap messages), oldest first.
    pub fn canister_logs(&self, canister: CanisterId) -> Result<&[LogRecord], EngineError> {
        Ok(&self.canister(canister)?.logs)
    }

    /// Memory the canister uses: its Wasm heap plus stable memory, in bytes (0 when empty).
    pub fn memory_bytes(&self, canister: CanisterId) -> Result<u64, EngineError> {
        Ok(self.canister(canister)?.memory_bytes())
    }

    /// `canister_version`.
    pub fn canister_version(&self, canister: CanisterId) -> Result<u64, EngineError> {
        Ok(self.canister(canister)?.version)
    }

    /// Coverage of every module installed so far (with [`Config::coverage`] on; empty otherwise), in hash order.
    pub fn coverage(&self) -> Vec<crate::coverage::ModuleCoverage> {
        let mut by_module: BTreeMap<[u8; 32], crate::coverage::ModuleCoverage> = BTreeMap::new();
        for (&id, c) in &self.canisters {
            let Some(code) = c.code.as_ref() else { continue };
            let Some(counters) = code.module.coverage.clone() else { continue };
            by_module
                .entry(code.module.hash)
                .or_insert_with(|| crate::coverage::ModuleCoverage { module_hash: code.module.hash, canisters: Vec::new(), counters })
                .canisters
                .push(id);
        }
        by_module.into_values().collect()
    }

    /// Call contexts still open on the canister (each one blocks stopping it).
    pub fn open_call_contexts(&self, canister: CanisterId) -> Result<usize, EngineError> {
        Ok(self.canister(canister)?.contexts.len())
    }

    /// Calls the canister made that still wait for a response.
    pub fn outstanding_callbacks(&self, canister: CanisterId) -> Result<usize, EngineError> {
        Ok(self.canister(canister)?.callbacks.len())
    }

    /// A hash of a canister's state: module, heap, globals, stable memory, certified data, timer and version.
    /// Equal hashes mean equal states. Cycles are left out (see [`Subnet::cycle_balance`]): executions are
    /// charged even when they trap, so a rolled-back execution changes the balance but nothing else.
    pub fn state_hash(&mut self, canister: CanisterId) -> Result<[u8; 32], EngineError> {
        let c = self.canisters.get_mut(&canister).ok_or(EngineError::UnknownCanister(canister))?;
        let mut hasher = Sha256::new();
        if let Some(code) = c.code.as_mut() {
            hasher.update(code.module.hash);
            code.hash_into(&mut hasher);
        }
        hasher.update(&c.certified_data);
        hasher.update(c.global_timer.to_le_bytes());
        hasher.update(c.version.to_le_bytes());
        Ok(hasher.finalize().into())
    }

    fn canister(&self, canister: CanisterId) -> Result<&Canister, EngineError> {
        self.canisters.get(&canister).ok_or(EngineError::UnknownCanister(canister))
    }

    // ---------------------------------------------------------------- calls

    /// Submits an ingress update call without running it. `canister_inspect_message` runs now, as on the IC
    /// where it runs before the message enters the state: a refusal is returned here.
    pub fn submit_call(
        &mut self,
        canister: CanisterId,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, RejectResponse> {
        if method.len() + arg.len() > limits::MAX_INGRESS_BYTES {
            return Err(RejectResponse::new(
                ErrorCode::RequestTooLarge,
                format!("ingress message too large: {} bytes, limit {}", method.len() + arg.len(), limits::MAX_INGRESS_BYTES),
            ));
        }
        if canister != Principal::management_canister() {
            self.inspect_message(canister, sender, method, &arg)?;
        }
        let id = MessageId(self.next_message);
        self.next_message += 1;
        let seq = self.next_seq();
        self.ingress.insert(
            id,
            Ingress { seq, sender, canister, method: method.to_owned(), arg, status: IngressStatus::Received },
        );
        self.received.insert(id);
        self.events.push(Event::IngressSubmitted { id, sender, canister, method: method.to_owned() });
        Ok(id)
    }

    /// Where an ingress message stands.
    pub fn ingress_status(&self, id: MessageId) -> Result<&IngressStatus, EngineError> {
        self.ingress.get(&id).map(|i| &i.status).ok_or(EngineError::UnknownMessage(id))
    }

    /// Delivers messages in the default order until the ingress message completes.
    pub fn await_call(&mut self, id: MessageId) -> Result<CallResult, EngineError> {
        loop {
            if let IngressStatus::Completed(result) = self.ingress_status(id)? {
                return Ok(result.clone());
            }
            if !self.deliver_next() {
                return Err(EngineError::Stuck(id));
            }
        }
    }

    /// Submits an ingress update call and runs the subnet until it completes (PocketIC's `update_call`).
    ///
    /// # Panics
    ///
    /// If the call can never complete because nothing is left to deliver (a callee holds it forever). Use
    /// `submit_call` and `await_call` to handle that case.
    pub fn update_call(&mut self, canister: CanisterId, sender: Principal, method: &str, arg: Vec<u8>) -> CallResult {
        let id = self.submit_call(canister, sender, method, arg)?;
        match self.await_call(id) {
            Ok(result) => result,
            Err(e) => panic!("update_call to {canister} method {method:?}: {e}"),
        }
    }

    /// Runs a query method as a query call (non-replicated): nothing it does persists.
    pub fn query_call(&mut self, canister: CanisterId, sender: Principal, method: &str, arg: Vec<u8>) -> CallResult {
        let kind = self.check_callee(canister, method)?;
        let api = match kind {
            MethodKind::Query => ApiType::NonReplicatedQuery,
            MethodKind::CompositeQuery => ApiType::CompositeQuery,
            MethodKind::Update => {
                return Err(RejectResponse::new(
                    ErrorCode::CanisterMethodNotFound,
                    format!("Canister {canister} has no query method '{method}'"),
                ))
            }
        };
        let export = export_name(kind, method);
        let input = Input { arg, ..Input::default() };
        let exec = self.exec_state(canister, api, sender, input, 0, false, 0, 0);
        let c = self.canisters.get_mut(&canister).expect("checked by check_callee");
        let code = c.code.as_mut().expect("checked by check_callee");
        let executed = execution::run(&self.runtime, code, &Entry::Export(export.clone()), exec, Persist::Discard);
        self.events.push(Event::Executed {
            canister,
            entry: export,
            kind: api,
            method: method.to_owned(),
            instructions: executed.instructions,
            trap: executed.result.as_ref().err().map(|t| t.message.clone()),
            code: executed.result.as_ref().err().map(|t| t.code),
        });
        match executed.result {
            Err(trap) => Err(RejectResponse::new(trap.code, trap.message)),
            Ok(()) if !executed.exec.calls.is_empty() => Err(RejectResponse::new(
                ErrorCode::CanisterContractViolation,
                "calls from composite queries are not supported by the icfuzz engine yet",
            )),
            Ok(()) => match executed.exec.response {
                Some(payload) => payload.into_result(),
                None => Err(did_not_reply(canister)),
            },
        }
    }

    fn inspect_message(
        &mut self,
        canister: CanisterId,
        sender: Principal,
        method: &str,
        arg: &[u8],
    ) -> Result<(), RejectResponse> {
        let c = self.canisters.get(&canister).ok_or_else(|| not_found(canister))?;
        let Some(code) = c.code.as_ref() else {
            return Err(empty_canister(canister));
        };
        if !code.module.info.has_inspect_message {
            return Ok(());
        }
        let input = Input { arg: arg.to_vec(), method_name: method.to_owned(), ..Input::default() };
        let exec = self.exec_state(canister, ApiType::InspectMessage, sender, input, 0, false, 0, 0);
        let c = self.canisters.get_mut(&canister).expect("looked up above");
        let code = c.code.as_mut().expect("looked up above");
        let entry = Entry::Export("canister_inspect_message".to_owned());
        let executed = execution::run(&self.runtime, code, &entry, exec, Persist::Discard);
        match executed.result {
            Err(trap) => Err(RejectResponse::new(trap.code, trap.message)),
            Ok(()) if executed.exec.accepted_message => Ok(()),
            Ok(()) => Err(RejectResponse::new(
                ErrorCode::CanisterRejectedMessage,
                format!("Canister {canister} rejected the message: it did not call ic0.accept_message"),
            )),
        }
    }

    // ---------------------------------------------------------------- scheduling

    /// Every message that may be delivered next, oldest first. Only choices the IC could make are listed.
    pub fn pending(&self) -> Vec<PendingMessage> {
        let mut out: Vec<PendingMessage> = self
            .received
            .iter()
            .map(|id| (id, &self.ingress[id]))
            .map(|(id, i)| PendingMessage {
                delivery: Delivery::Ingress(*id),
                seq: i.seq,
                from: i.sender,
                to: i.canister,
                kind: MessageKind::Ingress { method: i.method.clone() },
            })
            .collect();
        for (&(from, to), queue) in &self.streams {
            if let Some(head) = queue.front() {
                out.push(PendingMessage { delivery: Delivery::Stream { from, to }, seq: head.seq, from, to, kind: kind_of(&head.message) });
            }
        }
        for (&(canister, callback), &seq) in &self.expired {
            let method = self.canisters[&canister].callbacks.get(&callback).map(|cb| cb.method.clone()).unwrap_or_default();
            out.push(PendingMessage {
                delivery: Delivery::DeadlineExpired { canister, callback },
                seq,
                from: Principal::management_canister(),
                to: canister,
                kind: MessageKind::DeadlineExpired { method },
            });
        }
        // System tasks have no sequence number of their own; they sort last (u64::MAX) so the default order
        // drains messages first, but any of them may be chosen at any time.
        for id in self.due_timers() {
            out.push(PendingMessage {
                delivery: Delivery::Timer(id),
                seq: u64::MAX,
                from: Principal::management_canister(),
                to: id,
                kind: MessageKind::Timer,
            });
        }
        for &id in self.canisters.keys() {
            if self.heartbeat_runnable(id) {
                out.push(PendingMessage {
                    delivery: Delivery::Heartbeat(id),
                    seq: u64::MAX,
                    from: Principal::management_canister(),
                    to: id,
                    kind: MessageKind::Heartbeat,
                });
            }
        }
        out.sort_by_key(|p| p.seq);
        out
    }

    /// Whether the canister runs, exports a heartbeat, and can pay for it.
    fn heartbeat_runnable(&self, id: CanisterId) -> bool {
        self.canisters.get(&id).is_some_and(|c| {
            c.status == CanisterStatus::Running && c.code.as_ref().is_some_and(|code| code.module.info.has_heartbeat)
        }) && self.can_prepay(id)
    }

    /// Whether the canister can prepay a maximal update execution without dropping below its freezing limit
    /// (otherwise it is frozen: calls to it are rejected and its timers and heartbeats do not run).
    pub(crate) fn can_prepay(&self, id: CanisterId) -> bool {
        let Some(c) = self.canisters.get(&id) else { return false };
        let memory64 = c.code.as_ref().is_some_and(|code| code.module.info.memory64);
        let prepay = self.config.fees.execution(self.config.instruction_limits.update, memory64);
        c.cycles >= c.freezing_limit(&self.config.fees).saturating_add(prepay)
    }

    /// Storage fees for the time that passed; a canister that cannot pay them runs out of cycles and is
    /// uninstalled, as on the IC.
    fn charge_idle_fees(&mut self, elapsed_nanos: u64) {
        let fees = self.config.fees;
        let mut exhausted = Vec::new();
        for (&id, c) in self.canisters.iter_mut() {
            let due = fees.idle_per_second(c.memory_bytes()) * Cycles::from(elapsed_nanos) / 1_000_000_000;
            if due > c.cycles {
                c.cycles = 0;
                if c.code.is_some() {
                    exhausted.push(id);
                }
            } else {
                c.cycles -= due;
            }
        }
        for id in exhausted {
            self.uninstall(id);
        }
    }

    /// Whether canister `id`'s global timer is due and can run.
    fn timer_due(&self, id: CanisterId, c: &Canister) -> bool {
        c.status == CanisterStatus::Running
            && c.global_timer != 0
            && c.global_timer <= self.time_nanos
            && c.code.as_ref().is_some_and(|code| code.module.info.has_global_timer)
            && self.can_prepay(id)
    }

    /// Canisters whose global timer is due and can run.
    fn due_timers(&self) -> Vec<CanisterId> {
        self.canisters.iter().filter(|(&id, c)| self.timer_due(id, c)).map(|(&id, _)| id).collect()
    }

    /// Whether anything but a heartbeat is pending. Heartbeats are always possible and never needed, so they
    /// don't count: "quiet" means no message and no due timer.
    pub fn has_pending(&self) -> bool {
        self.streams.values().any(|q| !q.is_empty())
            || !self.received.is_empty()
            || !self.expired.is_empty()
            || self.canisters.iter().any(|(&id, c)| self.timer_due(id, c))
    }

    /// Faults the IC could produce right now (see [`Fault`]). Injecting one is always IC-legal.
    pub fn faults(&self) -> Vec<Fault> {
        let mut out = Vec::new();
        for (&(from, to), queue) in &self.streams {
            if let Some(Queued { message: Message::Request(_), .. }) = queue.front() {
                if to != Principal::management_canister() {
                    out.push(Fault::RejectTransient { from, to });
                }
            }
            for queued in queue {
                if queued.message.deadline_nanos().is_some() {
                    out.push(Fault::Shed { from, to, seq: queued.seq });
                }
            }
        }
        out
    }

    /// Injects a fault from [`Subnet::faults`].
    pub fn inject_fault(&mut self, fault: Fault) -> Result<(), EngineError> {
        if !self.faults().contains(&fault) {
            return Err(EngineError::NotAFault(fault));
        }
        self.events.push(Event::Fault(fault));
        match fault {
            Fault::RejectTransient { from, to } => {
                let queue = self.streams.get_mut(&(from, to)).expect("listed by faults()");
                let Some(Queued { message: Message::Request(request), .. }) = queue.pop_front() else {
                    unreachable!("faults() lists only request heads")
                };
                if queue.is_empty() {
                    self.streams.remove(&(from, to));
                }
                let reject = RejectResponse::new(
                    ErrorCode::CanisterQueueFull,
                    format!("Canister {to} input queue is full"),
                );
                self.system_reject(request, reject);
            }
            Fault::Shed { from, to, seq } => {
                let queue = self.streams.get_mut(&(from, to)).expect("listed by faults()");
                queue.retain(|q| q.seq != seq);
                if queue.is_empty() {
                    self.streams.remove(&(from, to));
                }
            }
        }
        Ok(())
    }

    /// Delivers one pending message and runs everything it triggers synchronously (its execution, and for a
    /// callback trap the cleanup). New messages it produces become pending.
    pub fn deliver(&mut self, delivery: Delivery) -> Result<(), EngineError> {
        match delivery {
            Delivery::Ingress(id) => {
                let ingress = self.ingress.get_mut(&id).ok_or(EngineError::NotPending(delivery))?;
                if ingress.status != IngressStatus::Received {
                    return Err(EngineError::NotPending(delivery));
                }
                ingress.status = IngressStatus::Processing;
                self.received.remove(&id);
                let (seq, sender, canister, method, arg) =
                    (ingress.seq, ingress.sender, ingress.canister, ingress.method.clone(), std::mem::take(&mut ingress.arg));
                self.events.push(Event::Delivered {
                    seq,
                    from: sender,
                    to: canister,
                    kind: MessageKind::Ingress { method: method.clone() },
                });
                self.deliver_ingress(id, sender, canister, method, arg);
            }
            Delivery::Stream { from, to } => {
                let queue = self.streams.get_mut(&(from, to)).ok_or(EngineError::NotPending(delivery))?;
                let queued = queue.pop_front().ok_or(EngineError::NotPending(delivery))?;
                if queue.is_empty() {
                    self.streams.remove(&(from, to));
                }
                self.events.push(Event::Delivered { seq: queued.seq, from, to, kind: kind_of(&queued.message) });
                match queued.message {
                    Message::Request(request) => self.deliver_request(request),
                    Message::Response(response) => self.deliver_response(response),
                }
            }
            Delivery::Timer(id) => {
                if !self.due_timers().contains(&id) {
                    return Err(EngineError::NotPending(delivery));
                }
                self.events.push(Event::Delivered {
                    seq: u64::MAX,
                    from: Principal::management_canister(),
                    to: id,
                    kind: MessageKind::Timer,
                });
                // The timer is cleared before the handler runs; it must re-arm itself (ic-semantics §8).
                self.canisters.get_mut(&id).expect("due").global_timer = 0;
                self.run_system_task(id, "canister_global_timer");
            }
            Delivery::Heartbeat(id) => {
                if !self.heartbeat_runnable(id) {
                    return Err(EngineError::NotPending(delivery));
                }
                self.events.push(Event::Delivered {
                    seq: u64::MAX,
                    from: Principal::management_canister(),
                    to: id,
                    kind: MessageKind::Heartbeat,
                });
                self.run_system_task(id, "canister_heartbeat");
            }
            Delivery::DeadlineExpired { canister, callback } => {
                let seq = self.expired.remove(&(canister, callback)).ok_or(EngineError::NotPending(delivery))?;
                let method = self.canisters[&canister].callbacks.get(&callback).map(|cb| cb.method.clone()).unwrap_or_default();
                self.events.push(Event::Delivered {
                    seq,
                    from: Principal::management_canister(),
                    to: canister,
                    kind: MessageKind::DeadlineExpired { method: method.clone() },
                });
                // Zero refund: cycles attached to a call that ends in SYS_UNKNOWN are lost (ic-semantics §6).
                let reject = RejectResponse::new(
                    ErrorCode::DeadlineExpired,
                    "Call deadline has expired.".to_owned(),
                );
                self.deliver_response(Response {
                    originator: canister,
                    callback,
                    method,
                    payload: Payload::Reject(reject),
                    refund: 0,
                    deadline_nanos: None,
                });
            }
        }
        Ok(())
    }

    /// Runs a system task (timer, heartbeat) in its own call context, which has no caller to answer.
    fn run_system_task(&mut self, id: CanisterId, export: &str) {
        let c = self.canisters.get_mut(&id).expect("checked by caller");
        let context = c.open_context(CallOrigin::System, export.to_owned(), 0, 0);
        self.run_in_context(id, context, Entry::Export(export.to_owned()), ApiType::SystemTask, Input::default(), None, None);
    }

    /// Answers a request on the system's behalf (the callee did not run).
    fn system_reject(&mut self, request: Request, reject: RejectResponse) {
        self.events.push(Event::SystemReject { caller: request.sender, callee: request.receiver, reject: reject.clone() });
        let response = Response {
            originator: request.sender,
            callback: request.callback,
            method: request.method,
            payload: Payload::Reject(reject),
            refund: request.cycles,
            deadline_nanos: request.deadline_nanos,
        };
        self.enqueue(request.receiver, request.sender, Message::Response(response));
    }

    /// Delivers the oldest pending message; `false` if none was pending.
    pub fn deliver_next(&mut self) -> bool {
        let next = self.next_default_delivery();
        match next {
            Some(delivery) => self.deliver(delivery).is_ok(),
            None => false,
        }
    }

    fn next_default_delivery(&self) -> Option<Delivery> {
        let ingress = self.received.iter().map(|id| (self.ingress[id].seq, Delivery::Ingress(*id))).min();
        let stream = self
            .streams
            .iter()
            .filter_map(|(&(from, to), q)| q.front().map(|h| (h.seq, Delivery::Stream { from, to })))
            .min();
        let expired = self
            .expired
            .iter()
            .map(|(&(canister, callback), &seq)| (seq, Delivery::DeadlineExpired { canister, callback }))
            .min();
        [ingress, stream, expired]
            .into_iter()
            .flatten()
            .min()
            .map(|(_, delivery)| delivery)
            .or_else(|| self.due_timers().first().map(|&id| Delivery::Timer(id)))
    }

    /// One round, as PocketIC's `tick`: every running canister's heartbeat and due timer, then every message
    /// that was pending when the round began, oldest first.
    pub fn tick(&mut self) {
        let ids: Vec<CanisterId> = self.canisters.keys().copied().collect();
        for id in ids {
            if self.heartbeat_runnable(id) {
                let _ = self.deliver(Delivery::Heartbeat(id));
            }
            if self.due_timers().contains(&id) {
                let _ = self.deliver(Delivery::Timer(id));
            }
        }
        let round: Vec<Delivery> = self
            .pending()
            .into_iter()
            .filter(|p| !matches!(p.delivery, Delivery::Heartbeat(_) | Delivery::Timer(_)))
            .map(|p| p.delivery)
            .collect();
        for delivery in round {
            // A stream head delivered earlier in the round exposes the next message; deliver only what was
            // listed, and only once.
            let _ = self.deliver(delivery);
        }
    }

    /// Delivers in the default order until nothing is pending or `max_deliveries` were made.
    pub fn run_until_quiet(&mut self, max_deliveries: usize) -> Result<usize, EngineError> {
        let mut delivered = 0;
        while self.has_pending() {
            if delivered == max_deliveries {
                return Err(EngineError::NotQuiet { delivered, pending: self.pending().len() });
            }
            self.deliver_next();
            delivered += 1;
        }
        Ok(delivered)
    }

    /// The trace so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the trace, leaving it empty.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    // ---------------------------------------------------------------- message handling

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    pub(crate) fn enqueue(&mut self, from: Principal, to: Principal, message: Message) {
        // A bounded-wait message produced at or after its deadline times out at once: a callee replying after the
        // caller's deadline never reaches it (nor does its refund), and a request with a zero timeout never runs.
        if message.deadline_nanos().is_some_and(|d| d <= self.time_nanos) {
            self.events.push(Event::MessageTimedOut { from, to, kind: kind_of(&message) });
            if let Message::Request(request) = &message {
                self.expire_callback(request.sender, request.callback);
            }
            return;
        }
        let seq = self.next_seq();
        self.streams.entry((from, to)).or_default().push_back(Queued { seq, message });
    }

    /// Makes a callback deliverable as SYS_UNKNOWN (once).
    fn expire_callback(&mut self, canister: CanisterId, callback: u64) {
        if !self.expired.contains_key(&(canister, callback)) {
            let seq = self.next_seq();
            self.expired.insert((canister, callback), seq);
        }
    }

    pub(crate) fn complete_ingress(&mut self, id: MessageId, result: CallResult) {
        if let Some(ingress) = self.ingress.get_mut(&id) {
            ingress.status = IngressStatus::Completed(result.clone());
        }
        self.events.push(Event::IngressCompleted { id, result });
    }

    /// Checks that `canister` can run `method` now; the reject the IC gives otherwise.
    fn check_callee(&self, canister: CanisterId, method: &str) -> Result<MethodKind, RejectResponse> {
        let c = self.canisters.get(&canister).ok_or_else(|| not_found(canister))?;
        let Some(code) = c.code.as_ref() else {
            return Err(empty_canister(canister));
        };
        match c.status {
            CanisterStatus::Running => {}
            CanisterStatus::Stopping => {
                return Err(RejectResponse::new(ErrorCode::CanisterStopping, format!("Canister {canister} is stopping")))
            }
            CanisterStatus::Stopped => {
                return Err(RejectResponse::new(ErrorCode::CanisterStopped, format!("Canister {canister} is stopped")))
            }
        }
        if !self.can_prepay(canister) {
            return Err(RejectResponse::new(
                ErrorCode::CanisterOutOfCycles,
                format!("Canister {canister} is out of cycles: its balance cannot pay for an execution without dropping below its freezing threshold"),
            ));
        }
        let info = &code.module.info;
        if info.update_methods.contains(method) {
            Ok(MethodKind::Update)
        } else if info.query_methods.contains(method) {
            Ok(MethodKind::Query)
        } else if info.composite_query_methods.contains(method) {
            Ok(MethodKind::CompositeQuery)
        } else {
            Err(RejectResponse::new(
                ErrorCode::CanisterMethodNotFound,
                format!("Canister {canister} has no update method '{method}'"),
            ))
        }
    }

    fn deliver_ingress(&mut self, id: MessageId, sender: Principal, canister: CanisterId, method: String, arg: Vec<u8>) {
        if canister == Principal::management_canister() {
            if let Some((payload, _refund)) = self.management_request(sender, &method, &arg, 0, Responder::Ingress(id)) {
                self.complete_ingress(id, payload.into_result());
            }
            return;
        }
        let api = match self.check_callee(canister, &method) {
            Err(reject) => return self.complete_ingress(id, Err(reject)),
            Ok(MethodKind::Update) => ApiType::Update,
            Ok(MethodKind::Query) => ApiType::ReplicatedQuery,
            Ok(MethodKind::CompositeQuery) => return self.complete_ingress(id, Err(composite_in_replicated(canister))),
        };
        let kind = if api == ApiType::Update { MethodKind::Update } else { MethodKind::Query };
        let fee = self.config.fees.ingress(method.len() + arg.len());
        let c = self.canisters.get_mut(&canister).expect("checked by check_callee");
        c.cycles = c.cycles.saturating_sub(fee);
        let context = c.open_context(CallOrigin::Ingress { id, sender }, method.clone(), 0, 0);
        let input = Input { arg, ..Input::default() };
        self.run_in_context(canister, context, Entry::Export(export_name(kind, &method)), api, input, None, None);
    }

    fn deliver_request(&mut self, request: Request) {
        if request.receiver == Principal::management_canister() {
            let responder = Responder::Canister {
                caller: request.sender,
                callback: request.callback,
                deadline_nanos: request.deadline_nanos,
            };
            if let Some((payload, refund)) = self.management_request(
                request.sender,
                &request.method,
                &request.arg,
                request.cycles,
                responder,
            ) {
                let response = Response {
                    originator: request.sender,
                    callback: request.callback,
                    method: request.method,
                    payload,
                    refund,
                    deadline_nanos: request.deadline_nanos,
                };
                self.enqueue(Principal::management_canister(), response.originator, Message::Response(response));
            }
            return;
        }
        let kind = match self.check_callee(request.receiver, &request.method) {
            Ok(MethodKind::CompositeQuery) => Err(composite_in_replicated(request.receiver)),
            other => other,
        };
        let kind = match kind {
            Ok(kind) => kind,
            Err(reject) => return self.system_reject(request, reject),
        };
        let api = if kind == MethodKind::Update { ApiType::Update } else { ApiType::ReplicatedQuery };
        let c = self.canisters.get_mut(&request.receiver).expect("checked by check_callee");
        let origin = CallOrigin::Canister { caller: request.sender, callback: request.callback };
        let deadline = request.deadline_nanos.unwrap_or(0);
        let context = c.open_context(origin, request.method.clone(), request.cycles, deadline);
        let input = Input { arg: request.arg, ..Input::default() };
        let entry = Entry::Export(export_name(kind, &request.method));
        self.run_in_context(request.receiver, context, entry, api, input, None, None);
    }

    fn deliver_response(&mut self, response: Response) {
        let Some(c) = self.canisters.get_mut(&response.originator) else {
            return;
        };
        // The refund is credited before the callback runs (and even if no callback is left).
        c.cycles = c.cycles.saturating_add(response.refund);
        let Some(callback) = c.callbacks.remove(&response.callback) else {
            self.events.push(Event::ResponseDropped { canister: response.originator, callback: response.callback });
            return;
        };
        // The part of the response reservation this response did not use returns too.
        let size = match &response.payload {
            Payload::Reply(bytes) => bytes.len(),
            Payload::Reject(reject) => reject.reject_message.len(),
        };
        let fees = self.config.fees;
        let unused = fees.response_reservation().saturating_sub(size as Cycles * fees.call_per_byte);
        c.cycles = c.cycles.saturating_add(unused);
        // Whichever of the response and the deadline's SYS_UNKNOWN comes first wins; the other is dropped.
        self.expired.remove(&(response.originator, response.callback));
        if let Some(context) = c.contexts.get_mut(&callback.context) {
            context.outstanding = context.outstanding.saturating_sub(1);
        }
        if c.code.is_none() || !c.contexts.contains_key(&callback.context) {
            // No callback will run: its prepaid execution returns whole.
            c.cycles = c.cycles.saturating_add(callback.execution_reserve);
            return;
        }
        let (fun, api, input) = match response.payload {
            Payload::Reply(bytes) => (
                callback.reply,
                ApiType::ReplyCallback,
                Input { arg: bytes, refunded: response.refund, ..Input::default() },
            ),
            Payload::Reject(reject) => (
                callback.reject,
                ApiType::RejectCallback,
                Input {
                    reject_code: reject.reject_code as u32,
                    reject_message: reject.reject_message,
                    refunded: response.refund,
                    ..Input::default()
                },
            ),
        };
        let entry = Entry::Callback { fun: fun.0, env: fun.1 };
        let prepaid = Some(callback.execution_reserve);
        self.run_in_context(response.originator, callback.context, entry, api, input, callback.cleanup, prepaid);
    }

    /// Builds the execution state for canister `id`.
    #[allow(clippy::too_many_arguments)]
    fn exec_state(
        &self,
        id: CanisterId,
        api: ApiType,
        caller: Principal,
        input: Input,
        available: Cycles,
        already_responded: bool,
        deadline_nanos: u64,
        context_instructions: u64,
    ) -> ExecState {
        let c = &self.canisters[&id];
        let limits = &self.config.instruction_limits;
        let mut exec = ExecState::new(api, id);
        exec.caller = caller;
        exec.arg = input.arg;
        exec.reject_code = input.reject_code;
        exec.reject_message = input.reject_message;
        exec.method_name = input.method_name;
        exec.cycles_refunded = input.refunded;
        exec.cycles_available = if already_responded { 0 } else { available };
        exec.already_responded = already_responded;
        exec.deadline_nanos = match api {
            ApiType::Update | ApiType::ReplyCallback | ApiType::RejectCallback => deadline_nanos,
            _ => 0,
        };
        exec.balance = c.cycles;
        exec.global_timer = c.global_timer;
        exec.time_nanos = self.time_nanos;
        exec.status = c.status.as_ic0();
        exec.version = c.version;
        exec.controllers = c.settings.controllers.clone();
        exec.subnet_id = self.config.subnet_id;
        exec.root_key = self.config.root_key.clone();
        exec.env_vars = c.settings.env_vars.clone();
        exec.context_instructions = context_instructions;
        exec.instruction_limit = match api {
            ApiType::Start | ApiType::Init | ApiType::PreUpgrade => limits.install,
            ApiType::ReplicatedQuery | ApiType::NonReplicatedQuery | ApiType::CompositeQuery => limits.query,
            ApiType::InspectMessage => limits.inspect_message,
            _ => limits.update,
        };
        // The IC enforces wasm_memory_limit only where memory growth persists by intent (ic-semantics §5).
        exec.wasm_memory_limit = match api {
            ApiType::Update | ApiType::Init | ApiType::Start if c.settings.wasm_memory_limit > 0 => {
                Some(c.settings.wasm_memory_limit)
            }
            _ => None,
        };
        exec.stable_dirty_page_limit = match api {
            ApiType::Start | ApiType::Init | ApiType::PreUpgrade => limits::STABLE_DIRTY_PAGES_INSTALL,
            ApiType::ReplicatedQuery | ApiType::NonReplicatedQuery | ApiType::CompositeQuery | ApiType::InspectMessage => {
                limits::STABLE_DIRTY_PAGES_QUERY
            }
            _ => limits::STABLE_DIRTY_PAGES_UPDATE,
        };
        exec.fees = self.config.fees;
        exec.freezing_limit = c.freezing_limit(&self.config.fees);
        exec.memory64 = c.code.as_ref().is_some_and(|code| code.module.info.memory64);
        exec.callback_instruction_limit = limits.update;
        for (&(from, to), queue) in self.streams.range((id, Principal::from_slice(&[]))..) {
            if from != id {
                break;
            }
            exec.queued_towards.insert(to, queue.len());
        }
        exec
    }

    /// Runs a method or callback for call context `context` of canister `id`, commits what a successful run
    /// did, runs the cleanup callback if a callback trapped, and applies the IC's rule for what happens to the
    /// context afterwards (ic-semantics §3 table).
    fn run_in_context(
        &mut self,
        id: CanisterId,
        context: u64,
        entry: Entry,
        api: ApiType,
        input: Input,
        cleanup: Option<(u64, u64)>,
        prepaid: Option<Cycles>,
    ) {
        let ctx = self.canisters[&id].contexts[&context].clone();
        let exec =
            self.exec_state(id, api, ctx.origin.caller(), input, ctx.available, ctx.responded, ctx.deadline_nanos, ctx.instructions);
        let persist = if api == ApiType::ReplicatedQuery { Persist::Discard } else { Persist::Keep };
        let Some(code) = self.canisters.get_mut(&id).and_then(|c| c.code.as_mut()) else {
            return;
        };
        let executed = execution::run(&self.runtime, code, &entry, exec, persist);
        let trap = executed.result.clone().err();
        self.record_execution(id, &entry, &ctx.method, api, executed.instructions, &executed.exec.logs, trap.as_ref());
        if let Some(ctx) = self.canisters.get_mut(&id).and_then(|c| c.contexts.get_mut(&context)) {
            ctx.instructions += executed.instructions;
        }
        let memory64 = executed.exec.memory64;
        let mut instructions = executed.instructions;
        let response = match &trap {
            None => self.commit(id, context, executed.exec),
            Some(_) => {
                if let Some((fun, env)) = cleanup {
                    instructions += self.run_cleanup(id, context, fun, env);
                }
                None
            }
        };
        // Executions are paid even when they trap: callbacks from what call_perform prepaid (the rest is
        // refunded), everything else from the balance.
        let fee = self.config.fees.execution(instructions, memory64);
        if let Some(c) = self.canisters.get_mut(&id) {
            c.cycles = match prepaid {
                Some(reserve) => c.cycles.saturating_add(reserve.saturating_sub(fee)),
                None => c.cycles.saturating_sub(fee),
            };
        }
        self.finish_context(id, context, response, trap);
    }

    /// The cleanup callback: runs from the state before the trapped callback; its heap, stable-memory and
    /// timer changes commit unless it traps too.
    /// Returns the instructions it used.
    fn run_cleanup(&mut self, id: CanisterId, context: u64, fun: u64, env: u64) -> u64 {
        let ctx = self.canisters[&id].contexts[&context].clone();
        let exec = self.exec_state(id, ApiType::Cleanup, ctx.origin.caller(), Input::default(), 0, true, 0, ctx.instructions);
        let Some(code) = self.canisters.get_mut(&id).and_then(|c| c.code.as_mut()) else {
            return 0;
        };
        let entry = Entry::Callback { fun, env };
        let executed = execution::run(&self.runtime, code, &entry, exec, Persist::Keep);
        let trap = executed.result.clone().err();
        self.record_execution(id, &entry, &ctx.method, ApiType::Cleanup, executed.instructions, &executed.exec.logs, trap.as_ref());
        if trap.is_none() {
            let c = self.canisters.get_mut(&id).expect("exists");
            c.global_timer = executed.exec.global_timer;
            c.cycles = executed.exec.balance;
        }
        executed.instructions
    }

    fn record_execution(
        &mut self,
        id: CanisterId,
        entry: &Entry,
        method: &str,
        api: ApiType,
        instructions: u64,
        logs: &[String],
        trap: Option<&Trapped>,
    ) {
        let time = self.time_nanos;
        if let Some(c) = self.canisters.get_mut(&id) {
            for line in logs {
                c.log(time, line.clone());
            }
            if let Some(trap) = trap {
                c.log(time, format!("[TRAP]: {}", trap.message));
            }
        }
        self.events.push(Event::Executed {
            canister: id,
            entry: entry.to_string(),
            kind: api,
            method: method.to_owned(),
            instructions,
            trap: trap.map(|t| t.message.clone()),
            code: trap.map(|t| t.code),
        });
    }

    /// Applies a successful execution: cycles, certified data, timer, version, and the calls it made (sent now,
    /// each with a callback registered against the context). Returns the response it made, if any.
    fn commit(&mut self, id: CanisterId, context: u64, exec: ExecState) -> Option<Payload> {
        let time = self.time_nanos;
        let c = self.canisters.get_mut(&id).expect("exists");
        c.cycles = exec.balance;
        if let Some(data) = exec.certified_data {
            c.certified_data = data;
        }
        c.global_timer = exec.global_timer;
        c.version += 1;
        let mut requests = Vec::with_capacity(exec.calls.len());
        for call in exec.calls {
            let callback = c.next_callback;
            c.next_callback += 1;
            // Deadline = whole seconds of (now + timeout), carried in seconds and exposed in ns (ic-semantics §6).
            let deadline_nanos =
                call.timeout_seconds.map(|t| (time / 1_000_000_000 + u64::from(t)) * 1_000_000_000);
            c.callbacks.insert(
                callback,
                crate::canister::Callback {
                    context,
                    method: call.method.clone(),
                    reply: call.reply,
                    reject: call.reject,
                    cleanup: call.cleanup,
                    deadline_nanos,
                    execution_reserve: call.execution_reserve,
                },
            );
            requests.push(Request {
                sender: id,
                receiver: call.callee,
                method: call.method,
                arg: call.arg,
                cycles: call.cycles,
                callback,
                deadline_nanos,
            });
        }
        if let Some(ctx) = c.contexts.get_mut(&context) {
            ctx.outstanding += requests.len();
            ctx.available = exec.cycles_available;
        }
        for request in requests {
            let to = request.receiver;
            self.enqueue(id, to, Message::Request(request));
        }
        exec.response
    }

    /// After an execution of a context: send its response, or the system's reject when the context can no
    /// longer respond (trap or return with nothing outstanding), and close it when it is done.
    fn finish_context(&mut self, id: CanisterId, context: u64, response: Option<Payload>, trap: Option<Trapped>) {
        let Some(c) = self.canisters.get_mut(&id) else { return };
        let Some(ctx) = c.contexts.get_mut(&context) else { return };
        let is_system = ctx.origin == CallOrigin::System;
        let send = match response {
            Some(payload) if !ctx.responded => Some(payload),
            Some(_) => None,
            None if !ctx.responded && ctx.outstanding == 0 && !is_system => {
                let reject = match trap {
                    Some(trap) => RejectResponse::new(trap.code, trap.message),
                    None => did_not_reply(id),
                };
                self.events.push(Event::ContextRejected { canister: id, method: ctx.method.clone(), reject: reject.clone() });
                Some(Payload::Reject(reject))
            }
            None => None,
        };
        let mut reply_to = None;
        if let Some(payload) = send {
            ctx.responded = true;
            let refund = std::mem::take(&mut ctx.available);
            reply_to = Some((ctx.origin.clone(), ctx.method.clone(), payload, refund));
        }
        let deadline = ctx.deadline_nanos;
        let closed = ctx.outstanding == 0 && (ctx.responded || is_system);
        if closed {
            c.contexts.remove(&context);
        }
        if let Some((origin, method, payload, refund)) = reply_to {
            match origin {
                CallOrigin::Ingress { id: message, .. } => self.complete_ingress(message, payload.into_result()),
                CallOrigin::Canister { caller, callback } => {
                    let deadline_nanos = (deadline != 0).then_some(deadline);
                    let response = Response { originator: caller, callback, method, payload, refund, deadline_nanos };
                    self.enqueue(id, caller, Message::Response(response));
                }
                CallOrigin::System => {}
            }
        }
        if closed {
            self.maybe_stopped(id);
        }
    }

    /// Drops pending SYS_UNKNOWN deliveries of a canister whose callbacks are gone.
    pub(crate) fn forget_expired(&mut self, id: CanisterId) {
        self.expired.retain(|&(canister, _), _| canister != id);
    }
}

fn kind_of(message: &Message) -> MessageKind {
    match message {
        Message::Request(r) => {
            MessageKind::Request { method: r.method.clone(), bounded_wait: r.deadline_nanos.is_some() }
        }
        Message::Response(r) => {
            MessageKind::Response { reply: matches!(r.payload, Payload::Reply(_)), method: r.method.clone() }
        }
    }
}

fn export_name(kind: MethodKind, method: &str) -> String {
    match kind {
        MethodKind::Update => format!("canister_update {method}"),
        MethodKind::Query => format!("canister_query {method}"),
        MethodKind::CompositeQuery => format!("canister_composite_query {method}"),
    }
}

fn not_found(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(ErrorCode::CanisterNotFound, format!("Canister {canister} not found"))
}

fn empty_canister(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CanisterWasmModuleNotFound,
        format!("Error from Canister {canister}: Attempted to execute a message, but the canister contains no Wasm module."),
    )
}

fn composite_in_replicated(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CompositeQueryCalledInReplicatedMode,
        format!("Error from Canister {canister}: Composite query cannot be called in replicated mode"),
    )
}

fn did_not_reply(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CanisterDidNotReply,
        format!("Error from Canister {canister}: Canister did not reply to the call"),
    )
}

/// Exec state for the given api with defaults (used by install code paths).
pub(crate) fn install_exec(subnet: &Subnet, id: CanisterId, api: ApiType, caller: Principal, arg: Vec<u8>) -> ExecState {
    subnet.exec_state(id, api, caller, Input { arg, ..Input::default() }, 0, false, 0, 0)
}
