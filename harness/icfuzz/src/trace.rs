//! Traces: what a run did, recorded as data and rendered to text only when someone reads it.
//!
//! The executor records, per step, the engine's typed events (deliveries, executions, system rejects, faults),
//! the calls that completed, canister log lines and its own notes. Nothing is formatted or decoded while fuzzing:
//! [`Execution::render`] (and [`crate::report::render_trace`]) turn a trace into text with the environment's
//! names and Candid interfaces, and [`Execution::neutral`] keeps only what every backend observes, so a run on
//! the engine and its replay elsewhere compare like for like.

use std::fmt::Write as _;
use std::sync::Arc;

use candid::Principal;

use crate::adversary;
use crate::backend::Reject;
use crate::engine::{Event, Fault, MessageKind};
use crate::environment::Environment;
use crate::oracle::{CallRecord, Finding};
use crate::scenario::{FaultRef, MessageRef, OutcallRef, Scenario};

/// Where a trace entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Setting the environment up on a backend (replays only; the fuzz loop starts from a snapshot of it).
    Setup,
    /// Step `n` (0-based) of the scenario.
    Step(usize),
    /// The end of the scenario: run until quiet, then the end checks.
    End,
}

/// Something the executor itself notes: what it could not do, or did instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A `Deliver` step found nothing to deliver (none pending, or the named message is not pending).
    NothingToDeliver(MessageRef),
    /// A `Deliver` step delivered this message (the name a replay uses).
    Delivered(MessageRef),
    /// A `Fault` step found no fault possible (or not the named one).
    NoFault(FaultRef),
    /// An `AnswerOutcall` step found no pending outcall (or not the named one).
    NoOutcall(OutcallRef),
    /// A `Fault` step injected this fault.
    Injected(FaultRef),
    /// A call was refused before it executed (`canister_inspect_message`, a stopped canister, ...).
    Refused(Reject),
    /// Still busy after this many deliveries: a canister keeps messaging.
    NotQuiet(usize),
    /// On a round-based backend: calls still open after the settle's rounds (held, or messaging forever).
    StillOpen {
        /// Calls of the scenario not completed.
        open: usize,
        /// Rounds run.
        rounds: usize,
    },
    /// A management call (stop, start) failed or was refused.
    Management {
        /// The method.
        method: &'static str,
        /// The canister's name.
        canister: String,
        /// The reject.
        reject: Reject,
    },
    /// An upgrade failed (the old module keeps running).
    UpgradeFailed {
        /// The canister's name.
        canister: String,
        /// The reject.
        reject: Reject,
    },
    /// How the step maps onto a backend that cannot do it exactly (replays only).
    Fidelity(crate::plan::Fidelity),
    /// The end-of-scenario stop check could not run to a conclusion.
    StopCheckInconclusive(String),
}

/// One thing that happened in a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A typed engine event (backends with execution events).
    Engine(Event),
    /// A call of the scenario completed: index into [`Execution::calls`].
    Completed(usize),
    /// A log line of a canister (debug print or trap message).
    Log {
        /// The canister.
        canister: Principal,
        /// The line.
        line: String,
    },
    /// A note of the executor.
    Note(Note),
}

/// What happened in one phase of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Setup, a step, or the end.
    pub phase: Phase,
    /// What happened, in order.
    pub events: Vec<TraceEvent>,
}

/// The result of running one scenario.
#[derive(Clone)]
pub struct Execution {
    /// The scenario as it ran, with every `Deliver` and `Fault` step resolved to a stable name: save this one.
    pub scenario: Scenario,
    /// What happened, step by step.
    pub trace: Vec<TraceEntry>,
    /// The first finding, if any (the run stops there).
    pub finding: Option<Finding>,
    /// Calls that completed.
    pub calls: Vec<CallRecord>,
    /// Steps applied (a run stops at the first finding).
    pub steps_run: usize,
    /// The backend it ran on.
    pub backend: &'static str,
    pub(crate) env: Arc<Environment>,
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("scenario", &self.scenario)
            .field("finding", &self.finding)
            .field("steps_run", &self.steps_run)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Execution {
    /// The readable trace: each step, what it delivered and ran, replies, logs, and the finding.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for entry in &self.trace {
            let _ = writeln!(out, "{}", self.title(entry.phase));
            for line in self.lines(entry) {
                let _ = writeln!(out, "    {line}");
            }
        }
        match &self.finding {
            Some(f) => {
                let _ = writeln!(out, "\nfinding: {f}\nsignature: {}", f.signature());
            }
            None => out.push_str("\nno finding\n"),
        }
        out
    }

    /// The heading of a phase.
    pub fn title(&self, phase: Phase) -> String {
        match phase {
            Phase::Setup => format!("setup on {}", self.backend),
            Phase::Step(i) => match self.scenario.steps.get(i) {
                Some(step) => format!("step {}: {step}", i + 1),
                None => format!("step {}", i + 1),
            },
            Phase::End => "end of scenario: run until quiet, then end checks".into(),
        }
    }

    /// The lines of one entry, as [`Execution::render`] shows them (the finding last, on its step).
    pub fn lines(&self, entry: &TraceEntry) -> Vec<String> {
        let mut lines: Vec<String> = entry.events.iter().filter_map(|e| self.describe(e)).collect();
        if let Some(f) = &self.finding {
            let at = if f.step >= self.scenario.steps.len() { Phase::End } else { Phase::Step(f.step) };
            if at == entry.phase {
                lines.push(format!("FINDING: {f}"));
            }
        }
        lines
    }

    /// The trace as every backend sees it: per step, the calls that completed (with their outcomes), the log
    /// lines, and the finding — without engine events and executor notes, which only some backends have. A run on
    /// the engine and a replay through [`crate::backend::RoundsOnly`] give the same neutral trace for every step
    /// that maps exactly.
    pub fn neutral(&self) -> Vec<(Phase, Vec<String>)> {
        self.trace
            .iter()
            .filter(|e| e.phase != Phase::Setup)
            .map(|entry| {
                let kept = TraceEntry {
                    phase: entry.phase,
                    events: entry
                        .events
                        .iter()
                        .filter(|e| matches!(e, TraceEvent::Completed(_) | TraceEvent::Log { .. }))
                        .cloned()
                        .collect(),
                };
                (entry.phase, self.lines(&kept))
            })
            .collect()
    }

    fn name(&self, p: &Principal) -> String {
        self.env.names.name(p)
    }

    /// Whether a message between `from` and `to` of `method` is the adversaries' own plumbing (control calls,
    /// polls of held calls), which traces leave out. Plumbing goes *to* an adversary from the controller or from
    /// itself: a target may export methods of the same names, and calls to those are the scenario's.
    fn is_control(&self, from: &Principal, to: &Principal, method: &str) -> bool {
        self.env.is_adversary(to)
            && (*from == self.env.controller || from == to)
            && adversary::CONTROL_METHODS.contains(&method)
    }

    /// One line for a trace event, or `None` for the harness's own plumbing.
    fn describe(&self, event: &TraceEvent) -> Option<String> {
        match event {
            TraceEvent::Engine(e) => self.describe_engine(e),
            TraceEvent::Completed(index) => {
                let call = self.calls.get(*index)?;
                Some(format!(
                    "  ⇒ {}.{} called by {} {}",
                    call.canister,
                    call.method,
                    call.caller_name,
                    match &call.result {
                        Ok(bytes) => format!("replied {}", self.env.decode_reply(&call.canister, &call.method, bytes)),
                        Err((code, message)) => format!("was rejected (code {code}): {message}"),
                    }
                ))
            }
            TraceEvent::Log { canister, line } => Some(format!("  log {}: {line}", self.name(canister))),
            TraceEvent::Note(note) => Some(match note {
                Note::NothingToDeliver(m) => format!("nothing to deliver ({m} is not pending)"),
                Note::Delivered(m) => format!("delivered {m}"),
                Note::NoFault(f) => format!("no fault possible now ({f})"),
                Note::NoOutcall(o) => format!("no HTTP outcall to answer ({o} is not pending)"),
                Note::Injected(f) => format!("fault: {f}"),
                Note::Refused(r) => format!("refused before execution: {r}"),
                Note::NotQuiet(n) => format!("not quiet after {n} deliveries (a canister keeps messaging)"),
                Note::StillOpen { open, rounds } => {
                    format!("{open} call(s) still open after {rounds} rounds (held, or a canister keeps messaging)")
                }
                Note::Management { method, canister, reject } => format!("{method} {canister}: {reject}"),
                Note::UpgradeFailed { canister, reject } => format!("upgrade of {canister} failed: {reject}"),
                Note::Fidelity(f) => format!("{f}"),
                Note::StopCheckInconclusive(why) => format!("stop check inconclusive: {why}"),
            }),
        }
    }

    fn describe_engine(&self, event: &Event) -> Option<String> {
        let n = |p: &Principal| self.name(p);
        match event {
            Event::Delivered { from, to, kind, .. } => {
                let what = match kind {
                    MessageKind::Ingress { method } => {
                        if self.is_control(from, to, method)
                            || (*from == self.env.controller && self.env.is_adversary(to) && method == adversary::ATTACK_METHOD)
                        {
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
            Event::Executed { canister, entry, kind, trap, instructions, .. } => {
                // Queries are the invariants' own; the adversary's control methods are plumbing.
                let control =
                    self.env.is_adversary(canister) && adversary::CONTROL_METHODS.iter().any(|m| entry.ends_with(m));
                if kind.is_query() || control {
                    return None;
                }
                Some(match trap {
                    None => format!("  {} ran {entry} ({kind}, {instructions} instructions)", n(canister)),
                    Some(message) => format!("  {} TRAPPED in {entry} ({kind}): {message}", n(canister)),
                })
            }
            Event::SystemReject { caller, callee, reject } => {
                Some(format!("  system rejects {} → {}: {} ({})", n(caller), n(callee), reject.reject_message, reject.error_code))
            }
            Event::ResponseDropped { canister, callback } => {
                Some(format!("  late response to {} (callback {callback}) dropped", n(canister)))
            }
            Event::MessageTimedOut { from, to, .. } => Some(format!("  message {} → {} timed out in its queue", n(from), n(to))),
            Event::Unimplemented { canister, feature } => {
                Some(format!("  {} reached {feature}, which the engine does not implement: the IC would answer otherwise", n(canister)))
            }
            Event::OutcallRequested { canister, id, url, method } => {
                Some(format!("  {} makes HTTP outcall #{id}: {method} {url} (pending until answered)", n(canister)))
            }
            Event::OutcallAnswered { canister, id, reply } => Some(format!(
                "  HTTP outcall #{id} answered: {} gets a {} from aaaaa-aa",
                n(canister),
                if *reply { "reply" } else { "reject" }
            )),
            Event::Fault(fault) => Some(format!(
                "fault: {}",
                match fault {
                    Fault::RejectTransient { from, to } => format!("{} → {} queue full: SYS_TRANSIENT", n(from), n(to)),
                    Fault::Shed { from, to, .. } => format!("message {} → {} shed", n(from), n(to)),
                }
            )),
            Event::IngressSubmitted { .. } | Event::IngressCompleted { .. } | Event::ContextRejected { .. } => None,
        }
    }
}
