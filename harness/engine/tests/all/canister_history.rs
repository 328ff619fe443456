//! What the management canister tells about canisters: `canister_info` (history, module hash, controllers),
//! `canister_metadata`, `subnet_info` and `fetch_canister_logs`, with who may ask.

use candid::{Decode, Encode, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::{ErrorCode, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;
use wasm_encoder::Section;

use crate::*;

fn info(s: &mut Subnet, asker: Principal, canister: Principal, changes: Option<u64>) -> mgmt::CanisterInfoResult {
    let arg = Encode!(&mgmt::CanisterInfoArgs { canister_id: canister, num_requested_changes: changes }).unwrap();
    Decode!(&update(s, asker, mgmt_call("canister_info", arg, 0)).unwrap(), mgmt::CanisterInfoResult).unwrap()
}

fn set_controllers(s: &mut Subnet, by: Principal, canister: Principal, controllers: Vec<Principal>) {
    let arg = mgmt::UpdateSettingsArgs {
        canister_id: canister,
        settings: mgmt::CanisterSettings { controllers: Some(controllers), ..Default::default() },
        sender_canister_version: None,
    };
    s.update_call(Principal::management_canister(), by, "update_settings", Encode!(&arg).unwrap()).unwrap();
}

#[test]
fn canister_info_reports_the_history_with_versions_and_origins() {
    let mut s = subnet();
    let asker = install_uc(&mut s);
    let c = s.create_canister_with_controllers(vec![user()], 10_000_000_000_000);
    s.install_canister(c, &uc_wasm(), vec![], Some(user())).unwrap();
    let first = info(&mut s, asker, c, Some(10));
    assert_eq!(first.total_num_changes, 2);
    let [creation, install] = first.recent_changes.as_slice() else { panic!("{first:?}") };
    assert_eq!(creation.canister_version, 0);
    assert!(matches!(&creation.details, Some(mgmt::ChangeDetails::Creation(r)) if r.controllers == vec![user()]));
    assert_eq!(install.canister_version, 1, "recorded after the install's bump");
    assert_eq!(install.origin, mgmt::ChangeOrigin::FromUser(mgmt::FromUserRecord { user_id: user() }));
    let hash = s.module_hash(c).unwrap().unwrap().to_vec();
    assert_eq!(
        install.details,
        Some(mgmt::ChangeDetails::CodeDeployment(mgmt::CodeDeploymentRecord { mode: mgmt::CodeDeploymentMode::Install, module_hash: hash.clone() }))
    );
    assert_eq!(first.module_hash, Some(hash.clone()));

    // The controllers are recorded sorted, and the asker (now a controller) upgrades as a canister.
    let mut controllers = vec![user(), asker];
    set_controllers(&mut s, user(), c, controllers.clone());
    controllers.sort();
    let version = s.canister_version(asker).unwrap();
    let upgrade = Encode!(&mgmt::InstallCodeArgs {
        mode: mgmt::CanisterInstallMode::Upgrade(None),
        canister_id: c,
        wasm_module: uc_wasm(),
        arg: vec![],
        sender_canister_version: Some(version),
    })
    .unwrap();
    update(&mut s, asker, mgmt_call("install_code", upgrade, 0)).unwrap();
    let now = info(&mut s, asker, c, Some(2));
    assert_eq!(now.total_num_changes, 4);
    assert_eq!(now.controllers, controllers);
    let [settings, upgraded] = now.recent_changes.as_slice() else { panic!("{now:?}") };
    assert_eq!(settings.details, Some(mgmt::ChangeDetails::ControllersChange(mgmt::ControllersChangeRecord { controllers })));
    assert_eq!(settings.canister_version, 2, "update_settings bumps the version");
    assert_eq!(upgraded.canister_version, 3);
    assert_eq!(
        upgraded.origin,
        mgmt::ChangeOrigin::FromCanister(mgmt::FromCanisterRecord { canister_id: asker, canister_version: Some(version) })
    );
    assert!(info(&mut s, asker, c, None).recent_changes.is_empty(), "no count asks for no changes");
}

/// A canister's management call is checked on its way out: a `sender_canister_version` other than the version
/// of the execution that made the call is rejected (CanisterError) before the management canister sees it.
#[test]
fn a_wrong_sender_canister_version_is_rejected_before_the_call_leaves() {
    let mut s = subnet();
    let caller = install_uc(&mut s);
    let c = s.create_canister_with_controllers(vec![user(), caller], 10_000_000_000_000);
    let settings = |version: u64| {
        Encode!(&mgmt::UpdateSettingsArgs {
            canister_id: c,
            settings: mgmt::CanisterSettings { controllers: Some(vec![user(), caller]), ..Default::default() },
            sender_canister_version: Some(version),
        })
        .unwrap()
    };
    let changes = |s: &mut Subnet| info(s, caller, c, Some(20)).total_num_changes;
    let before = changes(&mut s);
    // The version of the caller's next execution (each of its executions bumps it).
    let version = s.canister_version(caller).unwrap();
    let reply = update(&mut s, caller, mgmt_call("update_settings", settings(version + 1), 0)).unwrap();
    let (code, message) = relayed_reject(&reply);
    assert_eq!(code, RejectCode::CanisterError as u64, "{message}");
    let expected = format!("sender canister version {} that does not match the actual sender canister version {version}", version + 1);
    assert!(message.contains(&expected), "{message}");
    assert_eq!(changes(&mut s), before, "no controllers change was recorded");
    // The version the execution runs at is accepted.
    let version = s.canister_version(caller).unwrap();
    let reply = update(&mut s, caller, mgmt_call("update_settings", settings(version), 0)).unwrap();
    assert_eq!(Decode!(&reply, ()).map_err(|e| format!("{e}: {}", relayed_reject(&reply).1)), Ok(()));
    assert_eq!(changes(&mut s), before + 1);
}

#[test]
fn canister_info_keeps_twenty_changes_and_is_for_canisters_only() {
    let mut s = subnet();
    let asker = install_uc(&mut s);
    let c = s.create_canister_with_controllers(vec![user()], 10_000_000_000_000);
    for _ in 0..25 {
        set_controllers(&mut s, user(), c, vec![user()]);
    }
    let all = info(&mut s, asker, c, Some(1000));
    assert_eq!(all.total_num_changes, 26);
    assert_eq!(all.recent_changes.len(), 20);
    assert_eq!(all.recent_changes.last().unwrap().canister_version, 25);
    assert_eq!(all.module_hash, None);

    let by_user = s.update_call(Principal::management_canister(), user(), "canister_info", Encode!(&mgmt::CanisterInfoArgs { canister_id: c, num_requested_changes: None }).unwrap());
    assert_reject(&by_user, RejectCode::CanisterReject, "Only canisters can call ic00 method canister_info");
    let nowhere = Encode!(&mgmt::CanisterInfoArgs { canister_id: Principal::from_slice(&[7; 10]), num_requested_changes: None }).unwrap();
    let (code, message) = relayed_reject(&update(&mut s, asker, mgmt_call("canister_info", nowhere, 0)).unwrap());
    assert_eq!(code, RejectCode::DestinationInvalid as u64, "{message}");
}

/// The universal canister with an `icp:public` and an `icp:private` custom section appended.
fn uc_with_metadata() -> Vec<u8> {
    let mut wasm = uc_wasm();
    for (name, data) in [("icp:public candid:service", &b"service : {}"[..]), ("icp:private secret", b"hidden")] {
        wasm_encoder::CustomSection { name: name.into(), data: data.into() }.append_to(&mut wasm);
    }
    wasm
}

#[test]
fn canister_metadata_shows_public_sections_to_all_and_private_ones_to_controllers() {
    let mut s = subnet();
    let stranger = install_uc(&mut s);
    let controller = install_uc(&mut s);
    let c = s.create_canister_with_controllers(vec![controller, Principal::anonymous()], 10_000_000_000_000);
    let ask = |s: &mut Subnet, asker, name: &str| {
        let arg = Encode!(&mgmt::CanisterMetadataArgs { canister_id: c, name: name.to_owned() }).unwrap();
        update(s, asker, mgmt_call("canister_metadata", arg, 0)).unwrap()
    };
    let (_, message) = relayed_reject(&ask(&mut s, stranger, "candid:service"));
    assert!(message.contains("has no Wasm module and hence no metadata is available"), "{message}");
    s.install_canister(c, &uc_with_metadata(), vec![], None).unwrap();
    let value = |bytes: Vec<u8>| Decode!(&bytes, mgmt::CanisterMetadataResult).unwrap().value;
    assert_eq!(value(ask(&mut s, stranger, "candid:service")), b"service : {}");
    assert_eq!(value(ask(&mut s, controller, "secret")), b"hidden");
    let (code, message) = relayed_reject(&ask(&mut s, stranger, "secret"));
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert!(message.contains("has no metadata section with the name secret"), "{message}");
}

#[test]
fn subnet_info_answers_for_this_subnet_only() {
    let mut s = subnet();
    let asker = install_uc(&mut s);
    let own = s.config().subnet_id;
    let reply = update(&mut s, asker, mgmt_call("subnet_info", Encode!(&mgmt::SubnetInfoArgs { subnet_id: own }).unwrap(), 0)).unwrap();
    let result = Decode!(&reply, mgmt::SubnetInfoResult).unwrap();
    assert!(result.replica_version.starts_with("icfuzz-engine"), "{result:?}");
    let elsewhere = Encode!(&mgmt::SubnetInfoArgs { subnet_id: Principal::from_slice(&[1; 29]) }).unwrap();
    let (code, _) = relayed_reject(&update(&mut s, asker, mgmt_call("subnet_info", elsewhere, 0)).unwrap());
    assert_eq!(code, RejectCode::DestinationInvalid as u64);
}

#[test]
fn fetch_canister_logs_is_a_query_for_users_that_may_see_the_logs() {
    let mut s = subnet();
    let c = s.create_canister_with_controllers(vec![user()], 10_000_000_000_000);
    s.install_canister(c, &uc_wasm(), vec![], Some(user())).unwrap();
    for line in ["one", "two", "three"] {
        update(&mut s, c, Program::new().print(line).reply_bytes(b"")).unwrap();
    }
    let fetch = |s: &mut Subnet, who, filter| {
        let arg = Encode!(&mgmt::FetchCanisterLogsArgs { canister_id: c, filter }).unwrap();
        s.query_call(Principal::management_canister(), who, "fetch_canister_logs", arg)
    };
    let logs = Decode!(&fetch(&mut s, user(), None).unwrap(), mgmt::FetchCanisterLogsResult).unwrap().canister_log_records;
    let contents: Vec<&[u8]> = logs.iter().map(|r| r.content.as_slice()).collect();
    assert_eq!(contents, [&b"one"[..], b"two", b"three"]);
    let some = fetch(&mut s, user(), Some(mgmt::CanisterLogFilter::ByIdx { start: logs[1].idx, end: logs[2].idx })).unwrap();
    assert_eq!(Decode!(&some, mgmt::FetchCanisterLogsResult).unwrap().canister_log_records, logs[1..2]);
    assert_reject(&fetch(&mut s, Principal::anonymous(), None), RejectCode::CanisterReject, "is not allowed to query");

    // Public logs are anyone's.
    let public = mgmt::UpdateSettingsArgs {
        canister_id: c,
        settings: mgmt::CanisterSettings { log_visibility: Some(mgmt::LogVisibility::Public), ..Default::default() },
        sender_canister_version: None,
    };
    s.update_call(Principal::management_canister(), user(), "update_settings", Encode!(&public).unwrap()).unwrap();
    assert!(fetch(&mut s, Principal::anonymous(), None).is_ok());

    // Not as an update, nor from a canister.
    let arg = Encode!(&mgmt::FetchCanisterLogsArgs { canister_id: c, filter: None }).unwrap();
    let as_update = s.update_call(Principal::management_canister(), user(), "fetch_canister_logs", arg.clone()).unwrap_err();
    assert_eq!(as_update.error_code, ErrorCode::CanisterRejectedMessage);
    let asker = install_uc(&mut s);
    let (code, message) = relayed_reject(&update(&mut s, asker, mgmt_call("fetch_canister_logs", arg, 0)).unwrap());
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert!(message.contains("only accessible to end users in non-replicated mode"), "{message}");
}
