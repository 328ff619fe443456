//! ICF-003: a target cannot be stopped.

use crate::engine::CanisterStatus;
use crate::oracle::{Finding, FindingKind, Oracle, World};

/// Time the end-of-scenario stop check lets pass: past every bounded-wait deadline (at most 5 minutes on the IC)
/// and past the management canister's stop timeout.
pub const STOP_CHECK_SECONDS: u64 = 3_600;

/// At the end of a scenario, with adversaries still holding what they hold and every deadline passed, the
/// executor asks every target to stop; a target still not stopped waits without bound on a callee that never
/// answers, so it can be neither stopped nor upgraded.
pub struct CannotStop;

impl Oracle for CannotStop {
    fn name(&self) -> &str {
        "cannot stop"
    }

    fn needs_stop_check(&self) -> bool {
        true
    }

    fn at_end(&mut self, world: &mut World<'_>) -> Option<Finding> {
        let targets: Vec<(String, candid::Principal)> =
            world.env.canisters.iter().filter(|c| c.target).map(|c| (c.name.clone(), c.id)).collect();
        for (name, id) in targets {
            match world.canister_status(id) {
                Ok(CanisterStatus::Stopped) | Err(_) => {}
                Ok(status) => {
                    let message = format!(
                        "{name} cannot be stopped (so not upgraded): still {} {STOP_CHECK_SECONDS} s after being asked, with \
                         calls still open{}; calls to untrusted canisters should be bounded-wait",
                        match status {
                            CanisterStatus::Running => "running",
                            CanisterStatus::Stopping => "stopping",
                            CanisterStatus::Stopped => "stopped",
                        },
                        holders(world)
                    );
                    return Some(world.finding(FindingKind::CannotStop, self.name(), Some(&name), None, message));
                }
            }
        }
        None
    }
}

/// ", waiting on <adversary> (…)" for each adversary that holds calls (the usual reason a context stays open).
fn holders(world: &mut World<'_>) -> String {
    let mut holders = Vec::new();
    let adversaries: Vec<(String, candid::Principal)> = world.env.adversaries.iter().map(|a| (a.name.clone(), a.id)).collect();
    for (name, id) in adversaries {
        let holds: Vec<u64> = world
            .backend
            .query(id, world.env.controller, crate::adversary::wire::HOLDS_METHOD, candid::encode_args(()).expect("encodes"))
            .ok()
            .and_then(|r| candid::decode_one(&r).ok())
            .unwrap_or_default();
        if !holds.is_empty() {
            holders.push(format!("{name} (holding {} call(s), never answering)", holds.len()));
        }
    }
    if holders.is_empty() {
        String::new()
    } else {
        format!(", waiting on {}", holders.join(", "))
    }
}
