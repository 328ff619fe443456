//! A user's [`Invariant`] as an oracle.

use crate::oracle::{Finding, Invariant, Oracle, World};

/// Checks an [`Invariant`] after every step that may have changed state (only at quiescence when it asks to).
/// An invariant whose canister cannot be queried now (stopped, frozen) is skipped, not reported.
pub struct InvariantOracle(pub Box<dyn Invariant>);

impl Oracle for InvariantOracle {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn needs_quiescence(&self) -> bool {
        self.0.at_quiescence()
    }

    fn start(&mut self, world: &mut World<'_>) {
        self.0.start(world);
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        if !world.changed || (self.0.at_quiescence() && !world.quiescent) {
            return None;
        }
        world.unavailable = false;
        let result = self.0.check(world);
        if world.unavailable {
            return None;
        }
        let message = result.err()?;
        Some(world.finding(self.0.kind(), self.0.name(), None, None, message))
    }
}
