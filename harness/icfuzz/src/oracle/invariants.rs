//! Ready-made invariants: closures, locks, access control.

use super::{FindingKind, Invariant, World};

/// An invariant from a closure; see [`invariant`].
pub struct FnInvariant<F> {
    name: String,
    kind: FindingKind,
    at_quiescence: bool,
    check: F,
}

/// An invariant checked after every step by `check`, e.g.
///
/// ```no_run
/// use icfuzz::oracle::invariants::invariant;
/// let solvent = invariant("bank is solvent", |w| {
///     let bank = w.principal("bank")?;
///     let (held,): (u64,) = w.query("ledger", "balance_of", (bank,))?;
///     let (owed,): (u64,) = w.query("bank", "liabilities", ())?;
///     if held >= owed { Ok(()) } else { Err(format!("ledger holds {held} for the bank, which owes {owed}")) }
/// });
/// ```
pub fn invariant<F>(name: &str, check: F) -> FnInvariant<F>
where
    F: FnMut(&mut World<'_>) -> Result<(), String> + Send,
{
    FnInvariant { name: name.to_owned(), kind: FindingKind::Invariant, at_quiescence: false, check }
}

impl<F> FnInvariant<F> {
    /// Check only when nothing is in flight.
    pub fn at_quiescence(mut self) -> Self {
        self.at_quiescence = true;
        self
    }

    /// Report violations as this kind of finding.
    pub fn kind(mut self, kind: FindingKind) -> Self {
        self.kind = kind;
        self
    }
}

impl<F> Invariant for FnInvariant<F>
where
    F: FnMut(&mut World<'_>) -> Result<(), String> + Send,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> FindingKind {
        self.kind
    }
    fn at_quiescence(&self) -> bool {
        self.at_quiescence
    }
    fn check(&mut self, world: &mut World<'_>) -> Result<(), String> {
        (self.check)(world)
    }
}

/// A lock must be free whenever nothing is in flight: `canister.method()` is a query returning `bool` (held).
pub fn lock_released(canister: &str, method: &str) -> impl Invariant {
    let (canister, method) = (canister.to_owned(), method.to_owned());
    invariant(&format!("{canister}.{method}() is false at quiescence"), move |w| {
        let (held,): (bool,) = w.query(&canister, &method, ())?;
        if held {
            Err(format!("{canister}.{method}() is still true with no message in flight: the lock is never released"))
        } else {
            Ok(())
        }
    })
    .at_quiescence()
    .kind(FindingKind::LockNeverReleased)
}

/// Only the named callers (actors or canisters) may get a reply from `canister.method`; a reply to anyone else is an
/// access-control finding. Rejects and traps are fine: that is the method refusing.
pub fn only_callers(canister: &str, method: &str, allowed: &[&str]) -> impl Invariant {
    let (canister, method) = (canister.to_owned(), method.to_owned());
    let allowed: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
    invariant(&format!("only {} may call {canister}.{method}", allowed.join(", ")), move |w| {
        let allowed: Vec<_> = allowed.iter().map(|a| w.principal(a)).collect::<Result<_, _>>()?;
        for call in w.calls() {
            if call.canister == canister && call.method == method && call.result.is_ok() && !allowed.contains(&call.caller) {
                return Err(format!("{} (step {}) called {canister}.{method} and it succeeded", call.caller_name, call.step + 1));
            }
        }
        Ok(())
    })
    .kind(FindingKind::AccessControl)
}
