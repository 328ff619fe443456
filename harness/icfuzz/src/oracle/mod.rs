//! Oracles: what counts as a finding.
//!
//! An [`Oracle`] is a hook module the scenario executor calls after every step and at the end of a scenario, with
//! a [`World`] that shows what the step did (typed engine events, calls completed) and answers queries. Every
//! hook does nothing by default, like revm's inspectors. The built-in oracles ([`builtin`]: trap in a callback,
//! "did not reply", instruction and memory limits, unexpected traps, failed upgrades, cannot stop) are one module
//! each, switched on and off by [`Oracles`]; the user's [`Invariant`]s are oracles too. The first oracle that
//! reports ends the run.

use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use candid::Principal;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Capabilities};
use crate::engine::{CanisterStatus, Event, Subnet};
use crate::environment::{Environment, Names};

pub mod builtin;
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
    /// A trap of a target's method that neither the setup nor any single call on the state after setup reached:
    /// only a history of calls gets there (low severity: many such traps are deliberate, `assert`s that hold).
    NewTrap,
    /// An upgrade failed in the canister's own code (pre_upgrade or post_upgrade trapped or ran out of
    /// instructions or memory).
    UpgradeFails,
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
            FindingKind::NewTrap => "ICF-010 new trap",
            FindingKind::UpgradeFails => "ICF-009 upgrade fails",
            FindingKind::Invariant => "ICF-100 invariant violated",
        }
    }
}

impl FindingKind {
    /// How serious a finding of this kind is.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::NewTrap => Severity::Low,
            _ => Severity::High,
        }
    }
}

/// How serious a finding is. Low-severity findings are reported and saved like the others, but never end a scenario
/// early, and never stop a libFuzzer campaign.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A bug by the oracle's own rule (a trap in a callback, a broken invariant, ...).
    High,
    /// Worth a look: possibly a bug, possibly deliberate (a trap only a history of calls reaches).
    Low,
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
        if self.kind.severity() == Severity::Low {
            f.write_str(" (low severity)")?;
        }
        if let Some(c) = &self.canister {
            write!(f, " in {c}")?;
            if let Some(m) = &self.method {
                write!(f, ".{m}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// The first line of a message with principals as `P`, hex dumps as `H` and digits collapsed, so amounts, ids,
/// times, callers and hashes do not split one bug into many buckets.
pub(crate) fn normalize(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    let is_token = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        let token_len = rest.find(|c: char| !is_token(c)).unwrap_or(rest.len());
        if token_len == 0 {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let token = &rest[..token_len];
        if is_principal_text(token) {
            out.push('P');
        } else if let Some(hex) = hex_run(token) {
            out.push_str(&blank_digits(&token[..token.len() - hex.len()]));
            out.push('H');
        } else {
            out.push_str(&blank_digits(token));
        }
        rest = &rest[token_len..];
    }
    out
}

/// A principal's text form: groups of five base-32 characters (`a`–`z`, `2`–`7`) joined by `-`, the last
/// group shorter or as long (`aaaaa-aa`, `2vxsx-fae`, `rrkah-fqaaa-aaaaa-aaaaq-cai`).
fn is_principal_text(token: &str) -> bool {
    let groups: Vec<&str> = token.split('-').collect();
    let base32 = |g: &str| g.chars().all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c));
    groups.len() >= 2
        && groups.iter().all(|g| base32(g) && !g.is_empty())
        && groups[..groups.len() - 1].iter().all(|g| g.len() == 5)
        && groups[groups.len() - 1].len() <= 5
        // Two groups of letters could be a hyphenated word; principals that short carry a digit, or are aaaaa-aa.
        && (groups.len() > 2 || token.chars().any(|c| c.is_ascii_digit()) || token == "aaaaa-aa")
}

/// The hex dump a token ends with (8 or more hex digits, one of them a decimal digit), e.g. the `4449444c…`
/// of a Candid payload, a hash, or `0x…`.
fn hex_run(token: &str) -> Option<&str> {
    let start = token.rfind(|c: char| !c.is_ascii_hexdigit()).map_or(0, |i| i + 1);
    let run = &token[start..];
    (run.len() >= 8 && run.chars().any(|c| c.is_ascii_digit()) && run.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
        .then_some(run)
}

/// `text` with every run of digits replaced by `N` (signatures, golden traces).
pub fn blank_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for ch in text.chars() {
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

/// A check an oracle makes: the step it ran after, and what it does.
pub trait Oracle: Send {
    /// Short name, shown in findings and used in signatures.
    fn name(&self) -> &str;
    /// After every step (and after the end-of-scenario settle), with what the step did.
    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let _ = world;
        None
    }
    /// Whether [`Oracle::after_step`] reads [`World::quiescent`] (computing it costs a look at every queue).
    fn needs_quiescence(&self) -> bool {
        false
    }
    /// Whether the end of a scenario must ask every target to stop (the cannot-stop check), before
    /// [`Oracle::at_end`].
    fn needs_stop_check(&self) -> bool {
        false
    }
    /// Once, at the end of a scenario that ran to its end without a finding: after the stop requests of the end
    /// check, when an oracle asked for them.
    fn at_end(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let _ = world;
        None
    }
    /// Once, last, after a scenario that ran to its end with no other finding: for low-severity findings, which
    /// an oracle notes in [`Oracle::after_step`] and reports here, so they never end a scenario before a more
    /// serious finding could be made.
    fn after_scenario(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let _ = world;
        None
    }
    /// Before every scenario, on the state after setup: forget what the last scenario noted, record what the
    /// first step is compared with.
    fn start(&mut self, world: &mut World<'_>) {
        let _ = world;
    }
    /// Whether this oracle learns from the session's calibration ([`Oracle::calibrate`]); the session makes the
    /// calibration runs only when one does.
    fn wants_calibration(&self) -> bool {
        false
    }
    /// Once, after setup, with what the setup and the calibration runs (single calls on the state after setup,
    /// see [`Calibration`]) did.
    fn calibrate(&mut self, calibration: &Calibration) {
        let _ = calibration;
    }
}

/// What the environment does before any scenario: the traps of its setup calls, and of single calls on the state
/// after setup (every callable method of every target, by every actor and adversary, with the smallest
/// arguments and a few generated ones). An oracle compares scenarios with it: what a single call already does is
/// the canister's ordinary behaviour (turning away bad input, unauthorized callers), not a state a history reaches.
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    /// Traps of target canisters: (canister name, method, message).
    pub traps: Vec<(String, String, String)>,
    /// Calibration runs made.
    pub runs: usize,
}

impl Calibration {
    /// Adds the traps of target canisters among `events` (executions that ran no canister code left out, as in
    /// every trap oracle).
    pub(crate) fn record<'e>(&mut self, env: &Environment, events: impl IntoIterator<Item = &'e Event>) {
        for event in events {
            let Event::Executed { canister, method, trap: Some(message), code, .. } = event else { continue };
            if code.is_some_and(|c| c.ran_no_code()) {
                continue;
            }
            if let Some(name) = env.target_name(canister) {
                self.traps.push((name.to_owned(), method.clone(), message.clone()));
            }
        }
    }
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
    /// Report an upgrade of a target that fails in the canister's own code (its pre_upgrade or post_upgrade traps,
    /// or exceeds the install's instruction or memory limits).
    pub upgrade_fails: bool,
    /// Report, as a low-severity finding, a trap of a target's method that no single call on the state after
    /// setup reaches (see [`builtin::NewTrap`]).
    pub new_trap: bool,
    /// Traps whose message contains any of these are never reported as new traps (deliberate `assert`s).
    pub muted_traps: Vec<String>,
}

impl Oracles {
    /// The oracles these switches turn on, in the order they are checked, followed by `invariants`.
    pub fn into_set(self, invariants: Vec<Box<dyn Invariant>>) -> Vec<Box<dyn Oracle>> {
        let mut set: Vec<Box<dyn Oracle>> = Vec::new();
        if self.instruction_limit {
            set.push(Box::new(builtin::InstructionLimit));
        }
        if let Some(budget) = self.memory_budget {
            set.push(Box::new(builtin::Memory { budget }));
        }
        if self.trap_in_callback {
            set.push(Box::new(builtin::TrapInCallback));
        }
        if self.unexpected_trap {
            set.push(Box::new(builtin::UnexpectedTrap));
        }
        if self.did_not_reply {
            set.push(Box::new(builtin::DidNotReply));
        }
        if self.upgrade_fails {
            set.push(Box::new(builtin::UpgradeFails));
        }
        set.extend(invariants.into_iter().map(|i| Box::new(builtin::InvariantOracle(i)) as Box<dyn Oracle>));
        if self.cannot_stop {
            set.push(Box::new(builtin::CannotStop));
        }
        if self.new_trap {
            set.push(Box::new(builtin::NewTrap::new(self.muted_traps)));
        }
        set
    }
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
            upgrade_fails: true,
            new_trap: true,
            muted_traps: Vec::new(),
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
    /// The reject's error code, when the backend reported one (ingress calls; a canister caller such as the
    /// attacker learns only the reject code and message, as on the IC).
    pub error: Option<crate::engine::ErrorCode>,
}

/// What an oracle sees: queries to any canister, what the current step did, the calls completed so far.
pub struct World<'a> {
    pub(crate) backend: &'a mut dyn Backend,
    pub(crate) env: &'a Environment,
    pub(crate) calls: &'a [CallRecord],
    /// Index in `calls` of the first call completed by the current step.
    pub(crate) step_calls: usize,
    pub(crate) events: &'a [Event],
    /// Upgrades of the current step that failed: (canister name, reject).
    pub(crate) failed_upgrades: &'a [(String, crate::backend::Reject)],
    /// Callers (by name) of the calls submitted and not completed yet, after the current step.
    pub(crate) in_flight_callers: &'a [&'a str],
    pub(crate) step: usize,
    pub(crate) quiescent: bool,
    /// Whether the step may have changed state an invariant reads (a step that only submitted a call or
    /// scripted an adversary, and completed nothing, did not).
    pub(crate) changed: bool,
    /// Set when a query could not run because its canister does not run (stopped, stopping, frozen, empty):
    /// the invariant cannot be evaluated now, which is not a violation.
    pub(crate) unavailable: bool,
}

impl World<'_> {
    /// The principal of a named actor or canister.
    pub fn principal(&self, name: &str) -> Result<Principal, String> {
        self.env.names.principal(name).ok_or_else(|| format!("no actor or canister is called `{name}`"))
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
        let id = self.principal(canister)?;
        self.backend.query(id, self.env.controller, method, arg).map_err(|r| {
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
        self.backend.subnet()
    }

    /// Calls completed so far in this scenario, in completion order.
    pub fn calls(&self) -> &[CallRecord] {
        self.calls
    }

    /// Calls the current step completed.
    pub fn step_calls(&self) -> &[CallRecord] {
        &self.calls[self.step_calls.min(self.calls.len())..]
    }

    /// Names of the callers (actors, adversaries) of the calls still in flight after the current step; with
    /// [`World::step_calls`], the calls that were alive during it.
    pub fn in_flight_callers(&self) -> impl Iterator<Item = &str> + '_ {
        self.in_flight_callers.iter().copied()
    }

    /// Typed engine events of the current step (deliveries, executions with their traps), oldest first; empty on
    /// backends without [`Capabilities::execution_events`].
    pub fn events(&self) -> &[Event] {
        self.events
    }

    /// Index of the current step (`steps.len()` for the end of the scenario).
    pub fn step(&self) -> usize {
        self.step
    }

    /// Whether nothing is in flight: exactly (nothing deliverable but heartbeats and held calls' polls, no
    /// callback outstanding) on backends with [`Capabilities::exact_quiescence`], else "every call of the scenario
    /// has completed".
    pub fn quiescent(&self) -> bool {
        self.quiescent
    }

    /// What the backend can do (oracles that need more than it offers stay silent).
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// The environment.
    pub fn environment(&self) -> &Environment {
        self.env
    }

    /// The name of a principal (actor or canister), or its text form.
    pub fn name(&self, principal: &Principal) -> String {
        self.env.names.name(principal)
    }

    /// Names of the environment.
    pub fn names(&self) -> &Names {
        &self.env.names
    }

    /// Memory a canister uses, in bytes, when the backend can tell.
    pub fn memory_bytes(&mut self, canister: Principal) -> Option<u64> {
        self.backend.memory_bytes(canister, self.env.controller)
    }

    /// A canister's run status.
    pub fn canister_status(&mut self, canister: Principal) -> Result<CanisterStatus, String> {
        self.backend.canister_status(canister, self.env.controller).map_err(|e| e.to_string())
    }

    /// A finding of the current step.
    pub fn finding(&self, kind: FindingKind, oracle: &str, canister: Option<&str>, method: Option<&str>, message: String) -> Finding {
        Finding {
            kind,
            oracle: oracle.to_owned(),
            canister: canister.map(str::to_owned),
            method: method.map(str::to_owned),
            message,
            step: self.step,
        }
    }
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
    /// Before every scenario, on the state after setup: a temporal invariant records the values its first check
    /// compares with (`old(...)`, the state before a reply). An error (the canister cannot be queried) leaves
    /// them unknown, and the first check then compares with the state it sees.
    fn start(&mut self, world: &mut World<'_>) {
        let _ = world;
    }
    /// Checks the property.
    fn check(&mut self, world: &mut World<'_>) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::normalize;

    /// One bug, one bucket: callers, canister ids, hashes and amounts do not split it.
    #[test]
    fn signatures_blank_principals_hex_and_numbers() {
        let a = normalize("Panicked at 'caller 2vxsx-fae is not rrkah-fqaaa-aaaaa-aaaaq-cai', hash 4449444c00017104 of 42 bytes");
        let b = normalize("Panicked at 'caller aaaaa-aa is not ryjl3-tyaaa-aaaaa-aaaba-cai', hash 0a1b2c3d4e5f6071 of 7 bytes");
        assert_eq!(a, b);
        assert_eq!(a, "Panicked at 'caller P is not P', hash H of N bytes");
        assert_eq!(normalize("a stale-read in nat64 0x1234abcd"), "a stale-read in natN NxH");
        assert_eq!(normalize("first line\nsecond 5"), "first line");
    }
}
