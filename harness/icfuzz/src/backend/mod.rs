//! Backends: what a scenario runs on.
//!
//! [`Backend`] is the set of operations a scenario needs, at the level PocketIC offers them: create canisters
//! (at given ids), install and upgrade code, submit ingress calls and poll them, run rounds (`tick`), move time,
//! query, stop and start canisters, snapshot and restore them, read their logs. Two implementations exist:
//! [`EngineBackend`] here, over the embedded engine, and `PocketIcBackend` in the `icfuzz-pocketic` crate, over a
//! PocketIC server. What only the engine can do — choose exactly which pending message runs next, inject system
//! faults, report which execution trapped — are optional methods, and [`Capabilities`] says which a backend has,
//! so the generator never emits what a backend cannot do ([`Capabilities::generator_options`]).
//!
//! The default runner ([`Harness::run`]) drives the engine directly, because it chooses exact interleavings.
//! [`replay`] runs a scenario on any backend, step by step, through the mapping [`plan`] describes; it exists to
//! confirm findings elsewhere (on the replica), so it reports, per step, whether the step maps exactly, is
//! approximated (and how), or cannot be reproduced there (and why).

use candid::Principal;
use serde::Serialize;

use crate::engine::{CanisterStatus, Delivery, IngressStatus, MessageId, MessageKind, RejectResponse, Subnet, SubnetSnapshot};
use crate::runner::Harness;
use crate::scenario::GeneratorOptions;

mod executor;

pub use executor::{plan, replay, CallOp, Fidelity, Op, Plan, PlannedStep, Replay, MAX_IDLE_TICKS, MAX_SETTLE_TICKS};

/// What a backend can do beyond the operations every backend has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// It can deliver one chosen pending message (`Deliver` steps); otherwise it only runs whole rounds.
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
    /// It reports which execution trapped and how (callback or method, instruction limit): the trap oracles
    /// need it. Without it a trap is seen only as the reject of the call it ended.
    pub execution_events: bool,
    /// It can tell exactly when nothing is in flight (messages and open callbacks), which "at quiescence"
    /// invariants need. Without it, quiescence is "every call the scenario made has completed".
    pub exact_quiescence: bool,
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
    };

    /// `base` with every step kind this backend cannot run turned off.
    pub fn generator_options(&self, base: GeneratorOptions) -> GeneratorOptions {
        GeneratorOptions {
            deliver: base.deliver && self.exact_delivery_order,
            faults: base.faults && self.faults,
            stop_start: base.stop_start && self.stop_start,
            upgrade: base.upgrade && self.upgrade,
            hold: base.hold && self.hold_and_release,
            ..base
        }
    }
}

impl Harness {
    /// Restricts the scenario generator to what a backend can do, so every generated scenario replays there
    /// step for step (e.g. no `Deliver` or `Fault` steps for PocketIC).
    pub fn restrict_to(&mut self, capabilities: &Capabilities) {
        self.generator = capabilities.generator_options(self.generator.clone());
    }

    /// The generator's options.
    pub fn generator_options(&self) -> &GeneratorOptions {
        &self.generator
    }

    /// The principal that controls every canister and drives the adversaries.
    pub fn controller(&self) -> Principal {
        self.controller
    }

    /// The setup calls the environment ran, in order (replayed on other backends).
    pub fn setup_calls(&self) -> &[crate::environment::SetupCall] {
        &self.setup
    }
}

/// A canister's answer, the same on every backend: reply bytes or a reject.
pub type Outcome = Result<Vec<u8>, Reject>;

/// A reject, as every backend reports it (PocketIC's `RejectResponse` without its backend-specific types).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// The reject code (1 SYS_FATAL … 6 SYS_UNKNOWN).
    pub code: u32,
    /// The detailed error code, the number of `IC0xxx` (0 when the backend gives none).
    pub error_code: u32,
    /// The message. Backends word it differently: compare codes, not messages.
    pub message: String,
}

impl Reject {
    /// The canister does not run (stopped, stopping, frozen, empty): a query to it says nothing about its state.
    pub fn canister_not_running(&self) -> bool {
        matches!(self.error_code, 207 | 508 | 509 | 537)
    }

    /// The call ended without a reply (IC0506).
    pub fn did_not_reply(&self) -> bool {
        self.error_code == 506 || self.message.contains("did not reply")
    }
}

impl From<&RejectResponse> for Reject {
    fn from(r: &RejectResponse) -> Reject {
        Reject { code: r.reject_code as u32, error_code: r.error_code as u32, message: r.reject_message.clone() }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (reject code {}, IC{:04})", self.message, self.code, self.error_code)
    }
}

/// A submitted ingress call, as the backend that accepted it names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CallId(pub u64);

/// An execution that trapped (only from backends with [`Capabilities::execution_events`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    /// The canister.
    pub canister: Principal,
    /// The kind of execution (`update`, `reply callback`, `reject callback`, ...).
    pub mode: String,
    /// The method of the call context it ran in.
    pub method: String,
    /// The trap message.
    pub message: String,
    /// The error code (`IC0xxx` number), e.g. 522 for the instruction limit.
    pub error_code: Option<u32>,
}

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

/// The operations a scenario needs. Calls are asynchronous: [`Backend::submit`] enqueues, [`Backend::tick`] runs a
/// round, [`Backend::status`] tells whether a call completed — never "run until done" behind the caller's back,
/// so the executor decides how much progress each step makes.
pub trait Backend {
    /// Short name (`engine`, `pocket-ic`).
    fn name(&self) -> &'static str;
    /// What it can do beyond the common operations.
    fn capabilities(&self) -> Capabilities;
    /// Creates an empty canister controlled by `controller`, at `id` when the backend can
    /// ([`Capabilities::exact_canister_ids`]); returns the id it got.
    fn create_canister(&mut self, id: Principal, controller: Principal) -> Result<Principal, BackendError>;
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
    /// A canister's log so far, oldest first (debug prints and trap messages).
    fn canister_logs(&mut self, canister: Principal, sender: Principal) -> Result<Vec<String>, BackendError>;
    /// Snapshots these canisters (replacing any earlier snapshot) for [`Backend::restore`].
    fn snapshot(&mut self, canisters: &[Principal], controller: Principal) -> Result<(), BackendError>;
    /// Restores the canisters of the last [`Backend::snapshot`].
    fn restore(&mut self, controller: Principal) -> Result<(), BackendError>;

    /// Runs a submitted ingress call now, before anything else (exact delivery order only).
    fn deliver_ingress(&mut self, call: CallId) -> Result<(), BackendError> {
        let _ = call;
        Err(BackendError::Unsupported { backend: self.name(), what: "deliver one chosen message" })
    }
    /// Delivers the `choice % n`-th of the `n` pending messages, oldest first, leaving out self-calls of
    /// `hidden_self_call` (the adversary's poll); returns what it delivered, `None` if nothing was pending
    /// (exact delivery order only).
    fn deliver(&mut self, choice: u32, hidden_self_call: &str) -> Result<Option<String>, BackendError> {
        let _ = (choice, hidden_self_call);
        Err(BackendError::Unsupported { backend: self.name(), what: "deliver one chosen message" })
    }
    /// Injects the `choice % n`-th of the `n` faults the IC could produce now; returns it, `None` if none is
    /// possible (faults only).
    fn inject_fault(&mut self, choice: u32) -> Result<Option<String>, BackendError> {
        let _ = choice;
        Err(BackendError::Unsupported { backend: self.name(), what: "inject system faults" })
    }
    /// Delivers oldest first, leaving out heartbeats and self-calls of `hidden_self_call`, until nothing else is
    /// pending or `max` deliveries were made; `Ok(false)` if still busy (exact delivery order only).
    fn drain(&mut self, hidden_self_call: &str, max: usize) -> Result<bool, BackendError> {
        let _ = (hidden_self_call, max);
        Err(BackendError::Unsupported { backend: self.name(), what: "deliver messages oldest first" })
    }
    /// Lets every pending self-call of `method` (of `canister`, or of all canisters) run once, with the answers
    /// to them, but not the fresh self-calls they make: held adversary calls poll once (exact delivery order only).
    fn poll_self_calls(&mut self, canister: Option<Principal>, method: &str) -> Result<(), BackendError> {
        let _ = (canister, method);
        Err(BackendError::Unsupported { backend: self.name(), what: "deliver chosen self-calls" })
    }
    /// Executions that trapped since the last call (execution events only; `None` otherwise).
    fn take_traps(&mut self) -> Option<Vec<Trap>> {
        None
    }
}

/// The embedded engine as a [`Backend`]: a fresh [`Subnet`] that the scenario executor sets up like any other
/// backend. Used to test the executor and the step mapping everywhere, against real canisters.
pub struct EngineBackend {
    subnet: Subnet,
    calls: Vec<MessageId>,
    snapshot: Option<SubnetSnapshot>,
}

impl EngineBackend {
    /// A fresh subnet with this configuration (e.g. `harness.subnet().config().clone()`).
    pub fn new(config: crate::engine::Config) -> Result<EngineBackend, BackendError> {
        let subnet = Subnet::new(config).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(EngineBackend { subnet, calls: Vec::new(), snapshot: None })
    }

    /// A fresh subnet with the configuration of `harness`'s engine, ready for [`replay`] to set up.
    pub fn for_harness(harness: &Harness) -> Result<EngineBackend, BackendError> {
        EngineBackend::new(harness.subnet().config().clone())
    }

    /// The engine, for inspection.
    pub fn subnet(&self) -> &Subnet {
        &self.subnet
    }

    fn message(&self, call: CallId) -> Option<MessageId> {
        self.calls.get(call.0 as usize).copied()
    }

    fn track(&mut self, id: MessageId) -> CallId {
        self.calls.push(id);
        CallId(self.calls.len() as u64 - 1)
    }
}

impl Backend for EngineBackend {
    fn name(&self) -> &'static str {
        "engine"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ENGINE
    }

    fn create_canister(&mut self, id: Principal, controller: Principal) -> Result<Principal, BackendError> {
        // The engine allocates ids in order; a fresh subnet created in the harness's order gives the same ids.
        let got = self.subnet.create_canister_with_controllers(vec![controller], self.subnet.config().default_cycles);
        if got != id {
            return Err(BackendError::Failed(format!("the engine gave canister id {got}, expected {id}")));
        }
        Ok(got)
    }

    fn install(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        self.subnet.install_canister(canister, wasm, arg, Some(sender)).map_err(|r| Reject::from(&r))
    }

    fn upgrade(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        self.subnet.upgrade_canister(canister, wasm, arg, Some(sender)).map_err(|r| Reject::from(&r))
    }

    fn submit(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Result<CallId, Reject> {
        let id = self.subnet.submit_call(canister, sender, method, arg).map_err(|r| Reject::from(&r))?;
        Ok(self.track(id))
    }

    fn submit_management(&mut self, method: &str, _canister: Principal, sender: Principal, arg: Vec<u8>) -> Result<CallId, Reject> {
        self.submit(Principal::management_canister(), sender, method, arg)
    }

    fn status(&mut self, call: CallId) -> Option<Outcome> {
        match self.subnet.ingress_status(self.message(call)?) {
            Ok(IngressStatus::Completed(result)) => Some(result.clone().map_err(|r| Reject::from(&r))),
            _ => None,
        }
    }

    fn tick(&mut self) {
        self.subnet.tick();
    }

    fn advance_time(&mut self, nanos: u64) {
        self.subnet.advance_time(nanos);
    }

    fn time_nanos(&mut self) -> u64 {
        self.subnet.time_nanos()
    }

    fn query(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Outcome {
        self.subnet.query_call(canister, sender, method, arg).map_err(|r| Reject::from(&r))
    }

    fn canister_status(&mut self, canister: Principal, _sender: Principal) -> Result<CanisterStatus, BackendError> {
        self.subnet.canister_status(canister).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn memory_bytes(&mut self, canister: Principal, _sender: Principal) -> Option<u64> {
        self.subnet.memory_bytes(canister).ok()
    }

    fn canister_logs(&mut self, canister: Principal, _sender: Principal) -> Result<Vec<String>, BackendError> {
        let logs = self.subnet.canister_logs(canister).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(logs.iter().map(|r| r.content.clone()).collect())
    }

    fn snapshot(&mut self, _canisters: &[Principal], _controller: Principal) -> Result<(), BackendError> {
        // The engine snapshots the whole subnet at once (queues and time included): a superset of canister snapshots.
        self.snapshot = Some(self.subnet.snapshot());
        Ok(())
    }

    fn restore(&mut self, _controller: Principal) -> Result<(), BackendError> {
        let snapshot = self.snapshot.as_ref().ok_or_else(|| BackendError::Failed("no snapshot taken".into()))?;
        self.subnet.restore(snapshot).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(())
    }

    fn deliver_ingress(&mut self, call: CallId) -> Result<(), BackendError> {
        let id = self.message(call).ok_or_else(|| BackendError::Failed(format!("unknown call {call:?}")))?;
        self.subnet.deliver(Delivery::Ingress(id)).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn deliver(&mut self, choice: u32, hidden_self_call: &str) -> Result<Option<String>, BackendError> {
        let choices: Vec<_> =
            self.subnet.pending().into_iter().filter(|p| !(p.from == p.to && is_call_of(&p.kind, hidden_self_call))).collect();
        if choices.is_empty() {
            return Ok(None);
        }
        let pick = &choices[choice as usize % choices.len()];
        let what = format!("{:?} {} → {}", pick.kind, pick.from, pick.to);
        self.subnet.deliver(pick.delivery).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(Some(what))
    }

    fn inject_fault(&mut self, choice: u32) -> Result<Option<String>, BackendError> {
        let faults = self.subnet.faults();
        if faults.is_empty() {
            return Ok(None);
        }
        let fault = faults[choice as usize % faults.len()];
        self.subnet.inject_fault(fault).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(Some(format!("{fault:?}")))
    }

    fn drain(&mut self, hidden_self_call: &str, max: usize) -> Result<bool, BackendError> {
        for _ in 0..max {
            let next = self.subnet.pending().into_iter().find(|p| {
                !matches!(p.delivery, Delivery::Heartbeat(_)) && !(p.from == p.to && is_call_of(&p.kind, hidden_self_call))
            });
            match next {
                Some(p) => self.subnet.deliver(p.delivery).map_err(|e| BackendError::Failed(e.to_string()))?,
                None => return Ok(true),
            }
        }
        Ok(false)
    }

    fn poll_self_calls(&mut self, canister: Option<Principal>, method: &str) -> Result<(), BackendError> {
        // As the default runner's `poll_holds`: the polls pending now and the answers to them, never the fresh
        // polls they send, so this ends.
        let polls = |p: &crate::engine::PendingMessage| {
            p.from == p.to && canister.is_none_or(|c| p.from == c) && is_call_of(&p.kind, method)
        };
        let Some(last) = self.subnet.pending().iter().filter(|p| polls(p)).map(|p| p.seq).max() else {
            return Ok(());
        };
        for _ in 0..crate::MAX_DELIVERIES_PER_DRAIN {
            let next = self
                .subnet
                .pending()
                .into_iter()
                .find(|p| polls(p) && (p.seq <= last || matches!(p.kind, MessageKind::Response { .. })));
            match next {
                Some(p) => self.subnet.deliver(p.delivery).map_err(|e| BackendError::Failed(e.to_string()))?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    fn take_traps(&mut self) -> Option<Vec<Trap>> {
        let traps = self
            .subnet
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                crate::engine::Event::Executed { canister, mode, method, trap: Some(message), code, .. } => Some(Trap {
                    canister,
                    mode: mode.to_owned(),
                    method,
                    message,
                    error_code: code.map(|c| c as u32),
                }),
                _ => None,
            })
            .collect();
        Some(traps)
    }
}

/// A request or response of `method`.
fn is_call_of(kind: &MessageKind, method: &str) -> bool {
    matches!(kind, MessageKind::Request { method: m, .. } | MessageKind::Response { method: m, .. } if m == method)
}

/// A backend restricted to round-level operations: it presents the given capabilities and leaves out every
/// optional operation (choosing deliveries, faults, execution events), so the executor drives it with rounds
/// only, as it drives PocketIC. Over [`EngineBackend`] it previews, anywhere and deterministically, what a
/// replay on a round-based replica does — and tests that mapping against real canisters without a server.
pub struct RoundsOnly<B> {
    inner: B,
    capabilities: Capabilities,
}

impl<B: Backend> RoundsOnly<B> {
    /// `inner`, presenting `capabilities` with every optional operation switched off.
    pub fn new(inner: B, capabilities: Capabilities) -> RoundsOnly<B> {
        let capabilities = Capabilities {
            exact_delivery_order: false,
            faults: false,
            execution_events: false,
            exact_quiescence: false,
            ..capabilities
        };
        RoundsOnly { inner, capabilities }
    }

    /// The backend underneath.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<B: Backend> Backend for RoundsOnly<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
    fn create_canister(&mut self, id: Principal, controller: Principal) -> Result<Principal, BackendError> {
        self.inner.create_canister(id, controller)
    }
    fn install(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        self.inner.install(canister, wasm, arg, sender)
    }
    fn upgrade(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        self.inner.upgrade(canister, wasm, arg, sender)
    }
    fn submit(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Result<CallId, Reject> {
        self.inner.submit(canister, sender, method, arg)
    }
    fn submit_management(&mut self, method: &str, canister: Principal, sender: Principal, arg: Vec<u8>) -> Result<CallId, Reject> {
        self.inner.submit_management(method, canister, sender, arg)
    }
    fn status(&mut self, call: CallId) -> Option<Outcome> {
        self.inner.status(call)
    }
    fn tick(&mut self) {
        self.inner.tick()
    }
    fn advance_time(&mut self, nanos: u64) {
        self.inner.advance_time(nanos)
    }
    fn time_nanos(&mut self) -> u64 {
        self.inner.time_nanos()
    }
    fn query(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Outcome {
        self.inner.query(canister, sender, method, arg)
    }
    fn canister_status(&mut self, canister: Principal, sender: Principal) -> Result<CanisterStatus, BackendError> {
        self.inner.canister_status(canister, sender)
    }
    fn memory_bytes(&mut self, canister: Principal, sender: Principal) -> Option<u64> {
        self.inner.memory_bytes(canister, sender)
    }
    fn canister_logs(&mut self, canister: Principal, sender: Principal) -> Result<Vec<String>, BackendError> {
        self.inner.canister_logs(canister, sender)
    }
    fn snapshot(&mut self, canisters: &[Principal], controller: Principal) -> Result<(), BackendError> {
        self.inner.snapshot(canisters, controller)
    }
    fn restore(&mut self, controller: Principal) -> Result<(), BackendError> {
        self.inner.restore(controller)
    }
}
