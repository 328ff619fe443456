//! Replays on a real PocketIC server, when `POCKET_IC_BIN` names one. Without one, the test prints one line
//! saying it was skipped and why, and returns: it never fails and never pretends to have checked anything.

use std::io::Write as _;

use icfuzz::backend::Backend;
use icfuzz_fuzzers::examples::{example, Twin};
use icfuzz_pocketic::{replay, Options, PocketIcBackend, SERVER_ENV};

#[test]
fn on_a_pocket_ic_server() {
    if std::env::var_os(SERVER_ENV).is_none() {
        // Straight to the process's stderr: the test harness captures `println!`, and a skip must be seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {SERVER_ENV} not set; PocketIC tests need a server binary, see docs/pocket-ic.md");
        return;
    }
    let options = Options::default();

    // The backend's own operations, on the rewards example: created at the engine's ids, installed, called.
    let harness = example("reentrancy").expect("an example").harness(Twin::Fixed);
    let mut pic = PocketIcBackend::new(&options, harness.environment().config().initial_time_nanos).expect("a PocketIC instance");
    let controller = harness.controller();
    let rewards = harness.canisters()[0].clone();
    assert_eq!(pic.create_canister(rewards.id, controller, None).expect("created"), rewards.id, "the engine's id");
    let wasm = icfuzz_test_canisters::wasm("reentrancy_fixed");
    pic.install(rewards.id, &wasm, candid::encode_args(()).expect("encodes"), controller).expect("installed");
    let paid = |pic: &mut PocketIcBackend| {
        let reply = pic.query(rewards.id, controller, "paid_out", candid::encode_args(()).expect("encodes")).expect("query");
        candid::decode_one::<u64>(&reply).expect("nat64")
    };
    assert_eq!(paid(&mut pic), 0);
    pic.snapshot(&[rewards.id], controller).expect("snapshot");
    let time = pic.time_nanos();
    pic.advance_time(5_000_000_000);
    assert!(pic.time_nanos() >= time + 5_000_000_000);
    let call = pic.submit(rewards.id, icfuzz::user_principal("alice"), "claim", candid::encode_one(rewards.id).expect("encodes"));
    let call = call.expect("accepted");
    assert_eq!(pic.status(call), None, "submitted, not run: no round yet");
    for _ in 0..5 {
        pic.tick();
    }
    let outcome = pic.status(call).expect("completed after rounds");
    assert!(outcome.is_ok(), "claim replies (an Err variant: rewards has no on_reward): {outcome:?}");
    pic.restore(controller).expect("restore");
    assert_eq!(paid(&mut pic), 0);
    assert_eq!(pic.canister_status(rewards.id, controller).expect("status"), icfuzz::engine::CanisterStatus::Running);
    drop(pic);

    // The example findings that need no engine-only step replay on the replica; the fixed twins pass.
    for (name, scenario, oracle) in crate::portable_findings() {
        let ex = example(name).expect("an example");
        let mut harness = ex.harness(Twin::Vulnerable);
        let result = replay(&mut harness, &scenario, &options).expect("replays on PocketIC");
        let trace = icfuzz::report::render_trace(&result.execution);
        let finding = result.execution.finding.as_ref().unwrap_or_else(|| panic!("{name}: nothing found on PocketIC:\n{trace}"));
        assert_eq!((finding.kind, finding.oracle.as_str()), (ex.expected, oracle), "{name}:\n{trace}");

        let mut fixed = ex.harness(Twin::Fixed);
        let result = replay(&mut fixed, &scenario, &options).expect("replays on PocketIC");
        let trace = icfuzz::report::render_trace(&result.execution);
        assert_eq!(result.execution.finding, None, "{name} (fixed) on PocketIC:\n{trace}");
    }
}
