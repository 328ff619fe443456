//! Builds the real canisters and checks the module interface the engine relies on.

use std::collections::BTreeSet;
use wasmparser::{Parser, Payload, TypeRef};

/// (function exports, imports as "module.name")
fn interface(wasm: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut exports, mut imports) = (BTreeSet::new(), BTreeSet::new());
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.expect("valid Wasm") {
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.expect("export");
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.insert(export.name.to_owned());
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.expect("import");
                    assert!(matches!(import.ty, TypeRef::Func(_)), "only function imports: {}", import.name);
                    imports.insert(format!("{}.{}", import.module, import.name));
                }
            }
            _ => {}
        }
    }
    (exports, imports)
}

fn assert_only_ic0(name: &str, imports: &BTreeSet<String>) {
    assert!(imports.iter().all(|i| i.starts_with("ic0.")), "{name} imports outside ic0: {imports:?}");
}

#[test]
fn universal_canister_exports_every_entry_point_and_imports_only_ic0() {
    let (exports, imports) = interface(&icfuzz_test_canisters::wasm("universal"));
    let expected: BTreeSet<String> = [
        "canister_update update",
        "canister_query query",
        "canister_composite_query composite",
        "canister_init",
        "canister_post_upgrade",
        "canister_pre_upgrade",
        "canister_inspect_message",
        "canister_global_timer",
        "canister_on_low_wasm_memory",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(exports, expected);
    assert_only_ic0("universal", &imports);
    for needed in ["ic0.call_new", "ic0.call_on_cleanup", "ic0.stable64_grow", "ic0.stable_grow", "ic0.msg_reply"] {
        assert!(imports.contains(needed), "universal should import {needed}: {imports:?}");
    }
}

#[test]
fn cdk_canisters_export_their_candid_methods() {
    for (name, methods) in [
        ("ledger", &["canister_update transfer", "canister_query total", "canister_update set_fail"][..]),
        (
            "bank",
            &[
                "canister_update deposit",
                "canister_query balance",
                "canister_update withdraw",
                "canister_update withdraw_then_trap",
                "canister_update locked_call",
                "canister_query is_locked",
                "canister_query withdraw_count",
            ][..],
        ),
    ] {
        let (exports, imports) = interface(&icfuzz_test_canisters::wasm(name));
        for method in methods {
            assert!(exports.contains(*method), "{name} lacks {method:?}: {exports:?}");
        }
        assert_only_ic0(name, &imports);
    }
}

#[test]
fn missing_canister_panics_with_a_hint() {
    let panic = std::panic::catch_unwind(|| icfuzz_test_canisters::wasm("no-such-canister")).unwrap_err();
    let message = panic.downcast_ref::<String>().expect("formatted panic message");
    assert!(message.contains("member of canisters/Cargo.toml"), "{message}");
}
