//! The subnet: canisters, message queues, ingress, and the scheduling API that lets a caller choose which
//! message runs next.
//!
//! [`Subnet`] is defined here with its canister accessors; its methods are spread over the submodules by job:
//!
//! | module | job |
//! |---|---|
//! | `events` | the public vocabulary: deliveries, pending messages, faults, ingress status, the trace, errors |
//! | `messages` | what is in flight: requests and responses in streams, ingress records, deferred management replies |
//! | `ingress` | submitting ingress calls (with `canister_inspect_message`), their status, awaiting them, query calls |
//! | `scheduling` | what may be delivered next, delivering it, faults, `tick`, `run_until_quiet`, deadlines |
//! | `execute` | running a delivered message in its call context: commit or rollback, callbacks, cleanup, responses |
//! | `management` | the management canister (`aaaaa-aa`): decoding calls, canister lifecycle and settings |
//! | `chunks` | its Wasm chunk store and `install_chunked_code` |
//! | `composite` | composite query call graphs (query calls that call other queries) |
//! | `canister_snapshots` | its canister snapshots (take, load, list, delete) |
//! | `introspection` | its `canister_info`, `canister_metadata`, `subnet_info`, `fetch_canister_logs` |
//! | `signing` | its threshold-signature methods |
//! | `outcalls` | its HTTP outcalls: pending until answered, then checked and transformed |
//! | `install` | `install_code` (install, reinstall, upgrade) and uninstalling |
//!
//! Names flow one way between them: every submodule may use `events` and `messages`; `ingress` uses `execute`'s
//! helpers and `management` uses `install`'s modes. Beyond that they meet only as methods on `Subnet`.

mod events;
mod canister_snapshots;
mod chunks;
mod composite;
mod execute;
mod ingress;
mod install;
mod introspection;
mod management;
mod messages;
mod outcalls;
mod scheduling;
mod signing;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ic_management_canister_types as mgmt;
use sha2::{Digest, Sha256};

use crate::canister::{Canister, Settings};
use crate::config::Config;
use crate::coverage::ModuleCoverage;
use crate::fees::DEFAULT_FREEZING_THRESHOLD_SECONDS;
use crate::runtime::Runtime;
use crate::types::{
    canister_id_from_index, CanisterId, CanisterStatus, Cycles, LogRecord, MessageId, Principal, RejectResponse,
};

pub use events::{Delivery, EngineError, Event, Fault, IngressStatus, MessageKind, PendingMessage};
pub use install::{InstallMode, UpgradeOptions, WasmMemoryPersistence};
use install::InstallRequest;
pub use outcalls::{HttpAnswer, HttpOutcall};
pub(crate) use outcalls::PendingOutcall;
pub(crate) use messages::{Ingress, PendingStop, Queued};

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
    /// HTTP outcalls waiting for an answer, by id.
    pub(crate) outcalls: BTreeMap<u64, PendingOutcall>,
    pub(crate) next_outcall: u64,
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
            outcalls: BTreeMap::new(),
            next_outcall: 0,
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

    // ---------------------------------------------------------------- canisters

    /// Creates an empty canister controlled by the anonymous principal, with the default cycles.
    pub fn create_canister(&mut self) -> CanisterId {
        self.create_canister_with_controllers(vec![Principal::anonymous()], self.config.default_cycles)
    }

    /// Creates an empty canister with the given controllers and cycles.
    pub fn create_canister_with_controllers(&mut self, controllers: Vec<Principal>, cycles: Cycles) -> CanisterId {
        let id = self.allocate_canister_id();
        let origin = mgmt::ChangeOrigin::FromUser(mgmt::FromUserRecord { user_id: Principal::anonymous() });
        self.create_canister_with_controllers_at(id, controllers, cycles, origin);
        id
    }

    /// Whether the module installed on `canister` uses enhanced orthogonal persistence (Motoko): upgrading it to
    /// such a module needs `wasm_memory_persistence = keep`, as dfx and icp pass. `false` for an empty canister.
    pub fn enhanced_orthogonal_persistence(&self, canister: CanisterId) -> Result<bool, EngineError> {
        Ok(self.canister(canister)?.code.as_ref().is_some_and(|code| code.module.info.enhanced_orthogonal_persistence))
    }

    /// Creates an empty canister at `id` (any principal not in use, as `provisional_create_canister_with_cycles`
    /// with `specified_id` and PocketIC's `create_canister_with_id` do), for canisters whose code names a fixed
    /// id (a ledger, the cycles minting canister). Later ids allocated in order skip it.
    pub fn create_canister_at(&mut self, id: CanisterId, controllers: Vec<Principal>, cycles: Cycles) -> Result<CanisterId, EngineError> {
        if self.canisters.contains_key(&id) {
            return Err(EngineError::CanisterExists(id));
        }
        let origin = mgmt::ChangeOrigin::FromUser(mgmt::FromUserRecord { user_id: Principal::anonymous() });
        self.create_canister_with_controllers_at(id, controllers, cycles, origin);
        Ok(id)
    }

    /// Creates an empty canister at a given (unused) id; its history starts with its creation by `origin`.
    fn create_canister_with_controllers_at(
        &mut self,
        id: CanisterId,
        controllers: Vec<Principal>,
        cycles: Cycles,
        origin: mgmt::ChangeOrigin,
    ) {
        let creation = mgmt::CreationRecord { controllers: controllers.clone(), environment_variables_hash: None };
        let settings = Settings {
            controllers,
            wasm_memory_limit: self.config.default_wasm_memory_limit,
            env_vars: Default::default(),
            freezing_threshold: DEFAULT_FREEZING_THRESHOLD_SECONDS,
            log_visibility: mgmt::LogVisibility::Controllers,
        };
        let mut canister = Canister::new(settings, cycles);
        canister.record_change(self.time_nanos, origin, mgmt::ChangeDetails::Creation(creation));
        self.canisters.insert(id, canister);
    }

    /// The next unused canister id (ids are never reused).
    fn allocate_canister_id(&mut self) -> CanisterId {
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
        self.install_code(InstallRequest::from_user(sender), canister, InstallMode::Install, wasm, arg)
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
        self.install_code(InstallRequest::from_user(sender), canister, InstallMode::Reinstall, wasm, arg)
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
        self.upgrade_canister_with(canister, wasm, arg, sender, UpgradeOptions::default())
    }

    /// [`Subnet::upgrade_canister`] with upgrade options, e.g. `wasm_memory_persistence: Some(Keep)` for Motoko
    /// canisters with enhanced orthogonal persistence.
    pub fn upgrade_canister_with(
        &mut self,
        canister: CanisterId,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Option<Principal>,
        options: UpgradeOptions,
    ) -> Result<(), RejectResponse> {
        let sender = sender.unwrap_or_else(Principal::anonymous);
        self.install_code(InstallRequest::from_user(sender), canister, InstallMode::Upgrade(options), wasm, arg)
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

    /// The root public key (DER-encoded BLS12-381, 133 bytes) that data certificates verify with, as
    /// `ic0.root_key_*` and PocketIC's `root_key` give it.
    pub fn root_key(&self) -> &'static [u8] {
        crate::certification::root_key_der()
    }

    /// `canister_version`.
    pub fn canister_version(&self, canister: CanisterId) -> Result<u64, EngineError> {
        Ok(self.canister(canister)?.version)
    }

    /// Coverage of every module installed so far (with [`Config::coverage`] on; empty otherwise), in hash order.
    pub fn coverage(&self) -> Vec<ModuleCoverage> {
        let mut by_module: BTreeMap<[u8; 32], ModuleCoverage> = BTreeMap::new();
        for (&id, c) in &self.canisters {
            let Some(code) = c.code.as_ref() else { continue };
            let Some(counters) = code.module.coverage.clone() else { continue };
            by_module
                .entry(code.module.hash)
                .or_insert_with(|| ModuleCoverage { module_hash: code.module.hash, canisters: Vec::new(), counters })
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

    /// A hash of a canister's state: module, heap, globals, stable memory, certified data, timer, version, chunk
    /// store and snapshots. Equal hashes mean equal states. Cycles are left out (see [`Subnet::cycle_balance`]):
    /// executions are charged even when they trap, so a rolled-back execution changes the balance but nothing else.
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
        // The chunk store and snapshots are the canister's state too (a snapshot is named by its local id, and
        // ids are never reused, so the ids stand for the contents).
        for hash in c.chunks.keys() {
            hasher.update(hash);
        }
        for local in c.snapshots.keys() {
            hasher.update(local.to_le_bytes());
        }
        Ok(hasher.finalize().into())
    }

    /// The canister, or [`EngineError::UnknownCanister`].
    fn canister(&self, canister: CanisterId) -> Result<&Canister, EngineError> {
        self.canisters.get(&canister).ok_or(EngineError::UnknownCanister(canister))
    }

    /// The trace so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the trace, leaving it empty.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}


