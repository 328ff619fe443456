//! ICF-005: a target ran out of memory, or uses more than the budget.

use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Reports an execution of a target that ran out of memory (IC0507, or its `wasm_memory_limit`: IC0539), and a
/// target whose memory (heap and stable) exceeds `budget` bytes after a step: memory an attacker can make grow
/// is a denial of service, and a canister near its limit can no longer be upgraded.
pub struct Memory {
    /// Bytes a target may use.
    pub budget: u64,
}

impl Oracle for Memory {
    fn name(&self) -> &str {
        "out of memory"
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let trapped = super::target_traps(world)
            .find(|t| t.code.is_some_and(|c| c.is_out_of_memory()))
            .map(|t| (t.canister, t.method, t.message))
            .or_else(|| super::rejected_call(world, |c| c.is_out_of_memory()));
        if let Some((canister, method, message)) = trapped {
            return Some(world.finding(FindingKind::MemoryLimit, "out of memory", Some(canister), Some(method), message.to_owned()));
        }
        let targets: Vec<(String, candid::Principal)> =
            world.env.canisters.iter().filter(|c| c.target).map(|c| (c.name.clone(), c.id)).collect();
        for (name, id) in targets {
            let used = world.memory_bytes(id).unwrap_or(0);
            if used > self.budget {
                let message = format!("uses {} KiB of memory, over the budget of {} KiB", used / 1024, self.budget / 1024);
                return Some(world.finding(FindingKind::MemoryLimit, "memory budget", Some(&name), None, message));
            }
        }
        None
    }
}
