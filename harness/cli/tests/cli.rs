//! End-to-end tests of the `icfuzz` binary on the example canisters (`canisters/examples`): fuzzing finds the
//! planted bugs, replay prints the trace, minimize shrinks it keeping the signature, triage merges duplicates,
//! regress writes a test that compiles, fails on the vulnerable twin and passes on the fixed one; bad input gives
//! one clear line and exit code 2, and nothing the user has is overwritten.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ICFUZZ: &str = env!("CARGO_BIN_EXE_icfuzz");

fn example_wasm(name: &str) -> PathBuf {
    icfuzz_test_canisters::wasm_path(name)
}

fn repo() -> PathBuf {
    icfuzz_test_canisters::canisters_dir().parent().expect("the repository").to_owned()
}

/// An example's `icfuzz.toml` with absolute module paths (so a copy works anywhere), for the `twin` given.
fn example_config(example: &str, twin: &str) -> String {
    let source = repo().join("canisters/examples").join(example).join("icfuzz.toml");
    let examples_dir = source.parent().unwrap().join("../../target/wasm32-unknown-unknown/release/examples/");
    std::fs::read_to_string(&source)
        .unwrap()
        .replace("../../target/wasm32-unknown-unknown/release/examples/", examples_dir.to_str().unwrap())
        .replace("_vulnerable.wasm", &format!("_{twin}.wasm"))
}

/// Checks a SARIF file against the SARIF 2.1.0 JSON schema that the serde-sarif crate ships (its source in cargo's
/// registry, at the version Cargo.lock pins: the crate's schema, not a copy); returns the document.
fn valid_sarif(path: &Path) -> serde_json::Value {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"serde-sarif\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("serde-sarif is in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let schema_path = std::fs::read_dir(cargo_home.join("registry/src"))
        .expect("cargo's registry sources")
        .flatten()
        .map(|index| index.path().join(format!("serde-sarif-{version}/src/schema.json")))
        .find(|p| p.is_file())
        .expect("serde-sarif's schema.json in cargo's registry");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{} is not valid SARIF 2.1.0: {errors:#?}", path.display());
    document
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("icfuzz-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn icfuzz(args: &[&str]) -> Output {
    // Make sure the example modules exist (built once per process).
    let _ = example_wasm("honest_ledger");
    Command::new(ICFUZZ).args(args).output().expect("runs icfuzz")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn show(out: &Output) -> String {
    format!("exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}", out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn crash_jsons(out_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out_dir.join("crashes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("crash-") && n.ends_with(".json")
        })
        .collect();
    v.sort();
    v
}

fn signature_of(crash: &Path, config: Option<&Path>) -> (i32, serde_json::Value) {
    let mut args = vec!["replay", crash.to_str().unwrap(), "--json"];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    let out = icfuzz(&args);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&out)));
    (code(&out), json)
}

#[test]
fn zero_config_discovers_the_callee_and_finds_cannot_stop_but_not_in_the_fixed_twin() {
    let dir = temp("zero");
    let out_dir = dir.join("out");
    let wasm = example_wasm("unbounded_wait_vulnerable");
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "400", "--seed", "1", "--stop-on-first", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stderr).contains("adversary `mallory` now answers `on_event`"), "{}", show(&out));
    assert!(text(&out.stderr).contains("ICF-003"), "{}", show(&out));
    let resolved = std::fs::read_to_string(out_dir.join("icfuzz.resolved.toml")).unwrap();
    assert!(resolved.contains("impersonate = [\"on_event\"]"), "{resolved}");
    let crashes = crash_jsons(&out_dir);
    assert_eq!(crashes.len(), 1);
    assert!(crashes[0].with_extension("").exists(), "the raw libFuzzer crash file is saved too");
    assert!(std::fs::read_dir(out_dir.join("corpus")).unwrap().count() > 0, "inputs with new coverage are kept");

    let fixed = example_wasm("unbounded_wait_fixed");
    let out_fixed = dir.join("out-fixed");
    let out = icfuzz(&["fuzz", fixed.to_str().unwrap(), "--runs", "400", "--seed", "1", "--jobs", "2", "--out", out_fixed.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(text(&out.stderr).contains("no finding") && text(&out.stderr).contains("400 scenarios"), "{}", show(&out));
}

/// `canisters/monitor` (a plain cargo build: its interface is in `get_candid_pointer` only) reads node metrics
/// with `node_metrics_history`, which the engine does not implement yet: the campaign says so (what, how often, a
/// scenario that reaches it) instead of passing the engine's rejects off as the IC's.
#[test]
fn a_campaign_reports_what_the_engine_does_not_implement() {
    let dir = temp("unimplemented");
    let out_dir = dir.join("out");
    // Zero configuration: a plain cargo build, whose interface is only in `export_candid!()`'s export.
    let wasm = icfuzz_test_canisters::wasm_path("monitor");
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "200", "--seed", "1", "--jobs", "2", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("feature(s) the engine does not implement"), "{}", show(&out));
    assert!(stderr.contains("management method `node_metrics_history`: reached"), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("unimplemented.json")).unwrap()).unwrap();
    let listed = report["unimplemented"].as_array().unwrap();
    let metrics = listed.iter().find(|u| u["what"] == "management method `node_metrics_history`").expect("listed");
    assert!(metrics["count"].as_u64().unwrap() > 0, "{report}");
    // The first scenario that reached it replays, and its trace shows where.
    let first = metrics["first_scenario"].as_str().unwrap();
    let out = icfuzz(&["replay", first]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(text(&out.stdout).contains("reached management method `node_metrics_history`, which the engine does not implement"), "{}", show(&out));
}

/// `canisters/treasury` (a plain cargo build) takes `variant { Upgrade; Init : record { owner; ledger; fee } }`
/// at init and traps on `Upgrade`, the smallest value: with zero configuration the init argument is probed, said,
/// and written into `icfuzz.resolved.toml` with placeholders, where a replay finds it.
#[test]
fn init_arguments_are_probed_until_the_canister_installs() {
    let dir = temp("init-probe");
    let out_dir = dir.join("out");
    let wasm = icfuzz_test_canisters::wasm_path("treasury");
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "100", "--seed", "1", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("`treasury` installs with the init argument (variant { Init = record {"), "{}", show(&out));
    assert!(stderr.contains("found by probing"), "{}", show(&out));
    let resolved = std::fs::read_to_string(out_dir.join("icfuzz.resolved.toml")).unwrap();
    let line = resolved.lines().find(|l| l.starts_with("init_args")).unwrap_or_else(|| panic!("no init_args in\n{resolved}"));
    assert!(line.contains("Init") && line.contains("owner = {"), "{line}");
    // The resolved file runs as it is.
    let out = icfuzz(&["fuzz", "--config", out_dir.join("icfuzz.resolved.toml").to_str().unwrap(), "--runs", "50", "--out", dir.join("again").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(!text(&out.stderr).contains("found by probing"), "{}", show(&out));
}

/// Placeholders stand wherever a principal may: inside the records and variants of init arguments, and as the
/// operand of a `check`.
#[test]
fn placeholders_inside_records_and_in_checks() {
    let dir = temp("placeholders");
    let config = dir.join("icfuzz.toml");
    let toml = |check: &str| {
        format!(
            "[[canister]]\nname = \"ledger\"\nwasm = {ledger:?}\ntarget = false\n\n\
             [[canister]]\nname = \"treasury\"\nwasm = {treasury:?}\n\
             init_args = \"(variant {{ Init = record {{ owner = {{alice}}; ledger = {{ledger}}; fee = 10 : nat }} }})\"\n\n\
             [actors]\nusers = [\"alice\", \"bob\"]\n\n\
             [[invariant]]\nname = \"the check\"\ncheck = \"{check}\"\n",
            ledger = example_wasm("honest_ledger").display().to_string(),
            treasury = icfuzz_test_canisters::wasm_path("treasury").display().to_string(),
        )
    };
    std::fs::write(&config, toml("treasury.ledger() == {ledger}")).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "300", "--seed", "2", "--out", dir.join("a").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(text(&out.stderr).contains("no finding"), "{}", show(&out));
    // The owner may hand the treasury to bob: a check that says no one ever does is a finding.
    std::fs::write(&config, toml("treasury.owner() != {bob}")).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "3000", "--seed", "2", "--stop-on-first", "--out", dir.join("b").to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stderr).contains("invariant violated [the check]"), "{}", show(&out));
}

/// Replies of a canister whose interface is known decode with its types: a check's messages name record fields
/// (`author`, `message`), not their hashes.
#[test]
fn checks_name_the_fields_of_replies() {
    let dir = temp("fields");
    let config = dir.join("icfuzz.toml");
    let toml = format!(
        "[[canister]]\nname = \"guestbook\"\nwasm = {guestbook:?}\n\n\
         [[setup]]\ncall = \"guestbook.sign\"\nargs = \"(\\\"hello\\\")\"\n\n\
         [[invariant]]\nname = \"signed by the controller\"\ncheck = \"guestbook.latest(1).0.signer == {{controller}}\"\n",
        guestbook = example_wasm("upgrade_outage_fixed").display().to_string(),
    );
    std::fs::write(&config, toml).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "10", "--out", dir.join("out").to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no field"), "{}", show(&out));
    for field in ["author", "message", "signed_at"] {
        assert!(stderr.contains(field), "names `{field}`: {}", show(&out));
    }
}

/// Anyone can deploy a canister that calls yours: a configuration with no `[[adversary]]` still gets an attacker
/// canister, whose direct calls skip `canister_inspect_message`, so an access check made only there is bypassed
/// and found; `attacker = false` turns it off.
#[test]
fn every_environment_has_an_attacker_canister_by_default() {
    let dir = temp("attacker");
    let config = dir.join("icfuzz.toml");
    let toml = |actors: &str| {
        format!(
            "[[canister]]\nname = \"ledger\"\nwasm = {ledger:?}\ntarget = false\n\n\
             [[canister]]\nname = \"bank\"\nwasm = {bank:?}\ninit_args = \"({{ledger}})\"\nexclude = [\"credit\"]\n\n\
             [actors]\nusers = [\"alice\", \"bob\"]\n{actors}\n\n\
             [[setup]]\ncall = \"bank.set_admin\"\nargs = \"({{alice}})\"\n\n\
             [[access]]\ncall = \"bank.set_fee\"\ncallers = [\"alice\"]\n",
            ledger = example_wasm("honest_ledger").display().to_string(),
            bank = example_wasm("inspect_only_access_vulnerable").display().to_string(),
        )
    };
    std::fs::write(&config, toml("")).unwrap();
    let out_dir = dir.join("with");
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "2000", "--seed", "3", "--stop-on-first", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ICF-007") && stderr.contains("attacker"), "{}", show(&out));
    let resolved = std::fs::read_to_string(out_dir.join("icfuzz.resolved.toml")).unwrap();
    assert!(resolved.contains("name = \"attacker\""), "the resolved file names it:\n{resolved}");

    std::fs::write(&config, toml("attacker = false")).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "300", "--seed", "3", "--out", dir.join("without").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "inspect_message stops every user but alice: {}", show(&out));
}

/// HTTP responses are attacker input: scenarios answer `canisters/oracle`'s outcalls with bodies built from the
/// canister's own words, and reach the path that stores a price (here made a "finding" by an invariant saying
/// no price is ever stored); the replayed trace shows the outcall and its answer.
#[test]
fn scenarios_answer_http_outcalls_and_reach_the_parser() {
    let dir = temp("outcalls");
    let out_dir = dir.join("out");
    let config = dir.join("icfuzz.toml");
    let wasm = icfuzz_test_canisters::wasm_path("oracle");
    let toml = format!(
        "[[canister]]\nname = \"oracle\"\nwasm = {:?}\n\n[[invariant]]\nname = \"no price stored yet\"\ncheck = \"oracle.refreshes() == 0\"\n",
        wasm.display().to_string()
    );
    std::fs::write(&config, toml).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "3000", "--seed", "1", "--stop-on-first", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let crash = crash_jsons(&out_dir).pop().expect("a crash");
    let out = icfuzz(&["replay", crash.to_str().unwrap()]);
    let trace = text(&out.stdout);
    for expected in ["makes HTTP outcall #", "answer oracle's HTTP outcall to https://api.exchange.example/", "HTTP 200", "no price stored yet"] {
        assert!(trace.contains(expected), "missing `{expected}` in\n{trace}");
    }
}

/// Proof canisters for production features fuzz clean with zero configuration: they install, run, and a campaign
/// finds nothing and reports nothing unimplemented. `canisters/wallet` signs with threshold ECDSA and Schnorr on
/// the engine's test keys; `canisters/notes` derives its users' keys with vetKD; `canisters/factory` uses its
/// chunk store, `install_chunked_code` and `deposit_cycles`; `canisters/aggregator` sums over shards in a
/// composite query; `canisters/certified` reads its data certificate.
#[test]
fn production_feature_canisters_fuzz_clean() {
    for name in ["wallet", "notes", "factory", "aggregator", "certified"] {
        let dir = temp(name);
        let out_dir = dir.join("out");
        let wasm = icfuzz_test_canisters::wasm_path(name);
        let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "300", "--seed", "3", "--out", out_dir.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{name}: {}", show(&out));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("no finding"), "{name}: {}", show(&out));
        assert!(!stderr.contains("does not implement"), "{name}: {}", show(&out));
        assert!(!out_dir.join("unimplemented.json").exists() || {
            let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("unimplemented.json")).unwrap()).unwrap();
            report["unimplemented"].as_array().unwrap().is_empty()
        });
    }
}

#[test]
fn fuzz_replay_minimize_and_regress_a_config_environment() {
    let dir = temp("config");
    let out_dir = dir.join("out");
    let config = repo().join("canisters/examples/stale_balance/icfuzz.toml");
    let out = icfuzz(&[
        "fuzz",
        "--config",
        config.to_str().unwrap(),
        "--runs",
        "2000",
        "--seed",
        "7",
        "--stop-on-first",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let crash = crash_jsons(&out_dir).pop().expect("a crash");
    assert!(text(&out.stderr).contains(&format!("Reproduce with: icfuzz replay {}", crash.display())), "{}", show(&out));

    // Replay: the readable trace, and JSON with the same finding.
    let out = icfuzz(&["replay", crash.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let trace = text(&out.stdout);
    for expected in ["step 1:", "deliver", "bank ran canister_update withdraw", "⇒ bank.withdraw called by", "FINDING: ICF-100 invariant violated [the bank is solvent]"] {
        assert!(trace.contains(expected), "missing `{expected}` in\n{trace}");
    }
    let (exit, original) = signature_of(&crash, None);
    assert_eq!(exit, 1);
    assert_eq!(original["finding"]["kind"], "invariant");
    let signature = original["signature"].as_str().unwrap().to_owned();

    // Minimize: fewer steps, same signature, written beside the crash without touching it.
    let before = std::fs::read(&crash).unwrap();
    let out = icfuzz(&["minimize", crash.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert_eq!(std::fs::read(&crash).unwrap(), before, "the crash file is untouched");
    let minimized = crash.with_file_name(format!("minimized-from-{}", crash.file_name().unwrap().to_str().unwrap()));
    let (exit, small) = signature_of(&minimized, None);
    assert_eq!(exit, 1);
    assert_eq!(small["signature"].as_str().unwrap(), signature);
    let steps = |v: &serde_json::Value| v["scenario"]["steps"].as_array().unwrap().len();
    assert!(steps(&small) < steps(&original), "{} → {}", steps(&original), steps(&small));
    assert!(steps(&small) <= 3, "two concurrent withdrawals suffice, got {}", steps(&small));

    // Regress: a test that compiles, fails on the vulnerable bank and passes on the fixed one.
    let test_file = dir.join("regression.rs");
    let out = icfuzz(&["regress", minimized.to_str().unwrap(), "-o", test_file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = icfuzz(&["regress", minimized.to_str().unwrap(), "-o", test_file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "an existing test file is not overwritten: {}", show(&out));
    let resolved = std::fs::read_to_string(out_dir.join("icfuzz.resolved.toml")).unwrap();
    let fixed_config = dir.join("fixed.toml");
    std::fs::write(&fixed_config, resolved.replace("stale_balance_vulnerable.wasm", "stale_balance_fixed.wasm")).unwrap();
    let vulnerable = cargo_test(&test_file, None);
    assert!(!vulnerable.status.success(), "the regression test must fail on the vulnerable canister:\n{}", show(&vulnerable));
    assert!(text(&vulnerable.stdout).contains("the finding is still there"), "{}", show(&vulnerable));
    let fixed = cargo_test(&test_file, Some(&fixed_config));
    assert!(fixed.status.success(), "the regression test must pass on the fixed canister:\n{}", show(&fixed));
}

/// Builds and runs the generated test in `harness/regress-check`, a workspace member whose only dev-dependency is
/// `icfuzz` (as in a user's crate). Built with `--workspace`, it resolves dependency features as the workspace
/// does, so it reuses the compiled dependencies instead of rebuilding wasmtime (a crate outside the workspace
/// resolves fewer features of `libc`, `log`, `smallvec`…, and cargo builds them, and wasmtime, again).
fn cargo_test(test_file: &Path, config: Option<&Path>) -> Output {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(["test", "--offline", "--locked", "--workspace", "--test", "regression", "--features", "icfuzz-regress-check/regress"])
        .arg("--manifest-path")
        .arg(repo().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", repo().join("target"))
        .env("ICFUZZ_REGRESS_TEST", test_file)
        .env_remove("ICFUZZ_CONFIG");
    if let Some(c) = config {
        command.env("ICFUZZ_CONFIG", c);
    }
    command.output().expect("runs cargo")
}

/// Every example's `icfuzz.toml` (declarative invariants, access rules, oracle settings) finds the planted bug
/// with the kind the Rust-API environment of `icfuzz_fuzzers::examples` finds, and nothing in the fixed twin.
#[test]
fn every_example_config_finds_its_bug_and_not_in_the_fixed_twin() {
    let dir = temp("examples");
    for example in icfuzz_fuzzers::examples::EXAMPLES {
        let config = repo().join("canisters/examples").join(example.name).join("icfuzz.toml");
        let out_dir = dir.join(example.name);
        let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "3000", "--seed", "1", "--stop-on-first", "--out", out_dir.to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{}: {}", example.name, show(&out));
        // A new trap (low severity) may come first; it does not stop the campaign.
        let expected = format!(": {}", example.expected.id());
        let found = text(&out.stderr).lines().any(|l| l.starts_with("finding #") && l.contains(&expected));
        assert!(found, "{}: expected `finding #…{expected}`: {}", example.name, show(&out));

        // The fixed twin: the same file with the other module (paths made absolute, as the copy lives elsewhere).
        let fixed = example_config(example.name, "fixed");
        let fixed_config = dir.join(format!("{}-fixed.toml", example.name));
        std::fs::write(&fixed_config, fixed).unwrap();
        let out_fixed = dir.join(format!("{}-fixed", example.name));
        let out = icfuzz(&["fuzz", "--config", fixed_config.to_str().unwrap(), "--runs", "300", "--seed", "1", "--out", out_fixed.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{} (fixed): {}", example.name, show(&out));
    }
}

/// A trap only a history of calls reaches (spending exactly a whole allowance) is found by default as a
/// low-severity finding: saved and replayable, listed after any high one, never stopping `--stop-on-first`; a
/// config mutes it by message.
#[test]
fn a_new_trap_is_a_low_severity_finding_that_a_config_can_mute() {
    let dir = temp("new_trap");
    let toml = example_config("whole_allowance", "vulnerable");
    let config = dir.join("icfuzz.toml");
    std::fs::write(&config, &toml).unwrap();
    let out_dir = dir.join("out");
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "1500", "--seed", "1", "--stop-on-first", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 finding(s)") && stdout.contains("ICF-010 new trap [new trap] (low severity) in token.transfer_from"), "{}", show(&out));
    assert!(text(&out.stderr).contains("allowance after transfer_from"), "{}", show(&out));
    // Minimized without --minimize: approve, then spend it all.
    assert!(stdout.contains("ICF-010 new trap: minimized: ") && stdout.contains(" → 2 steps"), "{}", show(&out));
    // A low finding does not stop the campaign: the run went on to its budget.
    assert!(text(&out.stderr).contains(" 1500 scenarios ("), "{}", show(&out));
    // The status line counts hits per bucket.
    assert!(text(&out.stderr).contains("findings 1 bucket(s)") && text(&out.stderr).contains("ICF-010 token.transfer_from ×"), "{}", show(&out));
    let crash = crash_jsons(&out_dir).pop().expect("saved");
    let replayed = icfuzz(&["replay", crash.to_str().unwrap(), "--config", out_dir.join("icfuzz.resolved.toml").to_str().unwrap()]);
    assert_eq!(code(&replayed), 1, "{}", show(&replayed));
    assert!(text(&replayed.stdout).contains("ICF-010") || text(&replayed.stderr).contains("ICF-010"), "{}", show(&replayed));

    std::fs::write(&config, format!("{toml}\n[oracles]\nmute_traps = [\"allowance after transfer_from\"]\n")).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "1500", "--seed", "1", "--out", dir.join("muted").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(text(&out.stderr).contains("no finding"), "{}", show(&out));

    std::fs::write(&config, format!("{toml}\n[oracles]\nmute_traps = [\" \"]\n")).unwrap();
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "10", "--out", dir.join("blank").to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(text(&out.stderr).contains("mute_traps"), "{}", show(&out));
}

/// The CI recipe: a campaign writes SARIF, and `replay --all` judges a regression corpus — exit 1 while any file
/// still finds something, 0 once the fix is in, 2 when a file cannot be replayed — with SARIF too.
#[test]
fn replay_all_judges_a_regression_corpus_and_findings_go_to_sarif() {
    let dir = temp("replay_all");
    let vulnerable = dir.join("vulnerable.toml");
    std::fs::write(&vulnerable, example_config("whole_allowance", "vulnerable")).unwrap();
    let fixed = dir.join("fixed.toml");
    std::fs::write(&fixed, example_config("whole_allowance", "fixed")).unwrap();
    let out_dir = dir.join("out");
    let campaign_sarif = dir.join("campaign.sarif");
    let out = icfuzz(&["fuzz", "--config", vulnerable.to_str().unwrap(), "--runs", "1500", "--seed", "1", "--out", out_dir.to_str().unwrap(), "--sarif", campaign_sarif.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let sarif = valid_sarif(&campaign_sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!((results[0]["ruleId"].as_str(), results[0]["level"].as_str()), (Some("ICF-010"), Some("warning")), "{sarif}");
    assert_eq!(results[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], "token.transfer_from", "{sarif}");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"][0]["id"], "ICF-010", "{sarif}");
    // The check is not vacuous: a level SARIF does not know is refused.
    let bad = dir.join("bad.sarif");
    std::fs::write(&bad, std::fs::read_to_string(&campaign_sarif).unwrap().replace("\"warning\"", "\"severe\"")).unwrap();
    assert!(std::panic::catch_unwind(|| valid_sarif(&bad)).is_err(), "an invalid level passes the schema");

    // A regression corpus: the minimized reproducer and a scenario that finds nothing.
    let corpus = dir.join("regression");
    std::fs::create_dir_all(&corpus).unwrap();
    let minimized = std::fs::read_dir(out_dir.join("crashes")).unwrap().flatten().map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("minimized-"))
        .expect("the low finding was minimized");
    std::fs::copy(&minimized, corpus.join("whole-allowance.json")).unwrap();
    std::fs::write(corpus.join("quiet.json"), r#"{"version": 1, "steps": []}"#).unwrap();
    // --json-status streamed lines a dashboard can read, the last one final.
    let status = dir.join("status.jsonl");
    let out = icfuzz(&["fuzz", "--config", vulnerable.to_str().unwrap(), "--runs", "300", "--seed", "2", "--out", dir.join("status-out").to_str().unwrap(), "--json-status", status.to_str().unwrap()]);
    assert!(code(&out) <= 1, "{}", show(&out));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&status).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = lines.last().expect("a status line");
    assert_eq!((last["final"].as_bool(), last["scenarios"].as_u64()), (Some(true), Some(300)), "{last}");
    assert!(last["coverage_blocks"].as_u64().unwrap() > 0 && last["findings"].is_array() && last["elapsed_seconds"].is_number(), "{last}");
    assert!(lines.iter().rev().skip(1).all(|l| l["final"] == false), "only the last line is final");
    let replay_sarif = dir.join("replay.sarif");
    let replay_all = |config: &Path| {
        icfuzz(&["replay", "--all", corpus.to_str().unwrap(), "--config", config.to_str().unwrap(), "--sarif", replay_sarif.to_str().unwrap()])
    };
    let out = replay_all(&vulnerable);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FINDING") && stdout.contains("whole-allowance.json") && stdout.contains("clean") && stdout.contains("quiet.json"), "{stdout}");
    assert!(stdout.contains("2 file(s): 1 still give a finding, 1 clean, 0 could not be replayed"), "{stdout}");
    assert_eq!(valid_sarif(&replay_sarif)["runs"][0]["results"].as_array().unwrap().len(), 1);
    // With the fix in, the same corpus passes, and its SARIF has no result.
    let out = replay_all(&fixed);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(valid_sarif(&replay_sarif)["runs"][0]["results"].as_array().unwrap().is_empty());
    // The CI script runs a short campaign and the corpus: the fixed twin passes, the vulnerable one fails.
    let ci = |config: &Path, out: &str| {
        Command::new(repo().join("ci/icfuzz-ci.sh"))
            .env("ICFUZZ", env!("CARGO_BIN_EXE_icfuzz"))
            .env("ICFUZZ_CONFIG", config)
            .env("ICFUZZ_DURATION", "2s")
            .env("ICFUZZ_REGRESSION", &corpus)
            .env("ICFUZZ_OUT", dir.join(out))
            .env("ICFUZZ_ARGS", "--seed 1 --jobs 1")
            .output()
            .expect("the CI script runs")
    };
    let out = ci(&fixed, "ci-fixed");
    assert_eq!(code(&out), 0, "{}", show(&out));
    valid_sarif(&dir.join("ci-fixed/campaign.sarif"));
    valid_sarif(&dir.join("ci-fixed/regression.sarif"));
    let out = ci(&vulnerable, "ci-vulnerable");
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stdout).contains("regression corpus exit 1"), "{}", show(&out));
    // A file that cannot be replayed fails the run with exit code 2 (no finding hides behind it).
    std::fs::write(corpus.join("broken.json"), b"{\"steps\": 5}").unwrap();
    let out = replay_all(&fixed);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(text(&out.stdout).contains("ERROR    ") && text(&out.stdout).contains("broken.json"), "{}", show(&out));
}

#[test]
fn triage_buckets_duplicates_and_reports_the_rest() {
    let dir = temp("triage");
    let out_dir = dir.join("out");
    let config = repo().join("canisters/examples/stale_balance/icfuzz.toml");
    let out = icfuzz(&["fuzz", "--config", config.to_str().unwrap(), "--runs", "2000", "--seed", "3", "--stop-on-first", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let crash = crash_jsons(&out_dir).pop().unwrap();
    let raw = crash.with_extension("");
    // A directory with the same finding three times (JSON, a renamed copy, raw bytes alone), a scenario without a
    // finding and a corrupt file.
    let pile = dir.join("pile");
    std::fs::create_dir_all(&pile).unwrap();
    std::fs::copy(&crash, pile.join("crash-a.json")).unwrap();
    std::fs::copy(&crash, pile.join("crash-b.json")).unwrap();
    std::fs::copy(&raw, pile.join("crash-c")).unwrap();
    std::fs::write(pile.join("crash-d.json"), r#"{"version": 1, "steps": []}"#).unwrap();
    std::fs::write(pile.join("crash-e.json"), r#"{"version": 1, "steps": [{"step": "teleport"}]}"#).unwrap();
    std::fs::write(pile.join("crash-f.json"), r#"{"version": 1, "steps": [{"step": "stop", "canister": "nobody"}]}"#).unwrap();
    let resolved = out_dir.join("icfuzz.resolved.toml");
    let out = icfuzz(&["triage", pile.to_str().unwrap(), "--config", resolved.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 bucket(s)") && stdout.contains("ICF-100"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(pile.join("triage.json")).unwrap()).unwrap();
    let buckets = report["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1, "{report}");
    assert_eq!(buckets[0]["count"], 3, "{report}");
    assert!(buckets[0]["steps_after"].as_u64().unwrap() <= buckets[0]["steps_before"].as_u64().unwrap());
    assert!(Path::new(buckets[0]["representative"].as_str().unwrap()).is_file());
    assert_eq!(report["not_reproduced"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 2, "{report}");
    assert!(text(&out.stderr).contains("crash-e.json"), "the corrupt file is named: {}", show(&out));
    assert!(text(&out.stderr).contains("crash-f.json: scenario: no canister `nobody`"), "{}", show(&out));
}

#[test]
fn bad_input_gives_one_clear_line_and_exit_code_2() {
    let dir = temp("bad");
    let real = std::fs::read(example_wasm("unbounded_wait_vulnerable")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let not_wasm = write("notes.wasm", b"hello, I am not a module");
    let truncated = write("truncated.wasm", &real[..real.len() / 3]);
    let not_canister = write("plain.wasm", b"\0asm\x01\0\0\0");
    let good = write("good.wasm", &real);
    let bad_did = write("bad.did", b"service : { oops");
    let other_did = write("other.did", b"service : { notify : (principal, text) -> (); withdraw : (nat64) -> () }");
    let bad_toml = write("bad.toml", b"[[canister]\nname = 1");
    let typo = write("typo.toml", b"[[canister]]\nname = \"a\"\nwasm = \"good.wasm\"\ntargett = true\n");
    let bad_invariant = write("inv.toml", b"[[canister]]\nname = \"a\"\nwasm = \"good.wasm\"\n[[invariant]]\ncheck = \"a.x() = 1\"\n");
    let corrupt = write("crash-x.json", b"{\"steps\": 5}");
    let deep_args = format!("[[canister]]\nname = \"a\"\nwasm = \"good.wasm\"\ninit_args = \"({}5)\"\n", "opt ".repeat(100_000));
    let deep_args = write("deep.toml", deep_args.as_bytes());
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["fuzz", &not_wasm, "--out", out], "not a WebAssembly module"),
        (vec!["fuzz", &truncated, "--out", out], "invalid WebAssembly"),
        (vec!["fuzz", &not_canister, "--out", out], "not a canister"),
        (vec!["fuzz", &good, "--did", &bad_did, "--out", out], "not a usable Candid interface"),
        (vec!["fuzz", &good, "--did", &other_did, "--out", out], "names methods its module does not export: withdraw"),
        (vec!["fuzz", "--config", &bad_toml, "--out", out], "bad.toml"),
        (vec!["fuzz", "--config", &typo, "--out", out], "targett"),
        (vec!["fuzz", "--config", &bad_invariant, "--out", out], "is not a comparison"),
        (vec!["fuzz", "--config", &deep_args, "--out", out], "levels deep"),
        (vec!["fuzz", "/nonexistent/x.wasm", "--out", out], "cannot read /nonexistent/x.wasm"),
        (vec!["replay", &corrupt, "--config", &typo], "targett"),
        (vec!["replay", &corrupt], "cannot tell which canisters"),
        (vec!["fuzz", &good, "--runs", "0", "--jobs", "0", "--out", out], "--jobs must be at least 1"),
    ];
    for (args, expected) in cases {
        let result = icfuzz(&args);
        let stderr = text(&result.stderr);
        assert_eq!(code(&result), 2, "{args:?}: {}", show(&result));
        assert!(stderr.starts_with("icfuzz: ") && stderr.trim_end().lines().count() == 1, "{args:?}: one line:\n{stderr}");
        assert!(stderr.contains(expected), "{args:?}: expected `{expected}` in {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A corrupt crash file in a real environment.
    let out_dir = dir.join("env");
    let result = icfuzz(&["fuzz", &good, "--runs", "1", "--seed", "1", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&result), 0, "{}", show(&result));
    let resolved = out_dir.join("icfuzz.resolved.toml");
    let result = icfuzz(&["replay", &corrupt, "--config", resolved.to_str().unwrap()]);
    assert_eq!(code(&result), 2, "{}", show(&result));
    assert!(text(&result.stderr).contains("not an icfuzz scenario"), "{}", show(&result));
}

#[test]
fn existing_corpus_and_crash_files_are_kept() {
    let dir = temp("keep");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(out_dir.join("corpus")).unwrap();
    std::fs::create_dir_all(out_dir.join("crashes")).unwrap();
    std::fs::write(out_dir.join("corpus/mine"), b"user seed").unwrap();
    std::fs::write(out_dir.join("crashes/crash-mine.json"), b"user crash").unwrap();
    let wasm = example_wasm("unbounded_wait_vulnerable");
    let out_str = out_dir.to_str().unwrap();
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "100", "--seed", "2", "--out", out_str]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stderr).contains("resuming from 1 corpus input"), "{}", show(&out));
    let before: Vec<(PathBuf, Vec<u8>)> = walk(&out_dir);
    // The same run again: it reuses the environment and adds nothing that changes existing files.
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "100", "--seed", "2", "--out", out_str]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stderr).contains("reusing the environment"), "{}", show(&out));
    // Another canister in the same output directory is refused, not mixed in.
    let other = example_wasm("unbounded_wait_fixed");
    let out = icfuzz(&["fuzz", other.to_str().unwrap(), "--runs", "10", "--out", out_str]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(text(&out.stderr).contains("different environment"), "{}", show(&out));
    for (path, bytes) in before {
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{} changed", path.display());
    }
    assert_eq!(std::fs::read(out_dir.join("corpus/mine")).unwrap(), b"user seed");
    assert_eq!(std::fs::read(out_dir.join("crashes/crash-mine.json")).unwrap(), b"user crash");
}

fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn a_dfx_project_is_fuzzed_without_any_argument() {
    let dir = temp("dfx");
    std::fs::copy(example_wasm("unbounded_wait_vulnerable"), dir.join("notifier.wasm")).unwrap();
    std::fs::write(dir.join("dfx.json"), r#"{"canisters": {"notifier": {"type": "custom", "wasm": "notifier.wasm", "candid": "notifier.did"}, "frontend": {"type": "assets"}}}"#).unwrap();
    std::fs::write(dir.join("notifier.did"), "service : { notify : (principal, text) -> (variant { Ok; Err : text }) }").unwrap();
    let out = Command::new(ICFUZZ).args(["fuzz", "--runs", "400", "--seed", "1", "--stop-on-first"]).current_dir(&dir).output().unwrap();
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stderr).contains("ICF-003 cannot stop") && text(&out.stderr).contains("in notifier"), "{}", show(&out));
    let resolved = std::fs::read_to_string(dir.join("icfuzz-out/icfuzz.resolved.toml")).unwrap();
    assert!(resolved.contains("name = \"notifier\"") && !resolved.contains("frontend"), "{resolved}");
}

/// `--replayable-on pocket-ic` findings use only steps PocketIC replays, `replay --backend pocket-ic --dry-run`
/// shows it without a server, and a replay on PocketIC runs where a server is configured (else: one clear error).
#[test]
fn pocket_ic_replay_and_dry_run() {
    let dir = temp("pocketic");
    let out_dir = dir.join("out");
    let config = repo().join("canisters/examples/reentrancy/icfuzz.toml");
    let out = icfuzz(&[
        "fuzz", "--config", config.to_str().unwrap(), "--runs", "3000", "--seed", "1", "--stop-on-first",
        "--replayable-on", "pocket-ic", "--out", out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let crash = crash_jsons(&out_dir).pop().unwrap();
    let scenario = std::fs::read_to_string(&crash).unwrap();
    assert!(!scenario.contains("\"deliver\"") && !scenario.contains("\"fault\""), "{scenario}");

    let out = icfuzz(&["replay", "--backend", "pocket-ic", "--dry-run", crash.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let plan = text(&out.stdout);
    assert!(plan.contains("create_canister_with_id(rewards") && plan.contains("submit_call("), "{plan}");
    assert!(plan.contains(", 0 not reproducible on pocket-ic"), "{plan}");

    let out = Command::new(ICFUZZ).args(["replay", "--backend", "pocket-ic", crash.to_str().unwrap()]).output().unwrap();
    match std::env::var_os("POCKET_IC_BIN") {
        Some(_) => {
            assert_eq!(code(&out), 1, "{}", show(&out));
            assert!(text(&out.stdout).contains("confirmed on PocketIC"), "{}", show(&out));
        }
        None => {
            eprintln!("SKIPPED (the replay itself): POCKET_IC_BIN not set; see docs/pocket-ic.md");
            assert_eq!(code(&out), 2, "{}", show(&out));
            assert!(text(&out.stderr).starts_with("icfuzz: no PocketIC server: set POCKET_IC_BIN"), "{}", show(&out));
        }
    }
}

/// Ctrl-C (SIGINT) ends a campaign without a run limit cleanly: what was found is on disk and summarized.
#[cfg(unix)]
#[test]
fn ctrl_c_keeps_everything_found() {
    let dir = temp("sigint");
    let out_dir = dir.join("out");
    let wasm = example_wasm("unbounded_wait_vulnerable");
    let child = Command::new(ICFUZZ)
        .args(["fuzz", wasm.to_str().unwrap(), "--seed", "1", "--out", out_dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut waited = 0;
    while crash_jsons_if_any(&out_dir).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        waited += 1;
        assert!(waited < 600, "no finding within two minutes");
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stdout).contains("finding(s) in"), "{}", show(&out));
    let crashes = crash_jsons(&out_dir);
    assert!(!crashes.is_empty());
    for crash in crashes {
        icfuzz::Scenario::from_json(&std::fs::read_to_string(&crash).unwrap()).expect("a complete scenario file");
    }
}

fn crash_jsons_if_any(out_dir: &Path) -> Vec<PathBuf> {
    if out_dir.join("crashes").is_dir() {
        crash_jsons(out_dir)
    } else {
        Vec::new()
    }
}

/// Checks every file a campaign leaves in `out_dir`: corpus entries and raw crashes are named after their content
/// (so a truncated one shows), scenarios parse, the resolved environment loads. icfuzz's hidden temporary files
/// are the only other files allowed (a write cut short by a kill); returns how many there were.
fn check_campaign_files(out_dir: &Path) -> usize {
    let mut temporary = 0;
    for (path, bytes) in walk(out_dir) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let parent = path.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let sha = icfuzz::report::sha1_hex(&bytes);
        if icfuzz::save::is_temporary(&name) {
            temporary += 1;
        } else if parent == "corpus" {
            assert_eq!(name, sha, "{} is not its content", path.display());
        } else if let Some(raw) = name.strip_prefix("crash-").filter(|n| !n.ends_with(".json")) {
            assert_eq!(raw, sha, "{} is not its content", path.display());
        } else if name.ends_with(".json") {
            icfuzz::Scenario::from_json(std::str::from_utf8(&bytes).unwrap())
                .unwrap_or_else(|e| panic!("{} is not a complete scenario: {e}", path.display()));
        } else if name == "icfuzz.resolved.toml" {
            icfuzz::config::Config::load(&path).unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
        } else if let Some(prefix) = name.strip_prefix("adversary-").and_then(|n| n.strip_suffix(".wasm")) {
            assert!(sha.starts_with(prefix), "{} is not its content", path.display());
        } else {
            panic!("unexpected file {}", path.display());
        }
    }
    temporary
}

/// `kill -9` at any moment of a campaign (while preparing the environment, as the first inputs and findings are
/// written, mid-run) leaves only complete files, and the next run resumes from them and clears what the killed
/// runs left half-written.
#[cfg(target_os = "linux")]
#[test]
fn sigkill_at_any_moment_leaves_only_complete_files_and_the_next_run_resumes() {
    let dir = temp("sigkill");
    let out_dir = dir.join("out");
    let wasm = example_wasm("unbounded_wait_vulnerable");
    let has_files = |sub: &str| std::fs::read_dir(out_dir.join(sub)).is_ok_and(|mut d| d.next().is_some());
    // Kill points: as soon as the output directory exists, once the environment is written, at the first corpus
    // input, at the first finding, and after running a while.
    let points: [(&str, &dyn Fn() -> bool); 5] = [
        ("preparing", &|| out_dir.is_dir()),
        ("environment written", &|| out_dir.join("icfuzz.resolved.toml").exists()),
        ("first corpus input", &|| has_files("corpus")),
        ("first finding", &|| has_files("crashes")),
        ("running", &|| std::fs::read_dir(out_dir.join("corpus")).is_ok_and(|d| d.count() >= 8)),
    ];
    for (seed, (point, reached)) in points.iter().enumerate() {
        let mut child = Command::new(ICFUZZ)
            .args(["fuzz", wasm.to_str().unwrap(), "--seed", &seed.to_string(), "--out", out_dir.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !reached() && child.try_wait().unwrap().is_none() {
            assert!(started.elapsed().as_secs() < 120, "`{point}` not reached within two minutes");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        check_campaign_files(&out_dir);
    }
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "200", "--seed", "9", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("reusing the environment") && stderr.contains("resuming from"), "{}", show(&out));
    assert_eq!(check_campaign_files(&out_dir), 0, "the run after the kills removes their temporary files");
    for crash in crash_jsons(&out_dir) {
        let out = icfuzz(&["replay", crash.to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{}", show(&out));
    }
}

/// A full disk under `corpus/` and a read-only `crashes/` (each a file system of its own, mounted in a user
/// namespace) do not stop a campaign: it says what it cannot save, prints the finding's scenario whole to stderr,
/// ends with exit code 2, and the printed scenario replays to the same finding.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_or_read_only_directory_loses_no_finding() {
    let dir = temp("full-disk");
    let out_dir = dir.join("out");
    let wasm = example_wasm("unbounded_wait_vulnerable");
    // Prepare the environment on the ordinary disk first: this part is refused up front when it cannot be written.
    let out = icfuzz(&["fuzz", wasm.to_str().unwrap(), "--runs", "1", "--seed", "1", "--out", out_dir.to_str().unwrap()]);
    assert!(code(&out) <= 1, "{}", show(&out));
    for sub in ["corpus", "crashes"] {
        std::fs::remove_dir_all(out_dir.join(sub)).unwrap();
        std::fs::create_dir(out_dir.join(sub)).unwrap();
    }
    if !Command::new("unshare").args(["-rm", "true"]).status().is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: this machine allows no user namespaces (`unshare -rm`), so no file system can be mounted");
        return;
    }
    // tmpfs with one inode (its root) is full; `ro` is read-only.
    let script = r#"mount -t tmpfs -o size=64k,nr_inodes=1 icfuzz-full "$1/corpus" && mount -t tmpfs -o ro icfuzz-ro "$1/crashes" && shift && exec "$@""#;
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh", out_dir.to_str().unwrap(), ICFUZZ, "fuzz", wasm.to_str().unwrap()])
        .args(["--runs", "400", "--seed", "1", "--stop-on-first", "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot save a corpus input") && stderr.contains("No space left on device"), "{}", show(&out));
    assert!(stderr.contains("cannot save a finding") && stderr.contains("Read-only file system"), "{}", show(&out));
    assert!(stderr.contains("NOT SAVED") && stderr.contains("ICF-003"), "{}", show(&out));
    assert!(stderr.contains("could not save") && stderr.contains("the unsaved findings are printed above"), "{}", show(&out));
    // The scenario printed is complete: it replays to the finding.
    let start = stderr.find("\n{").expect("the scenario JSON") + 1;
    let end = start + stderr[start..].find("\n}").expect("its end") + 2;
    let crash = dir.join("from-stderr.json");
    std::fs::write(&crash, &stderr[start..end]).unwrap();
    let resolved = out_dir.join("icfuzz.resolved.toml");
    let out = icfuzz(&["replay", crash.to_str().unwrap(), "--config", resolved.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stdout).contains("ICF-003"), "{}", show(&out));
}

/// `icfuzz init` in a dfx project writes an icfuzz.toml naming the project's canisters and the callee methods
/// discovery found; `icfuzz fuzz --config` runs it unchanged and finds the example's bug; init never overwrites.
#[test]
fn init_writes_a_config_that_fuzz_runs_unchanged_and_finds_the_bug() {
    let dir = temp("init-dfx");
    std::fs::copy(
        example_wasm("unbounded_wait_vulnerable"),
        dir.join("notifier.wasm"),
    )
    .unwrap();
    std::fs::write(dir.join("dfx.json"), r#"{"canisters": {"notifier": {"type": "custom", "wasm": "notifier.wasm", "candid": "notifier.did"}, "frontend": {"type": "assets"}}}"#).unwrap();
    std::fs::write(
        dir.join("notifier.did"),
        "service : { notify : (principal, text) -> (variant { Ok; Err : text }) }",
    )
    .unwrap();
    let init = || {
        Command::new(ICFUZZ)
            .args(["init"])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = init();
    assert_eq!(code(&out), 0, "{}", show(&out));
    let written = std::fs::read_to_string(dir.join("icfuzz.toml")).unwrap();
    for expected in [
        "project = \"dfx.json\"",
        "name = \"notifier\"",
        "impersonate = [\"on_event\"]",
        "# update methods: notify",
    ] {
        assert!(written.contains(expected), "{expected} in:\n{written}");
    }
    assert!(
        !written.contains("frontend") && !written.contains("wasm ="),
        "{written}"
    );
    assert!(
        text(&out.stderr).contains("run `icfuzz fuzz --config icfuzz.toml`"),
        "{}",
        show(&out)
    );

    let out = Command::new(ICFUZZ)
        .args([
            "fuzz",
            "--config",
            "icfuzz.toml",
            "--runs",
            "400",
            "--seed",
            "1",
            "--stop-on-first",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(
        text(&out.stderr).contains("ICF-003 cannot stop")
            && text(&out.stderr).contains("in notifier"),
        "{}",
        show(&out)
    );

    let out = init();
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        text(&out.stderr).contains("never overwrites"),
        "{}",
        show(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("icfuzz.toml")).unwrap(),
        written
    );
}

/// What init writes for a module: controller-only methods excluded with the trap that shows it, the init
/// argument found by probing, and example invariants that hold when uncommented.
#[test]
fn init_excludes_controller_only_methods_and_writes_probed_init_arguments() {
    let dir = temp("init-wasm");
    let wasm = dir.join("vault.wasm");
    std::fs::copy(example_wasm("callback_trap_vulnerable"), &wasm).unwrap();
    let config = dir.join("icfuzz.toml");
    let out = icfuzz(&[
        "init",
        wasm.to_str().unwrap(),
        "-o",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let written = std::fs::read_to_string(&config).unwrap();
    for expected in [
        "wasm = \"vault.wasm\"",
        "init_args = \"({mallory})\"",
        "exclude = [\n  \"credit\",  # ",
        "only a controller may call this method",
        "# check = \"vault.liabilities() == 0 : nat64\"",
    ] {
        assert!(written.contains(expected), "{expected:?} in:\n{written}");
    }
    // Uncommented, the examples hold on the initial state (else fuzz would refuse the file).
    let uncommented = written.replace("# [[invariant]]\n# check", "[[invariant]]\ncheck");
    let edited = dir.join("edited.toml");
    std::fs::write(&edited, uncommented).unwrap();
    let out = icfuzz(&[
        "fuzz",
        "--config",
        edited.to_str().unwrap(),
        "--runs",
        "20",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_ne!(code(&out), 2, "{}", show(&out));
    // The suggested setup call of the excluded method, with an amount: the campaign then reaches the callee and
    // finds the example's bug.
    assert!(written.contains("# [[setup]]\n# call = \"vault.credit\"\n# args = \"({alice}, 0 : nat64)\""), "{written}");
    let funded = written.replace(
        "# [[setup]]\n# call = \"vault.credit\"\n# args = \"({alice}, 0 : nat64)\"",
        "[[setup]]\ncall = \"vault.credit\"\nargs = \"({alice}, 100 : nat64)\"",
    );
    std::fs::write(&edited, funded).unwrap();
    let out = icfuzz(&[
        "fuzz",
        "--config",
        edited.to_str().unwrap(),
        "--runs",
        "2000",
        "--seed",
        "1",
        "--stop-on-first",
        "--out",
        dir.join("funded").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(text(&out.stderr).contains("in vault"), "{}", show(&out));

    // A variant init argument whose smallest case traps: the case that installs is written, with placeholders.
    let treasury = dir.join("treasury.wasm");
    std::fs::copy(icfuzz_test_canisters::wasm_path("treasury"), &treasury).unwrap();
    let config = dir.join("treasury.toml");
    let out = icfuzz(&[
        "init",
        treasury.to_str().unwrap(),
        "-o",
        config.to_str().unwrap(),
        "--runs",
        "50",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("init_args = \"(variant { Init = record {")
            && written.contains("found by probing"),
        "{written}"
    );
    assert!(
        written.contains("# check = \"treasury.owner() == {"),
        "{written}"
    );
}
