//! Executing what is delivered: a request or ingress message runs its method in a new call context, a response
//! runs its callback; a successful run commits (cycles, certified data, timer, the calls it made), a trapped
//! callback runs its cleanup, and the IC's rules decide what the context answers and when it closes
//! (ic-semantics §3).

use super::events::{Event, MessageKind};
use crate::types::Unimplemented;
use super::messages::{Message, Request, Responder, Response};
use super::Subnet;
use crate::canister::{CallOrigin, Callback};
use crate::execution::{self, Entry, Persist, Trapped};
use crate::ic0::{ApiType, ExecState};
use crate::limits;
use crate::types::{CanisterId, CanisterStatus, Cycles, ErrorCode, Payload, Principal, RejectResponse};

/// How a method is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MethodKind {
    Update,
    Query,
    CompositeQuery,
}

/// Input to a callback or method execution beyond what the call context holds.
#[derive(Default)]
pub(super) struct Input {
    pub(super) arg: Vec<u8>,
    pub(super) reject_code: u32,
    pub(super) reject_message: String,
    pub(super) refunded: Cycles,
    pub(super) method_name: String,
}

impl Subnet {
    /// Checks that `canister` can run `method` now; the reject the IC gives otherwise. `replicated` is false for
    /// non-replicated query calls, which the replica runs without any cycles check (nothing is charged for them).
    pub(super) fn check_callee(&self, canister: CanisterId, method: &str, replicated: bool) -> Result<MethodKind, RejectResponse> {
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
        if replicated && !self.can_prepay(canister) {
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

    /// Runs a delivered request: the management canister handles its own; otherwise the callee's method runs in a
    /// new call context, or the system rejects the request when the callee cannot run it.
    pub(super) fn deliver_request(&mut self, request: Request) {
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
        let kind = match self.check_callee(request.receiver, &request.method, true) {
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

    /// Runs a delivered response: credits the refund and the unused reservation, then runs the reply or reject
    /// callback (a response for a callback that is gone is dropped).
    pub(super) fn deliver_response(&mut self, response: Response) {
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
        let deleted = match c.contexts.get_mut(&callback.context) {
            Some(context) => {
                context.outstanding = context.outstanding.saturating_sub(1);
                context.deleted
            }
            None => true,
        };
        if c.code.is_none() || deleted {
            // No callback will run: its prepaid execution returns whole, and a context of uninstalled code is gone
            // with its last response (which may let a stopping canister stop).
            c.cycles = c.cycles.saturating_add(callback.execution_reserve);
            let done = c.contexts.get(&callback.context).is_some_and(|ctx| ctx.deleted && ctx.outstanding == 0);
            if done {
                c.contexts.remove(&callback.context);
                self.maybe_stopped(response.originator);
            }
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

    /// Delivers a system task (timer, heartbeat): records the delivery and runs `export` in its own call context,
    /// which has no caller to answer.
    pub(super) fn run_system_task(&mut self, id: CanisterId, kind: MessageKind, export: &str) {
        // System tasks come from no stream: they carry no sequence number.
        self.events.push(Event::Delivered { seq: u64::MAX, from: Principal::management_canister(), to: id, kind });
        let c = self.canisters.get_mut(&id).expect("checked by caller");
        let context = c.open_context(CallOrigin::System, export.to_owned(), 0, 0);
        self.run_in_context(id, context, Entry::Export(export.to_owned()), ApiType::SystemTask, Input::default(), None, None);
    }

    /// Builds the execution state for canister `id`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn exec_state(
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
        exec.root_key = crate::certification::root_key_der().to_vec();
        exec.env_vars = c.settings.env_vars.clone();
        exec.context_instructions = context_instructions;
        let logged: usize = c.logs.iter().map(|r| r.content.len()).sum();
        exec.log_room = limits::MAX_LOG_BYTES.saturating_sub(logged) as u64;
        exec.instruction_limit = match api {
            ApiType::Start | ApiType::Init | ApiType::PreUpgrade => limits.install,
            api if api.is_query() => limits.query,
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
            api if api.is_query() || api == ApiType::InspectMessage => limits::STABLE_DIRTY_PAGES_QUERY,
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
            // Only requests take a request slot: the responses this canister owes have slots of their own.
            let requests = queue.iter().filter(|queued| matches!(queued.message, Message::Request(_))).count();
            exec.queued_towards.insert(to, requests);
        }
        exec
    }

    /// Runs a method or callback for call context `context` of canister `id`, commits what a successful run
    /// did, runs the cleanup callback if a callback trapped, and applies the IC's rule for what happens to the
    /// context afterwards (ic-semantics §3 table).
    pub(super) fn run_in_context(
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
        let mut exec =
            self.exec_state(id, api, ctx.origin.caller(), input, ctx.available, ctx.responded, ctx.deadline_nanos, ctx.instructions);
        // The replica takes the execution's prepayment (its whole instruction limit) out of the balance before
        // the canister runs, so the canister sees the balance without it; what the execution did not use returns
        // afterwards. Callbacks were prepaid at `call_perform`.
        let visible_prepay = match (prepaid, api) {
            (None, ApiType::Update | ApiType::ReplicatedQuery | ApiType::SystemTask) => {
                self.config.fees.execution(exec.instruction_limit, exec.memory64).min(exec.balance)
            }
            _ => 0,
        };
        exec.balance -= visible_prepay;
        let persist = if api == ApiType::ReplicatedQuery { Persist::Discard } else { Persist::Keep };
        let Some(code) = self.canisters.get_mut(&id).and_then(|c| c.code.as_mut()) else {
            return;
        };
        let executed = execution::run(&self.runtime, code, &entry, exec, persist);
        let trap = executed.result.clone().err();
        self.record_execution(id, &entry, &ctx.method, api, executed.instructions, &executed.exec.logs, trap.as_ref());
        self.report_unimplemented(id, &executed.exec.unimplemented);
        if let Some(ctx) = self.canisters.get_mut(&id).and_then(|c| c.contexts.get_mut(&context)) {
            ctx.instructions += executed.instructions;
        }
        let memory64 = executed.exec.memory64;
        let mut instructions = executed.instructions;
        let response = match &trap {
            None => {
                let response = self.commit(id, context, executed.exec);
                if let Some(c) = self.canisters.get_mut(&id) {
                    c.cycles = c.cycles.saturating_add(visible_prepay);
                }
                response
            }
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
        self.report_unimplemented(id, &executed.exec.unimplemented);
        if trap.is_none() {
            let c = self.canisters.get_mut(&id).expect("exists");
            c.global_timer = executed.exec.global_timer;
            c.cycles = executed.exec.balance;
        }
        executed.instructions
    }

    /// Adds an [`Event::Unimplemented`] for each stand-in an execution of `canister` relied on.
    pub(super) fn report_unimplemented(&mut self, canister: Principal, features: &[Unimplemented]) {
        for feature in features {
            self.events.push(Event::Unimplemented { canister, feature: feature.clone() });
        }
    }

    /// Logs an execution's debug prints (and trap) and adds it to the trace.
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
        self.push_executed(id, entry, method, api, instructions, trap);
    }

    /// Adds an execution to the trace.
    pub(super) fn push_executed(
        &mut self,
        canister: CanisterId,
        entry: &Entry,
        method: &str,
        api: ApiType,
        instructions: u64,
        trap: Option<&Trapped>,
    ) {
        self.events.push(Event::Executed {
            canister,
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
                Callback {
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
            let wrong_version = (to == Principal::management_canister())
                .then(|| super::management::wrong_sender_version(&request.method, &request.arg, exec.version))
                .flatten();
            match wrong_version {
                // Refused on the way out: the reject comes back as the management canister's response.
                Some(reject) => {
                    let response = Response {
                        originator: id,
                        callback: request.callback,
                        method: request.method,
                        payload: Payload::Reject(reject),
                        refund: request.cycles,
                        deadline_nanos: request.deadline_nanos,
                    };
                    self.enqueue(to, id, Message::Response(response));
                }
                None => self.enqueue(id, to, Message::Request(request)),
            }
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

    /// Exec state for the given api with defaults (used by install code paths).
    pub(super) fn install_exec(&self, id: CanisterId, api: ApiType, caller: Principal, arg: Vec<u8>) -> ExecState {
        self.exec_state(id, api, caller, Input { arg, ..Input::default() }, 0, false, 0, 0)
    }
}

pub(super) fn export_name(kind: MethodKind, method: &str) -> String {
    match kind {
        MethodKind::Update => format!("canister_update {method}"),
        MethodKind::Query => format!("canister_query {method}"),
        MethodKind::CompositeQuery => format!("canister_composite_query {method}"),
    }
}

pub(super) fn not_found(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(ErrorCode::CanisterNotFound, format!("Canister {canister} not found"))
}

pub(super) fn empty_canister(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CanisterWasmModuleNotFound,
        format!("Error from Canister {canister}: Attempted to execute a message, but the canister contains no Wasm module."),
    )
}

pub(super) fn composite_in_replicated(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CompositeQueryCalledInReplicatedMode,
        format!("Error from Canister {canister}: Composite query cannot be called in replicated mode"),
    )
}

pub(super) fn did_not_reply(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CanisterDidNotReply,
        format!("Error from Canister {canister}: Canister did not reply to the call"),
    )
}
