//! `icfuzz.toml`: an environment written as data, for the `icfuzz` command and for tests that replay its findings.
//!
//! ```toml
//! [[canister]]
//! name = "ledger"
//! wasm = "target/wasm32-unknown-unknown/release/ledger.wasm"
//! target = false                       # an honest canister the target uses
//!
//! [[canister]]
//! name = "bank"
//! wasm = "target/wasm32-unknown-unknown/release/bank.wasm"
//! did = "bank.did"                     # else candid:service metadata, get_candid_pointer, or the tmp_hack query
//! init_args = "({ledger})"             # Candid text; {name} is the principal of a canister, adversary or actor
//! exclude = ["credit"]                 # never called by scenarios
//! weights = { withdraw = 3 }           # called three times as often as the others
//!
//! [[adversary]]
//! name = "mallory"
//! like = "ledger"                      # or impersonate = ["on_reward"], or did = "service : { ... }"
//!
//! [actors]
//! users = ["alice", "bob"]
//!
//! [[setup]]
//! call = "ledger.mint"
//! args = "({bank}, 200 : nat64)"
//!
//! [[invariant]]
//! name = "the bank is solvent"
//! check = "ledger.balance_of({bank}) >= bank.liabilities()"
//! at_quiescence = true
//!
//! [[access]]
//! call = "bank.set_fee"
//! callers = ["alice"]
//!
//! [oracles]
//! memory_budget_mib = 64
//! ```
//!
//! Paths are relative to the file. Canisters may instead come from the project's `dfx.json` or `icp.yaml`
//! (`project = "dfx.json"`, or a `[[canister]]` with only a name). Unknown keys are errors, so a typo never
//! silently disables an invariant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Config as EngineConfig;
use crate::oracle::declarative::{Comparison, Op, Operand};
use crate::oracle::invariants::only_callers;
use crate::oracle::{FindingKind, Oracles};
use crate::scenario::GeneratorOptions;
use crate::{AdversarySpec, CanisterSpec, Environment, EnvironmentBuilder};

pub mod project;

/// A configuration problem: which file, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file concerned.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

fn error(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError { path: path.to_owned(), message: message.into() }
}

/// The whole file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A `dfx.json` or `icp.yaml` whose canisters `[[canister]]` tables may name without a `wasm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<PathBuf>,
    /// The adversary canister's module (the `icfuzz` command provides its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversary_wasm: Option<PathBuf>,
    /// Canisters, in installation order.
    #[serde(default, rename = "canister", skip_serializing_if = "Vec::is_empty")]
    pub canisters: Vec<CanisterConfig>,
    /// Adversary slots.
    #[serde(default, rename = "adversary", skip_serializing_if = "Vec::is_empty")]
    pub adversaries: Vec<AdversaryConfig>,
    /// Who sends ingress calls.
    #[serde(default)]
    pub actors: ActorsConfig,
    /// Calls made once, before the snapshot every scenario starts from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<SetupConfig>,
    /// Declarative invariants.
    #[serde(default, rename = "invariant", skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<InvariantConfig>,
    /// Access-control rules: only these callers may get a reply from a method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessConfig>,
    /// Built-in oracles.
    #[serde(default)]
    pub oracles: OraclesConfig,
    /// The scenario generator.
    #[serde(default)]
    pub generator: GeneratorConfig,
    /// Instruction limits of the embedded engine (the IC's by default).
    #[serde(default, skip_serializing_if = "LimitsConfig::is_empty")]
    pub limits: LimitsConfig,
}

/// The `[limits]` table: instruction limits per execution kind, in the IC's weighted instructions. Each defaults
/// to the IC's (update 40 B, query 5 B, install 300 B, inspect_message 200 M). Lower limits find cost bugs on a
/// smaller state: a `pre_upgrade` whose cost grows with the state fails at a thousandth of the install limit with
/// a thousandth of the state. Applies to the embedded engine; PocketIC runs with the replica's limits.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Update calls, callbacks, cleanup, timers and heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<u64>,
    /// Queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<u64>,
    /// An install, reinstall or upgrade (pre_upgrade, start and post_upgrade together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<u64>,
    /// `canister_inspect_message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_message: Option<u64>,
}

impl LimitsConfig {
    fn is_empty(&self) -> bool {
        self == &LimitsConfig::default()
    }

    /// `limits` with the ones this table sets replaced.
    pub fn apply(&self, limits: crate::engine::InstructionLimits) -> crate::engine::InstructionLimits {
        crate::engine::InstructionLimits {
            update: self.update.unwrap_or(limits.update),
            query: self.query.unwrap_or(limits.query),
            install: self.install.unwrap_or(limits.install),
            inspect_message: self.inspect_message.unwrap_or(limits.inspect_message),
        }
    }
}

/// A `[[canister]]` table.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CanisterConfig {
    /// Its name in scenarios, placeholders and findings.
    pub name: String,
    /// Its module (`.wasm` or `.wasm.gz`); optional when the project file knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm: Option<PathBuf>,
    /// Its Candid interface file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<PathBuf>,
    /// Init arguments as Candid text (default: the smallest well-typed values, principals naming adversaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_args: Option<String>,
    /// Whether scenarios call it and the oracles watch it (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<bool>,
    /// Whether scenarios may upgrade it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub upgradable: bool,
    /// Only these methods are called (default: every update method).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Never called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Relative weights of methods (default 1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, u32>,
    /// Initial cycles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycles: Option<u64>,
    /// A fixed canister id (principal text), for canisters the code names by id (default: the next free one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// An `[[adversary]]` table.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdversaryConfig {
    /// Its name.
    pub name: String,
    /// Methods it answers (untyped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impersonate: Vec<String>,
    /// A Candid service (text, or a path to a `.did` file) whose methods it answers with well-typed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    /// A canister it stands in for (it answers that canister's methods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
}

/// The `[actors]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActorsConfig {
    /// Named users (self-authenticating principals derived from the name).
    #[serde(default)]
    pub users: Vec<String>,
    /// The anonymous principal calls too.
    #[serde(default = "yes")]
    pub anonymous: bool,
    /// The controller calls too (off: controller-only methods would look like access-control bugs otherwise).
    #[serde(default)]
    pub controller: bool,
    /// Anyone can deploy a canister that calls yours: with no `[[adversary]]`, an attacker canister named
    /// [`DEFAULT_ATTACKER`] calls the targets' update methods (skipping `canister_inspect_message`, with cycles
    /// attached or not). `false` turns it off.
    #[serde(default = "yes")]
    pub attacker: bool,
}

/// The name of the attacker canister an environment without `[[adversary]]` gets.
pub const DEFAULT_ATTACKER: &str = "attacker";

impl Default for ActorsConfig {
    fn default() -> Self {
        ActorsConfig { users: Vec::new(), anonymous: true, controller: false, attacker: true }
    }
}

fn yes() -> bool {
    true
}

/// A `[[setup]]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetupConfig {
    /// `canister.method`.
    pub call: String,
    /// Candid text with placeholders (default `()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// The actor calling (default: the controller).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// An `[[invariant]]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InvariantConfig {
    /// Shown in findings (default: the check itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `left op right`, e.g. `ledger.balance_of({bank}) >= bank.liabilities()` (see [`crate::oracle::declarative`]).
    pub check: String,
    /// Check only when nothing is in flight.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_quiescence: bool,
    /// `invariant` (default) or `lock` (a lock that is never released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Judge only steps after which one of these methods (`canister.method`, `canister.*`) replied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_calls: Vec<String>,
    /// Judge only steps after which a call by one of these replied: actors, adversaries, or queries for a principal
    /// (`old(registry.owner())`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_calls_by: Vec<String>,
    /// Do not judge steps during which a call by one of these was alive: actors, adversaries, or queries for a
    /// principal (`old(registry.owner())`: the owner before the step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless_calls_by: Vec<String>,
}

/// An `[[access]]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// `canister.method`.
    pub call: String,
    /// The only actors or canisters that may get a reply.
    pub callers: Vec<String>,
}

/// The `[oracles]` table: which built-in oracles run.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OraclesConfig {
    /// ICF-001 trap in a callback (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap_in_callback: Option<bool>,
    /// ICF-002 a call ended without a reply (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did_not_reply: Option<bool>,
    /// ICF-003 a canister cannot be stopped (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cannot_stop: Option<bool>,
    /// ICF-004 instruction limit (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_limit: Option<bool>,
    /// ICF-005 a target's memory grows past this many MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_budget_mib: Option<u64>,
    /// ICF-008 any trap of a target (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_trap: Option<bool>,
    /// ICF-009 an upgrade fails in the canister's code (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_fails: Option<bool>,
    /// ICF-010 a trap no single call reaches, low severity (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_trap: Option<bool>,
    /// Trap messages (substrings) never reported as ICF-010 new traps: `assert`s that hold by design.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute_traps: Vec<String>,
}

/// The `[generator]` table.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Most steps per scenario (default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
    /// System faults (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<bool>,
    /// Stopping and starting canisters (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_start: Option<bool>,
}

/// A configuration read from a file, with the directory its paths are relative to.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// Where relative paths start.
    pub base: PathBuf,
}

impl Config {
    /// Reads and checks `icfuzz.toml`.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
        let config = Config::parse(&text).map_err(|m| error(path, m))?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        Ok(Loaded { config, path: path.to_owned(), base })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config, String> {
        // toml's own message quotes the whole line under a caret, which for a long line buries the point: say
        // where, and what.
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            match e.span() {
                Some(span) => {
                    let (line, column) = crate::position::line_column(text, span.start);
                    format!("line {line}, column {column}: {message}")
                }
                None => message,
            }
        })
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("configurations serialize")
    }

    /// A zero-configuration environment for one module: it is the target, installed with the smallest well-typed
    /// init arguments; an adversary `mallory` (which [`discover`](crate::config::discover) teaches the methods
    /// the target calls on it) is available as a principal and an attacker; users `alice` and `bob` and the
    /// anonymous principal call it.
    pub fn for_wasm(wasm: &Path, did: Option<&Path>) -> Config {
        let name = wasm
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(".gz").trim_end_matches(".wasm"))
            .map(|n| n.chars().map(|c| if c.is_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect::<String>())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "canister".to_owned());
        Config {
            canisters: vec![CanisterConfig { name, wasm: Some(wasm.to_owned()), did: did.map(Path::to_owned), ..Default::default() }],
            adversaries: vec![AdversaryConfig { name: "mallory".into(), ..Default::default() }],
            actors: ActorsConfig { users: vec!["alice".into(), "bob".into()], ..Default::default() },
            ..Default::default()
        }
    }
}

impl Loaded {
    /// A configuration whose relative paths start at `base` (e.g. one built in memory for a `.wasm`).
    pub fn new(config: Config, path: PathBuf, base: PathBuf) -> Loaded {
        Loaded { config, path, base }
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }

    /// The configuration with every path absolute and project canisters spelled out: what a finding replays
    /// against, wherever the replay runs from.
    pub fn resolved(&self) -> Result<Config, ConfigError> {
        let mut config = self.config.clone();
        let project = self.project_canisters()?;
        for c in &mut config.canisters {
            if c.wasm.is_none() {
                let p = project
                    .iter()
                    .find(|p| p.name == c.name)
                    .ok_or_else(|| error(&self.path, format!("canister `{}` has no `wasm` and no project file names it", c.name)))?;
                c.wasm = Some(p.wasm.clone());
                c.did = c.did.clone().or_else(|| p.did.clone());
                c.init_args = c.init_args.clone().or_else(|| p.init_args.clone());
            }
            c.wasm = c.wasm.as_ref().map(|w| absolute(&self.resolve(w)));
            c.did = c.did.as_ref().map(|d| absolute(&self.resolve(d)));
        }
        if config.canisters.is_empty() {
            for p in project {
                config.canisters.push(CanisterConfig {
                    name: p.name,
                    wasm: Some(p.wasm),
                    did: p.did,
                    init_args: p.init_args,
                    ..Default::default()
                });
            }
        }
        for a in &mut config.adversaries {
            if let Some(did) = &a.did {
                if !did.trim_start().starts_with("service") && !did.contains(':') {
                    a.did = Some(absolute(&self.resolve(Path::new(did))).display().to_string());
                }
            }
        }
        if config.adversaries.is_empty() && config.actors.attacker {
            // Written out, so the resolved file says who calls the targets.
            config.adversaries.push(AdversaryConfig { name: DEFAULT_ATTACKER.into(), ..Default::default() });
        }
        config.project = None;
        config.adversary_wasm = config.adversary_wasm.as_ref().map(|w| absolute(&self.resolve(w)));
        Ok(config)
    }

    /// The project's canisters, paths absolute (they are relative to the working directory as read).
    fn project_canisters(&self) -> Result<Vec<project::ProjectCanister>, ConfigError> {
        let Some(p) = &self.config.project else { return Ok(Vec::new()) };
        let mut canisters = project::read(&self.resolve(p))?;
        for c in &mut canisters {
            c.wasm = absolute(&c.wasm);
            c.did = c.did.as_ref().map(|d| absolute(d));
        }
        Ok(canisters)
    }

    /// The environment this configuration describes. `adversary_wasm` is used unless the file names one.
    /// `engine` is the engine's configuration (e.g. with coverage on).
    pub fn builder(&self, adversary_wasm: Option<&[u8]>, engine: EngineConfig) -> Result<EnvironmentBuilder, ConfigError> {
        let config = self.resolved()?;
        let e = |m: String| error(&self.path, m);
        let read = |what: &str, path: &Path| std::fs::read(path).map_err(|err| e(format!("{what} {}: {err}", path.display())));
        let engine = EngineConfig { instruction_limits: config.limits.apply(engine.instruction_limits), ..engine };
        let mut builder = Environment::builder().config(engine);
        if config.canisters.is_empty() {
            return Err(e("no canister: add a [[canister]] table (name, wasm)".into()));
        }
        for c in &config.canisters {
            let wasm_path = c.wasm.as_ref().expect("resolved");
            let wasm = read(&format!("canister `{}`: cannot read", c.name), wasm_path)?;
            check_wasm(&wasm).map_err(|m| e(format!("canister `{}`: {}: {m}", c.name, wasm_path.display())))?;
            let mut spec = CanisterSpec::new(&c.name, wasm.clone());
            if let Some(path) = &c.did {
                let text = std::fs::read_to_string(path).map_err(|err| e(format!("canister `{}`: cannot read {}: {err}", c.name, path.display())))?;
                crate::interface::Interface::parse(&text).map_err(|err| e(format!("canister `{}`: {}: {err}", c.name, path.display())))?;
                spec = spec.did(&text);
            }
            if let Some(args) = &c.init_args {
                spec = spec.init_args(args);
            }
            if c.target.unwrap_or(true) {
                spec = spec.target();
            }
            if c.upgradable {
                spec = spec.upgradable();
            }
            for m in &c.exclude {
                spec = spec.exclude(m);
            }
            if !c.include.is_empty() {
                spec = spec.include(&c.include.iter().map(String::as_str).collect::<Vec<_>>());
            }
            for (m, w) in &c.weights {
                spec = spec.weight(m, *w);
            }
            if let Some(cycles) = c.cycles {
                spec = spec.cycles(cycles.into());
            }
            if let Some(id) = &c.id {
                let id = candid::Principal::from_text(id)
                    .map_err(|err| e(format!("canister `{}`: id `{id}` is not a principal: {err}", c.name)))?;
                spec = spec.id(id);
            }
            builder = builder.canister(spec);
        }
        for a in &config.adversaries {
            let mut spec = AdversarySpec::new(&a.name).impersonate(&a.impersonate.iter().map(String::as_str).collect::<Vec<_>>());
            if let Some(did) = &a.did {
                let text = if did.trim_start().starts_with("service") || did.contains(':') {
                    did.clone()
                } else {
                    std::fs::read_to_string(did).map_err(|err| e(format!("adversary `{}`: cannot read {did}: {err}", a.name)))?
                };
                crate::interface::Interface::parse(&text).map_err(|err| e(format!("adversary `{}`: {err}", a.name)))?;
                spec = spec.impersonate_did(&text);
            }
            if let Some(like) = &a.like {
                spec = spec.like(like);
            }
            builder = builder.adversary(spec);
        }
        if !config.adversaries.is_empty() {
            let wasm = match &config.adversary_wasm {
                Some(path) => read("cannot read the adversary module", path)?,
                None => adversary_wasm
                    .ok_or_else(|| e("adversaries need the adversary canister's module: set `adversary_wasm`".into()))?
                    .to_vec(),
            };
            builder = builder.adversary_wasm(wasm);
        }
        for u in &config.actors.users {
            builder = builder.user(u);
        }
        builder = builder.anonymous(config.actors.anonymous).controller_calls(config.actors.controller);
        for s in &config.setup {
            let (canister, method) = split_call(&s.call).map_err(|m| e(format!("[[setup]] {m}")))?;
            let args = s.args.as_deref().unwrap_or("()");
            builder = match &s.actor {
                Some(actor) => builder.setup_as(actor, canister, method, args),
                None => builder.setup(canister, method, args),
            };
        }
        for inv in &config.invariants {
            let (left, op, right) = split_comparison(&inv.check).map_err(|m| e(format!("[[invariant]] `{}`: {m}", inv.check)))?;
            let parse = |text: &str| Operand::parse(text).map_err(|m| e(format!("[[invariant]] {m}")));
            let name = inv.name.clone().unwrap_or_else(|| inv.check.clone());
            let kind = match inv.kind.as_deref() {
                None | Some("invariant") => FindingKind::Invariant,
                Some("lock") => FindingKind::LockNeverReleased,
                Some(other) => return Err(e(format!("[[invariant]] `{name}`: unknown kind `{other}` (invariant or lock)"))),
            };
            fn strs(v: &[String]) -> Vec<&str> {
                v.iter().map(String::as_str).collect()
            }
            let comparison = Comparison::new(&name, parse(left)?, op, parse(right)?)
                .at_quiescence(inv.at_quiescence)
                .kind(kind)
                .unless_calls_by(&strs(&inv.unless_calls_by))
                .and_then(|c| c.after_calls(&strs(&inv.after_calls), &strs(&inv.after_calls_by)))
                .map_err(|m| e(format!("[[invariant]] `{name}`: {m}")))?;
            builder = builder.invariant(comparison);
        }
        for rule in &config.access {
            let (canister, method) = split_call(&rule.call).map_err(|m| e(format!("[[access]] {m}")))?;
            builder = builder.invariant(only_callers(canister, method, &rule.callers.iter().map(String::as_str).collect::<Vec<_>>()));
        }
        let o = &config.oracles;
        if o.mute_traps.iter().any(|m| m.trim().is_empty()) {
            return Err(e("[oracles] mute_traps: an empty message would mute every trap".into()));
        }
        let defaults = Oracles::default();
        builder = builder.oracles(Oracles {
            trap_in_callback: o.trap_in_callback.unwrap_or(defaults.trap_in_callback),
            did_not_reply: o.did_not_reply.unwrap_or(defaults.did_not_reply),
            cannot_stop: o.cannot_stop.unwrap_or(defaults.cannot_stop),
            instruction_limit: o.instruction_limit.unwrap_or(defaults.instruction_limit),
            memory_budget: o.memory_budget_mib.map(|m| m << 20).or(defaults.memory_budget),
            unexpected_trap: o.unexpected_trap.unwrap_or(defaults.unexpected_trap),
            upgrade_fails: o.upgrade_fails.unwrap_or(defaults.upgrade_fails),
            new_trap: o.new_trap.unwrap_or(defaults.new_trap),
            muted_traps: o.mute_traps.clone(),
        });
        let g = &config.generator;
        let gd = GeneratorOptions::default();
        builder = builder.generator(GeneratorOptions {
            max_steps: g.max_steps.unwrap_or(gd.max_steps),
            faults: g.faults.unwrap_or(gd.faults),
            stop_start: g.stop_start.unwrap_or(gd.stop_start),
            ..gd
        });
        Ok(builder)
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// A clear reason why bytes are not a canister module, in the engine's own terms (what `install_code` would
/// reject), before anything is built.
pub fn check_wasm(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    match crate::engine::check_module(bytes) {
        Err(crate::engine::InvalidModule::NotWasm) => Err("not a WebAssembly module (no \\0asm header)".into()),
        Err(e) => Err(format!("invalid WebAssembly for a canister: {e}")),
        Ok(exports) if exports.methods.is_empty() && !exports.init => {
            Err("not a canister: it exports no canister_update, canister_query or canister_init entry point".into())
        }
        Ok(_) => Ok(()),
    }
}

/// `canister.method` → its parts.
pub fn split_call(text: &str) -> Result<(&str, &str), String> {
    match text.trim().split_once('.') {
        Some((c, m)) if !c.is_empty() && !m.is_empty() && !m.contains('.') => Ok((c, m)),
        _ => Err(format!("`{text}` is not `canister.method`")),
    }
}

/// Splits `left op right` at the comparison outside parentheses and strings.
pub fn split_comparison(text: &str) -> Result<(&str, Op, &str), String> {
    let bytes = text.as_bytes();
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth -= 1,
            b'=' | b'!' | b'<' | b'>' if depth == 0 => {
                let two = text.get(i..i + 2).unwrap_or("");
                let op = if matches!(two, "==" | "!=" | "<=" | ">=") { two } else { &text[i..i + 1] };
                if op == "=" || op == "!" {
                    return Err(format!("`{op}` is not a comparison (use ==, !=, <, <=, >, >=)"));
                }
                let left = text[..i].trim();
                let right = text[i + op.len()..].trim();
                if left.is_empty() || right.is_empty() {
                    return Err("a comparison needs both sides".into());
                }
                return Ok((left, Op::parse(op)?, right));
            }
            _ => {}
        }
        i += 1;
    }
    Err("no comparison (==, !=, <, <=, >, >=) outside parentheses".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_split_outside_parentheses_and_strings() {
        let (l, op, r) = split_comparison("ledger.balance_of({bank}) >= bank.liabilities()").unwrap();
        assert_eq!((l, op, r), ("ledger.balance_of({bank})", Op::Ge, "bank.liabilities()"));
        let (l, op, r) = split_comparison(r#"a.f("x >= y") == "<>""#).unwrap();
        assert_eq!((l, op, r), (r#"a.f("x >= y")"#, Op::Eq, r#""<>""#));
        assert!(split_comparison("a.f() = 1").is_err());
        assert!(split_comparison("a.f()").is_err());
        assert!(split_comparison(">= 1").is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[[canister]]\nname = \"a\"\nwasm = \"a.wasm\"\ntarget = true\nupgradeable = true\n").unwrap_err();
        assert!(err.contains("upgradeable"), "{err}");
        let err = Config::parse("[[invariant]]\nname = \"x\"\n").unwrap_err();
        assert!(err.contains("check"), "{err}");
    }

    #[test]
    fn a_config_round_trips_through_toml() {
        let mut config = Config::for_wasm(Path::new("/tmp/bank.wasm"), None);
        config.invariants.push(InvariantConfig {
            name: None,
            check: "bank.x() >= 0".into(),
            at_quiescence: true,
            kind: None,
            after_calls: Vec::new(),
            after_calls_by: Vec::new(),
            unless_calls_by: Vec::new(),
        });
        assert_eq!(Config::parse(&config.to_toml()).unwrap(), config);
        assert_eq!(config.canisters[0].name, "bank");
    }

    #[test]
    fn non_canister_bytes_are_named() {
        assert!(check_wasm(b"").unwrap_err().contains("empty"));
        assert!(check_wasm(b"hello").unwrap_err().contains("not a WebAssembly module"));
        assert!(check_wasm(b"\0asm\x01\0\0\0\x01").unwrap_err().contains("invalid WebAssembly"));
        // A valid module without canister entry points.
        assert!(check_wasm(b"\0asm\x01\0\0\0").unwrap_err().contains("not a canister"));
    }
}
