//! Finding the crates to check: every directory with a `Cargo.toml` and Cargo's conventional targets
//! (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`, `src/bin/*/main.rs`). Targets at other paths are not found;
//! the workspace has none.

use std::path::{Path, PathBuf};

/// One crate root to check: a library or a binary target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateRoot {
    /// How the report names it: the package name, with `(bin NAME)` for binaries.
    pub label: String,
    /// Its root source file.
    pub root_file: PathBuf,
}

/// Every crate root in the packages directly under `dir` (each subdirectory with a `Cargo.toml`), sorted by path.
pub fn crate_roots(dir: &Path) -> Vec<CrateRoot> {
    let mut packages: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.join("Cargo.toml").is_file()).collect(),
        Err(_) => Vec::new(),
    };
    packages.sort();
    packages.iter().flat_map(|p| package_roots(p)).collect()
}

/// The crate roots of the package in `dir`.
pub fn package_roots(dir: &Path) -> Vec<CrateRoot> {
    let package = std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|manifest| package_name(&manifest))
        .unwrap_or_else(|| dir.file_name().unwrap_or_default().to_string_lossy().into_owned());
    let src = dir.join("src");
    let mut roots = Vec::new();
    if src.join("lib.rs").is_file() {
        roots.push(CrateRoot { label: package.clone(), root_file: src.join("lib.rs") });
    }
    if src.join("main.rs").is_file() {
        roots.push(CrateRoot { label: format!("{package} (bin)"), root_file: src.join("main.rs") });
    }
    let mut bins: Vec<(String, PathBuf)> = match std::fs::read_dir(src.join("bin")) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter_map(|p| {
                let stem = p.file_stem()?.to_string_lossy().into_owned();
                if p.is_dir() {
                    Some((stem, p.join("main.rs"))).filter(|(_, main)| main.is_file())
                } else {
                    Some((stem, p.clone())).filter(|_| p.extension().is_some_and(|e| e == "rs"))
                }
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    bins.sort();
    roots.extend(
        bins.into_iter().map(|(name, root_file)| CrateRoot { label: format!("{package} (bin {name})"), root_file }),
    );
    roots
}

/// `name = "…"` in the `[package]` table. A line scan, not a TOML parser: manifests here are plain, and a wrong
/// answer only changes a label.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(value) = line.strip_prefix("name").map(str::trim_start).and_then(|r| r.strip_prefix('=')) {
                return Some(value.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}
