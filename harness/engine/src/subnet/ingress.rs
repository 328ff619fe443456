//! Ingress: submitting update calls (`canister_inspect_message` runs first), their status, awaiting them, and
//! query calls, which run at once and never persist.

use super::events::{EngineError, Event, IngressStatus};
use crate::certification::LazyCertificate;
use super::execute::{composite_in_replicated, did_not_reply, empty_canister, export_name, not_found, Input, MethodKind};
use super::messages::{Ingress, Responder};
use super::Subnet;
use crate::canister::CallOrigin;
use crate::execution::{self, Entry, Persist};
use crate::ic0::ApiType;
use crate::limits;
use crate::types::{CallResult, CanisterId, ErrorCode, MessageId, Principal, RejectResponse};

impl Subnet {
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

    /// Runs a query method as a query call (non-replicated): nothing it does persists. A composite query's calls
    /// are evaluated as its call graph (see `composite.rs`).
    pub fn query_call(&mut self, canister: CanisterId, sender: Principal, method: &str, arg: Vec<u8>) -> CallResult {
        if canister == Principal::management_canister() {
            return self.management_query(sender, method, &arg);
        }
        let kind = self.check_callee(canister, method, false)?;
        let api = match kind {
            MethodKind::Query => ApiType::NonReplicatedQuery,
            MethodKind::CompositeQuery => return self.composite_query_call(canister, sender, method, arg),
            MethodKind::Update => {
                return Err(RejectResponse::new(
                    ErrorCode::CanisterMethodNotFound,
                    format!("Canister {canister} has no query method '{method}'"),
                ))
            }
        };
        let input = Input { arg, ..Input::default() };
        let mut exec = self.exec_state(canister, api, sender, input, 0, false, 0, 0);
        let c = self.canisters.get_mut(&canister).expect("checked by check_callee");
        // A query call on the IC always comes with a certificate of the canister's certified data.
        exec.certificate = Some(LazyCertificate::new(self.time_nanos, c.certified_data.clone()));
        let code = c.code.as_mut().expect("checked by check_callee");
        let entry = Entry::Export(export_name(kind, method));
        let executed = execution::run(&self.runtime, code, &entry, exec, Persist::Discard);
        self.push_executed(canister, &entry, method, api, executed.instructions, executed.result.as_ref().err());
        self.report_unimplemented(canister, &executed.exec.unimplemented);
        match executed.result {
            Err(trap) => Err(RejectResponse::new(trap.code, trap.message)),
            Ok(()) => match executed.exec.response {
                Some(payload) => payload.into_result(),
                None => Err(did_not_reply(canister)),
            },
        }
    }

    /// The Candid interface in a module's `get_candid_pointer` export, which ic-cdk's `export_candid!()` adds so
    /// tools can read the interface of a plain cargo build (no `candid:service` metadata): `Ok(None)` if the
    /// module has no such export. It runs like a query (nothing it does is kept) and is not a canister method:
    /// the IC never calls it, so it appears in no trace.
    pub fn exported_candid(&mut self, canister: CanisterId) -> Result<Option<String>, RejectResponse> {
        let c = self.canisters.get(&canister).ok_or_else(|| not_found(canister))?;
        let Some(code) = c.code.as_ref() else {
            return Err(empty_canister(canister));
        };
        if code.module.module.get_export_index(execution::CANDID_POINTER_EXPORT).is_none() {
            return Ok(None);
        }
        let exec = self.exec_state(canister, ApiType::NonReplicatedQuery, Principal::anonymous(), Input::default(), 0, false, 0, 0);
        let c = self.canisters.get_mut(&canister).expect("looked up above");
        let code = c.code.as_mut().expect("looked up above");
        let executed = execution::run(&self.runtime, code, &Entry::CandidPointer, exec, Persist::Discard);
        match (executed.result, executed.exec.response) {
            (Err(trap), _) => Err(RejectResponse::new(trap.code, trap.message)),
            (Ok(()), Some(payload)) => {
                let bytes = payload.into_result()?;
                String::from_utf8(bytes).map(Some).map_err(|_| {
                    RejectResponse::new(ErrorCode::CanisterContractViolation, "get_candid_pointer: the Candid text is not UTF-8")
                })
            }
            (Ok(()), None) => Ok(None),
        }
    }

    /// Runs `canister_inspect_message` (if exported) for an ingress update; `Ok` if the canister accepted it.
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
        self.report_unimplemented(canister, &executed.exec.unimplemented);
        match executed.result {
            Err(trap) => Err(RejectResponse::new(trap.code, trap.message)),
            Ok(()) if executed.exec.accepted_message => Ok(()),
            Ok(()) => Err(RejectResponse::new(
                ErrorCode::CanisterRejectedMessage,
                format!("Canister {canister} rejected the message: it did not call ic0.accept_message"),
            )),
        }
    }

    /// Records an ingress message's result.
    pub(super) fn complete_ingress(&mut self, id: MessageId, result: CallResult) {
        if let Some(ingress) = self.ingress.get_mut(&id) {
            ingress.status = IngressStatus::Completed(result.clone());
        }
        self.events.push(Event::IngressCompleted { id, result });
    }

    /// Runs a delivered ingress message: its update (or replicated query) method in a new call context.
    pub(super) fn deliver_ingress(
        &mut self,
        id: MessageId,
        sender: Principal,
        canister: CanisterId,
        method: String,
        arg: Vec<u8>,
    ) {
        if canister == Principal::management_canister() {
            if let Some((payload, _refund)) = self.management_request(sender, &method, &arg, 0, Responder::Ingress(id)) {
                self.complete_ingress(id, payload.into_result());
            }
            return;
        }
        let api = match self.check_callee(canister, &method, true) {
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
}
