//! `icfuzz init`: a commented `icfuzz.toml` written from what zero configuration discovers, so users edit a
//! working file instead of writing one: the canisters and their methods, the init arguments that install, the
//! methods the canisters call on the adversary, the methods only a privileged caller reaches (excluded, with the
//! trap that shows it), and example invariants built from the queries with their values after install.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use candid::types::value::IDLValue;
use clap::Args;
use icfuzz::config::{Config, Loaded};
use icfuzz::failure::FailureCause;
use icfuzz::fuzz::{FuzzOptions, Fuzzer};
use icfuzz::scenario::values::ValueGen;
use icfuzz::{CanisterInfo, Environment, Harness, MethodStats};

use crate::environment;
use crate::files::write_new;
use crate::fuzz::{discover, preflight, with_placeholders, COVERAGE};

/// Arguments of `icfuzz init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// A canister module (`.wasm`, `.wasm.gz`), a `dfx.json` or an `icp.yaml` (default: the current directory's
    /// `dfx.json`, then `icp.yaml`).
    pub input: Option<PathBuf>,
    /// The interface of the `.wasm` (default: as `icfuzz fuzz` finds it).
    #[arg(long, value_name = "FILE")]
    pub did: Option<PathBuf>,
    /// The file to write; an existing file is never overwritten.
    #[arg(long, short = 'o', default_value = "icfuzz.toml", value_name = "FILE")]
    pub output: PathBuf,
    /// Scenarios run to watch the canisters (which methods reply, which trap and why).
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub runs: u64,
    /// Scenarios per round of discovering the methods the canisters call on the adversary.
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub discovery_runs: u64,
    /// The generator seed (the same seed writes the same file).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A method is excluded when at least this many calls (by users, the attacker and adversaries) all trapped on a
/// caller check: fewer calls could all have had bad arguments.
const MIN_CALLS_TO_EXCLUDE: u64 = 10;

/// Runs `icfuzz init`.
pub fn run(args: InitArgs) -> Result<ExitCode> {
    if args.output.exists() {
        bail!(
            "{} exists; icfuzz init never overwrites a file (remove it or give another --output)",
            args.output.display()
        );
    }
    let (loaded, source) = load(&args)?;
    let mut current = Loaded::new(loaded.resolved()?, loaded.path.clone(), PathBuf::from("."));
    discover(&mut current, args.seed, args.discovery_runs)?;
    let env = preflight(&current)?;
    let mut harness = environment::build(&current, COVERAGE)?;
    let mut fuzzer = Fuzzer::new(&harness, FuzzOptions { seed: args.seed, ..FuzzOptions::default() });
    for _ in 0..args.runs {
        fuzzer.step(&mut harness)?;
    }
    let report = fuzzer.finish(&harness);
    let out_dir =
        std::path::absolute(args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;
    let text = render(
        &Inputs {
            source: &source,
            loaded: &loaded,
            discovered: &current,
            env: &env,
            out_dir: &out_dir,
            runs: args.runs,
        },
        &mut harness,
    );
    write_new(&args.output, text.as_bytes())?;
    // What init writes, fuzz must read: a file that does not load is icfuzz's bug, said as such.
    Config::load(&args.output).with_context(|| {
        format!("icfuzz init wrote {} but cannot read it back (an icfuzz bug)", args.output.display())
    })?;
    eprintln!("icfuzz: wrote {}; run `icfuzz fuzz --config {}`", args.output.display(), args.output.display());
    if !report.findings.is_empty() {
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for f in &report.findings {
            *kinds.entry(f.finding.kind.to_string()).or_default() += 1;
        }
        let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{kind} ×{n}")).collect();
        eprintln!(
            "icfuzz: the {} scenarios init ran already found {} distinct finding(s) ({}); `icfuzz fuzz` finds and \
             saves them",
            report.executions,
            report.findings.len(),
            kinds.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The zero-configuration environment of the input, and how to name the input in the file's header.
fn load(args: &InitArgs) -> Result<(Loaded, String)> {
    let Some(input) = &args.input else {
        if args.did.is_some() {
            bail!("--did goes with a .wasm");
        }
        for project in ["dfx.json", "icp.yaml"] {
            if Path::new(project).is_file() {
                return Ok((environment::for_project(Path::new(project)), project.to_owned()));
            }
        }
        bail!("nothing to describe: give a canister .wasm, a dfx.json or an icp.yaml, or run where a dfx.json or icp.yaml is");
    };
    let name = input.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name == "dfx.json" || name.ends_with(".yaml") || name.ends_with(".yml") {
        if args.did.is_some() {
            bail!("--did goes with a .wasm; a project file names each canister's interface");
        }
        if !input.is_file() {
            bail!("cannot read {}", input.display());
        }
        return Ok((environment::for_project(input), input.display().to_string()));
    }
    Ok((environment::for_fuzz(Some(input), args.did.as_deref(), None)?, input.display().to_string()))
}

/// What the file is written from.
struct Inputs<'a> {
    /// The input as the user named it.
    source: &'a str,
    /// The zero-configuration environment, before discovery.
    loaded: &'a Loaded,
    /// The environment after discovery (the adversary's methods learned).
    discovered: &'a Loaded,
    /// The environment as built.
    env: &'a Environment,
    /// The directory of the file written: paths are written relative to it when they are below it.
    out_dir: &'a Path,
    /// Scenarios watched.
    runs: u64,
}

/// The file. Hand-written rather than serialized, because its worth is in the comments; every value goes through
/// [`toml_string`].
fn render(inputs: &Inputs<'_>, harness: &mut Harness) -> String {
    let Inputs { source, loaded, discovered, env, out_dir, runs } = *inputs;
    let mut t = String::new();
    let _ = writeln!(t, "# Written by `icfuzz init {source}` from what zero configuration found; edit it to taste.");
    let _ =
        writeln!(t, "# `icfuzz fuzz --config <this file>` runs it unchanged. Every key: docs/cli.md (`icfuzz.toml`).");
    if let Some(project) = &loaded.config.project {
        let project = loaded.base.join(project);
        let _ = writeln!(
            t,
            "\nproject = {}",
            toml_string(&relative(&std::path::absolute(&project).unwrap_or(project), out_dir))
        );
    }
    let mut excluded = Vec::new();
    for info in env.canisters() {
        let config = discovered.config.canisters.iter().find(|c| c.name == info.name);
        let _ = writeln!(t, "\n[[canister]]\nname = {}", toml_string(&info.name));
        if loaded.config.project.is_none() {
            if let Some(wasm) = config.and_then(|c| c.wasm.as_ref()) {
                let _ = writeln!(t, "wasm = {}", toml_string(&relative(wasm, out_dir)));
            }
            if let Some(did) = config.and_then(|c| c.did.as_ref()) {
                let _ = writeln!(t, "did = {}", toml_string(&relative(did, out_dir)));
            }
        }
        let methods = |query: bool| {
            info.interface.methods.iter().filter(|m| m.query == query).map(|m| m.name.as_str()).collect::<Vec<_>>()
        };
        let _ = writeln!(t, "# update methods: {}", or_none(&methods(false).join(", ")));
        let _ = writeln!(t, "# query methods: {}", or_none(&methods(true).join(", ")));
        if !info.interface.init_args.is_empty() {
            let text = with_placeholders(info.init_text(), env);
            let why = if info.init_probed() {
                "found by probing: the smallest well-typed value does not install"
            } else {
                "the value it installs with ({name} is the principal of that canister, adversary or user)"
            };
            let _ = writeln!(t, "init_args = {}  # {why}", toml_string(&text));
        }
        if info.target {
            for method in write_method_findings(&mut t, &info.name, &harness.stats, runs) {
                excluded.push((info, method));
            }
        } else {
            let _ = writeln!(t, "target = false");
        }
    }
    for adversary in &discovered.config.adversaries {
        let _ = writeln!(t, "\n[[adversary]]\nname = {}", toml_string(&adversary.name));
        if adversary.impersonate.is_empty() && adversary.like.is_none() && adversary.did.is_none() {
            let _ = writeln!(
                t,
                "# The canisters called nothing on it in {runs} scenarios: it answers nothing. Name the methods a \
                 malicious callee should answer:"
            );
            let _ = writeln!(t, "impersonate = []");
        } else if !adversary.impersonate.is_empty() {
            let _ = writeln!(
                t,
                "# The canisters call these on it (found by discovery); it answers each as a malicious callee."
            );
            let list: Vec<String> = adversary.impersonate.iter().map(|m| toml_string(m)).collect();
            let _ = writeln!(t, "impersonate = [{}]", list.join(", "));
        }
    }
    let actors = &discovered.config.actors;
    let _ = writeln!(t, "\n[actors]");
    let users: Vec<String> = actors.users.iter().map(|u| toml_string(u)).collect();
    let _ = writeln!(t, "users = [{}]", users.join(", "));
    let _ = writeln!(t, "anonymous = {}", actors.anonymous);
    let _ = writeln!(
        t,
        "controller = {}  # true: the controller that installed the canisters calls too",
        actors.controller
    );
    let _ = writeln!(
        t,
        "attacker = {}  # with no [[adversary]], a canister \"attacker\" calls the targets",
        actors.attacker
    );
    write_setup_examples(&mut t, env, &excluded);
    write_example_invariants(&mut t, env, harness);
    t
}

/// A commented `[[setup]]` for each excluded method: the controller may still call it before every scenario
/// (to fund an account, register a user), with the smallest well-typed arguments for the user to edit.
fn write_setup_examples(t: &mut String, env: &Environment, excluded: &[(&CanisterInfo, String)]) {
    let mut examples = Vec::new();
    for (info, method) in excluded {
        let Ok(m) = info.interface.method(method) else { continue };
        let gen = ValueGen::new(&info.interface.env, &[], &[]);
        let Ok(args) = gen.args(&mut arbitrary::Unstructured::new(&[]), &m.args) else { continue };
        // The smallest principal is the anonymous one; a user is the likelier thing to credit or register.
        let mut text = with_placeholders(&args.to_string(), env);
        if let Some((user, _)) = env.actors().iter().find(|(name, _)| name != "anonymous" && name != "controller") {
            text = text.replace("{anonymous}", &format!("{{{user}}}"));
        }
        examples.push(format!(
            "# [[setup]]\n# call = {}\n# args = {}",
            toml_string(&format!("{}.{method}", info.name)),
            toml_string(&text)
        ));
    }
    if examples.is_empty() {
        return;
    }
    let _ = writeln!(
        t,
        "\n# The controller may still call an excluded method in a setup call, run once before the snapshot every\n\
         # scenario starts from (e.g. to credit a user the scenarios then spend as); edit the arguments:"
    );
    for example in examples {
        let _ = writeln!(t, "{example}");
    }
}

/// The per-method part of a target: methods only a privileged caller reaches go to `exclude`, with the trap that
/// shows it; other methods that never replied get their most common failure as a comment.
fn write_method_findings(
    t: &mut String,
    canister: &str,
    stats: &std::collections::BTreeMap<(String, String), MethodStats>,
    runs: u64,
) -> Vec<String> {
    let mut excluded = Vec::new();
    let mut failing = Vec::new();
    for ((c, method), s) in stats.iter().filter(|((c, _), _)| c == canister) {
        let _ = c;
        if s.replies > 0 || s.calls < MIN_CALLS_TO_EXCLUDE {
            continue;
        }
        let Some((count, message)) = s.most_common_failure() else {
            continue;
        };
        let message = trap_message(&one_line(message));
        match FailureCause::of(&message) {
            Some(FailureCause::ChecksCaller) => excluded.push((method, s.calls, count, message)),
            cause => failing.push((method, s.calls, count, message, cause)),
        }
    }
    if !excluded.is_empty() {
        let _ = writeln!(
            t,
            "# Every call trapped on a caller check in {runs} scenarios, so these are excluded; remove one \
             to keep\n# testing that no one else gets through (the attacker canister and the adversary call it too)."
        );
        let _ = writeln!(t, "exclude = [");
        for (method, calls, count, message) in &excluded {
            let _ = writeln!(t, "  {},  # {calls} calls, {count}× {}", toml_string(method), truncate(message, 100));
        }
        let _ = writeln!(t, "]");
    }
    for (method, calls, count, message, cause) in failing {
        let _ = writeln!(t, "# {method}: {calls} calls, none replied; {count}× {}", truncate(&message, 100));
        if let Some(cause) = cause {
            let _ = writeln!(t, "#   {}", cause.hint());
        }
    }
    excluded.into_iter().map(|(method, ..)| method.clone()).collect()
}

/// Example invariants, commented out: for each query of a target that takes no arguments and returns a plain
/// value, a `check` that holds right after install, for the user to turn into what must hold always.
fn write_example_invariants(t: &mut String, env: &Environment, harness: &mut Harness) {
    let mut examples = Vec::new();
    for info in env.canisters().iter().filter(|c| c.target) {
        for method in info.interface.methods.iter().filter(|m| m.query && m.args.is_empty() && m.rets.len() == 1) {
            let operand = format!("{}.{}()", info.name, method.name);
            let Ok(value) = harness.evaluate(&operand) else {
                continue;
            };
            let Some(literal) = literal(&value, env) else {
                continue;
            };
            examples.push(format!("# [[invariant]]\n# check = {}", toml_string(&format!("{operand} == {literal}"))));
        }
    }
    if examples.is_empty() {
        return;
    }
    let _ = writeln!(
        t,
        "\n# Example invariants from the queries, each true right after install. An invariant is what must hold\n\
         # after every step: uncomment the ones that should, and change the bound or the relation (e.g. compare two\n\
         # queries: \"bank.reserves() >= bank.liabilities()\")."
    );
    for example in examples {
        let _ = writeln!(t, "{example}");
    }
}

/// A Candid literal for a plain value (number, bool, text, principal), principals named by their placeholder.
fn literal(value: &IDLValue, env: &Environment) -> Option<String> {
    match value {
        IDLValue::Principal(_) => Some(with_placeholders(&value.to_string(), env)),
        IDLValue::Bool(_) => Some(value.to_string()),
        IDLValue::Text(s) if s.len() <= 64 && !s.contains(['{', '}']) => Some(value.to_string()),
        _ if is_number(value) => Some(value.to_string()),
        _ => None,
    }
}

fn is_number(value: &IDLValue) -> bool {
    use IDLValue::*;
    matches!(
        value,
        Nat(_) | Int(_) | Nat8(_) | Nat16(_) | Nat32(_) | Nat64(_) | Int8(_) | Int16(_) | Int32(_) | Int64(_)
    )
}

/// `path` relative to `dir` when it lies below it (so the file can be committed with the project), else as is.
fn relative(path: &Path, dir: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// A TOML basic string. JSON's string escapes (`\"`, `\\`, `\n`, `\uXXXX`) are all TOML escapes too, so
/// serde_json writes it; the `toml` crate's string quoting is not public API.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// The canister's own words in a reject message (`… Canister called `ic0.trap` with message: 'only a controller…'`),
/// else the whole message.
fn trap_message(message: &str) -> String {
    const MARK: &str = "with message: ";
    match message.find(MARK) {
        Some(i) => message[i + MARK.len()..].trim().trim_matches(['\'', '"']).to_owned(),
        None => message.to_owned(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() {
        "none"
    } else {
        text
    }
}
