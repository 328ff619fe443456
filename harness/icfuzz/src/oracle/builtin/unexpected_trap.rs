//! ICF-008: any trap of a target's method (opt-in).

use crate::engine::ExecutionKind;
use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Reports every trap of a target's update method or callback. Off by default: many canisters trap to reject
/// bad input.
pub struct UnexpectedTrap;

impl Oracle for UnexpectedTrap {
    fn name(&self) -> &str {
        "unexpected trap"
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let t = super::target_traps(world).find(|t| t.kind == ExecutionKind::Update || t.kind.is_callback())?;
        let (canister, method, message) = (t.canister.to_owned(), t.method.to_owned(), t.message.to_owned());
        Some(world.finding(FindingKind::UnexpectedTrap, self.name(), Some(&canister), Some(&method), message))
    }
}
