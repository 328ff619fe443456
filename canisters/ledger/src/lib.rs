//! Toy ledger: keeps a running total of transferred amounts. It is the callee of the bank canister's withdrawals,
//! and `set_fail(true)` makes transfers trap so tests can exercise the caller's error and rollback paths.

use std::cell::Cell;

thread_local! {
    static TOTAL: Cell<u64> = const { Cell::new(0) };
    static FAIL: Cell<bool> = const { Cell::new(false) };
}

/// Adds `amount` to the total and returns the new total; traps while failing is switched on or on overflow.
#[ic_cdk::update]
fn transfer(amount: u64) -> u64 {
    if FAIL.get() {
        ic_cdk::trap("ledger: transfers are switched off (set_fail(true))");
    }
    let total = TOTAL.get().checked_add(amount).unwrap_or_else(|| ic_cdk::trap("ledger: total overflows u64"));
    TOTAL.set(total);
    total
}

/// The sum of all successful transfers.
#[ic_cdk::query]
fn total() -> u64 {
    TOTAL.get()
}

/// While `fail` is true every `transfer` traps.
#[ic_cdk::update]
fn set_fail(fail: bool) {
    FAIL.set(fail);
}

ic_cdk::export_candid!();

#[cfg(test)]
mod tests {
    /// The checked-in `ledger.did` is what tools and tests read; keep it identical to what the code exports.
    #[test]
    fn candid_file_matches_the_code() {
        assert_eq!(
            super::__export_service().trim(),
            include_str!("../ledger.did").trim(),
            "regenerate ledger.did from __export_service()"
        );
    }
}
