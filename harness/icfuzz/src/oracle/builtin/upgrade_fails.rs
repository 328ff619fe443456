//! ICF-009: an upgrade of a target fails in the canister's own code.

use crate::engine::ErrorCode;
use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Reports an upgrade step of a target (the controller upgrading it to the same module with its init arguments)
/// that failed because the canister's code did: its `pre_upgrade` or `post_upgrade` trapped, or exceeded the
/// install's instruction limit or a memory limit. The IC keeps the old module and state, so the canister runs on,
/// but it cannot be upgraded in this state, not even to a fix (a `pre_upgrade` that serialises all state is the
/// classic cause: its cost grows with the state until it exceeds the limit). Rejects that are not the code's
/// doing (out of cycles for the install's prepayment, for example) are not reported.
pub struct UpgradeFails;

impl Oracle for UpgradeFails {
    fn name(&self) -> &str {
        "upgrade fails"
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let (canister, reject) = world
            .failed_upgrades
            .iter()
            .find(|(canister, reject)| reject.error_code.is_some_and(failed_in_code) && world.env.is_target(canister))?;
        let message = format!(
            "the upgrade of {canister} failed in its code, so it cannot be upgraded in this state: {}",
            reject.message
        );
        Some(world.finding(FindingKind::UpgradeFails, self.name(), Some(canister), None, message))
    }
}

/// The upgrade failed while running the canister's code.
fn failed_in_code(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::CanisterTrapped | ErrorCode::CanisterCalledTrap) || code.is_instruction_limit() || code.is_out_of_memory()
}
