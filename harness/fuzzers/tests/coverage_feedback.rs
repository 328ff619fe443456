//! Canister coverage is what lets libFuzzer reach a bug behind chained exact comparisons: the same libFuzzer
//! binary, the same budget and seed, once with canister coverage feeding it and once without.

use std::process::Command;

/// Runs the `magic` libFuzzer binary for at most `runs` inputs; returns whether it reached the canister's bug.
fn reaches_magic(feedback: bool, runs: u32) -> bool {
    let dir = std::env::temp_dir().join(format!("icfuzz-magic-{}-{feedback}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_magic"))
        .arg(format!("-runs={runs}"))
        .arg("-seed=1")
        .arg("-max_len=64")
        .arg(format!("-artifact_prefix={}/", dir.display()))
        .env("ICFUZZ_FEEDBACK", if feedback { "1" } else { "0" })
        .output()
        .expect("the magic fuzzer runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let found = stderr.contains("magic reached");
    assert!(
        found || output.status.success(),
        "the fuzzer failed for another reason ({}):\n{stderr}",
        output.status
    );
    if found {
        // libFuzzer saved the crashing input; it must really reach the bug.
        let crash = std::fs::read_dir(&dir).unwrap().flatten().find(|e| e.file_name().to_string_lossy().starts_with("crash-"));
        let input = std::fs::read(crash.expect("a crash file was written").path()).unwrap();
        assert!(input.starts_with(b"ICFZ"), "{input:?}");
        assert_eq!(u64::from_le_bytes(input[4..12].try_into().unwrap()), 0x0123_4567_89ab_cdef);
    }
    let _ = std::fs::remove_dir_all(&dir);
    found
}

#[test]
fn coverage_feedback_reaches_a_bug_that_blind_fuzzing_does_not() {
    const BUDGET: u32 = 500_000;
    assert!(reaches_magic(true, BUDGET), "with canister coverage the bug is found within {BUDGET} runs");
    assert!(!reaches_magic(false, BUDGET), "without it, the same budget does not find it");
}
