//! The coverage report names the functions that ran.

use candid::Encode;
use icfuzz::engine::{Config, Principal, Subnet};

#[test]
fn coverage_report_lists_executed_functions_by_name() {
    let mut s = Subnet::new(Config { coverage: true, ..Config::default() }).unwrap();
    assert!(icfuzz::report::coverage_report(&s).contains("no coverage"));
    let bank = s.create_canister();
    s.install_canister(bank, &icfuzz_test_canisters::wasm("bank"), vec![], None).unwrap();
    s.update_call(bank, Principal::anonymous(), "deposit", Encode!(&5u64).unwrap()).unwrap();
    let report = icfuzz::report::coverage_report(&s);
    assert!(report.contains(&bank.to_text()), "{report}");
    assert!(report.contains("deposit"), "{report}");
    assert!(!report.contains("withdraw_then_trap"), "functions that never ran are not listed:\n{report}");
}
