//! Composite query call graphs: a composite query called by a user may call query and composite query methods on
//! the subnet, as the replica's `query_handler/query_context.rs` evaluates them.
//!
//! - Depth first, one call at a time, in the order made: a call's whole subgraph runs, then its callback runs on
//!   the caller, before the caller's next call; calls made in a callback queue behind the others. Once a canister
//!   has replied, its remaining calls are dropped.
//! - Every call into a canister starts from its committed state (a second call to the same canister, or a call
//!   back into a canister on the stack, too); a canister's changes last across its own callbacks until it
//!   responds; nothing persists after the query call. Each frame runs on its own instance built from the
//!   committed state, so the live canisters are never touched.
//! - Limits fail the whole query call: depth 6 (a canister at depth 6 that does not reply at once, IC0525) and
//!   5 B instructions for the graph, 50 M charged per call (IC0526). A single execution is bounded by the query
//!   limit or what is left of the graph's budget, whichever is less.
//! - Only the root composite query has a data certificate; callees and callbacks have none. No cycles move.
//!
//! Not modelled: the 10-second wall-clock limit (IC0528; the engine's executions are bounded by instructions).

use std::collections::VecDeque;

use super::execute::{did_not_reply, export_name, Input, MethodKind};
use super::Subnet;
use crate::certification::LazyCertificate;
use crate::execution::{self, Entry, Persist};
use crate::ic0::{ApiType, OutgoingCall};
use crate::runtime::Code;
use crate::types::{CallResult, CanisterId, ErrorCode, Payload, Principal, RejectResponse};

/// A canister deeper than this that does not reply at once fails the query call.
const MAX_DEPTH: usize = 6;
/// Instructions a whole call graph may use.
const GRAPH_INSTRUCTIONS: i64 = 5_000_000_000;
/// Instructions charged to the graph per call made.
const CALL_OVERHEAD: i64 = 50_000_000;

/// The graph being evaluated: its budget and its root (the one canister whose frame has a certificate).
struct Graph {
    root: CanisterId,
    budget: i64,
}

/// What one execution in a frame did: its response, the calls it made, or its trap (which drops both).
struct Step {
    response: Option<Payload>,
    calls: Vec<OutgoingCall>,
    trap: Option<RejectResponse>,
}

/// Fails the whole query call (a limit of the graph), as opposed to a reject passed to a caller.
struct Fatal(RejectResponse);

fn too_deep() -> Fatal {
    Fatal(RejectResponse::new(ErrorCode::QueryCallGraphTooDeep, "Composite query calls exceeded the maximum call depth."))
}

fn over_budget() -> Fatal {
    Fatal(RejectResponse::new(
        ErrorCode::QueryCallGraphTotalInstructionLimitExceeded,
        "Composite query calls exceeded the instruction limit.",
    ))
}

impl Subnet {
    /// A query call to a composite query method: evaluates its call graph and returns the root's response.
    pub(super) fn composite_query_call(&mut self, canister: CanisterId, sender: Principal, method: &str, arg: Vec<u8>) -> CallResult {
        let mut graph = Graph { root: canister, budget: GRAPH_INSTRUCTIONS };
        match self.frame(&mut graph, canister, sender, method, arg, 0) {
            Ok(payload) => payload.into_result(),
            Err(Fatal(reject)) => Err(reject),
        }
    }

    /// One call in the graph at `depth`: the callee's method, then its calls and their callbacks, until it has
    /// responded or has nothing left to wait for. Returns its response (a reject for what the IC rejects).
    fn frame(
        &mut self,
        graph: &mut Graph,
        canister: CanisterId,
        caller: Principal,
        method: &str,
        arg: Vec<u8>,
        depth: usize,
    ) -> Result<Payload, Fatal> {
        if canister == Principal::management_canister() {
            // The management canister answers no calls from queries (it is not a canister of the subnet).
            let reject = RejectResponse::new(ErrorCode::CanisterNotFound, format!("Canister {} not found", self.config.subnet_id));
            return Ok(Payload::Reject(reject));
        }
        let kind = match self.check_callee(canister, method, false) {
            Ok(MethodKind::Update) => {
                return Ok(Payload::Reject(RejectResponse::new(
                    ErrorCode::CanisterMethodNotFound,
                    format!("Error from Canister {canister}: Canister has no query method '{method}'."),
                )))
            }
            Ok(kind) => kind,
            Err(reject) => return Ok(Payload::Reject(reject)),
        };
        let Some(mut code) = self.frame_instance(canister) else {
            let reject = RejectResponse::new(ErrorCode::CanisterTrapped, format!("Error from Canister {canister}: could not instantiate it"));
            return Ok(Payload::Reject(reject));
        };
        let api = if kind == MethodKind::Query { ApiType::NonReplicatedQuery } else { ApiType::CompositeQuery };
        let entry = Entry::Export(export_name(kind, method));
        let certified = depth == 0 && canister == graph.root;
        let input = Input { arg, ..Input::default() };
        let step = self.run_in_frame(graph, canister, &mut code, caller, &entry, method, api, input, certified);
        let mut response = match step.trap {
            Some(trap) => Some(Payload::Reject(trap)),
            None => step.response,
        };
        let mut queue: VecDeque<OutgoingCall> = step.calls.into();
        while response.is_none() {
            let Some(call) = queue.pop_front() else { break };
            if depth >= MAX_DEPTH {
                return Err(too_deep());
            }
            if graph.budget <= 0 {
                return Err(over_budget());
            }
            graph.budget -= CALL_OVERHEAD;
            let answer = self.frame(graph, call.callee, canister, &call.method, call.arg.clone(), depth + 1)?;
            // The graph's limits are checked between every two steps, so before the callback too.
            if graph.budget <= 0 {
                return Err(over_budget());
            }
            let (fun, api, input) = match answer {
                Payload::Reply(bytes) => (call.reply, ApiType::CompositeReplyCallback, Input { arg: bytes, ..Input::default() }),
                Payload::Reject(reject) => (
                    call.reject,
                    ApiType::CompositeRejectCallback,
                    Input { reject_code: reject.reject_code as u32, reject_message: reject.reject_message, ..Input::default() },
                ),
            };
            let callback = Entry::Callback { fun: fun.0, env: fun.1 };
            let step = self.run_in_frame(graph, canister, &mut code, caller, &callback, method, api, input, false);
            response = match (step.trap, call.cleanup) {
                // A trapping callback is the frame's answer; its cleanup runs first (it cannot call), and a trap
                // there is added to the message.
                (Some(trap), Some(cleanup)) => {
                    let entry = Entry::Callback { fun: cleanup.0, env: cleanup.1 };
                    let cleaned = self.run_in_frame(graph, canister, &mut code, caller, &entry, method, ApiType::CompositeCleanup, Input::default(), false);
                    let message = match cleaned.trap {
                        Some(second) => format!("{}\n\ncall_on_cleanup also failed:\n\n{}", trap.reject_message, second.reject_message),
                        None => trap.reject_message,
                    };
                    Some(Payload::Reject(RejectResponse::new(trap.error_code, message)))
                }
                (Some(trap), None) => Some(Payload::Reject(trap)),
                (None, _) => step.response,
            };
            queue.extend(step.calls);
        }
        match response {
            Some(payload) => Ok(payload),
            // A canister that deep which does not reply at once fails the query call, even with nothing to wait for.
            None if depth >= MAX_DEPTH => Err(too_deep()),
            None => Ok(Payload::Reject(did_not_reply(canister))),
        }
    }

    /// A fresh instance of `canister` holding its committed heap, globals and stable memory.
    fn frame_instance(&mut self, canister: CanisterId) -> Option<Code> {
        let code = self.canisters.get_mut(&canister)?.code.as_mut()?;
        let heap = code.committed_heap();
        let stable = code.store.data().stable.detached();
        self.runtime.instantiate_with(code.module.clone(), &heap, stable).ok()
    }

    /// Runs one execution of the frame on its instance (kept unless it traps) and charges the graph.
    #[allow(clippy::too_many_arguments)]
    fn run_in_frame(
        &mut self,
        graph: &mut Graph,
        canister: CanisterId,
        code: &mut Code,
        caller: Principal,
        entry: &Entry,
        method: &str,
        api: ApiType,
        input: Input,
        certified: bool,
    ) -> Step {
        let mut exec = self.exec_state(canister, api, caller, input, 0, false, 0, 0);
        let left = u64::try_from(graph.budget).unwrap_or(0);
        exec.instruction_limit = exec.instruction_limit.min(left);
        if certified {
            exec.certificate = Some(LazyCertificate::new(self.time_nanos, self.canisters[&canister].certified_data.clone()));
        }
        let executed = execution::run(&self.runtime, code, entry, exec, Persist::Keep);
        graph.budget -= i64::try_from(executed.instructions).unwrap_or(i64::MAX);
        self.push_executed(canister, entry, method, api, executed.instructions, executed.result.as_ref().err());
        self.report_unimplemented(canister, &executed.exec.unimplemented);
        match executed.result {
            Err(trap) => Step { response: None, calls: Vec::new(), trap: Some(RejectResponse::new(trap.code, trap.message)) },
            Ok(()) => Step { response: executed.exec.response, calls: executed.exec.calls, trap: None },
        }
    }
}
