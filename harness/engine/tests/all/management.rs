//! The management canister subset: create, install, status, settings, raw_rand; bad modules are refused cleanly.

use candid::{Decode, Encode, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::{Config, ErrorCode, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::*;

#[test]
fn a_canister_creates_and_installs_another() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let create = Encode!(&mgmt::CreateCanisterArgs::default()).unwrap();
    let fee = s.config().fees.create_canister as u64;
    let too_little = update(&mut s, a, mgmt_call("create_canister", create.clone(), fee - 1)).unwrap();
    let (code, message) = relayed_reject(&too_little);
    assert_eq!(code, RejectCode::CanisterReject as u64, "{message}");
    let funding = 100_000_000_000u64;
    let reply = update(&mut s, a, mgmt_call("create_canister", create, fee + funding)).unwrap();
    let child = Decode!(&reply, mgmt::CanisterIdRecord).unwrap().canister_id;
    assert_eq!(s.cycle_balance(child).unwrap(), u128::from(funding), "the attached cycles minus the fee fund the new canister");

    let install = Encode!(&mgmt::InstallCodeArgs {
        mode: mgmt::CanisterInstallMode::Install,
        canister_id: child,
        wasm_module: uc_wasm(),
        arg: vec![],
        sender_canister_version: None,
    })
    .unwrap();
    update(&mut s, a, mgmt_call("install_code", install, 0)).unwrap();
    assert_eq!(update(&mut s, child, Program::new().push_bytes(b"child").reply_data_append().reply()).unwrap(), b"child");

    // A is the child's controller; the anonymous principal is not.
    let status = Encode!(&mgmt::CanisterIdRecord { canister_id: child }).unwrap();
    let reply = update(&mut s, a, mgmt_call("canister_status", status.clone(), 0)).unwrap();
    let status_result = Decode!(&reply, mgmt::CanisterStatusResult).unwrap();
    assert_eq!(status_result.settings.controllers, vec![a]);
    assert!(status_result.module_hash.is_some());
    let denied = s.update_call(Principal::management_canister(), Principal::anonymous(), "canister_status", status).unwrap_err();
    assert_eq!(denied.error_code, ErrorCode::CanisterInvalidController);
}

#[test]
fn raw_rand_is_deterministic_per_seed_and_fresh_per_call() {
    let rand = |seed: u8| {
        let config = Config { seed: [seed; 32], ..Config::default() };
        let mut s = Subnet::new(config).unwrap();
        let a = install_uc(&mut s);
        let one = update(&mut s, a, mgmt_call("raw_rand", Encode!().unwrap(), 0)).unwrap();
        let two = update(&mut s, a, mgmt_call("raw_rand", Encode!().unwrap(), 0)).unwrap();
        (Decode!(&one, serde_bytes::ByteBuf).unwrap().into_vec(), Decode!(&two, serde_bytes::ByteBuf).unwrap().into_vec())
    };
    let (a1, a2) = rand(1);
    assert_eq!(a1.len(), 32);
    assert_ne!(a1, a2);
    assert_eq!(rand(1), (a1.clone(), a2));
    assert_ne!(rand(2).0, a1);
}

#[test]
fn raw_rand_is_refused_to_ingress_and_unknown_methods_are_rejected() {
    let mut s = subnet();
    let r = s.update_call(Principal::management_canister(), user(), "raw_rand", Encode!().unwrap()).unwrap_err();
    assert_eq!(r.reject_code, RejectCode::CanisterReject);
    let r = s.update_call(Principal::management_canister(), user(), "no_such_method", vec![]).unwrap_err();
    assert_eq!(r.error_code, ErrorCode::UnknownManagementMessage);
    let r = s.update_call(Principal::management_canister(), user(), "canister_status", b"not candid".to_vec()).unwrap_err();
    assert_eq!(r.error_code, ErrorCode::InvalidManagementPayload);
}

#[test]
fn bad_modules_are_refused_with_a_clear_error() {
    let mut s = subnet();
    let id = s.create_canister();
    let uc = uc_wasm();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("not wasm", b"definitely not a wasm module".to_vec()),
        ("empty", vec![]),
        ("truncated", uc[..uc.len() / 2].to_vec()),
        ("bad gzip", vec![0x1f, 0x8b, 0x08, 0, 1, 2, 3]),
        // A valid Wasm module that is no canister: it imports a function the IC does not provide.
        ("unknown import", {
            let mut m = b"\0asm\x01\0\0\0".to_vec();
            // type section: one func type () -> ()
            m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
            // import section: "ic0"."nonsense" func type 0
            let mut imp = vec![1, 3];
            imp.extend_from_slice(b"ic0");
            imp.push(8);
            imp.extend_from_slice(b"nonsense");
            imp.extend_from_slice(&[0, 0]);
            m.push(2);
            m.push(imp.len() as u8);
            m.extend_from_slice(&imp);
            m
        }),
    ];
    // (The first 8 bytes alone are a valid, empty module, which the IC accepts.)
    for cut in [9, 20, 100, 1000] {
        cases.push(("cut", uc[..cut].to_vec()));
    }
    for (name, wasm) in cases {
        let err = s.install_canister(id, &wasm, vec![], None).expect_err(name);
        assert_eq!(err.error_code, ErrorCode::CanisterInvalidWasm, "{name}: {err}");
        assert!(err.reject_message.contains("not valid"), "{name}: {err}");
        assert_eq!(s.module_hash(id).unwrap(), None, "{name}: the canister stays empty");
    }
    // Gzipped modules install.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &uc).unwrap();
    s.install_canister(id, &gz.finish().unwrap(), vec![], None).unwrap();
    assert_eq!(update(&mut s, id, Program::new().push_bytes(b"gz").reply_data_append().reply()).unwrap(), b"gz");
}

#[test]
fn install_requires_a_controller_and_an_empty_canister() {
    let mut s = subnet();
    let id = s.create_canister();
    let err = s.install_canister(id, &uc_wasm(), vec![], Some(user())).unwrap_err();
    assert_eq!(err.error_code, ErrorCode::CanisterInvalidController);
    s.install_canister(id, &uc_wasm(), vec![], None).unwrap();
    let err = s.install_canister(id, &uc_wasm(), vec![], None).unwrap_err();
    assert_eq!(err.error_code, ErrorCode::CanisterNonEmpty);
}

#[test]
fn init_runs_with_the_install_argument_and_a_trap_leaves_the_canister_empty() {
    let mut s = subnet();
    let id = s.create_canister();
    let init = Program::new().push_bytes(b"from init").set_global().caller().debug_print();
    s.install_canister(id, &uc_wasm(), init.build(), None).unwrap();
    assert_eq!(global(&mut s, id), b"from init");
    let logs = s.canister_logs(id).unwrap();
    assert_eq!(logs.last().unwrap().content.as_bytes(), Principal::anonymous().as_slice(), "init's caller is the installer");

    let other = s.create_canister();
    let err = s.install_canister(other, &uc_wasm(), Program::new().push_bytes(b"init fails").trap().build(), None).unwrap_err();
    assert!(err.reject_message.contains("init fails"), "{err}");
    assert_eq!(s.module_hash(other).unwrap(), None);
    let r = update(&mut s, other, Program::new().reply()).unwrap_err();
    assert_eq!(r.error_code, ErrorCode::CanisterWasmModuleNotFound);
}

/// `delete_canister` burns what the deleted canister held (the replica counts it as consumed,
/// `CyclesUseCase::DeletedCanisters`); nothing comes back to the controller that deleted it.
#[test]
fn deleting_a_canister_burns_its_cycles() {
    let mut s = subnet_without_fees();
    let a = install_uc(&mut s);
    let funding = 7_000_000_000u64;
    let reply = update(&mut s, a, mgmt_call("create_canister", Encode!(&mgmt::CreateCanisterArgs::default()).unwrap(), funding)).unwrap();
    let child = Decode!(&reply, mgmt::CanisterIdRecord).unwrap().canister_id;
    assert_eq!(s.cycle_balance(child).unwrap(), u128::from(funding));
    let record = Encode!(&mgmt::CanisterIdRecord { canister_id: child }).unwrap();
    update(&mut s, a, mgmt_call("stop_canister", record.clone(), 0)).unwrap();
    let before = s.cycle_balance(a).unwrap();
    let reply = update(&mut s, a, mgmt_call("delete_canister", record, 0)).unwrap();
    assert_eq!(Decode!(&reply).unwrap(), (), "deleted");
    assert!(!s.canister_exists(child));
    assert_eq!(s.cycle_balance(a).unwrap(), before, "the child's {funding} cycles are gone, not refunded");
}

/// `deposit_cycles`: any canister may deposit what it attaches into any canister; ingress, which carries no
/// cycles, may not call it.
#[test]
fn deposit_cycles_moves_the_attached_cycles() {
    let mut s = subnet_without_fees();
    let (a, b) = (install_uc(&mut s), install_uc(&mut s));
    let (a_before, b_before) = (s.cycle_balance(a).unwrap(), s.cycle_balance(b).unwrap());
    let record = Encode!(&mgmt::CanisterIdRecord { canister_id: b }).unwrap();
    // A is not B's controller, and does not need to be.
    let reply = update(&mut s, a, mgmt_call("deposit_cycles", record.clone(), 1_234_567)).unwrap();
    assert_eq!(Decode!(&reply).unwrap(), ());
    assert_eq!(s.cycle_balance(b).unwrap(), b_before + 1_234_567);
    assert_eq!(s.cycle_balance(a).unwrap(), a_before - 1_234_567, "nothing comes back");
    let missing = Encode!(&mgmt::CanisterIdRecord { canister_id: Principal::from_slice(&[9; 10]) }).unwrap();
    let (code, message) = relayed_reject(&update(&mut s, a, mgmt_call("deposit_cycles", missing, 10)).unwrap());
    assert_eq!(code, RejectCode::DestinationInvalid as u64, "{message}");
    assert_eq!(s.cycle_balance(a).unwrap(), a_before - 1_234_567, "a failed deposit refunds");
    let r = s.update_call(Principal::management_canister(), user(), "deposit_cycles", record).unwrap_err();
    assert_eq!(r.reject_code, RejectCode::CanisterReject, "{r}");
}

/// A management method the IC has and the engine lacks is reported as unimplemented (the reject the canister
/// gets is not what the IC would answer); a method the IC does not have is just rejected, as on the IC.
#[test]
fn management_methods_the_engine_lacks_are_reported() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    s.take_events();
    let arg = Encode!(&mgmt::CanisterIdRecord { canister_id: a }).unwrap();
    update(&mut s, a, mgmt_call("node_metrics_history", arg.clone(), 0)).unwrap();
    update(&mut s, a, mgmt_call("no_such_method", arg, 0)).unwrap();
    let reported: Vec<_> = s
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            icfuzz_engine::Event::Unimplemented { canister, feature } => Some((canister, feature)),
            _ => None,
        })
        .collect();
    assert_eq!(reported, [(a, icfuzz_engine::Unimplemented::ManagementMethod("node_metrics_history".into()))]);
    assert_eq!(reported[0].1.to_string(), "management method `node_metrics_history`");
}

/// A plain cargo build of an ic-cdk canister carries its interface only in the `get_candid_pointer` export of
/// `export_candid!()`: the engine reads it without changing the canister; a module without it has none.
#[test]
fn the_candid_of_export_candid_is_read_from_the_module() {
    let mut s = subnet();
    let wallet = install(&mut s, "wallet", vec![]);
    let hash = s.state_hash(wallet).unwrap();
    let did = s.exported_candid(wallet).unwrap().expect("export_candid!() was used");
    assert!(did.contains("public_key") && did.contains("sign") && did.contains("signatures"), "{did}");
    assert_eq!(s.state_hash(wallet).unwrap(), hash, "reading it changes nothing");
    assert_eq!(s.exported_candid(wallet).unwrap().as_deref(), Some(did.as_str()), "and it can be read again");
    let uc = install_uc(&mut s);
    assert_eq!(s.exported_candid(uc).unwrap(), None);
}
