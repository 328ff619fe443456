//! A sharded balance book, as indexes and sharded ledgers are built: every instance keeps balances, and one of them
//! aggregates: `total_of` is a composite query that asks each registered shard's `balance_of` query and sums the
//! answers, with no update call and no cycles.
//!
//! - `deposit(amount)`: adds to the caller's balance on this instance;
//! - `balance_of(user)`: the balance on this instance (a query);
//! - `add_shard(shard)` (controllers only) / `shards()`: the shards to aggregate over;
//! - `total_of(user)`: this instance's balance plus every shard's (a composite query); a shard that fails is
//!   named in the error rather than counted as zero.

use std::cell::RefCell;
use std::collections::BTreeMap;

use candid::Principal;
use ic_cdk::call::Call;

thread_local! {
    static BALANCES: RefCell<BTreeMap<Principal, u64>> = const { RefCell::new(BTreeMap::new()) };
    static SHARDS: RefCell<Vec<Principal>> = const { RefCell::new(Vec::new()) };
}

/// Most shards one aggregator asks (the IC limits a composite query's calls by instructions).
const MAX_SHARDS: usize = 20;

/// Adds `amount` to the caller's balance here.
#[ic_cdk::update]
fn deposit(amount: u64) -> Result<u64, String> {
    let caller = ic_cdk::api::msg_caller();
    BALANCES.with_borrow_mut(|b| {
        let balance = b.entry(caller).or_default();
        *balance = balance.checked_add(amount).ok_or("balance overflow")?;
        Ok(*balance)
    })
}

/// The balance of `user` on this instance.
#[ic_cdk::query]
fn balance_of(user: Principal) -> u64 {
    BALANCES.with_borrow(|b| b.get(&user).copied().unwrap_or(0))
}

/// Registers a shard to aggregate over.
#[ic_cdk::update]
fn add_shard(shard: Principal) -> Result<(), String> {
    if !ic_cdk::api::is_controller(&ic_cdk::api::msg_caller()) {
        return Err("only a controller may add shards".to_owned());
    }
    SHARDS.with_borrow_mut(|s| {
        if s.contains(&shard) {
            return Err(format!("{shard} is already a shard"));
        }
        if s.len() >= MAX_SHARDS {
            return Err(format!("at most {MAX_SHARDS} shards"));
        }
        s.push(shard);
        Ok(())
    })
}

/// The shards.
#[ic_cdk::query]
fn shards() -> Vec<Principal> {
    SHARDS.with_borrow(|s| s.clone())
}

/// `user`'s balance here and on every shard.
#[ic_cdk::query(composite = true)]
async fn total_of(user: Principal) -> Result<u64, String> {
    let mut total = balance_of(user);
    for shard in SHARDS.with_borrow(|s| s.clone()) {
        let response = Call::unbounded_wait(shard, "balance_of")
            .with_arg(user)
            .await
            .map_err(|e| format!("shard {shard} failed: {e}"))?;
        let balance: u64 = response.candid().map_err(|e| format!("shard {shard} answered garbage: {e}"))?;
        total = total.checked_add(balance).ok_or("total overflow")?;
    }
    Ok(total)
}

ic_cdk::export_candid!();
