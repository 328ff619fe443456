//! Plans: a scenario as backend operations.
//!
//! Each step lowers to [`Op`]s, annotated with how faithfully they map onto a backend with given capabilities
//! ([`Fidelity`]). The executor ([`crate::session`]) performs exactly these operations, on the engine as on
//! PocketIC, so what `--dry-run` prints ([`Plan::render`]) is what a run does.

use std::fmt::Write as _;

use candid::{Encode, Principal};
use serde::Serialize;

use crate::adversary::{self, Action};
use crate::backend::Capabilities;
use crate::environment::{substitute, untyped_args, Environment, Error, Names};
use crate::interface::Interface;
use crate::scenario::values::ValueGen;
use crate::interface::bytes_to_text;
use crate::oracle::builtin::STOP_CHECK_SECONDS;
use crate::scenario::{FaultRef, MessageRef, OutcallAnswer, OutcallRef, Scenario, ScriptAction, Step};

/// Most messages one "run until quiet" delivers (a canister calling itself forever must not hang a run).
pub const MAX_DELIVERIES_PER_DRAIN: usize = 500;

/// Most rounds a "settle" (run until quiet, or a control call on a round-based backend) runs.
pub const MAX_SETTLE_TICKS: usize = 100;

/// A settle on a round-based backend also ends after this many rounds in a row in which no call completed: a
/// held call never completes, and each round of an adversary polling itself is costly on a replica.
pub const MAX_IDLE_TICKS: usize = 10;

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
    /// Answer a pending HTTP outcall.
    AnswerOutcall {
        /// Which one.
        outcall: OutcallRef,
        /// The answer.
        answer: OutcallAnswer,
    },
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
    /// Deliver one pending message (exact delivery order only).
    Deliver {
        /// Which one.
        message: MessageRef,
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
    /// Inject a fault (faults only).
    Fault {
        /// Which one.
        fault: FaultRef,
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
            Op::Deliver { message: MessageRef::Nth(n) } => {
                format!("deliver pending message #{n} (oldest first, held-call polls left out)")
            }
            Op::Deliver { message } => format!("deliver {message}"),
            Op::Tick => "tick()".into(),
            Op::Settle if capabilities.exact_delivery_order => {
                format!("deliver oldest first until nothing is pending (at most {} deliveries)", MAX_DELIVERIES_PER_DRAIN)
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
            Op::Fault { fault } => format!("inject {fault}"),
            Op::AnswerOutcall { outcall, answer } => format!("answer {outcall} with {answer}"),
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
    pub(crate) names: Names,
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

    /// Every operation, setup and end included, as [`Op::render`] words it for this backend.
    pub fn operations(&self) -> Vec<String> {
        std::iter::once(&self.setup)
            .chain(&self.steps)
            .chain(std::iter::once(&self.end))
            .flat_map(|s| s.ops.iter())
            .map(|op| op.render(&self.names, &self.capabilities))
            .collect()
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

/// The plan of `scenario` in `env` on a backend with these capabilities; `stop_check`: the end of the scenario
/// asks every target to stop (an oracle needs it).
pub fn plan(
    env: &Environment,
    scenario: &Scenario,
    backend: &'static str,
    capabilities: &Capabilities,
    stop_check: bool,
) -> Result<Plan, Error> {
    let mut steps = Vec::new();
    let mut busy = false;
    for (index, step) in scenario.steps.iter().enumerate() {
        let (fidelity, ops) = lower(env, index, step, capabilities, backend, busy)?;
        busy = match step {
            Step::Call { .. } | Step::Attack { .. } => true,
            // Quiet means nothing in flight, unless an adversary holds a call.
            Step::RunUntilQuiet => busy && capabilities.hold_and_release && holds(scenario, index),
            _ => busy,
        };
        steps.push(PlannedStep { step: Some(index), title: step.to_string(), fidelity, ops });
    }
    let fidelity = if capabilities.exact_delivery_order || !busy {
        Fidelity::Exact
    } else {
        Fidelity::Approximated(format!(
            "rounds until every call of the scenario has completed; the calls in flight run in {backend}'s order, not \
             oldest first"
        ))
    };
    let end = PlannedStep { step: None, title: END_TITLE.into(), fidelity, ops: end_ops(env, stop_check) };
    let mut unchecked = Vec::new();
    if !capabilities.execution_events {
        unchecked.push(
            "trap in callback, unexpected traps and new traps: the replica does not say which execution trapped; a trap shows only as \
             the reject of the call it ended (instruction and memory limits, and \"did not reply\", are still reported from \
             the error codes of ingress calls; the attacker canister, like any canister, learns only a reject code and message)"
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
        setup: setup_plan(env)?,
        steps,
        end,
        unchecked,
        names: env.names.clone(),
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

/// The operations that set `h` up on a backend: create and install every canister, set the adversaries' default
/// answers, run the setup calls.
pub(crate) fn setup_plan(h: &Environment) -> Result<PlannedStep, Error> {
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
                method: adversary::wire::SET_DEFAULT_METHOD,
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
pub(crate) fn lower(
    h: &Environment,
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
        Step::Attack { attacker, canister, method, args, bounded_wait, cycles } => {
            let a = adversary(attacker)?;
            let (target, arg) = h.encode_call(canister, method, args)?;
            let attack = Encode!(&target, method, &arg, &u128::from(*cycles), bounded_wait).expect("encodes");
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
        Step::Deliver { message } if caps.exact_delivery_order => (Fidelity::Exact, vec![Op::Deliver { message: message.clone() }]),
        Step::Deliver { message } => (
            Fidelity::Approximated(format!(
                "one round (tick): {backend} runs every message deliverable now in an order of its own; which message \
                 runs next ({message}) is not reproducible"
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
            lower_action(h, a, method.as_deref(), action, 0)?;
            let control = if slot.is_some() && *sticky { adversary::wire::SET_DEFAULT_METHOD } else { adversary::wire::SCRIPT_METHOD };
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
                method: adversary::wire::RELEASE_METHOD,
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
        Step::Fault { fault } if caps.faults => (Fidelity::Exact, vec![Op::Fault { fault: fault.clone() }]),
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
        Step::AnswerOutcall { outcall, answer } if caps.http_outcalls => {
            (Fidelity::Exact, vec![Op::AnswerOutcall { outcall: outcall.clone(), answer: answer.clone() }])
        }
        Step::AnswerOutcall { .. } => (
            Fidelity::NotReproducible(format!("{backend} does not hold HTTP outcalls for a scenario to answer")),
            vec![Op::Skip],
        ),
    })
}

/// A scenario's adversary action as the adversary canister executes it; release times count from `now_nanos`.
pub(crate) fn lower_action(
    env: &Environment,
    a: &crate::environment::AdversaryInfo,
    method: Option<&str>,
    action: &ScriptAction,
    now_nanos: u64,
) -> Result<Action, Error> {
    Ok(match action {
        ScriptAction::Reply { value } => {
            let text = substitute(value, &env.names)?;
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
            then: Box::new(lower_action(env, a, method, then, now_nanos)?),
        },
        ScriptAction::CallBack { canister, to_caller, method: callee_method, args, bounded_wait, then } => {
            let (id, arg) = env.encode_call(canister, callee_method, args)?;
            Action::CallThen {
                target: if *to_caller { None } else { Some(id) },
                method: callee_method.clone(),
                arg,
                bounded_wait: *bounded_wait,
                then: Box::new(lower_action(env, a, method, then, now_nanos)?),
            }
        }
    })
}


/// Title of the end-of-scenario phase.
const END_TITLE: &str = "end of scenario: run until quiet, then end checks (invariants; every target can be stopped)";

/// The end of a scenario: settle; with the stop check, let every deadline pass, let held calls poll, settle, and
/// ask every target to stop.
pub(crate) fn end_ops(env: &Environment, stop_check: bool) -> Vec<Op> {
    let mut ops = vec![Op::Settle];
    if stop_check {
        ops.push(Op::AdvanceTime { seconds: STOP_CHECK_SECONDS });
        ops.push(Op::PollHolds { adversary: None });
        ops.push(Op::Settle);
        for c in env.canisters.iter().filter(|c| c.target) {
            ops.push(Op::Management { method: "stop_canister", name: c.name.clone(), id: c.id });
            ops.push(Op::Settle);
            ops.push(Op::AwaitStopped { name: c.name.clone(), id: c.id });
        }
    }
    ops
}

/// The default reply of an impersonated method: the "smallest" well-typed value of its result types (what an
/// honest but dull callee would say), or `()` when the types are unknown.
fn default_reply(interface: Option<&Interface>, method: &str, principals: &[Principal]) -> Action {
    let bytes = interface.and_then(|i| {
        let m = i.method(method).ok()?;
        let gen = ValueGen::new(&i.env, principals, &[]);
        let args = gen.args(&mut arbitrary::Unstructured::new(&[]), &m.rets).ok()?;
        args.to_bytes_with_types(&i.env, &m.rets).ok()
    });
    Action::Reply(bytes.unwrap_or_else(|| candid::encode_args(()).expect("empty args")))
}
