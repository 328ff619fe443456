//! Invariants and oracles: what counts as a finding.
//!
//! After every step the runner checks the built-in oracles ([`Oracles`]: trap in a callback, "did not reply",
//! instruction and memory limits) and the user's [`Invariant`]s; invariants marked "at quiescence" only when no
//! message is in flight. At the end of a scenario it checks that every target canister can still be stopped.

use std::collections::BTreeMap;

use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use candid::Principal;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Reject};
use crate::engine::{CanisterId, Subnet};

pub mod declarative;
pub mod invariants;

/// What kind of bug a finding is. The id (`ICF-…`) is stable across versions: triage groups by it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Code after an `await` trapped: its state changes were rolled back while the call it awaited took effect.
    TrapInCallback,
    /// A call context closed without a reply ("did not reply").
    DidNotReply,
    /// A canister cannot be stopped (and so not upgraded) because calls it awaits never complete.
    CannotStop,
    /// An execution hit the instruction limit.
    InstructionLimit,
    /// A canister exceeded its memory budget or limit.
    MemoryLimit,
    /// A lock stayed held with nothing in flight.
    LockNeverReleased,
    /// A caller that must not succeed did.
    AccessControl,
    /// A trap in a method, under the "unexpected trap" policy.
    UnexpectedTrap,
    /// A user invariant does not hold.
    Invariant,
}

impl FindingKind {
    /// Stable id and short name, e.g. `ICF-001 trap in callback`.
    pub fn id(self) -> &'static str {
        match self {
            FindingKind::TrapInCallback => "ICF-001 trap in callback",
            FindingKind::DidNotReply => "ICF-002 did not reply",
            FindingKind::CannotStop => "ICF-003 cannot stop",
            FindingKind::InstructionLimit => "ICF-004 instruction limit",
            FindingKind::MemoryLimit => "ICF-005 memory limit",
            FindingKind::LockNeverReleased => "ICF-006 lock never released",
            FindingKind::AccessControl => "ICF-007 access control",
            FindingKind::UnexpectedTrap => "ICF-008 unexpected trap",
            FindingKind::Invariant => "ICF-100 invariant violated",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// A bug found by a scenario.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What kind of bug.
    pub kind: FindingKind,
    /// The invariant or oracle that fired.
    pub oracle: String,
    /// The canister concerned, by name.
    pub canister: Option<String>,
    /// The method concerned.
    pub method: Option<String>,
    /// What happened.
    pub message: String,
    /// Index of the step after which it was detected (`steps.len()` for the end-of-scenario checks).
    pub step: usize,
}

impl Finding {
    /// Bucketing key: kind, oracle, canister, method and the message with numbers and principals blanked out.
    pub fn signature(&self) -> String {
        format!(
            "{} | {} | {} | {} | {}",
            self.kind.id(),
            self.oracle,
            self.canister.as_deref().unwrap_or("-"),
            self.method.as_deref().unwrap_or("-"),
            normalize(&self.message)
        )
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.kind, self.oracle)?;
        if let Some(c) = &self.canister {
            write!(f, " in {c}")?;
            if let Some(m) = &self.method {
                write!(f, ".{m}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// The first line of a message with digits collapsed, so amounts, ids and times do not split buckets.
fn normalize(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    for ch in line.chars() {
        if ch.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(ch);
        }
    }
    out
}

/// Which built-in oracles run, and their limits.
#[derive(Clone, Debug)]
pub struct Oracles {
    /// Report a trap in code after an `await` (reply/reject callbacks) of a target canister.
    pub trap_in_callback: bool,
    /// Report calls to a target that end in "did not reply".
    pub did_not_reply: bool,
    /// At the end of each scenario, check that every target can be stopped once deadlines pass, while
    /// adversaries keep holding the calls they hold.
    pub cannot_stop: bool,
    /// Report executions of a target that hit the instruction limit.
    pub instruction_limit: bool,
    /// Report a target whose memory (heap + stable) exceeds this many bytes, or whose execution runs out of memory.
    pub memory_budget: Option<u64>,
    /// Report every trap of a target's method execution (not only in callbacks). Off by default: many canisters
    /// trap to reject bad input; traps are counted in the run statistics either way.
    pub unexpected_trap: bool,
}

impl Default for Oracles {
    fn default() -> Oracles {
        Oracles {
            trap_in_callback: true,
            did_not_reply: true,
            cannot_stop: true,
            instruction_limit: true,
            memory_budget: None,
            unexpected_trap: false,
        }
    }
}

/// A completed call made by a scenario step (an ingress call, or an attacker canister's call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Index of the step that made it.
    pub step: usize,
    /// The caller's principal.
    pub caller: Principal,
    /// The caller's name (actor or adversary).
    pub caller_name: String,
    /// The canister called, by name.
    pub canister: String,
    /// The method.
    pub method: String,
    /// Reply bytes, or `(reject code, message)`.
    pub result: Result<Vec<u8>, (u32, String)>,
}

/// Names of the environment: actors and canisters, both ways.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub(crate) by_name: BTreeMap<String, Principal>,
    pub(crate) by_principal: BTreeMap<Principal, String>,
}

impl Names {
    pub(crate) fn insert(&mut self, name: &str, principal: Principal) {
        self.by_name.insert(name.to_owned(), principal);
        self.by_principal.entry(principal).or_insert_with(|| name.to_owned());
    }

    /// The principal called `name`.
    pub fn principal(&self, name: &str) -> Option<Principal> {
        self.by_name.get(name).copied()
    }

    /// The name of a principal, or its text form.
    pub fn name(&self, principal: &Principal) -> String {
        self.by_principal.get(principal).cloned().unwrap_or_else(|| principal.to_text())
    }
}

/// Where an invariant's queries go: the engine the default runner drives, or any [`Backend`] (e.g. PocketIC).
pub(crate) enum Querier<'a> {
    Engine(&'a mut Subnet),
    Backend(&'a mut dyn Backend),
}

/// What an invariant sees: queries to any canister, the engine's state (on the engine), the calls completed so far.
pub struct World<'a> {
    pub(crate) subnet: Querier<'a>,
    pub(crate) names: &'a Names,
    pub(crate) calls: &'a [CallRecord],
    pub(crate) controller: Principal,
    /// Set when a query could not run because its canister does not run (stopped, stopping, frozen, empty):
    /// the invariant cannot be evaluated now, which is not a violation.
    pub(crate) unavailable: bool,
}

impl World<'_> {
    /// The principal of a named actor or canister.
    pub fn principal(&self, name: &str) -> Result<Principal, String> {
        self.names.principal(name).ok_or_else(|| format!("no actor or canister is called `{name}`"))
    }

    /// Runs a query method of a named canister (as the controller) and decodes the result.
    pub fn query<A: ArgumentEncoder, R: for<'de> ArgumentDecoder<'de>>(
        &mut self,
        canister: &str,
        method: &str,
        args: A,
    ) -> Result<R, String> {
        let bytes = candid::encode_args(args).map_err(|e| format!("encoding arguments of {canister}.{method}: {e}"))?;
        let reply = self.query_raw(canister, method, bytes)?;
        candid::decode_args(&reply).map_err(|e| format!("decoding the reply of {canister}.{method}: {e}"))
    }

    /// Runs a query method with raw arguments; `Err` carries the reject. A canister that is not running cannot be
    /// queried (as on the IC); an invariant that fails for that reason is skipped, not reported.
    pub fn query_raw(&mut self, canister: &str, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, String> {
        let id: CanisterId = self.principal(canister)?;
        let result = match &mut self.subnet {
            Querier::Engine(subnet) => subnet.query_call(id, self.controller, method, arg).map_err(|r| Reject::from(&r)),
            Querier::Backend(backend) => backend.query(id, self.controller, method, arg),
        };
        result.map_err(|r| {
            if r.canister_not_running() {
                self.unavailable = true;
            }
            format!("query {canister}.{method} rejected: {}", r.message)
        })
    }

    /// The engine, read-only (cycle balances, call contexts, memory, logs, ...), when the scenario runs on the
    /// engine; `None` on other backends (PocketIC), which do not expose engine state. Invariants that read
    /// engine state cannot be checked there.
    pub fn subnet(&self) -> Option<&Subnet> {
        match &self.subnet {
            Querier::Engine(subnet) => Some(subnet),
            Querier::Backend(_) => None,
        }
    }

    /// Calls completed so far in this scenario, in completion order.
    pub fn calls(&self) -> &[CallRecord] {
        self.calls
    }

    /// The name of a principal (actor or canister), or its text form.
    pub fn name(&self, principal: &Principal) -> String {
        self.names.name(principal)
    }
}

/// Checks `invariants` in order (those `at_quiescence` only when `quiescent`) and returns the first violation as
/// a finding of step `step`. An invariant whose canister cannot be queried now (stopped, frozen) is skipped.
pub(crate) fn check_invariants(
    invariants: &mut [Box<dyn Invariant>],
    world: &mut World<'_>,
    quiescent: bool,
    step: usize,
) -> Option<Finding> {
    for inv in invariants.iter_mut() {
        if inv.at_quiescence() && !quiescent {
            continue;
        }
        world.unavailable = false;
        let result = inv.check(world);
        if world.unavailable {
            // A canister it reads is stopped or frozen: it cannot be checked now.
            continue;
        }
        if let Err(message) = result {
            return Some(Finding { kind: inv.kind(), oracle: inv.name().to_owned(), canister: None, method: None, message, step });
        }
    }
    None
}

/// A property that must hold. Return `Err(message)` when it does not.
pub trait Invariant: Send {
    /// Short name, shown in findings and used in signatures.
    fn name(&self) -> &str;
    /// The kind of finding a violation is.
    fn kind(&self) -> FindingKind {
        FindingKind::Invariant
    }
    /// Checked only when no message is in flight (nothing deliverable, no call awaiting an answer).
    fn at_quiescence(&self) -> bool {
        false
    }
    /// Checks the property.
    fn check(&mut self, world: &mut World<'_>) -> Result<(), String>;
}
