//! Ready-made invariants: closures, per-reply properties, locks, access control.

use super::{CallRecord, FindingKind, Invariant, World};

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

/// A property of every reply, with the state before and after its step; see [`on_reply`].
pub struct OnReply<T, O, C> {
    name: String,
    kind: FindingKind,
    observe: O,
    check: C,
    /// What `observe` saw after the last step (or on the state after setup): the state before the next step.
    before: Option<T>,
}

/// A property of each reply a target gives: `observe` reads the state (any queries) on the state after setup and
/// after every step that may have changed it, and `check(call, before, after)` judges the call that replied in
/// the step, with what `observe` saw before and after the step. E.g. "the owner changes only when the owner asks":
///
/// ```no_run
/// use candid::Principal;
/// use icfuzz::oracle::invariants::on_reply;
/// let handover = on_reply(
///     "only the owner hands over",
///     |w| w.query::<_, (Principal,)>("registry", "owner", ()).map(|(owner,)| owner),
///     |call, before, after| {
///         if before == after || call.caller == *before {
///             Ok(())
///         } else {
///             Err(format!("{} changed the owner from {before} to {after}", call.caller_name))
///         }
///     },
/// );
/// ```
///
/// A reply is judged only when its call was the only one alive in its step (none other completed or in flight),
/// so that the change from before to after is its own; scenarios deliver messages one at a time, so such steps
/// abound. When `observe` fails (a canister that cannot be queried), that step is not judged and the next compares
/// with the last state seen.
pub fn on_reply<T, O, C>(name: &str, observe: O, check: C) -> OnReply<T, O, C>
where
    T: Send,
    O: FnMut(&mut World<'_>) -> Result<T, String> + Send,
    C: FnMut(&CallRecord, &T, &T) -> Result<(), String> + Send,
{
    OnReply { name: name.to_owned(), kind: FindingKind::Invariant, observe, check, before: None }
}

impl<T, O, C> OnReply<T, O, C> {
    /// Report violations as this kind of finding (e.g. [`FindingKind::AccessControl`]).
    pub fn kind(mut self, kind: FindingKind) -> Self {
        self.kind = kind;
        self
    }
}

impl<T, O, C> Invariant for OnReply<T, O, C>
where
    T: Send,
    O: FnMut(&mut World<'_>) -> Result<T, String> + Send,
    C: FnMut(&CallRecord, &T, &T) -> Result<(), String> + Send,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> FindingKind {
        self.kind
    }
    fn start(&mut self, world: &mut World<'_>) {
        self.before = (self.observe)(world).ok();
    }
    fn check(&mut self, world: &mut World<'_>) -> Result<(), String> {
        let after = (self.observe)(world)?;
        let Some(before) = self.before.replace(after) else { return Ok(()) };
        let after = self.before.as_ref().expect("just stored");
        // Only a call that was alone in its step owns the change from before to after: with two calls alive, either
        // may have made it, and judging each by the other's change would be a false finding.
        let [call] = world.step_calls() else { return Ok(()) };
        if call.result.is_err() || world.in_flight_callers().next().is_some() {
            return Ok(());
        }
        (self.check)(call, &before, after)
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
