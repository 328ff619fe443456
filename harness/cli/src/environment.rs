//! Which environment a command runs in: a `.wasm` with zero configuration, an `icfuzz.toml`, a `dfx.json` or
//! `icp.yaml` project, or (for a crash) the `icfuzz.resolved.toml` written beside it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use icfuzz::config::{check_wasm, ActorsConfig, AdversaryConfig, Config, Loaded};
use icfuzz::engine::Config as EngineConfig;
use icfuzz::Harness;

/// The adversary canister (`canisters/adversary`), built with the binary.
pub const ADVERSARY_WASM: &[u8] = include_bytes!(env!("ADVERSARY_WASM"));

/// The resolved environment `icfuzz fuzz` writes into its output directory: replay, minimize, triage and regress
/// find it there, so a crash needs nothing but its path.
pub const RESOLVED: &str = "icfuzz.resolved.toml";

/// The environment of `icfuzz fuzz`: the `.wasm` given (zero configuration), `--config`, or a project file found
/// in the current directory (`icfuzz.toml`, then `dfx.json`, then `icp.yaml`).
pub fn for_fuzz(wasm: Option<&Path>, did: Option<&Path>, config: Option<&Path>) -> Result<Loaded> {
    if let Some(did) = did {
        let text = std::fs::read_to_string(did).with_context(|| format!("cannot read {}", did.display()))?;
        icfuzz::interface::Interface::parse(&text).with_context(|| format!("{} is not a usable Candid interface", did.display()))?;
    }
    match (wasm, config) {
        (Some(_), Some(_)) => bail!("give a .wasm or --config, not both (an icfuzz.toml names its own canisters)"),
        (Some(wasm), None) => {
            let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            check_wasm(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", wasm.display()))?;
            let wasm = std::path::absolute(wasm)?;
            let did = did.map(std::path::absolute).transpose()?;
            let here = std::env::current_dir()?;
            Ok(Loaded::new(Config::for_wasm(&wasm, did.as_deref()), wasm.clone(), here))
        }
        (None, Some(config)) => {
            if did.is_some() {
                bail!("--did goes with a .wasm; in an icfuzz.toml, give each canister its `did`");
            }
            Ok(Config::load(config)?)
        }
        (None, None) => {
            if Path::new("icfuzz.toml").is_file() {
                return Ok(Config::load(Path::new("icfuzz.toml"))?);
            }
            for project in ["dfx.json", "icp.yaml"] {
                if Path::new(project).is_file() {
                    return Ok(for_project(Path::new(project)));
                }
            }
            bail!("nothing to fuzz: give a canister .wasm, or --config icfuzz.toml, or run where an icfuzz.toml, dfx.json or icp.yaml is")
        }
    }
}

/// The zero-configuration environment of a `dfx.json` or `icp.yaml`: its canisters are the targets, an adversary
/// `mallory` and users `alice` and `bob` beside them.
pub fn for_project(project: &Path) -> Loaded {
    let config = Config {
        project: Some(PathBuf::from(project.file_name().unwrap_or(project.as_os_str()))),
        adversaries: vec![AdversaryConfig { name: "mallory".into(), ..Default::default() }],
        actors: ActorsConfig { users: vec!["alice".into(), "bob".into()], ..Default::default() },
        ..Default::default()
    };
    let base = project.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Loaded::new(config, project.to_owned(), base.to_owned())
}

/// The environment of a crash: `--config`, else the `icfuzz.resolved.toml` in the crash's directory or its parent.
pub fn for_crash(config: Option<&Path>, crash: &Path) -> Result<Loaded> {
    if let Some(config) = config {
        return Ok(Config::load(config)?);
    }
    let dir = crash.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    for candidate in [dir.join(RESOLVED), dir.join("..").join(RESOLVED)] {
        if candidate.is_file() {
            return Ok(Config::load(&candidate)?);
        }
    }
    bail!(
        "cannot tell which canisters {} belongs to: pass --config icfuzz.toml (icfuzz fuzz writes {RESOLVED} next to \
         its crashes directory)",
        crash.display()
    )
}

/// Builds the harness (installs, sets up and snapshots the canisters).
pub fn build(loaded: &Loaded, coverage: bool) -> Result<Harness> {
    let engine = EngineConfig { coverage, ..EngineConfig::default() };
    let builder = loaded.builder(Some(ADVERSARY_WASM), engine)?;
    builder.build().with_context(|| format!("setting up the environment of {}", loaded.path.display()))
}
