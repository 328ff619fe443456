//! One run of the executor: performing a plan's operations on a backend, recording what happened, checking the
//! oracles after every step.

use std::collections::{BTreeMap, BTreeSet};

use candid::{Encode, Principal};

use super::{MethodStats, Session};
use crate::adversary::{self, AttackResult};
use crate::backend::{Backend, CallId, Capabilities, Outcome, Reject};
use crate::engine::{CanisterStatus, Delivery, Event, Fault, HttpAnswer, MessageId, MessageKind, PendingMessage};
use crate::environment::{Environment, Error};
use crate::oracle::{CallRecord, Finding, Oracle, World};
use crate::plan::{self, CallOp, Op, PlannedStep, MAX_DELIVERIES_PER_DRAIN, MAX_IDLE_TICKS, MAX_SETTLE_TICKS};
use crate::scenario::{FaultRef, MessageRef, OutcallAnswer, OutcallRef, Scenario, Step};
use crate::trace::{Execution, Note, Phase, TraceEntry, TraceEvent};

/// The state of one run over a session's backend, oracles and statistics.
pub(super) struct Exec<'s, B: Backend> {
    env: &'s Environment,
    b: &'s mut B,
    oracles: &'s mut [Box<dyn Oracle>],
    stats: &'s mut BTreeMap<(String, String), MethodStats>,
    misses: &'s mut BTreeSet<(String, String)>,
    unimplemented: &'s mut BTreeMap<String, super::UnimplementedUse>,
    caps: Capabilities,
    stop_check: bool,
    needs_quiescence: bool,
    /// Calls submitted and not yet completed, in submission order.
    in_flight: Vec<(CallId, CallOp)>,
    calls: Vec<CallRecord>,
    /// Log lines already in the trace, per canister of the environment (same order as `env.canisters`).
    logs_seen: Vec<usize>,
    /// Engine events of the current step.
    events: Vec<Event>,
    /// Trace events of the current step, besides the engine's.
    notes: Vec<TraceEvent>,
    /// Upgrades of the current step that failed, for the oracles: (canister name, reject).
    failed_upgrades: Vec<(String, Reject)>,
}

impl<'s, B: Backend> Exec<'s, B> {
    pub(super) fn new(session: &'s mut Session<B>) -> Exec<'s, B> {
        let caps = session.backend.capabilities();
        let stop_check = session.stop_check();
        let needs_quiescence = session.oracles.iter().any(|o| o.needs_quiescence());
        Exec {
            env: &session.env,
            b: &mut session.backend,
            oracles: &mut session.oracles,
            stats: &mut session.stats,
            misses: &mut session.adversary_misses,
            unimplemented: &mut session.unimplemented,
            caps,
            stop_check,
            needs_quiescence,
            in_flight: Vec::new(),
            calls: Vec::new(),
            logs_seen: Vec::new(),
            events: Vec::new(),
            notes: Vec::new(),
            failed_upgrades: Vec::new(),
        }
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Setup(format!("{} backend: {what}: {e}", self.b.name()))
    }

    /// Performs the setup plan; returns its trace entry and the engine's events (for the calibration: what the
    /// setup's own calls trapped on is not news to a scenario).
    pub(super) fn setup(mut self, setup: &PlannedStep) -> Result<(TraceEntry, Vec<Event>), Error> {
        for op in &setup.ops {
            self.perform(op)?;
        }
        let mut events = Vec::new();
        self.b.take_events(&mut events);
        Ok((TraceEntry { phase: Phase::Setup, events: std::mem::take(&mut self.notes) }, events))
    }

    /// Runs `scenario` from the current state. Stops at the first finding.
    pub(super) fn run(mut self, scenario: &Scenario) -> Result<Execution, Error> {
        let controller = self.env.controller;
        self.logs_seen = self.env.canisters.iter().map(|c| self.b.log_len(c.id, controller)).collect();
        // The state after setup, before the first step: what temporal invariants compare the first step with.
        self.judge(0, 0, false, false, |oracle, world| {
            oracle.start(world);
            None::<()>
        });
        let mut resolved = scenario.clone();
        let mut trace = Vec::with_capacity(scenario.steps.len() + 1);
        let mut busy = false;
        for (index, step) in scenario.steps.iter().enumerate() {
            let (_, ops) = plan::lower(self.env, index, step, &self.caps, self.b.name(), busy)?;
            busy = busy || matches!(step, Step::Call { .. } | Step::Attack { .. });
            let calls_before = self.calls.len();
            for op in &ops {
                if let Some(stable) = self.perform(op)? {
                    resolved.steps[index] = stable;
                }
            }
            // Steps that only submit a message or script an adversary change no state an invariant can read (a
            // call refused at submission completes at once, though: invariants read completed calls).
            let changed = !matches!(step, Step::Script { .. } | Step::Call { .. } | Step::Attack { .. });
            let finding = self.after_step(index, calls_before, changed);
            trace.push(self.entry(Phase::Step(index)));
            if let Some(finding) = finding {
                resolved.steps.truncate(index + 1);
                return Ok(self.finish(resolved, trace, Some(finding), index + 1));
            }
        }
        let end = scenario.steps.len();
        let end_ops = plan::end_ops(self.env, self.stop_check);
        let (settle, checks) = end_ops.split_at(1);
        for op in settle {
            self.perform(op)?;
        }
        // A subnet that keeps messaging proves nothing either way; calls still open after a settle by rounds are
        // held calls, which is what the stop check is about.
        let quiet = !self.notes.iter().any(|n| matches!(n, TraceEvent::Note(Note::NotQuiet(_))));
        let calls_before = self.calls.len();
        let mut finding = self.after_step(end, calls_before, true);
        if finding.is_none() && !checks.is_empty() {
            finding = self.stop_check(end, checks, quiet)?;
        }
        if finding.is_none() {
            finding = self.after_scenario(end);
        }
        trace.push(self.entry(Phase::End));
        Ok(self.finish(resolved, trace, finding, end))
    }

    fn finish(self, scenario: Scenario, trace: Vec<TraceEntry>, finding: Option<Finding>, steps_run: usize) -> Execution {
        Execution {
            scenario,
            trace,
            finding,
            calls: self.calls,
            steps_run,
            backend: self.b.name(),
            env: std::sync::Arc::new(self.env.clone()),
        }
    }

    /// The current step's trace entry: engine events first, then the executor's own records.
    fn entry(&mut self, phase: Phase) -> TraceEntry {
        let mut events: Vec<TraceEvent> = self.events.drain(..).map(TraceEvent::Engine).collect();
        events.append(&mut self.notes);
        TraceEntry { phase, events }
    }

    /// The end check: with every deadline passed and held calls still held, ask each target to stop, then let
    /// the oracles judge. Skipped where it cannot find anything: a subnet that keeps messaging proves nothing
    /// either way, and on a backend that counts call contexts, targets with none open stop at once.
    fn stop_check(&mut self, end: usize, checks: &[Op], quiet: bool) -> Result<Option<Finding>, Error> {
        if !quiet {
            self.notes.push(TraceEvent::Note(Note::StopCheckInconclusive("the subnet is not quiet".into())));
            return Ok(None);
        }
        if self.caps.exact_quiescence {
            let env = self.env;
            let busy = env.canisters.iter().filter(|c| c.target).any(|c| self.b.open_call_contexts(c.id).unwrap_or(1) > 0);
            if !busy {
                return Ok(None);
            }
        }
        for op in checks {
            self.perform(op)?;
        }
        self.collect_events();
        let step_calls = self.calls.len();
        let found = self.judge(end, step_calls, true, true, |oracle, world| oracle.at_end(world));
        Ok(found)
    }

    /// The oracles' last word on a scenario that ended with no finding (low-severity findings noted on the way).
    fn after_scenario(&mut self, end: usize) -> Option<Finding> {
        let step_calls = self.calls.len();
        self.judge(end, step_calls, false, false, |oracle, world| oracle.after_scenario(world))
    }

    /// Shows the oracles the world at `step` (the calls from index `step_calls` on are the step's), one after the
    /// other until one has something to say; the oracles' own queries are then forgotten, as they are not part of
    /// the scenario.
    fn judge<T>(
        &mut self,
        step: usize,
        step_calls: usize,
        quiescent: bool,
        changed: bool,
        mut ask: impl FnMut(&mut dyn Oracle, &mut World<'_>) -> Option<T>,
    ) -> Option<T> {
        let Exec { env, b, oracles, calls, events, failed_upgrades, in_flight, .. } = self;
        // Borrowed names: nothing is allocated unless calls are in flight.
        let in_flight_callers: Vec<&str> = in_flight.iter().map(|(_, call)| call.caller_name.as_str()).collect();
        let mut world = World {
            backend: &mut **b as &mut dyn Backend,
            env,
            calls,
            step_calls,
            events,
            failed_upgrades,
            in_flight_callers: &in_flight_callers,
            step,
            quiescent,
            changed,
            unavailable: false,
        };
        let found = oracles.iter_mut().find_map(|oracle| ask(oracle.as_mut(), &mut world));
        b.discard_events();
        found
    }

    /// Performs one operation. For `Deliver` and `Fault` it returns the step under the stable name of what it
    /// delivered or injected.
    fn perform(&mut self, op: &Op) -> Result<Option<Step>, Error> {
        let controller = self.env.controller;
        match op {
            Op::CreateCanister { name, id } => {
                let cycles = self.env.canisters.iter().find(|c| c.id == *id).and_then(|c| c.cycles);
                let got = self.b.create_canister(*id, controller, cycles).map_err(|e| self.fail(&format!("creating `{name}`"), e))?;
                if got != *id {
                    return Err(self.fail(&format!("creating `{name}`"), format!("got id {got}, the scenario needs {id}")));
                }
            }
            Op::Install { name, id, wasm, arg } => {
                self.b.install(*id, wasm, arg.clone(), controller).map_err(|r| self.fail(&format!("installing `{name}`"), r))?;
            }
            Op::Call(call) => match self.b.submit(call.to, call.sender, &call.to_method, call.arg.clone()) {
                Ok(id) if call.step.is_none() => {
                    let what = format!("setup call {}.{}{}", call.canister, call.method, call.args_text);
                    match self.settle_call(id) {
                        Some(Ok(_)) => {}
                        Some(Err(r)) => return Err(Error::Setup(format!("{what} was rejected: {r}"))),
                        None => return Err(Error::Setup(format!("{what} did not complete in {MAX_SETTLE_TICKS} rounds"))),
                    }
                    self.settle();
                }
                Ok(id) => self.in_flight.push((id, call.clone())),
                Err(r) if call.step.is_none() => {
                    return Err(Error::Setup(format!("setup call {}.{}: {r}", call.canister, call.method)));
                }
                Err(r) if call.attack => return Err(self.fail(&format!("attacker {}", call.caller_name), r)),
                Err(r) => {
                    self.notes.push(TraceEvent::Note(Note::Refused(r.clone())));
                    let error = r.error_code;
                    self.record(call.clone(), Err((r.code, r.message)), error);
                }
            },
            Op::Control { adversary, id, method, arg, script, .. } => {
                let arg = match (arg, script) {
                    (Some(arg), _) => arg.clone(),
                    (None, Some((slot, m, action, sticky))) => {
                        let a = self.env.adversary(adversary)?;
                        let now = self.b.time_nanos();
                        let action = plan::lower_action(self.env, a, m.as_deref(), action, now)?;
                        match (slot, sticky) {
                            (Some(slot), true) => Encode!(slot, &action).expect("encodes"),
                            _ => Encode!(slot, &vec![action]).expect("encodes"),
                        }
                    }
                    (None, None) => Encode!().expect("encodes"),
                };
                let call = self.b.submit(*id, controller, method, arg).map_err(|r| self.fail(&format!("{adversary}.{method}"), r))?;
                match self.run_now(call, true) {
                    Some(Ok(_)) => {}
                    Some(Err(r)) => return Err(self.fail(&format!("{adversary}.{method}"), r)),
                    None => return Err(self.fail(&format!("{adversary}.{method}"), "did not complete")),
                }
            }
            Op::PollHolds { adversary } => {
                let of = adversary.as_ref().map(|(_, id)| *id);
                if self.caps.exact_delivery_order {
                    self.poll_holds(of)?;
                } else {
                    self.b.tick();
                }
            }
            Op::Management { method, name, id } => {
                let arg = Encode!(&ManagementArg { canister_id: *id }).expect("encodes");
                match self.b.submit_management(method, *id, controller, arg) {
                    // Stopping waits for open call contexts: it completes later (or never), like any call.
                    Ok(call) => {
                        if let Some(Err(reject)) = self.run_now(call, false) {
                            self.notes.push(TraceEvent::Note(Note::Management { method, canister: name.clone(), reject }));
                        }
                    }
                    Err(reject) => self.notes.push(TraceEvent::Note(Note::Management { method, canister: name.clone(), reject })),
                }
            }
            Op::Upgrade { name, id } => {
                let c = self.env.canister(name)?;
                if let Err(reject) = self.b.upgrade(*id, &c.wasm, c.init_arg.clone(), controller) {
                    self.failed_upgrades.push((name.clone(), reject.clone()));
                    self.notes.push(TraceEvent::Note(Note::UpgradeFailed { canister: name.clone(), reject }));
                }
            }
            Op::Deliver { message } => return self.deliver(message),
            Op::Tick => self.b.tick(),
            Op::AwaitStopped { id, .. } => {
                // A stop completes in a later round than the one that saw the last call context close.
                if !self.caps.exact_delivery_order {
                    for _ in 0..MAX_IDLE_TICKS {
                        if matches!(self.b.canister_status(*id, controller), Ok(CanisterStatus::Stopped)) {
                            break;
                        }
                        self.b.tick();
                    }
                }
            }
            Op::Settle => self.settle(),
            Op::AdvanceTime { seconds } => self.b.advance_time(seconds.saturating_mul(1_000_000_000)),
            Op::Fault { fault } => return self.fault(fault),
            Op::AnswerOutcall { outcall, answer } => return self.answer_outcall(outcall, answer),
            Op::Skip => {}
        }
        Ok(None)
    }

    /// Runs a submitted call at once: delivered alone where the backend can, else one round — or, with
    /// `until_done`, rounds until it completes (a control call never awaits: one round normally does).
    fn run_now(&mut self, call: CallId, until_done: bool) -> Option<Outcome> {
        if self.caps.exact_delivery_order && self.b.deliver_ingress(call).is_ok() {
            return self.b.status(call);
        }
        for _ in 0..if until_done { MAX_IDLE_TICKS } else { 1 } {
            self.b.tick();
            if let Some(outcome) = self.b.status(call) {
                return Some(outcome);
            }
        }
        None
    }

    /// Runs until the call completes (bounded).
    fn settle_call(&mut self, call: CallId) -> Option<Outcome> {
        if self.caps.exact_delivery_order {
            let _ = self.drain();
            return self.b.status(call);
        }
        for _ in 0..MAX_SETTLE_TICKS {
            if let Some(outcome) = self.b.status(call) {
                return Some(outcome);
            }
            self.b.tick();
        }
        self.b.status(call)
    }

    /// Runs until nothing is pending (exact backends) or every scenario call has completed (round-based ones).
    fn settle(&mut self) {
        if self.caps.exact_delivery_order {
            match self.drain() {
                Ok(true) => {}
                Ok(false) => self.notes.push(TraceEvent::Note(Note::NotQuiet(MAX_DELIVERIES_PER_DRAIN))),
                Err(e) => self.notes.push(TraceEvent::Note(Note::StopCheckInconclusive(e.to_string()))),
            }
            return;
        }
        let (mut idle, mut last) = (0, self.open_calls());
        for round in 1..=MAX_SETTLE_TICKS {
            self.b.tick();
            let now = self.open_calls();
            if now == 0 {
                return;
            }
            idle = if now < last { 0 } else { idle + 1 };
            last = now;
            if idle == MAX_IDLE_TICKS || round == MAX_SETTLE_TICKS {
                self.notes.push(TraceEvent::Note(Note::StillOpen { open: now, rounds: round }));
                return;
            }
        }
    }

    /// Scenario calls not completed yet.
    fn open_calls(&mut self) -> usize {
        let Exec { b, in_flight, .. } = self;
        in_flight.iter().filter(|(id, _)| b.status(*id).is_none()).count()
    }

    /// A held call's self-poll: never needs delivering.
    fn is_park(&self, p: &PendingMessage) -> bool {
        p.from == p.to
            && self.env.is_adversary(&p.from)
            && matches!(&p.kind,
                MessageKind::Request { method, .. } | MessageKind::Response { method, .. } if method == adversary::PARK_METHOD)
    }

    /// Messages a `Deliver` step chooses among: everything pending but held calls' polls, oldest first.
    fn deliverable(&mut self) -> Result<Vec<PendingMessage>, Error> {
        let mut pending = self.b.pending().map_err(|e| self.fail("listing pending messages", e))?;
        pending.retain(|p| !self.is_park(p));
        Ok(pending)
    }

    /// Delivers oldest first (no heartbeats, no polls) until nothing is left; `Ok(false)` if still busy after
    /// [`MAX_DELIVERIES_PER_DRAIN`] deliveries.
    fn drain(&mut self) -> Result<bool, Error> {
        for _ in 0..MAX_DELIVERIES_PER_DRAIN {
            let next = self.deliverable()?.into_iter().find(|p| !matches!(p.delivery, Delivery::Heartbeat(_)));
            match next {
                Some(p) => self.b.deliver(p.delivery).map_err(|e| self.fail("deliver", e))?,
                None => return Ok(true),
            }
        }
        Ok(false)
    }

    /// Lets every held call (of one adversary, or of all) poll once: a released one (or one whose release time has
    /// come) goes on with its action, the others park again. Delivers the polls pending now and the answers to
    /// them, never the fresh polls they send, so this ends.
    fn poll_holds(&mut self, adversary: Option<Principal>) -> Result<(), Error> {
        let pending = self.b.pending().map_err(|e| self.fail("listing pending messages", e))?;
        let of = |p: &PendingMessage| adversary.is_none_or(|a| p.from == a);
        let Some(last) = pending.iter().filter(|p| self.is_park(p) && of(p)).map(|p| p.seq).max() else {
            return Ok(());
        };
        for _ in 0..MAX_DELIVERIES_PER_DRAIN {
            let pending = self.b.pending().map_err(|e| self.fail("listing pending messages", e))?;
            let next = pending
                .into_iter()
                .find(|p| self.is_park(p) && of(p) && (p.seq <= last || matches!(p.kind, MessageKind::Response { .. })));
            match next {
                Some(p) => self.b.deliver(p.delivery).map_err(|e| self.fail("polling held calls", e))?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// Nothing to deliver (heartbeats aside) and no call awaiting an answer on a non-adversary canister; on a
    /// round-based backend: every call of the scenario has completed.
    fn quiescent(&mut self) -> Result<bool, Error> {
        if !self.caps.exact_quiescence || !self.caps.exact_delivery_order {
            return Ok(self.in_flight.is_empty());
        }
        if !self.deliverable()?.iter().all(|p| matches!(p.delivery, Delivery::Heartbeat(_))) {
            return Ok(false);
        }
        let env = self.env;
        Ok(env.canisters.iter().all(|c| self.b.outstanding_callbacks(c.id).unwrap_or(0) == 0))
    }

    /// Delivers the message `message` names; returns the step under the message's stable name.
    fn deliver(&mut self, message: &MessageRef) -> Result<Option<Step>, Error> {
        let choices = self.deliverable()?;
        let names = &self.env.names;
        let named = |name: &str| names.resolve(name);
        let pick = match message {
            MessageRef::Nth(n) if !choices.is_empty() => Some(&choices[*n as usize % choices.len()]),
            MessageRef::Nth(_) => None,
            MessageRef::Call { caller, canister, method, nth } => choices
                .iter()
                .filter(|p| self.is_call(p, caller, canister, method))
                .nth(*nth as usize),
            MessageRef::Stream { from, to } => choices.iter().find(|p| {
                matches!(p.delivery, Delivery::Stream { from: f, to: t } if Some(f) == named(from) && Some(t) == named(to))
            }),
            MessageRef::Timer { canister } => {
                choices.iter().find(|p| matches!(p.delivery, Delivery::Timer(c) if Some(c) == named(canister)))
            }
            MessageRef::Heartbeat { canister } => {
                choices.iter().find(|p| matches!(p.delivery, Delivery::Heartbeat(c) if Some(c) == named(canister)))
            }
            MessageRef::Deadline { canister, method } => choices.iter().find(|p| {
                matches!(p.delivery, Delivery::DeadlineExpired { canister: c, .. } if Some(c) == named(canister))
                    && matches!(&p.kind, MessageKind::DeadlineExpired { method: m } if m == method)
            }),
        };
        let Some(pick) = pick else {
            self.notes.push(TraceEvent::Note(Note::NothingToDeliver(message.clone())));
            return Ok(None);
        };
        let stable = self.message_name(pick, &choices).unwrap_or_else(|| message.clone());
        self.b.deliver(pick.delivery).map_err(|e| self.fail("deliver", e))?;
        Ok(Some(Step::Deliver { message: stable }))
    }

    /// The stable name of a pending message: what a replay finds again whatever steps before it were dropped.
    fn message_name(&self, p: &PendingMessage, choices: &[PendingMessage]) -> Option<MessageRef> {
        let n = |p: &Principal| self.env.names.name(p);
        Some(match (&p.delivery, &p.kind) {
            (Delivery::Ingress(MessageId(id)), _) => {
                let (_, op) = self.in_flight.iter().find(|(call, _)| call.0 == *id)?;
                // Choices are oldest first: count the calls alike that wait before this one.
                let nth = choices
                    .iter()
                    .take_while(|c| c.delivery != p.delivery)
                    .filter(|c| self.is_call(c, &op.caller_name, &op.canister, &op.method))
                    .count() as u32;
                MessageRef::Call { caller: op.caller_name.clone(), canister: op.canister.clone(), method: op.method.clone(), nth }
            }
            (Delivery::Stream { from, to }, _) => MessageRef::Stream { from: n(from), to: n(to) },
            (Delivery::Timer(c), _) => MessageRef::Timer { canister: n(c) },
            (Delivery::Heartbeat(c), _) => MessageRef::Heartbeat { canister: n(c) },
            (Delivery::DeadlineExpired { canister, .. }, MessageKind::DeadlineExpired { method }) => {
                MessageRef::Deadline { canister: n(canister), method: method.clone() }
            }
            (Delivery::DeadlineExpired { .. }, _) => return None,
        })
    }

    /// Answers the outcall `outcall` names; returns the step under the outcall's stable name.
    fn answer_outcall(&mut self, outcall: &OutcallRef, answer: &OutcallAnswer) -> Result<Option<Step>, Error> {
        let pending = self.b.pending_outcalls().map_err(|e| self.fail("listing HTTP outcalls", e))?;
        let names = &self.env.names;
        let pick = match outcall {
            OutcallRef::Nth(n) if !pending.is_empty() => Some(&pending[*n as usize % pending.len()]),
            OutcallRef::Nth(_) => None,
            OutcallRef::Url { canister, url, nth } => pending
                .iter()
                .filter(|o| Some(o.canister) == names.resolve(canister) && o.url == *url)
                .nth(*nth as usize),
        };
        let Some(pick) = pick else {
            self.notes.push(TraceEvent::Note(Note::NoOutcall(outcall.clone())));
            return Ok(None);
        };
        // Pending outcalls are oldest first: count those alike before this one.
        let nth = pending.iter().take_while(|o| o.id != pick.id).filter(|o| o.canister == pick.canister && o.url == pick.url).count();
        let stable = OutcallRef::Url { canister: names.name(&pick.canister), url: pick.url.clone(), nth: nth as u32 };
        let engine_answer = match answer {
            OutcallAnswer::Response { status, headers, body } => {
                HttpAnswer::Response { status: *status, headers: headers.clone(), body: body.as_bytes().to_vec() }
            }
            OutcallAnswer::Garbage { status, len, seed } => {
                HttpAnswer::Response { status: *status, headers: vec![], body: crate::rng::Rng(*seed).bytes(*len as usize) }
            }
            OutcallAnswer::Fail { transient, message } => HttpAnswer::Failed { transient: *transient, message: message.clone() },
        };
        self.b.answer_outcall(pick.id, engine_answer).map_err(|e| self.fail("answering an HTTP outcall", e))?;
        Ok(Some(Step::AnswerOutcall { outcall: stable, answer: answer.clone() }))
    }

    /// Whether `p` is the ingress message of a scenario call by `caller` to `canister.method`.
    fn is_call(&self, p: &PendingMessage, caller: &str, canister: &str, method: &str) -> bool {
        match p.delivery {
            Delivery::Ingress(id) => self.in_flight.iter().any(|(call, op)| {
                call.0 == id.0 && op.caller_name == caller && op.canister == canister && op.method == method
            }),
            _ => false,
        }
    }

    /// Injects the fault `fault` names; returns the step under the fault's stable name.
    fn fault(&mut self, fault: &FaultRef) -> Result<Option<Step>, Error> {
        let faults = self.b.faults().map_err(|e| self.fail("listing faults", e))?;
        let names = &self.env.names;
        let named = |name: &str| names.resolve(name);
        let pick = match fault {
            FaultRef::Nth(n) if !faults.is_empty() => Some(faults[*n as usize % faults.len()]),
            FaultRef::Nth(_) => None,
            FaultRef::QueueFull { from, to } => faults
                .iter()
                .copied()
                .find(|f| matches!(f, Fault::RejectTransient { from: a, to: b } if Some(*a) == named(from) && Some(*b) == named(to))),
            FaultRef::Shed { from, to, nth } => faults
                .iter()
                .copied()
                .filter(|f| matches!(f, Fault::Shed { from: a, to: b, .. } if Some(*a) == named(from) && Some(*b) == named(to)))
                .nth(*nth as usize),
        };
        let Some(pick) = pick else {
            self.notes.push(TraceEvent::Note(Note::NoFault(fault.clone())));
            return Ok(None);
        };
        let n = |p: &Principal| self.env.names.name(p);
        let stable = match pick {
            Fault::RejectTransient { from, to } => FaultRef::QueueFull { from: n(&from), to: n(&to) },
            Fault::Shed { from, to, seq } => {
                let nth = faults.iter().filter(|f| matches!(f, Fault::Shed { from: a, to: b, seq: s } if *a == from && *b == to && *s < seq)).count();
                FaultRef::Shed { from: n(&from), to: n(&to), nth: nth as u32 }
            }
        };
        self.b.inject_fault(pick).map_err(|e| self.fail("fault", e))?;
        Ok(Some(Step::Fault { fault: stable }))
    }

    fn record(&mut self, call: CallOp, result: Result<Vec<u8>, (u32, String)>, error: Option<crate::engine::ErrorCode>) {
        if self.env.is_target(&call.canister) {
            let stats = self.stats.entry((call.canister.clone(), call.method.clone())).or_default();
            stats.calls += 1;
            match &result {
                Ok(_) => stats.replies += 1,
                Err((_, message)) => {
                    stats.rejects += 1;
                    stats.failed(message);
                }
            }
        }
        self.notes.push(TraceEvent::Completed(self.calls.len()));
        self.calls.push(CallRecord {
            step: call.step.unwrap_or(0),
            caller: call.caller,
            caller_name: call.caller_name,
            canister: call.canister,
            method: call.method,
            result,
            error,
        });
    }

    /// Takes the backend's events of this step, counting traps, requests to adversaries for methods they do not
    /// impersonate, and what canisters reached that the engine does not implement.
    fn collect_events(&mut self) {
        let from = self.events.len();
        if !self.b.take_events(&mut self.events) {
            return;
        }
        for event in &self.events[from..] {
            match event {
                Event::Executed { canister, method, trap: Some(_), kind, .. } if !kind.is_query() => {
                    if let Some(name) = self.env.target_name(canister) {
                        self.stats.entry((name.to_owned(), method.clone())).or_default().traps += 1;
                    }
                }
                Event::Unimplemented { feature, .. } => {
                    self.unimplemented.entry(feature.to_string()).or_default().count += 1;
                }
                Event::Delivered { to, kind: MessageKind::Request { method, .. }, .. } => {
                    if let Some(a) = self.env.adversaries.iter().find(|a| a.id == *to) {
                        if !a.methods.contains(method) && !adversary::CONTROL_METHODS.contains(&method.as_str()) {
                            self.misses.insert((a.name.clone(), method.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Records what the step did (events, completed calls, logs), then runs the oracles. Returns the first finding.
    fn after_step(&mut self, index: usize, calls_before: usize, changed: bool) -> Option<Finding> {
        self.collect_events();
        let in_flight = std::mem::take(&mut self.in_flight);
        for (id, call) in in_flight {
            let Some(outcome) = self.b.status(id) else {
                self.in_flight.push((id, call));
                continue;
            };
            // An attacker canister, like any canister, learns only the reject code and message of its call; the
            // error code of the ingress message that drove it is not the target's.
            let error = if call.attack { None } else { outcome.as_ref().err().and_then(|r| r.error_code) };
            let result = if call.attack { attack_result(outcome) } else { outcome.map_err(|r| (r.code, r.message)) };
            self.record(call, result, error);
        }
        self.push_logs();
        let changed = changed || self.calls.len() > calls_before;
        let quiescent = self.needs_quiescence && self.quiescent().unwrap_or(false);
        let found = self.judge(index, calls_before, quiescent, changed, |oracle, world| oracle.after_step(world));
        self.failed_upgrades.clear();
        found
    }

    fn push_logs(&mut self) {
        if !self.caps.canister_logs {
            return;
        }
        let controller = self.env.controller;
        for (i, c) in self.env.canisters.iter().enumerate() {
            let len = self.b.log_len(c.id, controller);
            let seen = self.logs_seen.get(i).copied().unwrap_or(0);
            // A restore or reinstall can shorten the log.
            if len > seen {
                if let Ok(lines) = self.b.canister_logs(c.id, controller, seen) {
                    self.notes.extend(lines.into_iter().map(|line| TraceEvent::Log { canister: c.id, line }));
                }
            }
            if let Some(slot) = self.logs_seen.get_mut(i) {
                *slot = len;
            }
        }
    }
}

#[derive(candid::CandidType)]
struct ManagementArg {
    canister_id: Principal,
}

/// The target's answer to an attacker's call, from the adversary's reply to `icfuzz_attack`.
fn attack_result(outcome: Outcome) -> Result<Vec<u8>, (u32, String)> {
    match outcome {
        Ok(bytes) => match candid::decode_one::<AttackResult>(&bytes) {
            Ok(AttackResult::Reply(reply)) => Ok(reply),
            Ok(AttackResult::Reject { code, message }) => Err((code, message)),
            Err(e) => Err((0, format!("attacker reply undecodable: {e}"))),
        },
        Err(r) => Err((r.code, format!("attacker failed: {}", r.message))),
    }
}
