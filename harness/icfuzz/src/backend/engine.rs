//! The embedded engine as a [`Backend`]: every capability, and the fuzz hot path.

use candid::Principal;

use super::{Backend, BackendError, CallId, Capabilities, Outcome, Reject};
use crate::engine::{
    CanisterStatus, Config, Delivery, Event, Fault, HttpAnswer, HttpOutcall, IngressStatus, MessageId, PendingMessage,
    RestoreStats, Subnet, SubnetSnapshot,
};

/// A [`Subnet`] driven through the [`Backend`] trait. Ingress calls are named by their engine message id
/// (`CallId(n)` is `MessageId(n)`), so pending ingress messages map to calls without a table.
pub struct EngineBackend {
    subnet: Subnet,
    snapshot: Option<SubnetSnapshot>,
    last_restore: RestoreStats,
}

impl EngineBackend {
    /// A fresh subnet with this configuration.
    pub fn new(config: Config) -> Result<EngineBackend, BackendError> {
        let subnet = Subnet::new(config).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(EngineBackend { subnet, snapshot: None, last_restore: RestoreStats::default() })
    }

    /// The engine, for inspection (coverage, balances, call contexts).
    pub fn subnet(&self) -> &Subnet {
        &self.subnet
    }

    /// What the last [`Backend::restore`] had to do.
    pub fn last_restore(&self) -> &RestoreStats {
        &self.last_restore
    }
}

impl Backend for EngineBackend {
    fn name(&self) -> &'static str {
        "engine"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ENGINE
    }

    fn create_canister(&mut self, id: Principal, controller: Principal, cycles: Option<u128>) -> Result<Principal, BackendError> {
        let cycles = cycles.unwrap_or(self.subnet.config().default_cycles);
        self.subnet.create_canister_at(id, vec![controller], cycles).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn install(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        self.subnet.install_canister(canister, wasm, arg, Some(sender)).map_err(|r| Reject::from(&r))
    }

    fn upgrade(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        // As dfx and icp do: a canister running a module with enhanced orthogonal persistence is upgraded keeping
        // its heap (the IC requires the option exactly then). The installed module says, without validating the
        // new one again on every upgrade step.
        let keep = self.subnet.enhanced_orthogonal_persistence(canister).unwrap_or(false);
        let options = crate::engine::UpgradeOptions {
            wasm_memory_persistence: keep.then_some(crate::engine::WasmMemoryPersistence::Keep),
            ..crate::engine::UpgradeOptions::default()
        };
        self.subnet.upgrade_canister_with(canister, wasm, arg, Some(sender), options).map_err(|r| Reject::from(&r))
    }

    fn submit(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Result<CallId, Reject> {
        let id = self.subnet.submit_call(canister, sender, method, arg).map_err(|r| Reject::from(&r))?;
        Ok(CallId(id.0))
    }

    fn submit_management(&mut self, method: &str, _canister: Principal, sender: Principal, arg: Vec<u8>) -> Result<CallId, Reject> {
        self.submit(Principal::management_canister(), sender, method, arg)
    }

    fn status(&mut self, call: CallId) -> Option<Outcome> {
        match self.subnet.ingress_status(MessageId(call.0)) {
            Ok(IngressStatus::Completed(result)) => Some(result.as_ref().map(Clone::clone).map_err(Reject::from)),
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

    fn canister_logs(&mut self, canister: Principal, _sender: Principal, from: usize) -> Result<Vec<String>, BackendError> {
        let logs = self.subnet.canister_logs(canister).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(logs.get(from..).unwrap_or_default().iter().map(|r| r.content.clone()).collect())
    }

    fn log_len(&mut self, canister: Principal, _sender: Principal) -> usize {
        self.subnet.canister_logs(canister).map(|l| l.len()).unwrap_or(0)
    }

    fn snapshot(&mut self, _canisters: &[Principal], _controller: Principal) -> Result<(), BackendError> {
        // The engine snapshots the whole subnet at once (queues and time included): a superset of canister snapshots.
        self.snapshot = Some(self.subnet.snapshot());
        Ok(())
    }

    fn restore(&mut self, _controller: Principal) -> Result<(), BackendError> {
        let snapshot = self.snapshot.as_ref().ok_or_else(|| BackendError::Failed("no snapshot taken".into()))?;
        self.last_restore = self.subnet.restore(snapshot).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(())
    }

    fn deliver_ingress(&mut self, call: CallId) -> Result<(), BackendError> {
        self.subnet.deliver(Delivery::Ingress(MessageId(call.0))).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn pending(&mut self) -> Result<Vec<PendingMessage>, BackendError> {
        Ok(self.subnet.pending())
    }

    fn deliver(&mut self, delivery: Delivery) -> Result<(), BackendError> {
        self.subnet.deliver(delivery).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn faults(&mut self) -> Result<Vec<Fault>, BackendError> {
        Ok(self.subnet.faults())
    }

    fn inject_fault(&mut self, fault: Fault) -> Result<(), BackendError> {
        self.subnet.inject_fault(fault).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn pending_outcalls(&mut self) -> Result<Vec<HttpOutcall>, BackendError> {
        Ok(self.subnet.pending_outcalls())
    }

    fn answer_outcall(&mut self, id: u64, answer: HttpAnswer) -> Result<(), BackendError> {
        self.subnet.answer_outcall(id, answer).map_err(|e| BackendError::Failed(e.to_string()))
    }

    fn take_events(&mut self, into: &mut Vec<Event>) -> bool {
        into.extend(self.subnet.take_events());
        true
    }

    fn subnet(&self) -> Option<&Subnet> {
        Some(&self.subnet)
    }

    fn discard_events(&mut self) {
        self.subnet.take_events();
    }

    fn open_call_contexts(&mut self, canister: Principal) -> Option<usize> {
        self.subnet.open_call_contexts(canister).ok()
    }

    fn outstanding_callbacks(&mut self, canister: Principal) -> Option<usize> {
        self.subnet.outstanding_callbacks(canister).ok()
    }
}
