//! The built-in oracles, one module each. [`crate::oracle::Oracles`] switches them on and off.
//!
//! Trap oracles read the engine's typed execution events; on backends without them
//! ([`crate::backend::Capabilities::execution_events`] off, e.g. PocketIC) the ones that can fall back on the error
//! code of an ingress call's reject do, and the others stay silent (the replay plan says so).

mod cannot_stop;
mod did_not_reply;
mod instruction_limit;
mod invariant;
mod memory;
mod new_trap;
mod trap_in_callback;
mod unexpected_trap;
mod upgrade_fails;

pub use cannot_stop::{CannotStop, STOP_CHECK_SECONDS};
pub use did_not_reply::DidNotReply;
pub use instruction_limit::InstructionLimit;
pub use invariant::InvariantOracle;
pub use memory::Memory;
pub use new_trap::NewTrap;
pub use trap_in_callback::TrapInCallback;
pub use unexpected_trap::UnexpectedTrap;
pub use upgrade_fails::UpgradeFails;

use super::World;
use crate::engine::{ErrorCode, Event, ExecutionKind};

/// A trap of a target canister's execution in this step: (canister name, execution kind, method of its call
/// context, trap message, error code).
pub(crate) struct TargetTrap<'e> {
    pub canister: &'e str,
    pub kind: ExecutionKind,
    pub method: &'e str,
    pub message: &'e str,
    pub code: Option<ErrorCode>,
}

/// The traps of target canisters among this step's events, oldest first. Executions that failed before running any
/// canister code (a callback index outside the table: every response to a Motoko one-way call) are not traps of
/// the canister and are left out.
pub(crate) fn target_traps<'e, 'w>(world: &'e World<'w>) -> impl Iterator<Item = TargetTrap<'e>> + use<'e, 'w> {
    world.events.iter().filter_map(move |event| match event {
        Event::Executed { code: Some(code), .. } if code.ran_no_code() => None,
        Event::Executed { canister, kind, method, trap: Some(message), code, .. } => Some(TargetTrap {
            canister: world.env.target_name(canister)?,
            kind: *kind,
            method,
            message,
            code: *code,
        }),
        _ => None,
    })
}

/// The first call of a target completed by this step whose reject carries an error code matching `pred`
/// (backends without execution events report traps only this way): (canister, method, message).
pub(crate) fn rejected_call<'w>(world: &'w World<'_>, pred: impl Fn(ErrorCode) -> bool) -> Option<(&'w str, &'w str, &'w str)> {
    world.step_calls().iter().find_map(|call| match (&call.result, call.error) {
        (Err((_, message)), Some(code)) if pred(code) && !code.ran_no_code() && world.env.is_target(&call.canister) => {
            Some((call.canister.as_str(), call.method.as_str(), message.as_str()))
        }
        _ => None,
    })
}
