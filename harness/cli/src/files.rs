//! Files the user owns: crash files in, corpus and crash files out. Outputs are written with [`icfuzz::save`]:
//! atomically, and never over an existing file (they are named after their content, libFuzzer's `crash-<sha1>`,
//! or given a fresh name).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use icfuzz::{Harness, Scenario};

pub use icfuzz::report::sha1_hex;
pub use icfuzz::save::write_new;

/// A path like `path` that does not exist yet: `path` itself, else `stem-2.ext`, `stem-3.ext`, ...
pub fn fresh_path(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_owned();
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let ext = path.extension().and_then(|s| s.to_str()).map(|e| format!(".{e}")).unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .expect("some name is free")
}

/// A crash as given on the command line.
pub struct Crash {
    /// The file.
    pub path: PathBuf,
    /// Its scenario.
    pub scenario: Scenario,
}

/// Reads a crash: a scenario `.json` (what icfuzz writes), or raw fuzzer bytes (what libFuzzer writes), which
/// decode with the environment's generator. For raw bytes with a `.json` sibling, the sibling wins: raw bytes
/// mean different steps once the generator changes, the scenario does not.
pub fn read_crash(path: &Path, harness: &Harness) -> Result<Crash> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read crash file {}", path.display()))?;
    let sibling = PathBuf::from(format!("{}.json", path.display()));
    if looks_like_json(&bytes) {
        let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8", path.display()))?;
        let scenario = Scenario::from_json(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(Crash { path: path.to_owned(), scenario });
    }
    if sibling.is_file() {
        return read_crash(&sibling, harness);
    }
    Ok(Crash { path: path.to_owned(), scenario: harness.generate(&bytes) })
}

fn looks_like_json(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        || bytes.starts_with(b"\xef\xbb\xbf{")
}

/// Crash files in a directory: `*.json` scenarios, and raw `crash-*` files that have no `.json` sibling.
pub fn crash_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        if !path.is_file() || name.starts_with('.') || name == "triage.json" {
            continue;
        }
        let is_json = name.ends_with(".json");
        let raw_crash = !is_json && name.starts_with("crash-") && !PathBuf::from(format!("{}.json", path.display())).exists();
        if is_json || raw_crash {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
