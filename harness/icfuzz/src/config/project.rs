//! The canisters of a `dfx.json` or `icp.yaml` project: where their built modules and interfaces are.
//!
//! Only what a project file says (and where its tools put their output) is used; nothing is built. A canister
//! whose module cannot be found is an error that names the paths tried, so the user knows what to build.

use std::path::{Path, PathBuf};

use super::{error, ConfigError};

/// A canister of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectCanister {
    /// Its name in the project.
    pub name: String,
    /// Its built module.
    pub wasm: PathBuf,
    /// Its Candid interface, if the project names one.
    pub did: Option<PathBuf>,
    /// Init arguments (Candid text), if the project gives them.
    pub init_args: Option<String>,
}

/// Reads the canisters of `dfx.json` or `icp.yaml` (by file name).
pub fn read(path: &Path) -> Result<Vec<ProjectCanister>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    let dir = path.parent().map(Path::to_owned).unwrap_or_default();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    parse(name, &text, &dir, &|p| p.is_file()).map_err(|m| error(path, m))
}

/// The canisters of a project file named `name` (`dfx.json` or `icp.yaml`) holding `text`, whose paths are
/// relative to `dir`; `exists` says which of the places a built module may be holds one. What [`read`] does once
/// the file is read (the error does not name the file yet); the parser fuzz target passes an `exists` that
/// accepts every place, so it reaches everything after the lookup.
pub fn parse(name: &str, text: &str, dir: &Path, exists: &dyn Fn(&Path) -> bool) -> Result<Vec<ProjectCanister>, String> {
    if name.ends_with(".json") {
        dfx(text, dir, exists)
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        icp(text, dir, exists)
    } else {
        Err("a project file is a dfx.json or an icp.yaml".into())
    }
}

/// The first candidate that exists, or an error listing them all.
fn first_existing(name: &str, candidates: Vec<PathBuf>, exists: &dyn Fn(&Path) -> bool) -> Result<PathBuf, String> {
    if let Some(found) = candidates.iter().find(|c| exists(c)) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(format!("canister `{name}`: no built module found (tried {}); build the project first", tried.join(", ")))
}

fn dfx(text: &str, dir: &Path, exists: &dyn Fn(&Path) -> bool) -> Result<Vec<ProjectCanister>, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let canisters = json.get("canisters").and_then(|c| c.as_object()).ok_or("no `canisters` object")?;
    let mut out = Vec::new();
    for (name, c) in canisters {
        let field = |key: &str| c.get(key).and_then(|v| v.as_str());
        let kind = field("type").unwrap_or("custom");
        if matches!(kind, "assets" | "pull") {
            continue; // asset canisters and pulled dependencies are not fuzz targets
        }
        // dfx copies every built module to .dfx/local/canisters/<name>/; the type's own output comes next.
        let mut candidates = vec![
            dir.join(".dfx/local/canisters").join(name).join(format!("{name}.wasm")),
            dir.join(".dfx/local/canisters").join(name).join(format!("{name}.wasm.gz")),
        ];
        match kind {
            "rust" => {
                let package = field("package").unwrap_or(name).replace('-', "_");
                candidates.push(dir.join("target/wasm32-unknown-unknown/release").join(format!("{package}.wasm")));
            }
            "custom" => {
                if let Some(wasm) = field("wasm") {
                    candidates.insert(0, dir.join(wasm));
                }
            }
            _ => {}
        }
        let did = field("candid").map(|d| dir.join(d));
        let init_args = field("init_arg").map(str::to_owned);
        out.push(ProjectCanister { name: name.clone(), wasm: first_existing(name, candidates, exists)?, did, init_args });
    }
    Ok(out)
}

fn icp(text: &str, dir: &Path, exists: &dyn Fn(&Path) -> bool) -> Result<Vec<ProjectCanister>, String> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let doc = docs.first().ok_or("empty file")?;
    let Yaml::Array(canisters) = &doc["canisters"] else { return Err("no `canisters` list".into()) };
    let mut out = Vec::new();
    for c in canisters {
        // An entry is a canister table, or a path to a directory with its own canister.yaml.
        let (c, base) = match c {
            Yaml::String(sub) => {
                let sub_dir = dir.join(sub);
                let file = sub_dir.join("canister.yaml");
                let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("{}: not valid YAML: {e}", file.display()))?;
                (docs.into_iter().next().ok_or_else(|| format!("{}: empty", file.display()))?, sub_dir)
            }
            other => (other.clone(), dir.to_owned()),
        };
        let name = c["name"].as_str().ok_or("a canister without a `name`")?.to_owned();
        let recipe = &c["recipe"];
        let kind = recipe["type"].as_str().unwrap_or("");
        let conf = &recipe["configuration"];
        let mut candidates = vec![dir.join(".icp/cache/artifacts").join(&name), dir.join(".icp/artifacts").join(format!("{name}.wasm"))];
        if let Some(path) = conf["path"].as_str().or_else(|| c["wasm"].as_str()) {
            candidates.insert(0, base.join(path));
        }
        if kind.contains("rust") {
            let package = conf["package"].as_str().unwrap_or(&name).replace('-', "_");
            candidates.push(dir.join("target/wasm32-unknown-unknown/release").join(format!("{package}.wasm")));
        }
        let did = conf["candid"].as_str().or_else(|| c["candid"].as_str()).map(|d| base.join(d));
        let init_args = c["init_args"].as_str().map(str::to_owned);
        out.push(ProjectCanister { wasm: first_existing(&name, candidates, exists)?, name, did, init_args });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("icfuzz-project-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn dfx_json_finds_rust_custom_and_dfx_output() {
        let dir = tmp("dfx");
        std::fs::create_dir_all(dir.join("target/wasm32-unknown-unknown/release")).unwrap();
        std::fs::write(dir.join("target/wasm32-unknown-unknown/release/my_bank.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.join("ledger.wasm"), b"\0asm").unwrap();
        std::fs::write(
            dir.join("dfx.json"),
            r#"{"canisters": {
                "bank": {"type": "rust", "package": "my-bank", "candid": "bank.did", "init_arg": "(principal \"aaaaa-aa\")"},
                "ledger": {"type": "custom", "wasm": "ledger.wasm", "candid": "ledger.did"},
                "www": {"type": "assets"}
            }}"#,
        )
        .unwrap();
        let found = read(&dir.join("dfx.json")).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].wasm, dir.join("target/wasm32-unknown-unknown/release/my_bank.wasm"));
        assert_eq!(found[0].did, Some(dir.join("bank.did")));
        assert_eq!(found[0].init_args.as_deref(), Some("(principal \"aaaaa-aa\")"));
        assert_eq!(found[1].wasm, dir.join("ledger.wasm"));
    }

    #[test]
    fn icp_yaml_finds_prebuilt_and_rust_recipes() {
        let dir = tmp("icp");
        std::fs::create_dir_all(dir.join("target/wasm32-unknown-unknown/release")).unwrap();
        std::fs::write(dir.join("target/wasm32-unknown-unknown/release/backend.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.join("dep.wasm"), b"\0asm").unwrap();
        std::fs::write(
            dir.join("icp.yaml"),
            "canisters:\n  - name: backend\n    recipe:\n      type: \"@dfinity/rust@v3.0.0\"\n      configuration:\n        package: backend\n        candid: backend.did\n  - name: dep\n    recipe:\n      type: \"@dfinity/prebuilt@v2.0.0\"\n      configuration:\n        path: dep.wasm\n",
        )
        .unwrap();
        let found = read(&dir.join("icp.yaml")).unwrap();
        assert_eq!(found[0].wasm, dir.join("target/wasm32-unknown-unknown/release/backend.wasm"));
        assert_eq!(found[0].did, Some(dir.join("backend.did")));
        assert_eq!(found[1].wasm, dir.join("dep.wasm"));
    }

    #[test]
    fn a_missing_module_names_the_paths_tried() {
        let dir = tmp("missing");
        std::fs::write(dir.join("dfx.json"), r#"{"canisters": {"x": {"type": "motoko", "main": "x.mo"}}}"#).unwrap();
        let err = read(&dir.join("dfx.json")).unwrap_err().to_string();
        assert!(err.contains("canister `x`: no built module found") && err.contains(".dfx/local/canisters/x/x.wasm"), "{err}");
        std::fs::write(dir.join("dfx.json"), "{").unwrap();
        assert!(read(&dir.join("dfx.json")).unwrap_err().to_string().contains("not valid JSON"));
    }
}
