//! Candid interfaces: from a .did, from module metadata; setup errors are clear.

use icfuzz::interface::Interface;
use icfuzz::{CanisterSpec, Environment};
use icfuzz_test_canisters::wasm;

const BANK_DID: &str = include_str!("../../../../canisters/bank/bank.did");

#[test]
fn reads_a_did_and_the_candid_service_metadata() {
    let from_did = Interface::parse(BANK_DID).unwrap();
    assert!(from_did.method("withdraw").unwrap().args.len() == 2);
    assert!(from_did.method("balance").unwrap().query);
    // The same text in a `candid:service` custom section, as dfx adds it.
    let mut module = wasm("bank");
    let name = "icp:public candid:service";
    let mut content = vec![name.len() as u8];
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(BANK_DID.as_bytes());
    module.push(0); // custom section id
    let mut size = content.len();
    while size >= 0x80 {
        module.push((size & 0x7f) as u8 | 0x80);
        size >>= 7;
    }
    module.push(size as u8);
    module.extend_from_slice(&content);
    let from_metadata = Interface::from_wasm_metadata(&module).expect("present").unwrap();
    let names = |i: &Interface| i.methods.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&from_metadata), names(&from_did));
    assert!(Interface::from_wasm_metadata(&wasm("bank")).is_none());
}

/// A plain cargo build (no .did, no metadata) is fuzzable: its interface comes from `export_candid!()`.
#[test]
fn a_cargo_build_without_metadata_has_its_interface_from_export_candid() {
    let h = Environment::builder().canister(CanisterSpec::new("bank", wasm("bank")).target()).build().expect("builds");
    let bank = &h.canisters()[0];
    let names: Vec<&str> = bank.interface.methods.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"deposit") && names.contains(&"withdraw"), "{names:?}");
}

#[test]
fn bad_interfaces_and_arguments_are_clear_errors() {
    assert!(Interface::parse("service : { broken").unwrap_err().to_string().contains("invalid Candid"));
    // The universal canister has no interface anywhere (no .did, metadata, export_candid!() or tmp_hack query).
    let e = Environment::builder()
        .canister(CanisterSpec::new("uc", wasm("universal")).target())
        .build()
        .err()
        .expect("no interface anywhere");
    assert!(e.to_string().contains("has no Candid interface"), "{e}");
    let e = Environment::builder()
        .canister(CanisterSpec::new("bank", wasm("bank")).did(BANK_DID).target())
        .setup("bank", "deposit", "(\"not a number\")")
        .build()
        .err()
        .expect("bad setup arguments");
    assert!(e.to_string().contains("not a number"), "{e}");
    let e = Environment::builder().canister(CanisterSpec::new("bank", wasm("bank")).did(BANK_DID)).build().err().expect("no target");
    assert!(e.to_string().contains("no canister is a target"), "{e}");
}

/// A canister whose init takes arguments, given none: its interface comes from a copy installed without init, and
/// it is installed with the smallest well-typed values, a principal naming the adversary first.
#[test]
fn init_arguments_default_to_adversaries() {
    let harness = Environment::builder()
        .canister(CanisterSpec::new("bank", wasm("stale_balance_vulnerable")).target())
        .adversary(icfuzz::AdversarySpec::new("mallory"))
        .adversary_wasm(wasm("adversary"))
        .build()
        .expect("the bank installs with generated init arguments");
    let bank = &harness.canisters()[0];
    assert_eq!(bank.interface.init_args.len(), 1, "the interface read from the module names the init argument");
    let mallory = harness.names().principal("mallory").unwrap();
    let ledger: candid::Principal = candid::decode_one(bank.init_arg()).unwrap();
    assert_eq!(ledger, mallory, "the bank's ledger is the adversary");
}

/// `canisters/treasury` refuses its smallest init argument (`variant { Upgrade = null }`): other values are tried
/// until one installs, and the environment says which and that it was probed. Given init arguments are not.
#[test]
fn init_arguments_are_probed_when_the_smallest_traps() {
    let harness = Environment::builder()
        .canister(CanisterSpec::new("treasury", wasm("treasury")).target())
        .user("alice")
        .build()
        .expect("a probed init argument installs");
    let treasury = &harness.canisters()[0];
    assert!(treasury.init_probed());
    assert!(treasury.init_text().contains("Init = record"), "{}", treasury.init_text());
    let given = "(variant { Init = record { owner = {alice}; ledger = {alice}; fee = 5 : nat } })";
    let harness = Environment::builder()
        .canister(CanisterSpec::new("treasury", wasm("treasury")).init_args(given).target())
        .user("alice")
        .build()
        .expect("installs with the given argument");
    assert!(!harness.canisters()[0].init_probed());
    // A given argument that traps stays an error that says so.
    let e = Environment::builder()
        .canister(CanisterSpec::new("treasury", wasm("treasury")).init_args("(variant { Upgrade = null })").target())
        .build()
        .err()
        .expect("init traps");
    assert!(e.to_string().contains("Cannot initialize the canister with an Upgrade argument"), "{e}");
}

/// Types nested beyond what any real interface needs are refused with a clear error before they can stall value
/// encoding (thousands of nested `opt`s) or overflow the parser's stack (hundreds of thousands).
#[test]
fn interfaces_nested_too_deep_are_refused_up_front() {
    let opts = |n: usize| format!("service : {{ f : ({}nat) -> () }}", "opt ".repeat(n));
    let records = |n: usize| format!("service : {{ f : ({}nat{}) -> () }}", "record { a : ".repeat(n), " }".repeat(n));
    for (what, did) in [("5,000 opts", opts(5_000)), ("200,000 opts", opts(200_000)), ("100,000 records", records(100_000)), ("65 opts", opts(65))] {
        match icfuzz::interface::Interface::parse(&did) {
            Err(e @ icfuzz::interface::InterfaceError::TooDeep { .. }) => assert!(e.to_string().contains("levels deep"), "{what}: {e}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    let fine = icfuzz::interface::Interface::parse(&records(30)).expect("30 nested records are fine");
    assert_eq!(fine.methods.len(), 1);
    icfuzz::interface::Interface::parse(&opts(63)).expect("63 nested opts are fine");
    // Argument text (init arguments, setup calls, checks, scenario files) is bounded the same way.
    let deep_value = format!("({}5)", "opt ".repeat(200_000));
    assert!(icfuzz::interface::parse_args(&deep_value).is_err_and(|e| e.contains("levels deep")));
    assert_eq!(icfuzz::interface::parse_args("(opt opt 5, record { a = vec { 1 } })").unwrap().args.len(), 2);
}
