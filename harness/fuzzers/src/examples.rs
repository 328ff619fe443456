//! Environments for the example canisters of `canisters/examples`: each vulnerable canister with the finding
//! kind it must produce, and its fixed twin, which must produce none.
//!
//! Every environment is what a user writes for their own canister: the canisters (the target, the honest ledger
//! it uses), adversary slots, user actors, setup calls and the invariants the canister promises.

use candid::Principal;
use icfuzz::oracle::invariants::{invariant, lock_released, on_reply, only_callers};
use icfuzz::oracle::World;
use icfuzz::{AdversarySpec, CanisterSpec, Environment, EnvironmentBuilder, FindingKind, Harness, Oracles};
use icfuzz::engine::InstructionLimits;
use icfuzz_test_canisters::wasm;

/// Which twin of an example pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Twin {
    /// The canister with the planted bug.
    Vulnerable,
    /// The canister written to the checklist.
    Fixed,
}

impl Twin {
    fn suffix(self) -> &'static str {
        match self {
            Twin::Vulnerable => "vulnerable",
            Twin::Fixed => "fixed",
        }
    }
}

/// One example pair.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// The pair's name (`canisters/examples/<name>/`).
    pub name: &'static str,
    /// The finding the vulnerable twin must produce.
    pub expected: FindingKind,
    environment: fn(&str) -> EnvironmentBuilder,
}

impl Example {
    /// The environment of one twin, built and snapshotted.
    ///
    /// # Panics
    ///
    /// If the canisters cannot be built or set up: examples are fixed, so that is a bug here.
    pub fn harness(&self, twin: Twin) -> Harness {
        self.builder(twin).build().unwrap_or_else(|e| panic!("example {} ({twin:?}): {e}", self.name))
    }

    /// The environment builder of one twin (e.g. to change its engine configuration before building).
    pub fn builder(&self, twin: Twin) -> EnvironmentBuilder {
        (self.environment)(&format!("{}_{}", self.name, twin.suffix()))
    }

    /// The harness a fuzz target runs: the twin named by `ICFUZZ_TWIN` (`vulnerable`, the default, or `fixed`),
    /// with canister coverage on unless `ICFUZZ_FEEDBACK=0`.
    pub fn fuzz_target_harness(&self) -> Harness {
        let twin = match std::env::var("ICFUZZ_TWIN").as_deref() {
            Ok("fixed") => Twin::Fixed,
            Ok("vulnerable") | Err(_) => Twin::Vulnerable,
            Ok(other) => panic!("ICFUZZ_TWIN={other}: expected `vulnerable` or `fixed`"),
        };
        self.builder(twin).coverage(crate::feedback_enabled()).build().unwrap_or_else(|e| panic!("example {} ({twin:?}): {e}", self.name))
    }
}

/// Every example pair.
pub const EXAMPLES: &[Example] = &[
    Example { name: "reentrancy", expected: FindingKind::Invariant, environment: rewards },
    Example { name: "guard_underscore", expected: FindingKind::Invariant, environment: rewards },
    Example { name: "stale_balance", expected: FindingKind::Invariant, environment: bank_settled },
    Example { name: "callback_trap", expected: FindingKind::TrapInCallback, environment: bank_settled },
    Example { name: "lock_in_callback", expected: FindingKind::LockNeverReleased, environment: price_lock },
    Example { name: "unbounded_wait", expected: FindingKind::CannotStop, environment: notifier },
    Example { name: "inspect_only_access", expected: FindingKind::AccessControl, environment: treasury },
    Example { name: "unhandled_reject", expected: FindingKind::Invariant, environment: bank_exact },
    Example { name: "sys_unknown_as_clean", expected: FindingKind::Invariant, environment: bank },
    Example { name: "oversized_growth", expected: FindingKind::MemoryLimit, environment: metadata_cache },
    Example { name: "upgrade_outage", expected: FindingKind::UpgradeFails, environment: guestbook },
    Example { name: "whole_allowance", expected: FindingKind::NewTrap, environment: allowances },
    Example { name: "owner_handover", expected: FindingKind::Invariant, environment: registry },
];

/// The example called `name`.
pub fn example(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// The basis of every environment: two users and the adversary module.
fn base() -> EnvironmentBuilder {
    Environment::builder().user("alice").user("bob").adversary_wasm(wasm("adversary"))
}

/// `claim(recipient)` pays 10 once per caller by notifying the recipient, which may be an adversary.
fn rewards(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("rewards", wasm(canister)).target())
        .adversary(AdversarySpec::new("mallory").impersonate(&["on_reward"]))
        .invariant(invariant("each claimant is paid once", |w| {
            let (paid,): (u64,) = w.query("rewards", "paid_out", ())?;
            let (claimants,): (u64,) = w.query("rewards", "claimants", ())?;
            if paid == claimants * 10 {
                Ok(())
            } else {
                Err(format!("paid out {paid} to {claimants} claimant(s) of a one-time reward of 10"))
            }
        }))
}

/// A bank holding 200 tokens on the honest ledger for alice and bob (100 each), solvent after every step: for
/// banks that debit before they pay.
fn bank(canister: &str) -> EnvironmentBuilder {
    bank_accounts(canister).invariant(invariant("the bank is solvent", |w| solvency(w, false)))
}

/// The bank's accounts without invariants.
fn bank_accounts(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("ledger", wasm("honest_ledger")))
        .canister(CanisterSpec::new("bank", wasm(canister)).init_args("({ledger})").target().exclude("credit"))
        .adversary(AdversarySpec::new("mallory").like("ledger"))
        .setup("ledger", "mint", "({bank}, 200 : nat64)")
        .setup("bank", "credit", "({alice}, 100 : nat64)")
        .setup("bank", "credit", "({bob}, 100 : nat64)")
}

/// A bank that writes balances after the transfer it awaits is briefly behind the ledger while the transfer is in
/// flight; its books must balance exactly once every call has settled.
fn bank_settled(canister: &str) -> EnvironmentBuilder {
    bank_accounts(canister).invariant(invariant("the books balance once settled", |w| solvency(w, true)).at_quiescence())
}

/// [`bank`], and every token the bank holds is owed to someone whenever nothing is in flight.
fn bank_exact(canister: &str) -> EnvironmentBuilder {
    bank(canister).invariant(invariant("no funds are stuck in the bank", |w| solvency(w, true)).at_quiescence())
}

/// The ledger holds at least (or, with `exact`, exactly) what the bank owes its users.
fn solvency(w: &mut World<'_>, exact: bool) -> Result<(), String> {
    let bank = w.principal("bank")?;
    let (held,): (u64,) = w.query("ledger", "balance_of", (bank,))?;
    let (owed,): (u64,) = w.query("bank", "liabilities", ())?;
    match (held.cmp(&owed), exact) {
        (std::cmp::Ordering::Less, _) => Err(format!("the ledger holds {held} for the bank, which owes {owed}: over-paid")),
        (std::cmp::Ordering::Greater, true) => {
            Err(format!("the ledger holds {held} for the bank, which owes only {owed}: funds stuck"))
        }
        _ => Ok(()),
    }
}

/// The bank of [`bank`] with an admin-only fee setting; alice is the admin.
fn treasury(canister: &str) -> EnvironmentBuilder {
    bank(canister)
        .setup("bank", "set_admin", "({alice})")
        .invariant(only_callers("bank", "set_fee", &["alice"]))
}

/// `refresh(oracle)` takes a lock, asks an oracle canister for a price, releases the lock. Malformed oracle replies
/// trap in the callback by design here; what matters is that the lock is released anyway.
fn price_lock(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("prices", wasm(canister)).target())
        .adversary(AdversarySpec::new("oracle").impersonate_did("service : { get_price : () -> (nat64) }"))
        .oracles(Oracles { trap_in_callback: false, ..Oracles::default() })
        .invariant(lock_released("prices", "is_locked"))
}

/// `notify(subscriber, event)` calls the subscriber, which may never answer.
fn notifier(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("notifier", wasm(canister)).target())
        .adversary(AdversarySpec::new("subscriber").impersonate(&["on_event"]))
}

/// `import_metadata(source)` caches what a source canister answers; sources may answer megabytes.
fn metadata_cache(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("cache", wasm(canister)).target())
        .adversary(AdversarySpec::new("source").impersonate_did("service : { metadata : () -> (text) }"))
        .oracles(Oracles { memory_budget: Some(8 << 20), ..Oracles::default() })
}

/// Install limit of [`guestbook`]: about a millionth of the IC's 300 B, so that the state a few signatures make
/// stands for the gigabytes that exhaust the real limit. Upgrading the empty guestbook costs about 200 000
/// instructions (decoding and encoding with Candid), each entry about 12 000 more.
pub const GUESTBOOK_INSTALL_LIMIT: u64 = 250_000;

/// `sign(message)` adds an entry anyone may write; the controller upgrades the guestbook now and then.
fn guestbook(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("guestbook", wasm(canister)).target().upgradable())
        .instruction_limits(InstructionLimits { install: GUESTBOOK_INSTALL_LIMIT, ..InstructionLimits::default() })
}

/// A token with allowances, alice holding 100: the trap of spending exactly a whole allowance is found by the
/// new-trap oracle (on by default), not by an invariant.
fn allowances(canister: &str) -> EnvironmentBuilder {
    base()
        .canister(CanisterSpec::new("token", wasm(canister)).target().exclude("mint"))
        .setup("token", "mint", "({alice}, 100 : nat64)")
        .invariant(invariant("transfers neither mint nor burn", |w| {
            let (supply,): (u64,) = w.query("token", "total_supply", ())?;
            if supply == 100 { Ok(()) } else { Err(format!("total supply {supply}, minted 100")) }
        }))
}

/// A registry owned by alice, who may hand it over to anyone: the owner changes legitimately, so what must hold is
/// that it changes only by a reply to whoever owned it before the step.
fn registry(canister: &str) -> EnvironmentBuilder {
    base().canister(CanisterSpec::new("registry", wasm(canister)).init_args("({alice})").target()).invariant(on_reply(
        "only the owner hands the registry over",
        |w| w.query::<_, (Principal,)>("registry", "owner", ()).map(|(owner,)| owner),
        |call, before, after| {
            if before == after || call.caller == *before {
                Ok(())
            } else {
                Err(format!("{} (step {}) changed the owner from {before} to {after}", call.caller_name, call.step + 1))
            }
        },
    ))
}
