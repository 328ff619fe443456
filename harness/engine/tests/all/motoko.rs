//! Motoko canisters, built with moc (npm package `motoko`) in both flavours: classic wasm32 and enhanced
//! orthogonal persistence on wasm64. They must pass the same call, trap, upgrade and timer tests as Rust ones.

use candid::{Decode, Encode, Nat, Principal};
use icfuzz_engine::{RejectCode, Subnet, UpgradeOptions, WasmMemoryPersistence};
use icfuzz_test_canisters::{motoko_wasm, Motoko};

use crate::*;

const FLAVOURS: [Motoko; 2] = [Motoko::Wasm32, Motoko::Wasm64];

fn install_mo(s: &mut Subnet, name: &str, flavour: Motoko) -> Principal {
    let id = s.create_canister();
    s.install_canister(id, &motoko_wasm(name, flavour), Encode!().unwrap(), None)
        .unwrap_or_else(|e| panic!("{name} {flavour:?}: {e}"));
    id
}

fn nat(bytes: &[u8]) -> u64 {
    let n = Decode!(bytes, Nat).unwrap();
    u64::try_from(n.0).unwrap()
}

fn call(s: &mut Subnet, canister: Principal, method: &str, arg: Vec<u8>) -> CallResult {
    s.update_call(canister, user(), method, arg)
}

/// The upgrade options each flavour needs: enhanced orthogonal persistence must say what happens to the heap.
fn upgrade_options(flavour: Motoko) -> UpgradeOptions {
    match flavour {
        Motoko::Wasm32 => UpgradeOptions::default(),
        Motoko::Wasm64 => {
            UpgradeOptions { wasm_memory_persistence: Some(WasmMemoryPersistence::Keep), ..UpgradeOptions::default() }
        }
    }
}

#[test]
fn counter_updates_queries_and_survives_upgrade() {
    for flavour in FLAVOURS {
        let mut s = subnet();
        let counter = install_mo(&mut s, "counter", flavour);
        for expected in 1..=3 {
            assert_eq!(nat(&call(&mut s, counter, "inc", Encode!().unwrap()).unwrap()), expected, "{flavour:?}");
        }
        let get = |s: &mut Subnet| nat(&s.query_call(counter, user(), "get", Encode!().unwrap()).unwrap());
        assert_eq!(get(&mut s), 3);
        s.upgrade_canister_with(counter, &motoko_wasm("counter", flavour), Encode!().unwrap(), None, upgrade_options(flavour))
            .unwrap_or_else(|e| panic!("{flavour:?}: {e}"));
        assert_eq!(get(&mut s), 3, "{flavour:?}: the stable variable survives the upgrade");
        assert_eq!(nat(&call(&mut s, counter, "inc", Encode!().unwrap()).unwrap()), 4);
    }
}

#[test]
fn enhanced_orthogonal_persistence_requires_its_upgrade_option() {
    let mut s = subnet();
    let counter = install_mo(&mut s, "counter", Motoko::Wasm64);
    call(&mut s, counter, "inc", Encode!().unwrap()).unwrap();
    let err = s.upgrade_canister(counter, &motoko_wasm("counter", Motoko::Wasm64), Encode!().unwrap(), None).unwrap_err();
    assert!(err.reject_message.contains("wasm_memory_persistence"), "{err}");
    // Keeping the heap needs a new module that supports it.
    let keep = upgrade_options(Motoko::Wasm64);
    let err = s.upgrade_canister_with(counter, &motoko_wasm("counter", Motoko::Wasm32), Encode!().unwrap(), None, keep).unwrap_err();
    assert!(err.reject_message.contains("enhanced orthogonal persistence"), "{err}");
    // Failed upgrades changed nothing.
    assert_eq!(nat(&s.query_call(counter, user(), "get", Encode!().unwrap()).unwrap()), 1);
}

#[test]
fn inter_canister_calls_and_trap_after_await() {
    for flavour in FLAVOURS {
        let mut s = subnet();
        let counter = install_mo(&mut s, "counter", flavour);
        let caller = install_mo(&mut s, "caller", flavour);
        assert_eq!(nat(&call(&mut s, caller, "call_inc", Encode!(&counter).unwrap()).unwrap()), 1, "{flavour:?}");
        assert_eq!(nat(&s.query_call(caller, user(), "get_calls", Encode!().unwrap()).unwrap()), 1);
        // The callback traps: the caller's post-await changes roll back, the callee's stay.
        let err = call(&mut s, caller, "call_then_trap", Encode!(&counter).unwrap()).unwrap_err();
        assert_eq!(err.reject_code, RejectCode::CanisterError, "{flavour:?}: {err}");
        assert!(err.reject_message.contains("after await"), "{flavour:?}: {err}");
        assert_eq!(nat(&s.query_call(counter, user(), "get", Encode!().unwrap()).unwrap()), 2);
        // The caller still works after the trap (its callback state was cleaned up).
        assert_eq!(nat(&call(&mut s, caller, "call_inc", Encode!(&counter).unwrap()).unwrap()), 3, "{flavour:?}");
        // An upgrade with the caller idle keeps its stable state.
        s.upgrade_canister_with(caller, &motoko_wasm("caller", flavour), Encode!().unwrap(), None, upgrade_options(flavour)).unwrap();
        assert_eq!(nat(&s.query_call(caller, user(), "get_calls", Encode!().unwrap()).unwrap()), 2);
    }
}

#[test]
fn timers_fire_after_time_advances() {
    for flavour in FLAVOURS {
        let mut s = subnet();
        let timer = install_mo(&mut s, "timer", flavour);
        call(&mut s, timer, "arm", Encode!(&Nat::from(5u32)).unwrap()).unwrap();
        let fired = |s: &mut Subnet| nat(&s.query_call(timer, user(), "fired", Encode!().unwrap()).unwrap());
        s.advance_time(4_000_000_000);
        s.run_until_quiet(100).unwrap();
        assert_eq!(fired(&mut s), 0, "{flavour:?}: not yet");
        s.advance_time(1_000_000_000);
        s.run_until_quiet(100).unwrap();
        assert_eq!(fired(&mut s), 1, "{flavour:?}: fired once the time came");
    }
}

/// A Motoko one-way call (`s.on_event(e)` of a `shared Text -> ()` without `await`) passes callback index -1 to
/// `call_new`. The response invokes no code: the replica fails that callback with IC0513 (function not found) and
/// nothing changes, which is all the engine may do too.
#[test]
fn responses_to_one_way_calls_invoke_no_code() {
    for flavour in FLAVOURS {
        let mut s = subnet();
        let subscriber = install_mo(&mut s, "subscriber", flavour);
        let publisher = install_mo(&mut s, "publisher", flavour);
        call(&mut s, publisher, "subscribe", Encode!(&subscriber).unwrap()).unwrap();
        s.take_events();
        assert_eq!(nat(&call(&mut s, publisher, "publish", Encode!(&"hello").unwrap()).unwrap()), 1, "{flavour:?}");
        s.run_until_quiet(100).unwrap();
        assert_eq!(nat(&s.query_call(subscriber, user(), "count", Encode!().unwrap()).unwrap()), 1, "{flavour:?}: delivered");
        let callbacks: Vec<_> = s
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                icfuzz_engine::Event::Executed { canister, kind, code, trap, .. } if canister == publisher && kind.is_callback() => {
                    Some((code, trap))
                }
                _ => None,
            })
            .collect();
        assert_eq!(callbacks.len(), 1, "{flavour:?}: one response, one callback: {callbacks:?}");
        let (code, trap) = &callbacks[0];
        assert_eq!(*code, Some(icfuzz_engine::ErrorCode::CanisterFunctionNotFound), "{flavour:?}: {trap:?}");
        assert!(code.unwrap().ran_no_code());
        assert!(trap.as_deref().unwrap().contains("non-existent Wasm function"), "{flavour:?}: {trap:?}");
        // Nothing was rolled back that mattered, and the publisher goes on working.
        assert_eq!(nat(&s.query_call(publisher, user(), "get_published", Encode!().unwrap()).unwrap()), 1);
        assert_eq!(nat(&call(&mut s, publisher, "publish", Encode!(&"again").unwrap()).unwrap()), 1, "{flavour:?}");
        s.run_until_quiet(100).unwrap();
        assert_eq!(nat(&s.query_call(subscriber, user(), "count", Encode!().unwrap()).unwrap()), 2, "{flavour:?}");
    }
}
