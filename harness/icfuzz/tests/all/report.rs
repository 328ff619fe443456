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

#[test]
fn identifiers_are_lowercase_words_joined_by_single_underscores() {
    assert_eq!(icfuzz::report::identifier("management method `sign_with_ecdsa`"), "management_method_sign_with_ecdsa");
    assert_eq!(icfuzz::report::identifier("ic0.cost_http_request (HTTP outcall fees)"), "ic0_cost_http_request_http_outcall_fees");
    assert_eq!(icfuzz::report::identifier("ICF-100__bank.withdraw"), "icf_100_bank_withdraw");
}
