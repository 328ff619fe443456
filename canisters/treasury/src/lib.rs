//! A treasury: an owner, the ledger it pays through and a fee. Its init argument is the shape ledger-style
//! canisters use, `variant { Upgrade : opt UpgradeArgs; Init : InitArgs }`, with the `Upgrade` case first (so
//! the "smallest" value of the type is an upgrade argument, which `init` refuses) and principals in a record.
//! Only the owner changes the fee or hands the treasury over; anyone may `donate` cycles.

use std::cell::RefCell;

use candid::{CandidType, Nat, Principal};
use serde::Deserialize;

#[derive(CandidType, Deserialize)]
enum TreasuryArg {
    Upgrade(Option<UpgradeArgs>),
    Init(InitArgs),
}

#[derive(CandidType, Deserialize)]
struct InitArgs {
    owner: Principal,
    ledger: Principal,
    fee: Nat,
}

#[derive(CandidType, Deserialize)]
struct UpgradeArgs {
    fee: Option<Nat>,
}

struct State {
    owner: Principal,
    ledger: Principal,
    fee: Nat,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with_borrow_mut(|s| f(s.as_mut().expect("initialised in init")))
}

#[ic_cdk::init]
fn init(arg: TreasuryArg) {
    match arg {
        TreasuryArg::Init(InitArgs { owner, ledger, fee }) => STATE.set(Some(State { owner, ledger, fee })),
        TreasuryArg::Upgrade(_) => ic_cdk::trap("Cannot initialize the canister with an Upgrade argument"),
    }
}

fn only_owner() -> Result<(), String> {
    let caller = ic_cdk::api::msg_caller();
    if with_state(|s| s.owner == caller) {
        Ok(())
    } else {
        Err(format!("{caller} is not the owner"))
    }
}

/// Sets the fee (owner only).
#[ic_cdk::update]
fn set_fee(fee: Nat) -> Result<(), String> {
    only_owner()?;
    with_state(|s| s.fee = fee);
    Ok(())
}

/// Hands the treasury to `new_owner` (owner only).
#[ic_cdk::update]
fn transfer_ownership(new_owner: Principal) -> Result<(), String> {
    only_owner()?;
    with_state(|s| s.owner = new_owner);
    Ok(())
}

/// Accepts the cycles attached, as a donation, and returns how many; a call without cycles traps (as payable
/// methods do, so only canisters, which can attach cycles, get a reply).
#[ic_cdk::update]
fn donate() -> Nat {
    let available = ic_cdk::api::msg_cycles_available();
    if available == 0 {
        ic_cdk::trap("donate needs cycles attached");
    }
    Nat::from(ic_cdk::api::msg_cycles_accept(available))
}

/// The owner.
#[ic_cdk::query]
fn owner() -> Principal {
    with_state(|s| s.owner)
}

/// The ledger it pays through.
#[ic_cdk::query]
fn ledger() -> Principal {
    with_state(|s| s.ledger)
}

/// The fee.
#[ic_cdk::query]
fn fee() -> Nat {
    with_state(|s| s.fee.clone())
}

ic_cdk::export_candid!();
