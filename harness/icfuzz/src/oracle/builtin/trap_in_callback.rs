//! ICF-001: code after an `await` trapped.

use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Reports a trap in a reply or reject callback of a target: the callback's state changes are rolled back while
/// the call it awaited took effect (the classic "debit after await" bug). Needs execution events: a replica
/// reports such a trap only as the reject of the call, indistinguishable from a trap before the `await`.
pub struct TrapInCallback;

impl Oracle for TrapInCallback {
    fn name(&self) -> &str {
        "trap in callback"
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let t = super::target_traps(world).find(|t| t.kind.is_callback())?;
        let (canister, method, message) = (t.canister.to_owned(), t.method.to_owned(), t.message.to_owned());
        Some(world.finding(FindingKind::TrapInCallback, self.name(), Some(&canister), Some(&method), message))
    }
}
