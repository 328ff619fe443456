//! The runner: applies a scenario's steps to the environment and checks the oracles after each.

use std::collections::{BTreeMap, BTreeSet};

use candid::{Encode, Principal};
use serde::Serialize;

use crate::adversary::{self, Action, AttackResult};
use crate::engine::{
    CanisterStatus, Delivery, ErrorCode, Event, IngressStatus, MessageId, MessageKind, PendingMessage, Subnet,
    SubnetSnapshot,
};
use crate::environment::{default_reply, substitute, untyped_args, Error};
use crate::interface::{bytes_to_text, Interface};
use crate::oracle::{CallRecord, Finding, FindingKind, Invariant, Names, Oracles, World};
use crate::scenario::{GeneratorOptions, Scenario, ScriptAction, Step};

/// Most messages one "run until quiet" delivers (a canister calling itself forever must not hang a run).
pub const MAX_DELIVERIES_PER_DRAIN: usize = 500;

/// Time the end-of-scenario stop check lets pass: past every bounded-wait deadline (at most 5 minutes on the IC)
/// and past the management canister's stop timeout.
const STOP_CHECK_SECONDS: u64 = 3_600;

/// A non-adversary canister of the environment.
#[derive(Clone, Debug)]
pub struct CanisterInfo {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: Principal,
    /// Its Candid interface.
    pub interface: Interface,
    pub(crate) wasm: Vec<u8>,
    pub(crate) init_arg: Vec<u8>,
    /// Whether scenarios call it and oracles watch it.
    pub target: bool,
    /// Whether scenarios may upgrade it.
    pub upgradable: bool,
    /// Methods scenarios never call.
    pub exclude: Vec<String>,
    /// Relative weights of methods in generated calls (unlisted methods weigh 1; 0 excludes).
    pub weights: BTreeMap<String, u32>,
}

impl CanisterInfo {
    /// Update methods scenarios may call.
    pub fn callable_methods(&self) -> impl Iterator<Item = &crate::interface::Method> {
        self.interface.updates().filter(|m| !self.exclude.contains(&m.name) && self.weight(&m.name) > 0)
    }

    /// The Candid-encoded init arguments it was installed with.
    pub fn init_arg(&self) -> &[u8] {
        &self.init_arg
    }

    /// The weight of a method in generated calls.
    pub fn weight(&self, method: &str) -> u32 {
        self.weights.get(method).copied().unwrap_or(1)
    }
}

/// An adversary slot of the environment.
#[derive(Clone, Debug)]
pub struct AdversaryInfo {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: Principal,
    /// Impersonated methods; slot `i` answers `methods[i]`.
    pub methods: Vec<String>,
    /// The interface it impersonates, when known (types its replies).
    pub interface: Option<Interface>,
    /// The adversary canister's module with this slot's impersonation exports (what is installed).
    pub(crate) module: Vec<u8>,
}

/// One entry of a trace: a step (or the end-of-scenario checks) and what happened.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TraceEntry {
    /// Step index, `None` for the end-of-scenario checks.
    pub step: Option<usize>,
    /// The step, as text.
    pub title: String,
    /// What happened, one line each: deliveries, executions (with traps), replies, canister logs, faults.
    pub lines: Vec<String>,
}

/// Calls per method of target canisters, and how they ended.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MethodStats {
    /// Calls that completed.
    pub calls: u64,
    /// Replies.
    pub replies: u64,
    /// Rejects (including traps).
    pub rejects: u64,
    /// Executions of this method (or its callbacks) that trapped.
    pub traps: u64,
}

/// The result of running one scenario.
#[derive(Clone, Debug)]
pub struct Execution {
    /// What happened, step by step.
    pub trace: Vec<TraceEntry>,
    /// The first finding, if any (the run stops there).
    pub finding: Option<Finding>,
    /// Calls that completed.
    pub calls: Vec<CallRecord>,
    /// Steps applied (a run stops at the first finding).
    pub steps_run: usize,
}

/// A built environment, ready to run scenarios (see [`crate::Environment`]).
pub struct Harness {
    pub(crate) subnet: Subnet,
    snapshot: Option<SubnetSnapshot>,
    pub(crate) names: Names,
    pub(crate) controller: Principal,
    /// The setup calls the environment ran before its snapshot (other backends replay them).
    pub(crate) setup: Vec<crate::environment::SetupCall>,
    pub(crate) canisters: Vec<CanisterInfo>,
    pub(crate) adversaries: Vec<AdversaryInfo>,
    pub(crate) actors: Vec<(String, Principal)>,
    pub(crate) invariants: Vec<Box<dyn Invariant>>,
    pub(crate) oracles: Oracles,
    pub(crate) generator: GeneratorOptions,
    /// Per (canister, method) statistics over every run of this harness.
    pub stats: BTreeMap<(String, String), MethodStats>,
    /// Scenarios run.
    pub runs: u64,
    /// What the last snapshot restore had to do.
    pub last_restore: crate::engine::RestoreStats,
    /// Methods canisters called on an adversary that does not impersonate them, as (adversary, method): the system
    /// rejects those calls, so adding them to the adversary lets scenarios script their answers (zero-config
    /// discovery of what a canister calls).
    pub adversary_misses: BTreeSet<(String, String)>,
}

/// What the runner is waiting for on an ingress message.
#[derive(Clone, Debug)]
struct InFlight {
    step: usize,
    caller: Principal,
    caller_name: String,
    canister: String,
    method: String,
    attack: bool,
}

/// Per-run state.
struct Run {
    in_flight: BTreeMap<MessageId, InFlight>,
    calls: Vec<CallRecord>,
    logs_seen: BTreeMap<Principal, usize>,
}

impl Harness {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        subnet: Subnet,
        names: Names,
        controller: Principal,
        canisters: Vec<CanisterInfo>,
        adversaries: Vec<AdversaryInfo>,
        actors: Vec<(String, Principal)>,
        invariants: Vec<Box<dyn Invariant>>,
        oracles: Oracles,
        generator: GeneratorOptions,
    ) -> Harness {
        Harness {
            subnet,
            snapshot: None,
            names,
            controller,
            setup: Vec::new(),
            canisters,
            adversaries,
            actors,
            invariants,
            oracles,
            generator,
            stats: BTreeMap::new(),
            runs: 0,
            last_restore: Default::default(),
            adversary_misses: BTreeSet::new(),
        }
    }

    /// The engine (for inspection between runs, e.g. coverage).
    pub fn subnet(&self) -> &Subnet {
        &self.subnet
    }

    /// Canisters of the environment (adversaries excluded).
    pub fn canisters(&self) -> &[CanisterInfo] {
        &self.canisters
    }

    /// Adversary slots.
    pub fn adversaries(&self) -> &[AdversaryInfo] {
        &self.adversaries
    }

    /// Actors that send ingress calls, with their principals.
    pub fn actors(&self) -> &[(String, Principal)] {
        &self.actors
    }

    /// Names of actors and canisters.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Principals arguments are drawn from: adversaries first (the likeliest), then users, then canisters.
    pub(crate) fn principal_scope(&self) -> Vec<Principal> {
        let mut out: Vec<Principal> = self.adversaries.iter().map(|a| a.id).collect();
        out.extend(self.actors.iter().map(|(_, p)| *p).filter(|p| *p != Principal::anonymous()));
        out.extend(self.canisters.iter().map(|c| c.id));
        out
    }

    pub(crate) fn set_adversary_defaults(&mut self) -> Result<(), Error> {
        let scope = self.principal_scope();
        for a in self.adversaries.clone() {
            for (slot, method) in a.methods.iter().enumerate() {
                let action = default_reply(a.interface.as_ref(), method, &scope);
                let arg = Encode!(&(slot as u32), &action).expect("encodes");
                self.control(a.id, "icfuzz_set_default", arg).map_err(Error::Setup)?;
            }
        }
        Ok(())
    }

    pub(crate) fn setup_call(&mut self, actor: Option<&str>, canister: &str, method: &str, args: &str) -> Result<(), Error> {
        let sender = match actor {
            None => self.controller,
            Some(a) => self.names.principal(a).ok_or_else(|| Error::Setup(format!("setup: no actor `{a}`")))?,
        };
        let (id, arg) = self.encode_call(canister, method, args)?;
        let what = format!("setup call {canister}.{method}{args}");
        let msg = self.subnet.submit_call(id, sender, method, arg).map_err(|r| Error::Setup(format!("{what}: {}", r.reject_message)))?;
        match self.subnet.await_call(msg) {
            Ok(Ok(_)) => {}
            Ok(Err(r)) => return Err(Error::Setup(format!("{what} was rejected: {}", r.reject_message))),
            Err(e) => return Err(Error::Setup(format!("{what}: {e}"))),
        }
        self.drain().map_err(Error::Setup)?;
        Ok(())
    }

    pub(crate) fn take_snapshot(&mut self) -> Result<(), Error> {
        self.drain().map_err(Error::Setup)?;
        self.subnet.take_events();
        self.snapshot = Some(self.subnet.snapshot());
        Ok(())
    }

    /// The Candid-encoded call of `canister.method(args)` (args as text with `{name}` placeholders).
    pub(crate) fn encode_call(&self, canister: &str, method: &str, args: &str) -> Result<(Principal, Vec<u8>), Error> {
        let text = substitute(args, &self.names)?;
        if let Some(c) = self.canisters.iter().find(|c| c.name == canister) {
            let m = c.interface.method(method)?;
            return Ok((c.id, c.interface.encode_args(&text, &m.args)?));
        }
        let id = self.names.principal(canister).ok_or_else(|| Error::Scenario(format!("no canister `{canister}`")))?;
        Ok((id, untyped_args(&text)?))
    }

    /// Calls a control method of an adversary and runs it now (it never awaits).
    fn control(&mut self, adversary: Principal, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, String> {
        let msg = self.subnet.submit_call(adversary, self.controller, method, arg).map_err(|r| r.reject_message)?;
        self.subnet.deliver(Delivery::Ingress(msg)).map_err(|e| e.to_string())?;
        match self.subnet.ingress_status(msg) {
            Ok(IngressStatus::Completed(Ok(reply))) => Ok(reply.clone()),
            Ok(IngressStatus::Completed(Err(r))) => Err(format!("adversary {method}: {}", r.reject_message)),
            other => Err(format!("adversary {method} did not complete: {other:?}")),
        }
    }

    fn is_adversary(&self, p: &Principal) -> bool {
        self.adversaries.iter().any(|a| a.id == *p)
    }

    /// A held call's self-poll: never needs delivering.
    fn is_park(&self, p: &PendingMessage) -> bool {
        p.from == p.to
            && self.is_adversary(&p.from)
            && matches!(&p.kind,
                MessageKind::Request { method, .. } | MessageKind::Response { method, .. } if method == adversary::PARK_METHOD)
    }

    /// Lets every held call (of one adversary, or of all) poll once: a released one (or one whose release time has
    /// come) goes on with its action, the others park again. Delivers the polls pending now and the answers to
    /// them, never the fresh polls they send, so this ends.
    fn poll_holds(&mut self, adversary: Option<Principal>) -> Result<(), String> {
        let of = |p: &PendingMessage| adversary.is_none_or(|a| p.from == a);
        let Some(last) = self.subnet.pending().iter().filter(|p| self.is_park(p) && of(p)).map(|p| p.seq).max() else {
            return Ok(());
        };
        for _ in 0..MAX_DELIVERIES_PER_DRAIN {
            let next = self.subnet.pending().into_iter().find(|p| {
                self.is_park(p)
                    && of(p)
                    && (p.seq <= last || matches!(p.kind, MessageKind::Response { .. }))
            });
            match next {
                Some(p) => self.subnet.deliver(p.delivery).map_err(|e| format!("polling held calls: {e}"))?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// Messages a `Deliver` step chooses among: everything pending but held calls' polls.
    pub fn deliverable(&self) -> Vec<PendingMessage> {
        self.subnet.pending().into_iter().filter(|p| !self.is_park(p)).collect()
    }

    /// Nothing to deliver (heartbeats aside) and no call awaiting an answer on a non-adversary canister.
    pub fn quiescent(&self) -> bool {
        self.deliverable().iter().all(|p| matches!(p.delivery, Delivery::Heartbeat(_)))
            && self.canisters.iter().all(|c| self.subnet.outstanding_callbacks(c.id).unwrap_or(0) == 0)
    }

    /// Delivers oldest first (no heartbeats, no polls) until nothing is left.
    fn drain(&mut self) -> Result<usize, String> {
        for delivered in 0..MAX_DELIVERIES_PER_DRAIN {
            let next = self.deliverable().into_iter().find(|p| !matches!(p.delivery, Delivery::Heartbeat(_)));
            match next {
                Some(p) => self.subnet.deliver(p.delivery).map_err(|e| e.to_string())?,
                None => return Ok(delivered),
            }
        }
        Err(format!("still busy after {MAX_DELIVERIES_PER_DRAIN} deliveries (a canister keeps messaging)"))
    }

    /// Runs a scenario from the snapshot. Stops at the first finding.
    pub fn run(&mut self, scenario: &Scenario) -> Result<Execution, Error> {
        let snapshot = self.snapshot.take().ok_or_else(|| Error::Setup("the harness has no snapshot".into()))?;
        let restored = self.subnet.restore(&snapshot);
        self.snapshot = Some(snapshot);
        self.last_restore = restored.map_err(|e| Error::Setup(format!("restoring the snapshot: {e}")))?;
        self.subnet.take_events();
        self.runs += 1;
        let mut run = Run { in_flight: BTreeMap::new(), calls: Vec::new(), logs_seen: BTreeMap::new() };
        for c in &self.canisters {
            run.logs_seen.insert(c.id, self.subnet.canister_logs(c.id).map(|l| l.len()).unwrap_or(0));
        }
        let mut trace = Vec::new();
        for (index, step) in scenario.steps.iter().enumerate() {
            let mut lines = Vec::new();
            let calls_before = run.calls.len();
            self.apply(index, step, &mut run, &mut lines)?;
            // Steps that only submit a message or script an adversary change no state an invariant can read (a
            // call refused at submission completes at once, though: invariants read completed calls).
            let may_change = !matches!(step, Step::Script { .. } | Step::Call { .. } | Step::Attack { .. })
                || run.calls.len() > calls_before;
            let finding = self.after_step(index, &mut run, &mut lines, may_change);
            trace.push(TraceEntry { step: Some(index), title: step.to_string(), lines });
            if let Some(finding) = finding {
                return Ok(Execution { trace, finding: Some(finding), calls: run.calls, steps_run: index + 1 });
            }
        }
        // End of the scenario: let everything in flight finish, then the end checks.
        let end = scenario.steps.len();
        let mut lines = Vec::new();
        let quiet = match self.drain() {
            Ok(_) => true,
            Err(e) => {
                lines.push(format!("not quiet: {e}"));
                false
            }
        };
        let mut finding = self.after_step(end, &mut run, &mut lines, true);
        // The stop check needs a subnet that can settle; one that keeps messaging proves nothing either way.
        if finding.is_none() && self.oracles.cannot_stop && quiet {
            finding = self.check_stoppable(end, &mut run, &mut lines);
        }
        trace.push(TraceEntry { step: None, title: "end of scenario: run until quiet, then end checks".into(), lines });
        Ok(Execution { trace, finding, calls: run.calls, steps_run: end })
    }

    fn canister_by_name(&self, name: &str) -> Result<&CanisterInfo, Error> {
        self.canisters.iter().find(|c| c.name == name).ok_or_else(|| Error::Scenario(format!("no canister `{name}`")))
    }

    fn adversary_by_name(&self, name: &str) -> Result<&AdversaryInfo, Error> {
        self.adversaries.iter().find(|a| a.name == name).ok_or_else(|| Error::Scenario(format!("no adversary `{name}`")))
    }

    fn apply(&mut self, index: usize, step: &Step, run: &mut Run, lines: &mut Vec<String>) -> Result<(), Error> {
        match step {
            Step::Call { actor, canister, method, args } => {
                let sender = self.names.principal(actor).ok_or_else(|| Error::Scenario(format!("no actor `{actor}`")))?;
                let (id, arg) = self.encode_call(canister, method, args)?;
                match self.subnet.submit_call(id, sender, method, arg) {
                    Ok(msg) => {
                        let info = InFlight {
                            step: index,
                            caller: sender,
                            caller_name: actor.clone(),
                            canister: canister.clone(),
                            method: method.clone(),
                            attack: false,
                        };
                        run.in_flight.insert(msg, info);
                    }
                    Err(reject) => {
                        lines.push(format!("refused before execution: {} ({})", reject.reject_message, reject.error_code));
                        let record = CallRecord {
                            step: index,
                            caller: sender,
                            caller_name: actor.clone(),
                            canister: canister.clone(),
                            method: method.clone(),
                            result: Err((reject.reject_code as u32, reject.reject_message)),
                        };
                        self.count(&record);
                        run.calls.push(record);
                    }
                }
            }
            Step::Attack { attacker, canister, method, args, bounded_wait } => {
                let attacker_id = self.adversary_by_name(attacker)?.id;
                let (target, arg) = self.encode_call(canister, method, args)?;
                let attack = Encode!(&target, method, &arg, &0u128, bounded_wait).expect("encodes");
                let msg = self
                    .subnet
                    .submit_call(attacker_id, self.controller, adversary::ATTACK_METHOD, attack)
                    .map_err(|r| Error::Setup(format!("attacker {attacker}: {}", r.reject_message)))?;
                let info = InFlight {
                    step: index,
                    caller: attacker_id,
                    caller_name: attacker.clone(),
                    canister: canister.clone(),
                    method: method.clone(),
                    attack: true,
                };
                run.in_flight.insert(msg, info);
            }
            Step::Deliver { choice } => {
                let choices = self.deliverable();
                if choices.is_empty() {
                    lines.push("nothing to deliver".into());
                } else {
                    let pick = choices[*choice as usize % choices.len()].delivery;
                    self.subnet.deliver(pick).map_err(|e| Error::Setup(format!("deliver: {e}")))?;
                }
            }
            Step::RunUntilQuiet => {
                if let Err(e) = self.drain() {
                    lines.push(e);
                }
            }
            Step::Script { adversary, method, action, sticky } => {
                let a = self.adversary_by_name(adversary)?.clone();
                let slot = match method {
                    None => None,
                    Some(m) => Some(
                        a.methods.iter().position(|x| x == m).ok_or_else(|| {
                            Error::Scenario(format!("adversary `{adversary}` does not impersonate `{m}`"))
                        })? as u32,
                    ),
                };
                let action = self.lower_action(&a, method.as_deref(), action)?;
                match (slot, sticky) {
                    (Some(slot), true) => {
                        let arg = Encode!(&slot, &action).expect("encodes");
                        self.control(a.id, "icfuzz_set_default", arg).map_err(Error::Setup)?;
                    }
                    _ => {
                        let arg = Encode!(&slot, &vec![action]).expect("encodes");
                        self.control(a.id, "icfuzz_script", arg).map_err(Error::Setup)?;
                    }
                }
            }
            Step::Release { adversary } => {
                let a = self.adversary_by_name(adversary)?.id;
                self.control(a, "icfuzz_release", Encode!(&None::<u64>).expect("encodes")).map_err(Error::Setup)?;
                self.poll_holds(Some(a)).map_err(Error::Setup)?;
            }
            Step::AdvanceTime { seconds } => {
                self.subnet.advance_time(seconds.saturating_mul(1_000_000_000));
                // Holds with a release time ("reply late") notice the time at their next poll.
                self.poll_holds(None).map_err(Error::Setup)?;
            }
            Step::Fault { choice } => {
                let faults = self.subnet.faults();
                if faults.is_empty() {
                    lines.push("no fault possible now".into());
                } else {
                    let fault = faults[*choice as usize % faults.len()];
                    self.subnet.inject_fault(fault).map_err(|e| Error::Setup(format!("fault: {e}")))?;
                }
            }
            Step::Stop { canister } | Step::Start { canister } => {
                let id = self.canister_by_name(canister)?.id;
                let method = if matches!(step, Step::Stop { .. }) { "stop_canister" } else { "start_canister" };
                let arg = Encode!(&ManagementArg { canister_id: id }).expect("encodes");
                let msg = self
                    .subnet
                    .submit_call(Principal::management_canister(), self.controller, method, arg)
                    .map_err(|r| Error::Setup(format!("{method}: {}", r.reject_message)))?;
                self.subnet.deliver(Delivery::Ingress(msg)).map_err(|e| Error::Setup(format!("{method}: {e}")))?;
            }
            Step::Upgrade { canister } => {
                let c = self.canister_by_name(canister)?;
                if !c.upgradable {
                    return Err(Error::Scenario(format!("`{canister}` is not upgradable in this environment")));
                }
                let (id, wasm, arg) = (c.id, c.wasm.clone(), c.init_arg.clone());
                if let Err(r) = self.subnet.upgrade_canister(id, &wasm, arg, Some(self.controller)) {
                    lines.push(format!("upgrade failed: {}", r.reject_message));
                }
            }
        }
        Ok(())
    }

    /// Turns a scenario's action into what the adversary canister executes.
    fn lower_action(&self, a: &AdversaryInfo, method: Option<&str>, action: &ScriptAction) -> Result<Action, Error> {
        self.lower_action_at(a, method, action, self.subnet.time_nanos())
    }

    /// [`Harness::lower_action`] with the backend's current time (`now_nanos`) for release times.
    pub(crate) fn lower_action_at(
        &self,
        a: &AdversaryInfo,
        method: Option<&str>,
        action: &ScriptAction,
        now_nanos: u64,
    ) -> Result<Action, Error> {
        Ok(match action {
            ScriptAction::Reply { value } => {
                let text = substitute(value, &self.names)?;
                let typed = method.and_then(|m| a.interface.as_ref().and_then(|i| i.method(m).ok().map(|mm| (i, mm))));
                match typed {
                    Some((i, m)) => Action::Reply(i.encode_args(&text, &m.rets)?),
                    None => Action::Reply(untyped_args(&text)?),
                }
            }
            ScriptAction::Garbage { len, seed } => Action::Garbage { len: *len, seed: *seed },
            ScriptAction::Oversized { len } => Action::Oversized { len: *len },
            ScriptAction::Reject { message } => Action::Reject(message.clone()),
            ScriptAction::Trap { message } => Action::Trap(message.clone()),
            ScriptAction::Hold { release_after_seconds, then } => Action::Hold {
                release_at_nanos: release_after_seconds.map(|s| now_nanos.saturating_add(s.saturating_mul(1_000_000_000))),
                then: Box::new(self.lower_action_at(a, method, then, now_nanos)?),
            },
            ScriptAction::CallBack { canister, to_caller, method: callee_method, args, bounded_wait, then } => {
                let (id, arg) = self.encode_call(canister, callee_method, args)?;
                Action::CallThen {
                    target: if *to_caller { None } else { Some(id) },
                    method: callee_method.clone(),
                    arg,
                    bounded_wait: *bounded_wait,
                    then: Box::new(self.lower_action_at(a, method, then, now_nanos)?),
                }
            }
        })
    }

    fn count(&mut self, record: &CallRecord) {
        let stats = self.stats.entry((record.canister.clone(), record.method.clone())).or_default();
        stats.calls += 1;
        match record.result {
            Ok(_) => stats.replies += 1,
            Err(_) => stats.rejects += 1,
        }
    }

    fn target_name(&self, id: &Principal) -> Option<String> {
        self.canisters.iter().find(|c| c.id == *id && c.target).map(|c| c.name.clone())
    }

    /// Records what the step did, then checks built-in oracles and invariants. Returns the first finding.
    fn after_step(&mut self, index: usize, run: &mut Run, lines: &mut Vec<String>, may_change: bool) -> Option<Finding> {
        let events = self.subnet.take_events();
        let calls_before = run.calls.len();
        let mut finding = None;
        for event in &events {
            if let Some(line) = self.describe(event) {
                lines.push(line);
            }
            match event {
                Event::IngressCompleted { id, result } => {
                    if let Some(info) = run.in_flight.remove(id) {
                        let result = if info.attack { attack_result(result) } else { plain_result(result) };
                        lines.push(format!(
                            "  ⇒ {}.{} called by {} {}",
                            info.canister,
                            info.method,
                            info.caller_name,
                            match &result {
                                Ok(bytes) => format!("replied {}", self.decode_reply(&info.canister, &info.method, bytes)),
                                Err((code, message)) => format!("was rejected (code {code}): {message}"),
                            }
                        ));
                        let record = CallRecord {
                            step: info.step,
                            caller: info.caller,
                            caller_name: info.caller_name,
                            canister: info.canister,
                            method: info.method,
                            result,
                        };
                        self.count(&record);
                        if finding.is_none() && self.oracles.did_not_reply {
                            if let Err((_, message)) = &record.result {
                                if message.contains("did not reply") && self.canisters.iter().any(|c| c.name == record.canister && c.target) {
                                    finding = Some(Finding {
                                        kind: FindingKind::DidNotReply,
                                        oracle: "did not reply".into(),
                                        canister: Some(record.canister.clone()),
                                        method: Some(record.method.clone()),
                                        message: message.clone(),
                                        step: index,
                                    });
                                }
                            }
                        }
                        run.calls.push(record);
                    }
                }
                Event::Executed { canister, mode, method, trap: Some(message), code, .. } => {
                    let Some(name) = self.target_name(canister) else { continue };
                    let method = method.clone();
                    self.stats.entry((name.clone(), method.clone())).or_default().traps += 1;
                    if finding.is_some() {
                        continue;
                    }
                    let found = |kind, oracle: &str| Finding {
                        kind,
                        oracle: oracle.into(),
                        canister: Some(name.clone()),
                        method: Some(method.clone()),
                        message: message.clone(),
                        step: index,
                    };
                    finding = match (*mode, code) {
                        (_, Some(ErrorCode::CanisterInstructionLimitExceeded)) if self.oracles.instruction_limit => {
                            Some(found(FindingKind::InstructionLimit, "instruction limit"))
                        }
                        (_, Some(ErrorCode::CanisterOutOfMemory)) if self.oracles.memory_budget.is_some() => {
                            Some(found(FindingKind::MemoryLimit, "out of memory"))
                        }
                        ("reply callback" | "reject callback", _) if self.oracles.trap_in_callback => {
                            Some(found(FindingKind::TrapInCallback, "trap in callback"))
                        }
                        ("update" | "reply callback" | "reject callback", _) if self.oracles.unexpected_trap => {
                            Some(found(FindingKind::UnexpectedTrap, "unexpected trap"))
                        }
                        _ => None,
                    };
                }
                Event::Delivered { to, kind: MessageKind::Request { method, .. }, .. } => {
                    if let Some(a) = self.adversaries.iter().find(|a| a.id == *to) {
                        if !a.methods.contains(method) && !adversary::CONTROL_METHODS.contains(&method.as_str()) {
                            self.adversary_misses.insert((a.name.clone(), method.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        self.push_logs(run, lines);
        if finding.is_none() {
            finding = self.check_memory(index);
        }
        if finding.is_none() && (may_change || run.calls.len() > calls_before) {
            finding = self.check_invariants(index, run);
        }
        if let Some(f) = &finding {
            lines.push(format!("FINDING: {f}"));
        }
        finding
    }

    fn check_memory(&mut self, index: usize) -> Option<Finding> {
        let budget = self.oracles.memory_budget?;
        for c in self.canisters.iter().filter(|c| c.target) {
            let used = self.subnet.memory_bytes(c.id).unwrap_or(0);
            if used > budget {
                return Some(Finding {
                    kind: FindingKind::MemoryLimit,
                    oracle: "memory budget".into(),
                    canister: Some(c.name.clone()),
                    method: None,
                    message: format!("uses {} KiB of memory, over the budget of {} KiB", used / 1024, budget / 1024),
                    step: index,
                });
            }
        }
        None
    }

    fn check_invariants(&mut self, index: usize, run: &Run) -> Option<Finding> {
        if self.invariants.is_empty() {
            return None;
        }
        let quiescent = self.quiescent();
        let mut invariants = std::mem::take(&mut self.invariants);
        let mut world = World {
            subnet: crate::oracle::Querier::Engine(&mut self.subnet),
            names: &self.names,
            calls: &run.calls,
            controller: self.controller,
            unavailable: false,
        };
        let finding = crate::oracle::check_invariants(&mut invariants, &mut world, quiescent, index);
        self.invariants = invariants;
        // The invariants' queries are not part of the scenario.
        self.subnet.take_events();
        finding
    }

    /// End check: with adversaries still holding what they hold, once every deadline has passed, can each target
    /// be stopped? A target that waits without bound on a callee that never answers cannot, so it cannot be
    /// upgraded either.
    fn check_stoppable(&mut self, index: usize, run: &mut Run, lines: &mut Vec<String>) -> Option<Finding> {
        let busy: Vec<(String, Principal)> = self
            .canisters
            .iter()
            .filter(|c| c.target && self.subnet.open_call_contexts(c.id).unwrap_or(0) > 0)
            .map(|c| (c.name.clone(), c.id))
            .collect();
        if busy.is_empty() {
            return None;
        }
        self.subnet.advance_time(STOP_CHECK_SECONDS * 1_000_000_000);
        if let Err(e) = self.drain() {
            lines.push(format!("stop check inconclusive, not quiet: {e}"));
            return None;
        }
        for (name, id) in busy {
            if self.subnet.open_call_contexts(id).unwrap_or(0) == 0 {
                continue;
            }
            let arg = Encode!(&ManagementArg { canister_id: id }).expect("encodes");
            if let Ok(msg) = self.subnet.submit_call(Principal::management_canister(), self.controller, "stop_canister", arg) {
                let _ = self.subnet.deliver(Delivery::Ingress(msg));
            }
            let drained = self.drain();
            let events = self.subnet.take_events();
            lines.extend(events.iter().filter_map(|e| self.describe(e)));
            if let Err(e) = drained {
                lines.push(format!("stop check inconclusive, not quiet: {e}"));
                return None;
            }
            if self.subnet.canister_status(id).ok() != Some(CanisterStatus::Stopped) {
                let waiting = self.holders();
                let open = self.subnet.open_call_contexts(id).unwrap_or(0);
                let finding = Finding {
                    kind: FindingKind::CannotStop,
                    oracle: "cannot stop".into(),
                    canister: Some(name.clone()),
                    method: None,
                    message: format!(
                        "{name} cannot be stopped (so not upgraded): {open} call context(s) stay open {STOP_CHECK_SECONDS} s later{waiting}; \
                         calls to untrusted canisters should be bounded-wait"
                    ),
                    step: index,
                };
                lines.push(format!("FINDING: {finding}"));
                self.push_logs(run, lines);
                return Some(finding);
            }
        }
        None
    }

    /// ", waiting on <adversary>" for each adversary that holds calls (the usual reason a context stays open).
    fn holders(&mut self) -> String {
        let mut holders = Vec::new();
        for a in &self.adversaries {
            let holds: Vec<u64> = self
                .subnet
                .query_call(a.id, self.controller, "icfuzz_holds", Encode!().expect("encodes"))
                .ok()
                .and_then(|r| candid::decode_one(&r).ok())
                .unwrap_or_default();
            if !holds.is_empty() {
                holders.push(format!("{} (holding {} call(s), never answering)", a.name, holds.len()));
            }
        }
        self.subnet.take_events();
        if holders.is_empty() {
            String::new()
        } else {
            format!(", waiting on {}", holders.join(", "))
        }
    }

    fn push_logs(&self, run: &mut Run, lines: &mut Vec<String>) {
        for c in &self.canisters {
            let Ok(logs) = self.subnet.canister_logs(c.id) else { continue };
            let seen = run.logs_seen.entry(c.id).or_insert(0);
            // A restore or reinstall can shorten the log.
            let start = (*seen).min(logs.len());
            for record in &logs[start..] {
                lines.push(format!("  log {}: {}", c.name, record.content));
            }
            *seen = logs.len();
        }
    }

    pub(crate) fn decode_reply(&self, canister: &str, method: &str, bytes: &[u8]) -> String {
        self.canisters
            .iter()
            .find(|c| c.name == canister)
            .and_then(|c| c.interface.method(method).ok().and_then(|m| c.interface.decode_to_text(bytes, &m.rets)))
            .unwrap_or_else(|| bytes_to_text(bytes))
    }

    fn is_control(&self, from: &Principal, to: &Principal, method: &str) -> bool {
        (self.is_adversary(to) || self.is_adversary(from)) && adversary::CONTROL_METHODS.contains(&method)
    }

    /// One trace line for an engine event, or `None` for the harness's own plumbing.
    fn describe(&self, event: &Event) -> Option<String> {
        let n = |p: &Principal| self.names.name(p);
        match event {
            Event::Delivered { from, to, kind, .. } => {
                let what = match kind {
                    MessageKind::Ingress { method } => {
                        if self.is_control(from, to, method) || (*from == self.controller && method == adversary::ATTACK_METHOD) {
                            return None;
                        }
                        format!("ingress {method}")
                    }
                    MessageKind::Request { method, bounded_wait } => {
                        if self.is_control(from, to, method) {
                            return None;
                        }
                        format!("request {method}{}", if *bounded_wait { " (bounded wait)" } else { "" })
                    }
                    MessageKind::Response { reply, method } => {
                        if self.is_control(from, to, method) {
                            return None;
                        }
                        format!("{} to {method}", if *reply { "reply" } else { "reject" })
                    }
                    MessageKind::Timer => "global timer".into(),
                    MessageKind::Heartbeat => "heartbeat".into(),
                    MessageKind::DeadlineExpired { method } => format!("deadline of {method} expired: SYS_UNKNOWN"),
                };
                Some(format!("deliver {} → {}: {what}", n(from), n(to)))
            }
            Event::Executed { canister, entry, mode, trap, instructions, .. } => {
                // Queries are the invariants' own; the adversary's control methods are plumbing.
                let control = self.is_adversary(canister) && adversary::CONTROL_METHODS.iter().any(|m| entry.ends_with(m));
                if mode.contains("query") || control {
                    return None;
                }
                Some(match trap {
                    None => format!("  {} ran {entry} ({mode}, {instructions} instructions)", n(canister)),
                    Some(message) => format!("  {} TRAPPED in {entry} ({mode}): {message}", n(canister)),
                })
            }
            Event::SystemReject { caller, callee, reject } => {
                Some(format!("  system rejects {} → {}: {} ({})", n(caller), n(callee), reject.reject_message, reject.error_code))
            }
            Event::ResponseDropped { canister, callback } => Some(format!("  late response to {} (callback {callback}) dropped", n(canister))),
            Event::MessageTimedOut { from, to, .. } => Some(format!("  message {} → {} timed out in its queue", n(from), n(to))),
            Event::Fault(fault) => Some(format!("fault: {}", match fault {
                crate::engine::Fault::RejectTransient { from, to } => format!("{} → {} queue full: SYS_TRANSIENT", n(from), n(to)),
                crate::engine::Fault::Shed { from, to, .. } => format!("message {} → {} shed", n(from), n(to)),
            })),
            Event::IngressSubmitted { .. } | Event::IngressCompleted { .. } => None,
        }
    }
}

#[derive(candid::CandidType)]
struct ManagementArg {
    canister_id: Principal,
}

fn plain_result(result: &crate::engine::CallResult) -> Result<Vec<u8>, (u32, String)> {
    match result {
        Ok(bytes) => Ok(bytes.clone()),
        Err(r) => Err((r.reject_code as u32, r.reject_message.clone())),
    }
}

/// The target's answer to an attacker's call, from the adversary's reply to `icfuzz_attack`.
fn attack_result(result: &crate::engine::CallResult) -> Result<Vec<u8>, (u32, String)> {
    match result {
        Ok(bytes) => match candid::decode_one::<AttackResult>(bytes) {
            Ok(AttackResult::Reply(reply)) => Ok(reply),
            Ok(AttackResult::Reject { code, message }) => Err((code, message)),
            Err(e) => Err((0, format!("attacker reply undecodable: {e}"))),
        },
        Err(r) => Err((r.reject_code as u32, format!("attacker failed: {}", r.reject_message))),
    }
}
