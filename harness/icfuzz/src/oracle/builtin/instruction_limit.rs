//! ICF-004: an execution of a target hit the instruction limit.

use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Reports an execution of a target that exceeded its instruction limit (the IC's IC0522): the method cannot
/// finish for this input, and an attacker who can make it that expensive can block it.
pub struct InstructionLimit;

impl Oracle for InstructionLimit {
    fn name(&self) -> &str {
        "instruction limit"
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let found = super::target_traps(world)
            .find(|t| t.code.is_some_and(|c| c.is_instruction_limit()))
            .map(|t| (t.canister, t.method, t.message))
            .or_else(|| super::rejected_call(world, |c| c.is_instruction_limit()))?;
        let (canister, method, message) = found;
        Some(world.finding(FindingKind::InstructionLimit, self.name(), Some(canister), Some(method), message.to_owned()))
    }
}
