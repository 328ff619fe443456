//! Soak of the whole CLI: a long `icfuzz fuzz --jobs 2` campaign on an example environment, sampled from outside
//! (`/proc/<pid>`) for resident memory, open file descriptors and threads. What it must show: resident memory
//! flat after warm-up (under 10% growth), and no descriptor or thread that is not given back.
//!
//! `cargo bench --workspace --profile dev --bench campaign_soak --locked` (dependencies optimised, as the tests
//! run them); the length is `ICFUZZ_SOAK_SECONDS` (default 3600), the environment `ICFUZZ_SOAK_CONFIG` (default
//! the stale_balance example: bank, ledger and an adversary). Linux only: it reads `/proc`.

// A benchmark measures wall-clock time and samples a process from outside.
#![allow(clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One look at the campaign's process.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: usize,
    threads: u64,
}

fn status_field(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

fn sample(pid: u32, at: Duration) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(Sample { at, rss_kib: status_field(&status, "VmRSS:")?, fds, threads: status_field(&status, "Threads:")? })
}

fn main() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("SKIPPED: the soak samples /proc, which this system does not have");
        return;
    }
    let seconds: u64 = std::env::var("ICFUZZ_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3600);
    let config = std::env::var_os("ICFUZZ_SOAK_CONFIG").map(PathBuf::from).unwrap_or_else(|| {
        // Builds the example modules the config names, if they are not built yet.
        let _ = icfuzz_test_canisters::wasm_path("stale_balance_vulnerable");
        icfuzz_test_canisters::canisters_dir().join("examples/stale_balance/icfuzz.toml")
    });
    let out = std::env::temp_dir().join(format!("icfuzz-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let log = std::fs::File::create(std::env::temp_dir().join("icfuzz-soak.log")).expect("a log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_icfuzz"))
        .args(["fuzz", "--config", config.to_str().expect("a UTF-8 path"), "--jobs", "2", "--seed", "1"])
        .args(["--duration", &format!("{seconds}s"), "--out", out.to_str().expect("a UTF-8 path")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("icfuzz starts");
    let pid = child.id();
    println!("soak: icfuzz fuzz --jobs 2 for {seconds} s on {}", config.display());
    println!("{:>8} {:>10} {:>6} {:>8}", "time", "RSS MiB", "fds", "threads");
    let started = Instant::now();
    let every = Duration::from_secs((seconds / 60).clamp(1, 30));
    let mut samples = Vec::new();
    while child.try_wait().expect("wait").is_none() {
        if let Some(s) = sample(pid, started.elapsed()) {
            if samples.len() % 10 == 0 {
                println!("{:>7}s {:>10.1} {:>6} {:>8}", s.at.as_secs(), s.rss_kib as f64 / 1024.0, s.fds, s.threads);
            }
            samples.push(s);
        }
        std::thread::sleep(every);
    }
    let status = child.wait().expect("wait");
    let stderr = std::fs::read_to_string(std::env::temp_dir().join("icfuzz-soak.log")).unwrap_or_default();
    let last_status = stderr.lines().rev().find(|l| l.contains("scenarios (")).unwrap_or("(no status line)");
    println!("exit: {status}; last status: {last_status}");
    // Warm-up: the first tenth (the corpus and the compiled modules grow quickly at first), at least one sample.
    let warm = samples.iter().position(|s| s.at.as_secs() >= seconds / 10).unwrap_or(0);
    let (Some(first), Some(last)) = (samples.get(warm), samples.last()) else {
        println!("no samples");
        return;
    };
    let after = &samples[warm..];
    let peak = after.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let growth = (last.rss_kib as f64 / first.rss_kib as f64 - 1.0) * 100.0;
    let (fds_min, fds_max) = (after.iter().map(|s| s.fds).min().unwrap_or(0), after.iter().map(|s| s.fds).max().unwrap_or(0));
    let (threads_min, threads_max) =
        (after.iter().map(|s| s.threads).min().unwrap_or(0), after.iter().map(|s| s.threads).max().unwrap_or(0));
    println!(
        "after warm-up ({} s): RSS {:.1} → {:.1} MiB ({growth:+.1}%, target < 10%), peak {:.1} MiB; fds {fds_min}..{fds_max}; \
         threads {threads_min}..{threads_max}",
        first.at.as_secs(),
        first.rss_kib as f64 / 1024.0,
        last.rss_kib as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&out);
}
