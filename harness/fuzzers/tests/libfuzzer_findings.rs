//! Findings in a libFuzzer binary: a low-severity one (a new trap) is saved and printed once, and the campaign goes
//! on to its budget instead of ending as a crash.

use std::process::Command;

#[test]
fn a_low_severity_finding_is_saved_once_and_does_not_stop_libfuzzer() {
    let dir = std::env::temp_dir().join(format!("icfuzz-low-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_whole_allowance"))
        .args(["-runs=30000", "-seed=1", "-max_len=256"])
        .arg(format!("-artifact_prefix={}/", dir.display()))
        .output()
        .expect("the whole_allowance fuzzer runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "a low finding is no crash ({}):\n{stderr}", output.status);
    assert!(stderr.contains("Done 30000 runs"), "libFuzzer ran its whole budget:\n{stderr}");
    assert_eq!(stderr.matches("icfuzz finding (low severity; the campaign goes on)").count(), 1, "{stderr}");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    assert!(files.iter().all(|p| !p.file_name().unwrap().to_string_lossy().starts_with("crash-")), "{files:?}");
    let [low] = files.as_slice() else { panic!("one low-*.json file: {files:?}") };
    assert!(low.file_name().unwrap().to_string_lossy().starts_with("low-"), "{low:?}");

    // The saved scenario replays to the new trap.
    let scenario = icfuzz::Scenario::from_json(&std::fs::read_to_string(low).unwrap()).expect("a scenario");
    let example = icfuzz_fuzzers::examples::example("whole_allowance").unwrap();
    let mut harness = example.harness(icfuzz_fuzzers::examples::Twin::Vulnerable);
    let finding = harness.run(&scenario).unwrap().finding.expect("replays to a finding");
    assert_eq!(finding.kind, icfuzz::FindingKind::NewTrap, "{finding}");
    let _ = std::fs::remove_dir_all(&dir);
}
