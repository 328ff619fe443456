//! Exhaustive exploration of delivery orders from a snapshot (stateless model checking).
//!
//! Small scenarios (a few messages) have few enough IC-legal schedules to try them all. Each schedule is replayed
//! from the snapshot, so exploration needs no state cloning beyond [`Subnet::restore`]. System tasks
//! (heartbeat, timers) are left out: they are always possible and would make every schedule infinite.

use crate::subnet::{Delivery, Subnet};
use crate::EngineError;

/// What [`explore`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exploration<F> {
    /// Schedules run to the end.
    pub schedules: usize,
    /// Whether every schedule was tried (`false`: `max_schedules` was reached first).
    pub complete: bool,
    /// Schedules for which `check` reported something, with the deliveries that led there.
    pub findings: Vec<(Vec<Delivery>, F)>,
}

/// Runs every order of delivering the pending messages (and the messages they cause) from the subnet's current
/// state, up to `max_schedules` schedules of at most `max_steps` deliveries each. After each schedule `check`
/// sees the final state and the deliveries made, and returns `Some(finding)` to record one. The subnet is left
/// restored to its starting state.
pub fn explore<F>(
    subnet: &mut Subnet,
    max_schedules: usize,
    max_steps: usize,
    mut check: impl FnMut(&mut Subnet, &[Delivery]) -> Option<F>,
) -> Result<Exploration<F>, EngineError> {
    let snapshot = subnet.snapshot();
    let mut prefix: Vec<usize> = Vec::new();
    let mut result = Exploration { schedules: 0, complete: false, findings: Vec::new() };
    while result.schedules < max_schedules {
        subnet.restore(&snapshot)?;
        let mut taken = Vec::new();
        // (index chosen, number of choices) at each step.
        let mut branching: Vec<(usize, usize)> = Vec::new();
        while taken.len() < max_steps {
            let choices: Vec<Delivery> = subnet
                .pending()
                .into_iter()
                .map(|p| p.delivery)
                .filter(|d| !matches!(d, Delivery::Heartbeat(_) | Delivery::Timer(_)))
                .collect();
            if choices.is_empty() {
                break;
            }
            let pick = prefix.get(taken.len()).copied().unwrap_or(0).min(choices.len() - 1);
            subnet.deliver(choices[pick])?;
            taken.push(choices[pick]);
            branching.push((pick, choices.len()));
        }
        result.schedules += 1;
        if let Some(finding) = check(subnet, &taken) {
            result.findings.push((taken, finding));
        }
        // Depth-first: bump the deepest step that has an untried alternative.
        let Some(i) = branching.iter().rposition(|&(pick, n)| pick + 1 < n) else {
            result.complete = true;
            break;
        };
        prefix = branching[..i].iter().map(|&(pick, _)| pick).collect();
        prefix.push(branching[i].0 + 1);
    }
    subnet.restore(&snapshot)?;
    Ok(result)
}
