//! [`RoundsOnly`]: any backend restricted to round-level operations.

use candid::Principal;

use super::{Backend, BackendError, CallId, Capabilities, Outcome, Reject};
use crate::engine::CanisterStatus;

/// A backend restricted to round-level operations: it presents the given capabilities and leaves out every
/// optional operation (choosing deliveries, faults, execution events, call-context counts), so the executor
/// drives it with rounds only, as it drives PocketIC. Over [`super::EngineBackend`] it previews, anywhere and
/// deterministically, what a replay on a round-based replica does — and tests that mapping against real
/// canisters without a server.
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
    fn create_canister(&mut self, id: Principal, controller: Principal, cycles: Option<u128>) -> Result<Principal, BackendError> {
        self.inner.create_canister(id, controller, cycles)
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
    fn canister_logs(&mut self, canister: Principal, sender: Principal, from: usize) -> Result<Vec<String>, BackendError> {
        self.inner.canister_logs(canister, sender, from)
    }
    fn log_len(&mut self, canister: Principal, sender: Principal) -> usize {
        self.inner.log_len(canister, sender)
    }
    fn snapshot(&mut self, canisters: &[Principal], controller: Principal) -> Result<(), BackendError> {
        self.inner.snapshot(canisters, controller)
    }
    fn restore(&mut self, controller: Principal) -> Result<(), BackendError> {
        self.inner.restore(controller)
    }
    fn pending_outcalls(&mut self) -> Result<Vec<crate::engine::HttpOutcall>, BackendError> {
        self.inner.pending_outcalls()
    }
    fn answer_outcall(&mut self, id: u64, answer: crate::engine::HttpAnswer) -> Result<(), BackendError> {
        self.inner.answer_outcall(id, answer)
    }
    fn take_events(&mut self, _into: &mut Vec<crate::engine::Event>) -> bool {
        // Events of the backend underneath are never reported; drop them so they do not pile up.
        self.inner.discard_events();
        false
    }
    fn discard_events(&mut self) {
        // Events of the backend underneath are never read; drop them so they do not pile up.
        self.inner.discard_events()
    }
}
