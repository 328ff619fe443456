//! The backend-generic scenario executor: a scenario becomes a [`Plan`] of backend operations ([`Op`]), each
//! step annotated with how faithfully it maps ([`Fidelity`]); [`replay`] sets the environment up on a backend and
//! runs the plan there, checking the oracles the backend can support and every invariant after each step.
//!
//! The plan and the execution share one lowering (`lower`), and the executor records every operation it performs
//! as the plan renders it, so what `--dry-run` prints is what a replay does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use candid::{Encode, Principal};
use serde::Serialize;

use super::{Backend, BackendError, CallId, Capabilities, Outcome};
use crate::adversary::{self, AttackResult};
use crate::engine::CanisterStatus;
use crate::environment::{default_reply, substitute, Error};
use crate::interface::bytes_to_text;
use crate::oracle::{CallRecord, Finding, FindingKind, Names, Querier, World};
use crate::runner::{Execution, Harness, TraceEntry};
use crate::scenario::{Scenario, ScriptAction, Step};

/// Most rounds a "settle" (run until quiet, or a control call on a round-based backend) runs.
pub const MAX_SETTLE_TICKS: usize = 100;

/// A settle on a round-based backend also ends after this many rounds in a row in which no call completed: a
/// held call never completes, and each round of an adversary polling itself is costly on a replica.
pub const MAX_IDLE_TICKS: usize = 10;

/// Time the end-of-scenario stop check lets pass (as the default runner: past every deadline and stop timeout).
const STOP_CHECK_SECONDS: u64 = 3_600;

/// How faithfully a step maps onto a backend, compared with what the step means on the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "fidelity", content = "note", rename_all = "snake_case")]
pub enum Fidelity {
    /// The backend does exactly what the step means.
    Exact,
    /// The closest faithful action; the note says what it does and how it differs.
    Approximated(String),
    /// The backend cannot do it; the note says why. The step is skipped.
    NotReproducible(String),
}

impl std::fmt::Display for Fidelity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fidelity::Exact => f.write_str("exact"),
            Fidelity::Approximated(note) => write!(f, "approximated: {note}"),
            Fidelity::NotReproducible(note) => write!(f, "not reproducible: {note}"),
        }
    }
}

/// A call a scenario (or the setup) makes, with what the trace and the oracles need to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOp {
    /// Index of the step (`None` in setup: it must succeed).
    pub step: Option<usize>,
    /// The caller's name (actor, adversary).
    pub caller_name: String,
    /// Who sends the ingress message (the actor; the controller for an attack).
    pub sender: Principal,
    /// The canister the ingress message goes to (the attacker for an attack).
    pub to: Principal,
    /// The method of the ingress message.
    pub to_method: String,
    /// Its argument.
    pub arg: Vec<u8>,
    /// The canister called, by name.
    pub canister: String,
    /// The method called.
    pub method: String,
    /// The arguments as Candid text (for the trace).
    pub args_text: String,
    /// The caller's principal as the callee sees it (the attacker canister for an attack).
    pub caller: Principal,
    /// An attacker canister's call (the reply is the adversary's `AttackResult`).
    pub attack: bool,
}

/// One backend operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create an empty canister at this id, controlled by the controller.
    CreateCanister {
        /// Its name.
        name: String,
        /// Its id.
        id: Principal,
    },
    /// Install a module.
    Install {
        /// The canister's name.
        name: String,
        /// Its id.
        id: Principal,
        /// The module.
        wasm: Vec<u8>,
        /// The encoded init argument.
        arg: Vec<u8>,
    },
    /// Submit a call (scenario or setup).
    Call(CallOp),
    /// Call an adversary's control method and let it run (it never awaits).
    Control {
        /// The adversary's name.
        adversary: String,
        /// Its id.
        id: Principal,
        /// The control method.
        method: &'static str,
        /// Its argument, if known now (`None`: lowered from `script` when run, since release times are relative).
        arg: Option<Vec<u8>>,
        /// The scripted action, for `icfuzz_script`/`icfuzz_set_default`: (slot, method, action, sticky).
        script: Option<(Option<u32>, Option<String>, ScriptAction, bool)>,
        /// What `arg` says, in words (when `script` is `None`).
        what: String,
    },
    /// Let held calls poll once (after a release or a time step).
    PollHolds {
        /// Of this adversary only.
        adversary: Option<(String, Principal)>,
    },
    /// A management call about a canister (stop/start), submitted and let run.
    Management {
        /// `stop_canister` or `start_canister`.
        method: &'static str,
        /// The canister's name.
        name: String,
        /// Its id.
        id: Principal,
    },
    /// Upgrade a canister to its module with its init arguments.
    Upgrade {
        /// The canister's name.
        name: String,
        /// Its id.
        id: Principal,
    },
    /// Deliver the `choice`-th pending message (exact delivery order only).
    Deliver {
        /// Which one.
        choice: u32,
    },
    /// One round.
    Tick,
    /// Run until every call the scenario made has completed (bounded).
    Settle,
    /// Move time forward.
    AdvanceTime {
        /// Seconds.
        seconds: u64,
    },
    /// End check: wait for a canister asked to stop to be stopped (round-based backends: a few rounds).
    AwaitStopped {
        /// The canister's name.
        name: String,
        /// Its id.
        id: Principal,
    },
    /// Inject the `choice`-th possible fault (faults only).
    Fault {
        /// Which one.
        choice: u32,
    },
    /// Nothing: the step cannot run on this backend.
    Skip,
}

impl Op {
    /// The operation in words, as a backend with these capabilities performs it (names resolved).
    pub fn render(&self, names: &Names, capabilities: &Capabilities) -> String {
        let n = |p: &Principal| {
            let name = names.name(p);
            if name == p.to_text() {
                name
            } else {
                format!("{name} {p}")
            }
        };
        let run_it = if capabilities.exact_delivery_order { "deliver it now" } else { "tick() until it completes" };
        match self {
            Op::CreateCanister { id, .. } => format!("create_canister_with_id({}, controllers: [controller])", n(id)),
            Op::Install { id, wasm, arg, .. } => {
                format!("install_canister({}, module of {} bytes, init arg {})", n(id), wasm.len(), bytes_to_text(arg))
            }
            Op::Call(c) if c.step.is_none() => format!(
                "submit_call({}, sender {}, {:?}, {}); tick() until it completes (setup: must succeed)",
                n(&c.to),
                n(&c.sender),
                c.to_method,
                c.args_text
            ),
            Op::Call(c) if c.attack => format!(
                "submit_call({}, sender {}, \"{}\", (call {}.{}{})) — the attacker canister calls {} inter-canister",
                n(&c.to),
                n(&c.sender),
                adversary::ATTACK_METHOD,
                c.canister,
                c.method,
                c.args_text,
                c.canister
            ),
            Op::Call(c) => format!("submit_call({}, sender {}, {:?}, {})", n(&c.to), n(&c.sender), c.to_method, c.args_text),
            Op::Control { id, method, script, what, .. } => {
                let what = match script {
                    Some((slot, _, action, _)) => format!(
                        "{}: {action}",
                        slot.map(|s| format!("slot {s}")).unwrap_or_else(|| "any method".into())
                    ),
                    None => what.clone(),
                };
                format!("submit_call({}, sender controller, {method:?}, {what}); {run_it}", n(id))
            }
            Op::PollHolds { adversary } => {
                let whose = adversary.as_ref().map(|(name, _)| name.clone()).unwrap_or_else(|| "every adversary".into());
                if capabilities.exact_delivery_order {
                    format!("deliver the pending {} self-calls of {whose} once (held calls poll)", adversary::PARK_METHOD)
                } else {
                    format!("tick() (held calls of {whose} poll their {} self-call in the round)", adversary::PARK_METHOD)
                }
            }
            Op::Management { method, id, .. } => format!(
                "submit_call_with_effective_principal(aaaaa-aa, effective canister {}, sender controller, {method:?}, (record {{ canister_id = principal \"{id}\" }})); {}",
                n(id),
                if capabilities.exact_delivery_order { "deliver it now" } else { "tick()" }
            ),
            Op::Upgrade { id, .. } => format!("upgrade_canister({}, same module, init args, sender controller)", n(id)),
            Op::Deliver { choice } => format!("deliver pending message #{choice} (oldest first, held-call polls left out)"),
            Op::Tick => "tick()".into(),
            Op::Settle if capabilities.exact_delivery_order => {
                format!("deliver oldest first until nothing is pending (at most {} deliveries)", crate::MAX_DELIVERIES_PER_DRAIN)
            }
            Op::Settle => format!(
                "tick() until every call of the scenario has completed (at most {MAX_SETTLE_TICKS} rounds; stops after \
                 {MAX_IDLE_TICKS} rounds in a row in which none completed)"
            ),
            Op::AdvanceTime { seconds } => format!("advance_time({seconds} s)"),
            Op::AwaitStopped { id, .. } if capabilities.exact_delivery_order => format!("canister_status({}): stopped?", n(id)),
            Op::AwaitStopped { id, .. } => {
                format!("tick() until canister_status({}) is stopped (at most {MAX_IDLE_TICKS} rounds)", n(id))
            }
            Op::Fault { choice } => format!("inject system fault #{choice}"),
            Op::Skip => "(nothing)".into(),
        }
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedStep {
    /// Index in the scenario (`None` for setup and the end-of-scenario checks).
    pub step: Option<usize>,
    /// The step, as text.
    pub title: String,
    /// How faithfully it maps.
    pub fidelity: Fidelity,
    /// The operations it becomes.
    pub ops: Vec<Op>,
}

/// A scenario as backend operations.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The backend's name.
    pub backend: &'static str,
    /// Its capabilities (the annotations depend on them).
    pub capabilities: Capabilities,
    /// Setup: canisters, modules, adversary defaults, setup calls.
    pub setup: PlannedStep,
    /// The scenario's steps.
    pub steps: Vec<PlannedStep>,
    /// End of scenario: settle, then the end checks.
    pub end: PlannedStep,
    /// Oracles that cannot run on this backend, with why.
    pub unchecked: Vec<String>,
    names: Names,
}

impl Plan {
    /// Steps that map exactly, are approximated, are not reproducible.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for s in &self.steps {
            match s.fidelity {
                Fidelity::Exact => counts.0 += 1,
                Fidelity::Approximated(_) => counts.1 += 1,
                Fidelity::NotReproducible(_) => counts.2 += 1,
            }
        }
        counts
    }

    /// Whether every step maps exactly: a finding of this scenario replays exactly on this backend.
    pub fn exact(&self) -> bool {
        self.steps.iter().all(|s| s.fidelity == Fidelity::Exact)
    }

    /// The operation sequence as text: each step, its fidelity, its operations.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} operation sequence ({} steps)", self.backend, self.steps.len());
        for entry in std::iter::once(&self.setup).chain(&self.steps).chain(std::iter::once(&self.end)) {
            match entry.step {
                Some(i) => {
                    let _ = writeln!(out, "step {}: {}  [{}]", i + 1, entry.title, entry.fidelity);
                }
                None => {
                    let _ = writeln!(out, "{}", entry.title);
                }
            }
            for op in &entry.ops {
                let _ = writeln!(out, "    {}", op.render(&self.names, &self.capabilities));
            }
        }
        let (exact, approximated, impossible) = self.counts();
        let _ = writeln!(out, "summary: {exact} exact, {approximated} approximated, {impossible} not reproducible on {}", self.backend);
        for note in &self.unchecked {
            let _ = writeln!(out, "not checked on {}: {note}", self.backend);
        }
        out
    }
}

/// The result of replaying a scenario on a backend.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The plan that ran.
    pub plan: Plan,
    /// What happened, step by step (render it with [`crate::report::render_trace`]).
    pub execution: Execution,
    /// Every backend operation performed, in order, as [`Op::render`] words it.
    pub ops: Vec<String>,
}

impl Replay {
    /// The replay for a reader: how faithfully the scenario mapped, the trace, the finding, what was not checked.
    pub fn render(&self) -> String {
        let (exact, approximated, impossible) = self.plan.counts();
        let mut out = format!(
            "replayed on {}: {exact} step(s) exact, {approximated} approximated, {impossible} not reproducible\n",
            self.plan.backend
        );
        out.push_str(&crate::report::render_trace(&self.execution));
        for note in &self.plan.unchecked {
            let _ = writeln!(out, "not checked on {}: {note}", self.plan.backend);
        }
        out
    }

    /// Whether the replay found what `expected` says: same kind, same oracle, same canister.
    pub fn confirms(&self, expected: &Finding) -> bool {
        self.execution
            .finding
            .as_ref()
            .is_some_and(|f| f.kind == expected.kind && f.oracle == expected.oracle && f.canister == expected.canister)
    }
}

/// The plan of `scenario` on a backend with these capabilities.
pub fn plan(harness: &Harness, scenario: &Scenario, backend: &'static str, capabilities: &Capabilities) -> Result<Plan, Error> {
    let mut steps = Vec::new();
    let mut busy = false;
    for (index, step) in scenario.steps.iter().enumerate() {
        let (fidelity, ops) = lower(harness, index, step, capabilities, backend, busy)?;
        busy = match step {
            Step::Call { .. } | Step::Attack { .. } => true,
            // Quiet means nothing in flight, unless an adversary holds a call.
            Step::RunUntilQuiet => busy && capabilities.hold_and_release && holds(scenario, index),
            _ => busy,
        };
        steps.push(PlannedStep { step: Some(index), title: step.to_string(), fidelity, ops });
    }
    let mut end_ops = vec![Op::Settle];
    if harness.oracles.cannot_stop {
        end_ops.push(Op::AdvanceTime { seconds: STOP_CHECK_SECONDS });
        end_ops.push(Op::PollHolds { adversary: None });
        end_ops.push(Op::Settle);
        for c in harness.canisters.iter().filter(|c| c.target) {
            end_ops.push(Op::Management { method: "stop_canister", name: c.name.clone(), id: c.id });
            end_ops.push(Op::Settle);
            end_ops.push(Op::AwaitStopped { name: c.name.clone(), id: c.id });
        }
    }
    let end = PlannedStep {
        step: None,
        title: "end of scenario: run until quiet, then end checks (invariants; every target can be stopped)".into(),
        fidelity: Fidelity::Exact,
        ops: end_ops,
    };
    let mut unchecked = Vec::new();
    if !capabilities.execution_events {
        unchecked.push(
            "trap in callback and unexpected traps: the replica does not say which execution trapped; a trap shows only as \
             the reject of the call it ended (instruction and memory limits are still reported from reject codes)"
                .into(),
        );
    }
    if !capabilities.exact_quiescence {
        unchecked.push(
            "exact quiescence: \"at quiescence\" invariants run when every call of the scenario has completed; calls a \
             canister makes without awaiting them may still be in flight"
                .into(),
        );
    }
    Ok(Plan {
        backend,
        capabilities: *capabilities,
        setup: setup_plan(harness)?,
        steps,
        end,
        unchecked,
        names: harness.names.clone(),
    })
}

/// Whether a hold is scripted at or before `index` (a settle then may leave calls held).
fn holds(scenario: &Scenario, index: usize) -> bool {
    scenario.steps[..=index].iter().any(|s| matches!(s, Step::Script { action, .. } if has_hold(action)))
}

fn has_hold(action: &ScriptAction) -> bool {
    match action {
        ScriptAction::Hold { .. } => true,
        ScriptAction::CallBack { then, .. } => has_hold(then),
        _ => false,
    }
}

fn setup_plan(h: &Harness) -> Result<PlannedStep, Error> {
    let mut ops = Vec::new();
    // The engine allocated ids in this order (adversaries first); creating them in id order keeps any backend
    // that allocates sequentially on the same ids.
    let mut ids: Vec<(String, Principal)> = h.adversaries.iter().map(|a| (a.name.clone(), a.id)).collect();
    ids.extend(h.canisters.iter().map(|c| (c.name.clone(), c.id)));
    ids.sort_by_key(|(_, id)| *id);
    ops.extend(ids.into_iter().map(|(name, id)| Op::CreateCanister { name, id }));
    for c in &h.canisters {
        ops.push(Op::Install { name: c.name.clone(), id: c.id, wasm: c.wasm.clone(), arg: c.init_arg.clone() });
    }
    for a in &h.adversaries {
        ops.push(Op::Install { name: a.name.clone(), id: a.id, wasm: a.module.clone(), arg: Encode!().expect("encodes") });
    }
    let scope = h.principal_scope();
    for a in &h.adversaries {
        for (slot, method) in a.methods.iter().enumerate() {
            let action = default_reply(a.interface.as_ref(), method, &scope);
            let what = match &action {
                adversary::Action::Reply(bytes) => format!("slot {slot} ({method}): reply {}", bytes_to_text(bytes)),
                other => format!("slot {slot} ({method}): {other:?}"),
            };
            ops.push(Op::Control {
                adversary: a.name.clone(),
                id: a.id,
                method: "icfuzz_set_default",
                arg: Some(Encode!(&(slot as u32), &action).expect("encodes")),
                script: None,
                what,
            });
        }
    }
    for call in &h.setup {
        let sender = match &call.actor {
            None => h.controller,
            Some(a) => h.names.principal(a).ok_or_else(|| Error::Setup(format!("setup: no actor `{a}`")))?,
        };
        let (to, arg) = h.encode_call(&call.canister, &call.method, &call.args)?;
        ops.push(Op::Call(CallOp {
            step: None,
            caller_name: call.actor.clone().unwrap_or_else(|| "controller".into()),
            sender,
            to,
            to_method: call.method.clone(),
            arg,
            canister: call.canister.clone(),
            method: call.method.clone(),
            args_text: substitute(&call.args, &h.names)?,
            caller: sender,
            attack: false,
        }));
    }
    Ok(PlannedStep { step: None, title: "setup".into(), fidelity: Fidelity::Exact, ops })
}

/// One step as backend operations, and how faithful they are. `busy`: calls may be in flight.
fn lower(
    h: &Harness,
    index: usize,
    step: &Step,
    caps: &Capabilities,
    backend: &str,
    busy: bool,
) -> Result<(Fidelity, Vec<Op>), Error> {
    let round = |what: &str| {
        if caps.exact_delivery_order || !busy {
            Fidelity::Exact
        } else {
            Fidelity::Approximated(format!(
                "{what} takes a round (tick) on {backend}, and that round also runs the messages in flight; on the engine \
                 nothing else moves"
            ))
        }
    };
    let adversary = |name: &str| {
        h.adversaries.iter().find(|a| a.name == name).ok_or_else(|| Error::Scenario(format!("no adversary `{name}`")))
    };
    let canister = |name: &str| {
        h.canisters.iter().find(|c| c.name == name).ok_or_else(|| Error::Scenario(format!("no canister `{name}`")))
    };
    Ok(match step {
        Step::Call { actor, canister, method, args } => {
            let sender = h.names.principal(actor).ok_or_else(|| Error::Scenario(format!("no actor `{actor}`")))?;
            let (to, arg) = h.encode_call(canister, method, args)?;
            let call = CallOp {
                step: Some(index),
                caller_name: actor.clone(),
                sender,
                to,
                to_method: method.clone(),
                arg,
                canister: canister.clone(),
                method: method.clone(),
                args_text: substitute(args, &h.names)?,
                caller: sender,
                attack: false,
            };
            (Fidelity::Exact, vec![Op::Call(call)])
        }
        Step::Attack { attacker, canister, method, args, bounded_wait } => {
            let a = adversary(attacker)?;
            let (target, arg) = h.encode_call(canister, method, args)?;
            let attack = Encode!(&target, method, &arg, &0u128, bounded_wait).expect("encodes");
            let call = CallOp {
                step: Some(index),
                caller_name: attacker.clone(),
                sender: h.controller,
                to: a.id,
                to_method: adversary::ATTACK_METHOD.into(),
                arg: attack,
                canister: canister.clone(),
                method: method.clone(),
                args_text: substitute(args, &h.names)?,
                caller: a.id,
                attack: true,
            };
            (Fidelity::Exact, vec![Op::Call(call)])
        }
        Step::Deliver { choice } if caps.exact_delivery_order => (Fidelity::Exact, vec![Op::Deliver { choice: *choice }]),
        Step::Deliver { choice } => (
            Fidelity::Approximated(format!(
                "one round (tick): {backend} runs every message deliverable now in an order of its own; which message \
                 runs next (choice #{choice}) is not reproducible"
            )),
            vec![Op::Tick],
        ),
        Step::RunUntilQuiet if caps.exact_delivery_order => (Fidelity::Exact, vec![Op::Settle]),
        Step::RunUntilQuiet => (
            Fidelity::Approximated(format!(
                "rounds until every call of the scenario has completed (at most {MAX_SETTLE_TICKS}, or {MAX_IDLE_TICKS} in a \
                 row without progress); messages run in the replica's order, not oldest first"
            )),
            vec![Op::Settle],
        ),
        Step::Script { adversary: name, method, action, sticky } => {
            let a = adversary(name)?;
            let slot = match method {
                None => None,
                Some(m) => Some(a.methods.iter().position(|x| x == m).ok_or_else(|| {
                    Error::Scenario(format!("adversary `{name}` does not impersonate `{m}`"))
                })? as u32),
            };
            // Check the action lowers now (a plan must not promise what cannot run); it is lowered again when run,
            // against the backend's clock.
            h.lower_action_at(a, method.as_deref(), action, 0)?;
            let control = if slot.is_some() && *sticky { "icfuzz_set_default" } else { "icfuzz_script" };
            let op = Op::Control {
                adversary: name.clone(),
                id: a.id,
                method: control,
                arg: None,
                script: Some((slot, method.clone(), action.clone(), *sticky)),
                what: String::new(),
            };
            if has_hold(action) && !caps.hold_and_release {
                return Ok((Fidelity::NotReproducible(format!("{backend} cannot hold calls")), vec![Op::Skip]));
            }
            (round("the control call"), vec![op])
        }
        Step::Release { adversary: name } => {
            let a = adversary(name)?;
            let release = Op::Control {
                adversary: name.clone(),
                id: a.id,
                method: "icfuzz_release",
                arg: Some(Encode!(&None::<u64>).expect("encodes")),
                script: None,
                what: "every held call".into(),
            };
            (round("the release"), vec![release, Op::PollHolds { adversary: Some((name.clone(), a.id)) }])
        }
        Step::AdvanceTime { seconds } => (
            round("letting held calls notice the time"),
            vec![Op::AdvanceTime { seconds: *seconds }, Op::PollHolds { adversary: None }],
        ),
        Step::Fault { choice } if caps.faults => (Fidelity::Exact, vec![Op::Fault { choice: *choice }]),
        Step::Fault { .. } => (
            Fidelity::NotReproducible(format!(
                "{backend} cannot inject system faults: a full queue (SYS_TRANSIENT) or a shed bounded-wait message \
                 happens on the replica only under real load, with no API to cause it"
            )),
            vec![Op::Skip],
        ),
        Step::Stop { canister: name } | Step::Start { canister: name } => {
            let c = canister(name)?;
            let method = if matches!(step, Step::Stop { .. }) { "stop_canister" } else { "start_canister" };
            (round(method), vec![Op::Management { method, name: name.clone(), id: c.id }])
        }
        Step::Upgrade { canister: name } => {
            let c = canister(name)?;
            if !c.upgradable {
                return Err(Error::Scenario(format!("`{name}` is not upgradable in this environment")));
            }
            let fidelity = if caps.exact_delivery_order || !busy {
                Fidelity::Exact
            } else {
                Fidelity::Approximated(format!(
                    "the upgrade runs rounds on {backend} until it completes, and those rounds also run the messages in flight"
                ))
            };
            (fidelity, vec![Op::Upgrade { name: name.clone(), id: c.id }])
        }
    })
}

/// Sets the environment of `harness` up on `backend` and runs `scenario` there, checking after every step the
/// built-in oracles the backend supports and every invariant (their queries go to the backend). Stops at the
/// first finding. `Err` is a harness or backend failure, never a finding.
pub fn replay<B: Backend>(harness: &mut Harness, backend: &mut B, scenario: &Scenario) -> Result<Replay, Error> {
    let caps = backend.capabilities();
    let plan = plan(harness, scenario, backend.name(), &caps)?;
    let mut exec = Exec { h: harness, b: backend, caps, in_flight: Vec::new(), calls: Vec::new(), logs_seen: BTreeMap::new(), ops: Vec::new() };
    let mut trace = Vec::new();
    let mut lines = Vec::new();
    for op in &plan.setup.ops {
        exec.perform(op, &mut lines)?;
    }
    exec.b.take_traps();
    exec.push_logs(&mut Vec::new());
    trace.push(TraceEntry { step: None, title: format!("setup on {}", exec.b.name()), lines });
    for planned in &plan.steps {
        let index = planned.step.expect("scenario steps have indices");
        let mut lines = Vec::new();
        if let Fidelity::Approximated(note) | Fidelity::NotReproducible(note) = &planned.fidelity {
            lines.push(format!("{}: {note}", if matches!(planned.fidelity, Fidelity::Approximated(_)) { "approximated" } else { "NOT REPRODUCIBLE, skipped" }));
        }
        for op in &planned.ops {
            exec.perform(op, &mut lines)?;
        }
        let finding = exec.after_step(index, &mut lines);
        trace.push(TraceEntry { step: Some(index), title: planned.title.clone(), lines });
        if let Some(finding) = finding {
            let execution = Execution { trace, finding: Some(finding), calls: exec.calls, steps_run: index + 1 };
            return Ok(Replay { plan: plan.clone(), execution, ops: exec.ops });
        }
    }
    let end = scenario.steps.len();
    let mut lines = Vec::new();
    let (settle, checks) = plan.end.ops.split_at(1);
    for op in settle {
        exec.perform(op, &mut lines)?;
    }
    let mut finding = exec.after_step(end, &mut lines);
    if finding.is_none() && !checks.is_empty() {
        for op in checks {
            exec.perform(op, &mut lines)?;
        }
        finding = exec.check_stoppable(end, &mut lines);
    }
    trace.push(TraceEntry { step: None, title: plan.end.title.clone(), lines });
    let execution = Execution { trace, finding, calls: exec.calls, steps_run: end };
    Ok(Replay { plan, execution, ops: exec.ops })
}

struct Exec<'a, B: Backend> {
    h: &'a mut Harness,
    b: &'a mut B,
    caps: Capabilities,
    in_flight: Vec<(CallId, CallOp)>,
    calls: Vec<CallRecord>,
    logs_seen: BTreeMap<Principal, usize>,
    ops: Vec<String>,
}

impl<B: Backend> Exec<'_, B> {
    fn fail(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Setup(format!("{} backend: {what}: {e}", self.b.name()))
    }

    fn perform(&mut self, op: &Op, lines: &mut Vec<String>) -> Result<(), Error> {
        self.ops.push(op.render(&self.h.names, &self.caps));
        let controller = self.h.controller;
        match op {
            Op::CreateCanister { name, id } => {
                let got = self.b.create_canister(*id, controller).map_err(|e| self.fail(&format!("creating `{name}`"), e))?;
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
                    self.settle(lines);
                }
                Ok(id) => self.in_flight.push((id, call.clone())),
                Err(r) if call.step.is_none() => {
                    return Err(Error::Setup(format!("setup call {}.{}: {r}", call.canister, call.method)));
                }
                Err(r) if call.attack => return Err(self.fail(&format!("attacker {}", call.caller_name), r)),
                Err(r) => {
                    lines.push(format!("refused before execution: {r}"));
                    self.record(call.clone(), Err((r.code, r.message)), lines);
                }
            },
            Op::Control { adversary, id, method, arg, script, .. } => {
                let arg = match (arg, script) {
                    (Some(arg), _) => arg.clone(),
                    (None, Some((slot, m, action, sticky))) => {
                        let a = self.h.adversaries.iter().find(|a| a.id == *id).expect("planned from the harness").clone();
                        let now = self.b.time_nanos();
                        let action = self.h.lower_action_at(&a, m.as_deref(), action, now)?;
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
                match self.b.poll_self_calls(of, adversary::PARK_METHOD) {
                    Ok(()) => {}
                    Err(BackendError::Unsupported { .. }) => self.b.tick(),
                    Err(e) => return Err(self.fail("polling held calls", e)),
                }
            }
            Op::Management { method, name, id } => {
                let arg = Encode!(&ManagementArg { canister_id: *id }).expect("encodes");
                match self.b.submit_management(method, *id, controller, arg) {
                    Ok(call) => {
                        // Stopping waits for open call contexts: it completes later (or never), like any call.
                        if let Some(Err(r)) = self.run_now(call, false) {
                            lines.push(format!("{method} {name}: {r}"));
                        }
                    }
                    Err(r) => lines.push(format!("{method} {name} refused: {r}")),
                }
            }
            Op::Upgrade { name, id } => {
                let c = self.h.canisters.iter().find(|c| c.id == *id).expect("planned from the harness");
                let (wasm, arg) = (c.wasm.clone(), c.init_arg.clone());
                if let Err(r) = self.b.upgrade(*id, &wasm, arg, controller) {
                    lines.push(format!("upgrade of {name} failed: {r}"));
                }
            }
            Op::Deliver { choice } => match self.b.deliver(*choice, adversary::PARK_METHOD) {
                Ok(Some(what)) => lines.push(format!("delivered {what}")),
                Ok(None) => lines.push("nothing to deliver".into()),
                Err(e) => return Err(self.fail("deliver", e)),
            },
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
            Op::Settle => self.settle(lines),
            Op::AdvanceTime { seconds } => self.b.advance_time(seconds.saturating_mul(1_000_000_000)),
            Op::Fault { choice } => match self.b.inject_fault(*choice) {
                Ok(Some(what)) => lines.push(format!("fault: {what}")),
                Ok(None) => lines.push("no fault possible now".into()),
                Err(e) => return Err(self.fail("fault", e)),
            },
            Op::Skip => {}
        }
        Ok(())
    }

    /// Runs a submitted call at once: delivered alone where the backend can, else one round — or, with
    /// `until_done`, rounds until it completes (a control call never awaits: one round normally does).
    fn run_now(&mut self, call: CallId, until_done: bool) -> Option<Outcome> {
        if self.b.deliver_ingress(call).is_ok() {
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

    /// Rounds until the call completes (bounded).
    fn settle_call(&mut self, call: CallId) -> Option<Outcome> {
        for _ in 0..MAX_SETTLE_TICKS {
            if let Some(outcome) = self.b.status(call) {
                return Some(outcome);
            }
            match self.b.drain(adversary::PARK_METHOD, crate::MAX_DELIVERIES_PER_DRAIN) {
                Ok(_) => return self.b.status(call),
                Err(_) => self.b.tick(),
            }
        }
        self.b.status(call)
    }

    /// Runs until nothing is pending (exact backends) or every scenario call has completed (round-based ones).
    fn settle(&mut self, lines: &mut Vec<String>) {
        match self.b.drain(adversary::PARK_METHOD, crate::MAX_DELIVERIES_PER_DRAIN) {
            Ok(true) => {}
            Ok(false) => lines.push(format!("not quiet after {} deliveries (a canister keeps messaging)", crate::MAX_DELIVERIES_PER_DRAIN)),
            Err(_) => {
                let open = |exec: &mut Self| exec.in_flight.iter().filter(|(id, _)| exec.b.status(*id).is_none()).count();
                let (mut idle, mut last) = (0, open(self));
                for _ in 0..MAX_SETTLE_TICKS {
                    self.b.tick();
                    let now = open(self);
                    if now == 0 {
                        return;
                    }
                    idle = if now < last { 0 } else { idle + 1 };
                    last = now;
                    if idle == MAX_IDLE_TICKS {
                        lines.push(format!("{now} call(s) still open, none completed in the last {MAX_IDLE_TICKS} rounds (held?)"));
                        return;
                    }
                }
                lines.push(format!("calls still open after {MAX_SETTLE_TICKS} rounds (held, or a canister keeps messaging)"));
            }
        }
    }

    fn record(&mut self, call: CallOp, result: Result<Vec<u8>, (u32, String)>, lines: &mut Vec<String>) {
        lines.push(format!(
            "  ⇒ {}.{} called by {} {}",
            call.canister,
            call.method,
            call.caller_name,
            match &result {
                Ok(bytes) => format!("replied {}", self.h.decode_reply(&call.canister, &call.method, bytes)),
                Err((code, message)) => format!("was rejected (code {code}): {message}"),
            }
        ));
        self.calls.push(CallRecord {
            step: call.step.unwrap_or(0),
            caller: call.caller,
            caller_name: call.caller_name,
            canister: call.canister,
            method: call.method,
            result,
        });
    }

    fn is_target(&self, name: &str) -> bool {
        self.h.canisters.iter().any(|c| c.name == name && c.target)
    }

    /// Records completed calls, then the oracles this backend supports and the invariants.
    fn after_step(&mut self, index: usize, lines: &mut Vec<String>) -> Option<Finding> {
        let mut finding = None;
        let in_flight = std::mem::take(&mut self.in_flight);
        for (id, call) in in_flight {
            let Some(outcome) = self.b.status(id) else {
                self.in_flight.push((id, call));
                continue;
            };
            // Error codes come only with the ingress reject; an attack's answer carries a reject code.
            let error_code = outcome.as_ref().err().map(|r| r.error_code);
            let result = if call.attack { attack_result(outcome) } else { outcome.map_err(|r| (r.code, r.message)) };
            let target = self.is_target(&call.canister);
            if finding.is_none() && target {
                let found = |kind, oracle: &str, message: &str| Finding {
                    kind,
                    oracle: oracle.into(),
                    canister: Some(call.canister.clone()),
                    method: Some(call.method.clone()),
                    message: message.to_owned(),
                    step: index,
                };
                if let Err((_, message)) = &result {
                    let o = &self.h.oracles;
                    finding = if o.did_not_reply && message.contains("did not reply") {
                        Some(found(FindingKind::DidNotReply, "did not reply", message))
                    } else if !self.caps.execution_events && o.instruction_limit && error_code == Some(522) {
                        Some(found(FindingKind::InstructionLimit, "instruction limit", message))
                    } else if !self.caps.execution_events && o.memory_budget.is_some() && matches!(error_code, Some(507 | 539)) {
                        Some(found(FindingKind::MemoryLimit, "out of memory", message))
                    } else {
                        None
                    };
                }
            }
            self.record(call, result, lines);
        }
        if let Some(traps) = self.b.take_traps() {
            for trap in traps.into_iter().filter(|t| !t.mode.contains("query")) {
                let Some(name) = self.h.canisters.iter().find(|c| c.id == trap.canister && c.target).map(|c| c.name.clone()) else {
                    continue;
                };
                lines.push(format!("  {name} TRAPPED in {} ({}): {}", trap.method, trap.mode, trap.message));
                if finding.is_some() {
                    continue;
                }
                let o = &self.h.oracles;
                let found = |kind, oracle: &str| Finding {
                    kind,
                    oracle: oracle.into(),
                    canister: Some(name.clone()),
                    method: Some(trap.method.clone()),
                    message: trap.message.clone(),
                    step: index,
                };
                finding = match (trap.mode.as_str(), trap.error_code) {
                    (_, Some(522)) if o.instruction_limit => Some(found(FindingKind::InstructionLimit, "instruction limit")),
                    (_, Some(507)) if o.memory_budget.is_some() => Some(found(FindingKind::MemoryLimit, "out of memory")),
                    ("reply callback" | "reject callback", _) if o.trap_in_callback => {
                        Some(found(FindingKind::TrapInCallback, "trap in callback"))
                    }
                    ("update" | "reply callback" | "reject callback", _) if o.unexpected_trap => {
                        Some(found(FindingKind::UnexpectedTrap, "unexpected trap"))
                    }
                    _ => None,
                };
            }
        }
        self.push_logs(lines);
        if finding.is_none() {
            finding = self.check_memory(index);
        }
        if finding.is_none() {
            finding = self.check_invariants(index);
        }
        if let Some(f) = &finding {
            lines.push(format!("FINDING: {f}"));
        }
        finding
    }

    fn check_memory(&mut self, index: usize) -> Option<Finding> {
        let budget = self.h.oracles.memory_budget?;
        let controller = self.h.controller;
        let targets: Vec<(String, Principal)> =
            self.h.canisters.iter().filter(|c| c.target).map(|c| (c.name.clone(), c.id)).collect();
        for (name, id) in targets {
            let used = self.b.memory_bytes(id, controller).unwrap_or(0);
            if used > budget {
                return Some(Finding {
                    kind: FindingKind::MemoryLimit,
                    oracle: "memory budget".into(),
                    canister: Some(name),
                    method: None,
                    message: format!("uses {} KiB of memory, over the budget of {} KiB", used / 1024, budget / 1024),
                    step: index,
                });
            }
        }
        None
    }

    fn check_invariants(&mut self, index: usize) -> Option<Finding> {
        if self.h.invariants.is_empty() {
            return None;
        }
        let quiescent = self.in_flight.is_empty();
        let mut invariants = std::mem::take(&mut self.h.invariants);
        let mut world = World {
            subnet: Querier::Backend(&mut *self.b),
            names: &self.h.names,
            calls: &self.calls,
            controller: self.h.controller,
            unavailable: false,
        };
        let finding = crate::oracle::check_invariants(&mut invariants, &mut world, quiescent, index);
        self.h.invariants = invariants;
        // The invariants' queries are not part of the scenario.
        self.b.take_traps();
        finding
    }

    /// After the stop requests of the end checks: a target still not stopped cannot be stopped.
    fn check_stoppable(&mut self, index: usize, lines: &mut Vec<String>) -> Option<Finding> {
        if !self.h.oracles.cannot_stop {
            return None;
        }
        let controller = self.h.controller;
        let targets: Vec<(String, Principal)> =
            self.h.canisters.iter().filter(|c| c.target).map(|c| (c.name.clone(), c.id)).collect();
        for (name, id) in targets {
            match self.b.canister_status(id, controller) {
                Ok(CanisterStatus::Stopped) => {}
                Ok(status) => {
                    let finding = Finding {
                        kind: FindingKind::CannotStop,
                        oracle: "cannot stop".into(),
                        canister: Some(name.clone()),
                        method: None,
                        message: format!(
                            "{name} cannot be stopped (so not upgraded): still {status:?} {STOP_CHECK_SECONDS} s later, with \
                             calls still open; calls to untrusted canisters should be bounded-wait"
                        ),
                        step: index,
                    };
                    lines.push(format!("FINDING: {finding}"));
                    return Some(finding);
                }
                Err(e) => lines.push(format!("stop check of {name} inconclusive: {e}")),
            }
        }
        None
    }

    fn push_logs(&mut self, lines: &mut Vec<String>) {
        if !self.caps.canister_logs {
            return;
        }
        let controller = self.h.controller;
        let canisters: Vec<(String, Principal)> = self.h.canisters.iter().map(|c| (c.name.clone(), c.id)).collect();
        for (name, id) in canisters {
            let Ok(logs) = self.b.canister_logs(id, controller) else { continue };
            let seen = self.logs_seen.entry(id).or_insert(0);
            let start = (*seen).min(logs.len());
            for record in &logs[start..] {
                lines.push(format!("  log {name}: {record}"));
            }
            *seen = logs.len();
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
