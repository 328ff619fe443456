//! ICF-010: a trap only a history of calls reaches (low severity, on by default).

use std::collections::BTreeSet;

use crate::engine::ExecutionKind;
use crate::failure::FailureCause;
use crate::oracle::{normalize, Calibration, Finding, FindingKind, Oracle, World};

/// Reports a trap of a target's method whose message the canister never gave for any single call on the state
/// after setup (nor during the setup): the trap of an `assert` or `expect` that a state only a history of calls
/// reaches, such as spending exactly the whole allowance. Traps a single call reaches are the canister turning
/// away input (bad arguments, unauthorized callers) and stay silent, as do argument-decoding traps and the traps
/// the configuration mutes. Low severity: it never ends a scenario early, and is reported after the scenario only
/// when nothing more serious was found.
pub struct NewTrap {
    /// (canister, method, normalized message) of every trap the calibration saw.
    known: BTreeSet<(String, String, String)>,
    /// Calibration runs made, for the message.
    runs: usize,
    /// Trap messages containing any of these are not reported.
    muted: Vec<String>,
    /// The first new trap of the current scenario.
    pending: Option<Finding>,
}

impl NewTrap {
    /// The oracle, muting traps whose message contains any of `muted`.
    pub fn new(muted: Vec<String>) -> NewTrap {
        NewTrap { known: BTreeSet::new(), runs: 0, muted, pending: None }
    }
}

impl Oracle for NewTrap {
    fn name(&self) -> &str {
        "new trap"
    }

    fn start(&mut self, _world: &mut World<'_>) {
        self.pending = None;
    }

    fn wants_calibration(&self) -> bool {
        true
    }

    fn calibrate(&mut self, calibration: &Calibration) {
        self.runs = calibration.runs;
        self.known =
            calibration.traps.iter().map(|(c, m, message)| (c.clone(), m.clone(), normalize(message))).collect();
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        if self.pending.is_some() {
            return None;
        }
        let t = super::target_traps(world).find(|t| {
            // Callbacks are ICF-001's, upgrades ICF-009's; inspect_message traps are refusals by design.
            matches!(t.kind, ExecutionKind::Update | ExecutionKind::ReplicatedQuery | ExecutionKind::SystemTask)
                && FailureCause::of(t.message) != Some(FailureCause::Undecodable)
                && !self.muted.iter().any(|m| t.message.contains(m.as_str()))
                && !self.known.contains(&(t.canister.to_owned(), t.method.to_owned(), normalize(t.message)))
        })?;
        let message = format!(
            "{} (no single call on the state after setup traps so, in {} calibration runs: only a history of calls \
             reaches it; if the trap is deliberate, mute it with `mute_traps` under [oracles])",
            t.message.lines().next().unwrap_or(""),
            self.runs
        );
        let (canister, method) = (t.canister.to_owned(), t.method.to_owned());
        self.pending = Some(world.finding(FindingKind::NewTrap, self.name(), Some(&canister), Some(&method), message));
        None
    }

    fn after_scenario(&mut self, _world: &mut World<'_>) -> Option<Finding> {
        self.pending.take()
    }
}
