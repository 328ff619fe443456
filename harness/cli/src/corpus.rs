//! Replaying a directory of crashes (icfuzz's `crashes/`, libFuzzer's artifacts, a regression corpus): what
//! `icfuzz triage` buckets and `icfuzz replay --all` judges.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use icfuzz::{Finding, Harness, Scenario};

use crate::files;

/// A crash file whose scenario still gives a finding.
pub struct Reproduced {
    /// The file.
    pub path: PathBuf,
    /// Its scenario.
    pub scenario: Scenario,
    /// What it finds now.
    pub finding: Finding,
}

/// What replaying a directory gave.
#[derive(Default)]
pub struct Replayed {
    /// Crash files replayed (the unreadable ones included).
    pub files: usize,
    /// Files whose scenario gives a finding, in file-name order.
    pub reproduced: Vec<Reproduced>,
    /// Files whose scenario runs clean.
    pub not_reproduced: Vec<PathBuf>,
    /// Files that could not be read or do not fit the environment, with why.
    pub unreadable: Vec<(PathBuf, String)>,
    /// `minimized-*` files left out (see [`replay_dir`]).
    pub minimized_skipped: usize,
}

/// Replays every crash file of `dir` ([`files::crash_files`]). With `skip_minimized`, files named `minimized-*`
/// are left out: they are copies of crashes the directory already holds (triage), not so in a regression corpus.
/// One bad file does not stop the others (ripgrep's habit): it is reported on stderr and listed; a harness
/// failure stops everything.
pub fn replay_dir(harness: &mut Harness, dir: &Path, skip_minimized: bool) -> Result<Replayed> {
    let mut replayed = Replayed::default();
    for path in files::crash_files(dir)? {
        if skip_minimized && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("minimized-")) {
            replayed.minimized_skipped += 1;
            continue;
        }
        replayed.files += 1;
        let crash = match files::read_crash(&path, harness) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("icfuzz: skipping {}: {e:#}", path.display());
                replayed.unreadable.push((path, format!("{e:#}")));
                continue;
            }
        };
        let execution = match harness.run(&crash.scenario) {
            Ok(e) => e,
            // A scenario that does not fit this environment (unknown names, arguments of the wrong type) is that
            // file's problem; a harness failure is everyone's.
            Err(e @ (icfuzz::Error::Scenario(_) | icfuzz::Error::Interface(_))) => {
                eprintln!("icfuzz: skipping {}: {e}", path.display());
                replayed.unreadable.push((path, e.to_string()));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("running {}", path.display())),
        };
        match execution.finding {
            Some(finding) => replayed.reproduced.push(Reproduced { path, scenario: crash.scenario, finding }),
            None => replayed.not_reproduced.push(path),
        }
    }
    Ok(replayed)
}
