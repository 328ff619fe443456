//! ICF-002: a call to a target ended in "did not reply".

use crate::engine::Event;
use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Reports a call context of a target that closed without a reply while nothing was outstanding: its caller gets
/// the system's "did not reply" reject (IC0506), typically because the method forgot to reply on some path or
/// was reentered. Read from the engine's typed events (any caller), else from an ingress call's error code.
pub struct DidNotReply;

impl Oracle for DidNotReply {
    fn name(&self) -> &str {
        "did not reply"
    }

    fn after_step(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let from_events = world.events.iter().find_map(|event| match event {
            Event::ContextRejected { canister, method, reject } if reject.error_code.did_not_reply() => {
                Some((world.env.target_name(canister)?, method.as_str(), reject.reject_message.as_str()))
            }
            _ => None,
        });
        let (canister, method, message) = from_events.or_else(|| super::rejected_call(world, |c| c.did_not_reply()))?;
        let (canister, method, message) = (canister.to_owned(), method.to_owned(), message.to_owned());
        Some(world.finding(FindingKind::DidNotReply, self.name(), Some(&canister), Some(&method), message))
    }
}
