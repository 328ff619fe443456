//! Test canisters for icfuzz's own tests.
//!
//! [`wasm`] returns the Wasm of a canister from the `canisters/` workspace, building that workspace (once per
//! process) on first use, so a fresh checkout needs no manual build step and never checks in `.wasm` files.
//! [`uc`] encodes programs for the universal canister (`canisters/universal`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// The opcode table lives with the canister that interprets it; compiling the same file here means the builder
// cannot disagree with the interpreter.
#[path = "../../../canisters/universal/src/ops.rs"]
mod ops;

pub mod uc;

/// The target every canister is built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The `canisters/` workspace directory (absolute).
pub fn canisters_dir() -> PathBuf {
    // This crate is <repo>/harness/test-canisters.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    match manifest_dir.ancestors().nth(2) {
        Some(repo) => repo.join("canisters"),
        None => manifest_dir.join("../../canisters"),
    }
}

/// Path of the built `<name>.wasm`, building the canisters workspace first if this process has not done so yet.
///
/// # Panics
///
/// If the build fails (the message carries cargo's output). This is a test helper: failing loudly is the point.
pub fn wasm_path(name: &str) -> PathBuf {
    let file = format!("{name}.wasm");
    let crate_wasm = built_dir().join(&file);
    // Example canisters (`canisters/examples`, one cdylib example target each) land in `examples/`.
    let example_wasm = built_dir().join("examples").join(&file);
    if !crate_wasm.exists() && example_wasm.exists() {
        example_wasm
    } else {
        crate_wasm
    }
}

/// The Wasm module of canister `name`: a crate name in `canisters/` (e.g. `"universal"`, `"bank"`, `"adversary"`) or
/// an example target of `canisters/examples` (e.g. `"reentrancy_vulnerable"`, `"ledger"` is the crate).
///
/// # Panics
///
/// If building the canisters fails or there is no such canister.
pub fn wasm(name: &str) -> Vec<u8> {
    let path = wasm_path(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("canister `{name}`: cannot read {}: {e} (is `{name}` a member of canisters/Cargo.toml?)", path.display())
    })
}

/// Which Motoko compiler builds a Motoko canister.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Motoko {
    /// `motoko@3.x`: classic orthogonal persistence, 32-bit memory, i32 ic0 pointers.
    Wasm32,
    /// `motoko@4.x`: enhanced orthogonal persistence, memory64, i64 ic0 pointers.
    Wasm64,
}

/// The Wasm of Motoko canister `name` (a file stem in `canisters/motoko/src/`) built by the given compiler.
///
/// The first call in a process installs the compilers from the npm registry if `node_modules` is missing
/// (`npm ci`) and runs `canisters/motoko/build.mjs`, which rebuilds only what changed.
///
/// # Panics
///
/// If node/npm are missing or the build fails (the message carries their output).
pub fn motoko_wasm(name: &str, flavour: Motoko) -> Vec<u8> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = match BUILT.get_or_init(build_motoko) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    };
    let suffix = match flavour {
        Motoko::Wasm32 => "wasm32",
        Motoko::Wasm64 => "wasm64",
    };
    let path = dir.join(format!("{name}_{suffix}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("Motoko canister `{name}`: cannot read {}: {e}", path.display()))
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("cannot run {what} ({command:?}): {e}; is Node.js installed?"))?;
    if !output.status.success() {
        return Err(format!(
            "{what} failed ({}): {command:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

fn build_motoko() -> Result<PathBuf, String> {
    let dir = canisters_dir().join("motoko");
    let installed = ["moc3", "moc4"].iter().all(|m| dir.join("node_modules").join(m).join("package.json").exists());
    if !installed {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir), "installing the Motoko compilers (npm ci)")?;
    }
    let out = canisters_dir().join("target").join("motoko");
    run(Command::new("node").arg(dir.join("build.mjs")).arg(&out), "building the Motoko canisters")?;
    Ok(out)
}

fn built_dir() -> &'static Path {
    // OnceLock blocks concurrent first callers until the single build finishes; other test processes are
    // serialised by cargo's lock on the target directory.
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

/// Environment variables that an outer build (cargo-fuzz, coverage tools, a CI profile) may set for *its* target and
/// that would change or break the nested Wasm build.
fn leaks_from_outer_build(key: &OsStr) -> bool {
    let Some(key) = key.to_str() else { return false };
    matches!(
        key,
        "RUSTFLAGS"
            | "CARGO_ENCODED_RUSTFLAGS"
            | "CARGO_BUILD_RUSTFLAGS"
            | "RUSTDOCFLAGS"
            | "CARGO_ENCODED_RUSTDOCFLAGS"
            | "CARGO_TARGET_DIR"
            | "CARGO_BUILD_TARGET_DIR"
            | "CARGO_BUILD_TARGET"
            | "RUSTUP_TOOLCHAIN"
            | "RUSTC"
            | "RUSTDOC"
            | "CARGO_BUILD_RUSTC"
            | "RUSTC_WRAPPER"
            | "RUSTC_WORKSPACE_WRAPPER"
            | "CARGO_BUILD_RUSTC_WRAPPER"
            | "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER"
    ) || key.starts_with("CARGO_PROFILE_")
        || key.starts_with("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_")
}

/// Installs the wasm32 target into the toolchain that builds the canisters when it lacks it.
///
/// `rust-toolchain.toml` lists the target, but rustup (1.29) adds listed targets only when it installs the toolchain
/// itself, not to a `stable` that is already there: on a fresh machine the build would fail with "can't find crate
/// for `core`". Asking rustup in the canisters directory resolves the same toolchain the build will use.
fn ensure_target(dir: &Path) -> Result<(), String> {
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"]).current_dir(dir);
    without_outer_build(&mut list);
    let installed = list.output().map_err(|e| format!("cannot run rustup to check for the {TARGET} target: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout).lines().any(|l| l.trim() == TARGET) {
        return Ok(());
    }
    eprintln!("icfuzz-test-canisters: installing the {TARGET} target (rustup target add {TARGET})");
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]).current_dir(dir);
    without_outer_build(&mut add);
    let output = add.output().map_err(|e| format!("cannot run rustup to install the {TARGET} target: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "installing the {TARGET} target failed; run `rustup target add {TARGET}` and retry\n--- rustup stderr ---\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// Removes what an outer build set for its own target from `command`'s environment.
fn without_outer_build(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if leaks_from_outer_build(&key) {
            command.env_remove(key);
        }
    }
}

fn build() -> Result<PathBuf, String> {
    let dir = canisters_dir();
    let target_dir = dir.join("target");
    // The canisters build with the toolchain pinned in rust-toolchain.toml (stable, with the wasm32 target), not
    // with whatever toolchain runs the outer build (cargo-fuzz runs nightly, which may lack the target): use the
    // rustup proxy on PATH with the toolchain overrides removed, falling back to the outer cargo without rustup.
    let cargo = if Command::new("rustup").arg("--version").output().is_ok_and(|o| o.status.success()) {
        std::ffi::OsString::from("cargo")
    } else {
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
    };
    if cargo == "cargo" {
        ensure_target(&dir)?;
    }
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--release", "--locked", "--lib", "--examples", "--target", TARGET, "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        // Explicit, so neither the environment nor a user's `build.target-dir` can move the output.
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&dir);
    without_outer_build(&mut command);
    let output = command
        .output()
        .map_err(|e| format!("cannot run {} to build the test canisters: {e}", Path::new(&cargo).display()))?;
    if !output.status.success() {
        return Err(format!(
            "building the test canisters failed ({}): {command:?}\n\
             (needs the wasm32 target: `rustup target add {TARGET}`; with --locked, canisters/Cargo.lock must be \
             up to date)\n--- cargo stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(target_dir.join(TARGET).join("release"))
}
