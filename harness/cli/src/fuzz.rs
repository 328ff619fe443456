//! `icfuzz fuzz`: parallel workers, each with its own harness, sharing inputs that reach new coverage; findings
//! are written the moment they are found, atomically ([`icfuzz::save`]: Ctrl-C, `kill -9` or a crash of the
//! machine loses nothing and leaves no partial file), in libFuzzer's layout: `<out>/corpus/<sha1>`,
//! `<out>/crashes/crash-<sha1>` (raw bytes) and `crash-<sha1>.json` (the scenario, which keeps its meaning across
//! icfuzz versions). A file that cannot be written (full disk, read-only directory) does not stop the campaign:
//! unsaved findings are printed whole to stderr, and the campaign ends with an error.

// The wall clock is for --duration and the status line only; what runs stays deterministic per worker and seed.
#![allow(clippy::disallowed_types)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use icfuzz::config::{Config, Loaded};
use icfuzz::fuzz::{FuzzOptions, Fuzzer};
use icfuzz::minimize::{minimize, MinimizeOptions};
use icfuzz::{Finding, Scenario};
use indicatif::{ProgressBar, ProgressStyle};

use crate::environment::{self, RESOLVED};
use crate::files::{sha1_hex, write_new};

/// Every harness of a campaign (preflight, discovery, workers, minimization) is built the same way, so the engine
/// compiles each canister module once per process: coverage instrumentation changes the compiled code.
pub(crate) const COVERAGE: bool = true;

/// Options of `icfuzz fuzz`.
#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// The canister module to fuzz (zero configuration). Without it: --config, or the icfuzz.toml, dfx.json or
    /// icp.yaml of the current directory.
    pub wasm: Option<PathBuf>,
    /// Its Candid interface (default: the candid:service metadata, else the get_candid_pointer export of
    /// ic-cdk's export_candid!(), else the canister's __get_candid_interface_tmp_hack query).
    #[arg(long, value_name = "FILE")]
    pub did: Option<PathBuf>,
    /// An icfuzz.toml describing canisters, adversaries, actors, setup calls and invariants.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stop after this many scenarios (all workers together).
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
    /// Stop after this long (e.g. 90s, 10m, 2h).
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Parallel workers (each runs its own copy of the environment; they share new inputs).
    #[arg(long, short = 'j', default_value_t = 1)]
    pub jobs: usize,
    /// Seed of the input generator (default: from the clock, printed so a run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (corpus/, crashes/, icfuzz.resolved.toml). Existing files are kept; the corpus is resumed.
    #[arg(long, default_value = "icfuzz-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Stop at the first high-severity finding (a low-severity one, such as a new trap, never stops the run).
    #[arg(long)]
    pub stop_on_first: bool,
    /// Stream the status as JSON lines to this file (`-`: stdout), one a second and a last one with
    /// `"final": true`: elapsed time, scenarios and their rate, coverage, corpus, findings by bucket, the commonest
    /// traps, what the engine does not implement. For dashboards.
    #[arg(long, value_name = "FILE")]
    pub json_status: Option<PathBuf>,
    /// Also write the campaign's findings (every one, low-severity included) as SARIF 2.1.0 for code-scanning
    /// dashboards; written with no result when nothing was found.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Minimize each new finding at the end and print its trace (low-severity findings are minimized anyway).
    #[arg(long)]
    pub minimize: bool,
    /// Generate only steps this backend can replay step for step (`pocket-ic`: no exact delivery choices, no
    /// faults), so every finding can be confirmed there.
    #[arg(long, value_name = "BACKEND", value_parser = ["pocket-ic"])]
    pub replayable_on: Option<String>,
    /// Scenarios per round of discovering the methods a canister calls on adversaries (zero configuration).
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub discovery_runs: u64,
}

/// `90`, `90s`, `10m`, `2h`. Ten lines rather than a crate: campaigns are given in seconds, minutes or hours, and
/// anything else (days, compound forms) is more likely a typo than an intent.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 10m or 2h"))?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (s, m or h)")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A finding of this campaign.
struct Recorded {
    finding: Finding,
    scenario: Scenario,
    /// Where it was saved; `None` when saving failed (a full disk): it was printed to stderr instead.
    json_path: Option<PathBuf>,
    count: u64,
}

/// What the workers share.
struct Shared {
    stop: AtomicBool,
    execs: AtomicU64,
    max_execs: Option<u64>,
    coverage: AtomicUsize,
    corpus: Mutex<Vec<(usize, Vec<u8>)>>,
    findings: Mutex<BTreeMap<String, Recorded>>,
    new_findings: Mutex<Vec<String>>,
    traps: Mutex<Vec<BTreeMap<String, u64>>>,
    /// Per worker: what canisters reached that the engine does not implement.
    unimplemented: Mutex<Vec<BTreeMap<String, icfuzz::UnimplementedUse>>>,
    never_replied: Mutex<BTreeSet<String>>,
    misses: Mutex<BTreeSet<(String, String)>>,
    error: Mutex<Option<anyhow::Error>>,
    unsaved: Mutex<Unsaved>,
    stop_on_first: bool,
    pocket_ic_only: bool,
    corpus_dir: PathBuf,
    crashes_dir: PathBuf,
    /// The environment file findings replay with.
    resolved: PathBuf,
    bar: ProgressBar,
}

impl Shared {
    /// Reserves one execution; `false` once the budget is spent or a stop was asked for.
    fn take_exec(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        let n = self.execs.fetch_add(1, Ordering::Relaxed);
        if self.max_execs.is_some_and(|max| n >= max) {
            self.execs.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn say(&self, text: String) {
        self.bar.suspend(|| eprintln!("{text}"));
    }

    /// Saves a finding the first time its signature is seen (crash bytes and scenario JSON). A finding that cannot
    /// be saved (a full disk, a read-only directory) is printed whole to stderr at once, so the terminal or log
    /// keeps it, and the campaign goes on; it ends with an error.
    fn record(&self, finding: &Finding, input: &[u8], scenario: &Scenario, signature: &str) {
        let mut findings = self.findings.lock().expect("findings lock");
        if let Some(r) = findings.get_mut(signature) {
            r.count += 1;
            return;
        }
        let saved = self.save_crash(input, scenario);
        let json = scenario.to_json();
        let n = findings.len() + 1;
        match &saved {
            Ok(json_path) => self.say(format!(
                "\nfinding #{n}: {finding}\n  saved {}\n  Reproduce with: icfuzz replay {}\n  Minimize with:  icfuzz minimize {}",
                json_path.display(),
                json_path.display(),
                json_path.display()
            )),
            Err(e) => {
                self.say(format!(
                    "\nfinding #{n}: {finding}\n  NOT SAVED ({e}); its scenario follows: save it as a .json file and \
                     replay it with --config {}\n{json}",
                    self.resolved.display()
                ));
                self.unsaved("finding", e);
            }
        }
        findings.insert(
            signature.to_owned(),
            Recorded { finding: finding.clone(), scenario: scenario.clone(), json_path: saved.ok(), count: 1 },
        );
        self.new_findings.lock().expect("lock").push(signature.to_owned());
        if self.stop_on_first && finding.kind.severity() == icfuzz::Severity::High {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Writes a finding's input and scenario as `crash-<sha1 of input>` and `crash-<sha1>.json`; returns the JSON's path.
    fn save_crash(&self, input: &[u8], scenario: &Scenario) -> std::io::Result<PathBuf> {
        let name = format!("crash-{}", sha1_hex(input));
        let json_path = self.crashes_dir.join(format!("{name}.json"));
        write_new(&self.crashes_dir.join(&name), input)?;
        write_new(&json_path, scenario.to_json().as_bytes())?;
        Ok(json_path)
    }

    /// Saves an input that reached new coverage; one that cannot be saved stays in the in-memory corpus.
    fn keep_input(&self, input: &[u8]) {
        if let Err(e) = write_new(&self.corpus_dir.join(sha1_hex(input)), input) {
            self.unsaved("corpus input", &e);
        }
    }

    /// Counts a file that could not be written; says so the first time for each kind of file.
    fn unsaved(&self, what: &'static str, error: &std::io::Error) {
        let mut unsaved = self.unsaved.lock().expect("lock");
        let first = !unsaved.counts.contains_key(what);
        *unsaved.counts.entry(what).or_default() += 1;
        unsaved.first_error.get_or_insert_with(|| error.to_string());
        if first {
            self.say(format!("icfuzz: error: cannot save a {what}: {error}; fuzzing goes on, and the campaign will end with an error"));
        }
    }

    /// The error a campaign ends with when some of its files could not be written.
    fn unsaved_error(&self) -> Option<anyhow::Error> {
        let unsaved = self.unsaved.lock().expect("lock");
        let first = unsaved.first_error.as_ref()?;
        let counts: Vec<String> = unsaved.counts.iter().map(|(what, n)| format!("{n} {what}(s)")).collect();
        let findings = if unsaved.counts.contains_key("finding") { "; the unsaved findings are printed above" } else { "" };
        Some(anyhow::anyhow!("could not save {} ({first}){findings}", counts.join(" and ")))
    }
}

/// Files a campaign could not write.
#[derive(Default)]
struct Unsaved {
    counts: BTreeMap<&'static str, u64>,
    first_error: Option<String>,
}

/// Runs `icfuzz fuzz`.
pub fn run(args: FuzzArgs) -> Result<ExitCode> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let loaded = environment::for_fuzz(args.wasm.as_deref(), args.did.as_deref(), args.config.as_deref())?;
    let corpus_dir = args.out.join("corpus");
    let crashes_dir = args.out.join("crashes");
    for dir in [&args.out, &corpus_dir, &crashes_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // What a campaign killed mid-write left: hidden, partial, never a user's file.
        icfuzz::save::remove_stale(dir)?;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    });
    let loaded = prepare(&loaded, &args, seed)?;
    eprintln!("icfuzz: seed {seed} (pass --seed {seed} to repeat this run)");

    let seeds = read_corpus(&corpus_dir)?;
    if !seeds.is_empty() {
        eprintln!("icfuzz: resuming from {} corpus input(s) in {}", seeds.len(), corpus_dir.display());
    }
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"));
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        execs: AtomicU64::new(0),
        max_execs: args.runs,
        coverage: AtomicUsize::new(0),
        corpus: Mutex::new(Vec::new()),
        findings: Mutex::new(BTreeMap::new()),
        new_findings: Mutex::new(Vec::new()),
        traps: Mutex::new(vec![BTreeMap::new(); args.jobs]),
        unimplemented: Mutex::new(vec![BTreeMap::new(); args.jobs]),
        never_replied: Mutex::new(BTreeSet::new()),
        misses: Mutex::new(BTreeSet::new()),
        error: Mutex::new(None),
        unsaved: Mutex::new(Unsaved::default()),
        stop_on_first: args.stop_on_first,
        pocket_ic_only: args.replayable_on.is_some(),
        corpus_dir,
        crashes_dir,
        resolved: args.out.join(RESOLVED),
        bar: bar.clone(),
    });
    {
        let shared = shared.clone();
        // A second Ctrl-C while workers finish their current scenario changes nothing: everything is on disk.
        ctrlc::set_handler(move || shared.stop.store(true, Ordering::Relaxed)).context("installing the Ctrl-C handler")?;
    }

    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.jobs {
        let shared = shared.clone();
        let loaded = loaded.clone();
        let seeds: Vec<Vec<u8>> = seeds.iter().skip(worker).step_by(args.jobs).cloned().collect();
        let worker_seed = seed.wrapping_add(worker as u64);
        // Room for the IC's Wasm stack on the worker's own stack, so executions run here and not on helper threads.
        let stack = icfuzz::engine::native_stack::needed(icfuzz::engine::Config::default().max_wasm_stack) + (2 << 20);
        workers.push(std::thread::Builder::new().name(format!("icfuzz-worker-{worker}")).stack_size(stack).spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(worker, &loaded, worker_seed, seeds, &shared)));
            let error = match result {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                // A panic is a bug in icfuzz (its message is already on stderr); stop the others cleanly.
                Err(_) => anyhow::anyhow!("worker {worker} panicked, which is a bug in icfuzz (the message is above)"),
            };
            if let Ok(mut slot) = shared.error.lock() {
                slot.get_or_insert(error);
            }
            shared.stop.store(true, Ordering::Relaxed);
        })?);
    }
    let tty = std::io::stderr().is_terminal();
    let mut last_plain = Instant::now();
    let mut last_json = Instant::now();
    let mut json_status = args.json_status.as_deref().map(StatusSink::open).transpose()?;
    while workers.iter().any(|w| !w.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if args.duration.is_some_and(|d| started.elapsed() >= d) {
            shared.stop.store(true, Ordering::Relaxed);
        }
        let status = Status::now(&shared, started.elapsed(), false);
        let line = status.line();
        bar.set_message(line.clone());
        bar.tick();
        if !tty && last_plain.elapsed() >= Duration::from_secs(10) {
            eprintln!("icfuzz: {line}");
            last_plain = Instant::now();
        }
        if let Some(sink) = json_status.as_mut().filter(|_| last_json.elapsed() >= Duration::from_secs(1)) {
            sink.write(&status);
            last_json = Instant::now();
        }
    }
    for w in workers {
        let _ = w.join(); // panics are caught in the worker and reported below
    }
    bar.finish_and_clear();
    if let Some(e) = shared.error.lock().expect("lock").take() {
        return Err(e.context(format!("what was found so far is in {}", args.out.display())));
    }
    let status = Status::now(&shared, started.elapsed(), true);
    eprintln!("icfuzz: {}", status.line());
    if let Some(sink) = json_status.as_mut() {
        sink.write(&status);
    }
    let outcome = summary(&shared, &args, &loaded);
    match shared.unsaved_error() {
        Some(unsaved) => {
            if let Err(e) = outcome {
                eprintln!("icfuzz: {e:#}");
            }
            Err(unsaved)
        }
        None => outcome,
    }
}

/// The environment as it will run: paths absolute, adversary module on disk, adversary methods discovered,
/// and written (once) to `<out>/icfuzz.resolved.toml`, which replay and the other commands read.
fn prepare(loaded: &Loaded, args: &FuzzArgs, seed: u64) -> Result<Loaded> {
    let mut config = loaded.resolved()?;
    if !config.adversaries.is_empty() && config.adversary_wasm.is_none() {
        let bytes = environment::ADVERSARY_WASM;
        let path = std::path::absolute(args.out.join(format!("adversary-{}.wasm", &sha1_hex(bytes)[..12])))?;
        write_new(&path, bytes)?;
        config.adversary_wasm = Some(path);
    }
    let resolved_path = args.out.join(RESOLVED);
    if resolved_path.is_file() {
        let existing = Config::load(&resolved_path)?;
        if compatible(&existing.config, &config) {
            eprintln!("icfuzz: reusing the environment of {}", resolved_path.display());
            return Ok(existing);
        }
        bail!(
            "{} holds findings of a different environment (other canisters, arguments, setup or invariants); \
             use another --out to keep both",
            args.out.display()
        );
    }
    let mut current = Loaded::new(config, loaded.path.clone(), PathBuf::from("."));
    discover(&mut current, seed, args.discovery_runs)?;
    // Only an environment that builds and passes its own invariants is written: a mistake in it must not pin
    // the output directory to it.
    let env = preflight(&current)?;
    // Init arguments found by probing are written out, so the user sees them and can edit them.
    for info in env.canisters().iter().filter(|c| c.init_probed()) {
        let text = with_placeholders(info.init_text(), &env);
        eprintln!(
            "icfuzz: `{}` installs with the init argument {text} (found by probing; edit it in {})",
            info.name,
            resolved_path.display()
        );
        if let Some(c) = current.config.canisters.iter_mut().find(|c| c.name == info.name) {
            c.init_args = Some(text);
        }
    }
    write_new(&resolved_path, current.config.to_toml().as_bytes())?;
    Config::load(&resolved_path).context("reading back the resolved environment")
}

/// Same environment, the existing one knowing at least the adversary methods the new one names.
fn compatible(existing: &Config, new: &Config) -> bool {
    let strip = |c: &Config| {
        let mut c = c.clone();
        c.adversary_wasm = None;
        for a in &mut c.adversaries {
            a.impersonate.clear();
        }
        c
    };
    let methods_known = new.adversaries.iter().all(|a| {
        existing.adversaries.iter().any(|e| e.name == a.name && a.impersonate.iter().all(|m| e.impersonate.contains(m)))
    });
    strip(existing) == strip(new) && methods_known
}

/// Zero-configuration discovery: adversaries that impersonate a list of methods (no interface) learn the
/// methods the canisters call on them. A few rounds of scenarios; each round adds what the canisters called.
pub(crate) fn discover(loaded: &mut Loaded, seed: u64, runs: u64) -> Result<()> {
    let learning: Vec<String> =
        loaded.config.adversaries.iter().filter(|a| a.did.is_none() && a.like.is_none()).map(|a| a.name.clone()).collect();
    if learning.is_empty() || runs == 0 {
        return Ok(());
    }
    for round in 0..4u64 {
        let mut harness = environment::build(loaded, COVERAGE)?;
        let mut fuzzer = Fuzzer::new(&harness, FuzzOptions { seed: seed ^ (round << 32), ..FuzzOptions::default() });
        for _ in 0..runs {
            fuzzer.step(&mut harness)?;
        }
        let misses: Vec<(String, String)> =
            harness.adversary_misses.iter().filter(|(a, _)| learning.contains(a)).cloned().collect();
        if misses.is_empty() {
            break;
        }
        for (adversary, method) in misses {
            eprintln!("icfuzz: adversary `{adversary}` now answers `{method}` (the canister calls it)");
            let a = loaded.config.adversaries.iter_mut().find(|a| a.name == adversary).expect("a learning adversary");
            if !a.impersonate.contains(&method) {
                a.impersonate.push(method);
            }
        }
    }
    Ok(())
}

/// Candid text on one line, with every named principal of the environment (actors, canisters, adversaries, the
/// controller) written as `{name}`.
pub(crate) fn with_placeholders(text: &str, env: &icfuzz::Environment) -> String {
    // candid prints values over several lines, with trailing separators.
    let one_line = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    let one_line = one_line.replace("( ", "(").replace(", )", ")").replace("; }", " }");
    env.names().named().fold(one_line, |text, (p, name)| text.replace(&format!("principal \"{p}\""), &format!("{{{name}}}")))
}

/// An environment whose invariants fail before any step is misconfigured: every scenario would "find" it.
/// Returns the environment it built.
pub(crate) fn preflight(loaded: &Loaded) -> Result<std::sync::Arc<icfuzz::Environment>> {
    let mut harness = environment::build(loaded, COVERAGE)?;
    let execution = harness.run(&Scenario::new(Vec::new()))?;
    if let Some(f) = execution.finding {
        bail!(
            "the environment fails `{}` before any step ({}); fix the invariant or the setup calls in {}",
            f.oracle,
            f.message,
            loaded.path.display()
        );
    }
    Ok(harness.environment().clone())
}

fn read_corpus(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Hidden files are not inputs (libFuzzer skips them too); among them, icfuzz's temporary files.
        .filter(|p| p.is_file() && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display()))).collect()
}

fn work(worker: usize, loaded: &Loaded, seed: u64, seeds: Vec<Vec<u8>>, shared: &Shared) -> Result<()> {
    let mut harness = environment::build(loaded, COVERAGE)?;
    if shared.pocket_ic_only {
        harness.restrict_to(&icfuzz_pocketic::CAPABILITIES);
    }
    let mut fuzzer = Fuzzer::new(&harness, FuzzOptions { seed, ..FuzzOptions::default() });
    let mut pending: std::collections::VecDeque<Vec<u8>> = seeds.into();
    let mut imported = 0usize;
    let mut since_stats = 0u32;
    loop {
        if pending.is_empty() {
            let corpus = shared.corpus.lock().expect("corpus lock");
            pending.extend(corpus[imported..].iter().filter(|(from, _)| *from != worker).map(|(_, input)| input.clone()));
            imported = corpus.len();
        }
        if !shared.take_exec() {
            break;
        }
        let outcome = match pending.pop_front() {
            Some(input) => fuzzer.run(&mut harness, input)?,
            None => fuzzer.step(&mut harness)?,
        };
        if outcome.new_coverage {
            shared.coverage.fetch_max(fuzzer.coverage(), Ordering::Relaxed);
            shared.keep_input(&outcome.input);
            shared.corpus.lock().expect("corpus lock").push((worker, outcome.input.clone()));
        }
        if let Some(signature) = &outcome.signature {
            match &outcome.new_finding {
                // New to this worker: save it unless another worker already did (then it only counts).
                Some(found) => shared.record(&found.finding, &outcome.input, &found.scenario, signature),
                // This worker saved or counted it before, so the record exists.
                None => {
                    if let Some(r) = shared.findings.lock().expect("lock").get_mut(signature) {
                        r.count += 1;
                    }
                }
            }
        }
        since_stats += 1;
        if since_stats >= 64 {
            since_stats = 0;
            publish_stats(worker, &harness, shared);
        }
    }
    publish_stats(worker, &harness, shared);
    shared.never_replied.lock().expect("lock").extend(icfuzz::fuzz::never_replied(&harness));
    shared.misses.lock().expect("lock").extend(harness.adversary_misses.iter().cloned());
    Ok(())
}

fn publish_stats(worker: usize, harness: &icfuzz::Harness, shared: &Shared) {
    let traps: BTreeMap<String, u64> =
        harness.stats.iter().filter(|(_, s)| s.traps > 0).map(|((c, m), s)| (format!("{c}.{m}"), s.traps)).collect();
    shared.traps.lock().expect("lock")[worker] = traps;
    shared.unimplemented.lock().expect("lock")[worker] = harness.unimplemented.clone();
}

/// The workers' unimplemented features merged: counts summed, the first scenario of the lowest worker kept.
fn unimplemented(shared: &Shared) -> BTreeMap<String, icfuzz::UnimplementedUse> {
    let mut merged: BTreeMap<String, icfuzz::UnimplementedUse> = BTreeMap::new();
    for per_worker in shared.unimplemented.lock().expect("lock").iter() {
        for (what, used) in per_worker {
            let entry = merged.entry(what.clone()).or_default();
            entry.count += used.count;
            if entry.first.is_none() {
                entry.first = used.first.clone();
            }
        }
    }
    merged
}

/// What the status line and `--json-status` show, at one moment.
#[derive(serde::Serialize)]
struct Status {
    elapsed_seconds: f64,
    scenarios: u64,
    scenarios_per_second: f64,
    coverage_blocks: usize,
    corpus: usize,
    /// Findings by bucket (signature), high severity first, then by count.
    findings: Vec<BucketStatus>,
    /// The three methods that trapped most, with their counts.
    traps: Vec<(String, u64)>,
    /// What canisters reached that the engine does not implement.
    not_implemented: Vec<String>,
    #[serde(rename = "final")]
    last: bool,
}

/// One bucket of findings in a [`Status`].
#[derive(serde::Serialize)]
struct BucketStatus {
    kind: &'static str,
    severity: icfuzz::Severity,
    place: String,
    count: u64,
}

impl Status {
    fn now(shared: &Shared, elapsed: Duration, last: bool) -> Status {
        let scenarios = shared.execs.load(Ordering::Relaxed);
        let mut findings: Vec<BucketStatus> = shared
            .findings
            .lock()
            .expect("lock")
            .values()
            .map(|r| BucketStatus {
                kind: r.finding.kind.id(),
                severity: r.finding.kind.severity(),
                place: match (&r.finding.canister, &r.finding.method) {
                    (Some(c), Some(m)) => format!("{c}.{m}"),
                    (Some(c), None) => c.clone(),
                    _ => r.finding.oracle.clone(),
                },
                count: r.count,
            })
            .collect();
        findings.sort_by(|a, b| a.severity.cmp(&b.severity).then(b.count.cmp(&a.count)).then(a.kind.cmp(b.kind)));
        let mut traps: BTreeMap<String, u64> = BTreeMap::new();
        for per_worker in shared.traps.lock().expect("lock").iter() {
            for (method, n) in per_worker {
                *traps.entry(method.clone()).or_default() += n;
            }
        }
        let mut traps: Vec<(String, u64)> = traps.into_iter().collect();
        traps.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        traps.truncate(3);
        Status {
            elapsed_seconds: elapsed.as_secs_f64(),
            scenarios,
            scenarios_per_second: scenarios as f64 / elapsed.as_secs_f64().max(0.001),
            coverage_blocks: shared.coverage.load(Ordering::Relaxed),
            corpus: shared.corpus.lock().expect("lock").len(),
            findings,
            traps,
            not_implemented: unimplemented(shared).into_keys().collect(),
            last,
        }
    }

    /// The status line.
    fn line(&self) -> String {
        let secs = self.elapsed_seconds as u64;
        let elapsed = format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        let found: u64 = self.findings.iter().map(|b| b.count).sum();
        let buckets: Vec<String> = self
            .findings
            .iter()
            .take(3)
            .map(|b| {
                let id = b.kind.split_once(' ').map_or(b.kind, |(id, _)| id);
                format!("{id} {} ×{}", b.place, b.count)
            })
            .collect();
        let more = self.findings.len().saturating_sub(3);
        let findings = match self.findings.len() {
            0 => "findings 0".to_owned(),
            n => format!(
                "findings {n} bucket(s), {found} hit(s): {}{}",
                buckets.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ),
        };
        let traps: Vec<String> = self.traps.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let missing = match self.not_implemented.first() {
            None => String::new(),
            Some(first) if self.not_implemented.len() == 1 => format!(", NOT IMPLEMENTED by the engine: {first}"),
            Some(first) => format!(", NOT IMPLEMENTED by the engine: {first} and {} more", self.not_implemented.len() - 1),
        };
        format!(
            "{elapsed} {} scenarios ({:.0}/s), coverage {} blocks, corpus {}, {findings}{}{missing}",
            self.scenarios,
            self.scenarios_per_second,
            self.coverage_blocks,
            self.corpus,
            if traps.is_empty() { String::new() } else { format!(", traps: {}", traps.join(", ")) }
        )
    }
}

/// Where `--json-status` lines go.
enum StatusSink {
    Stdout,
    File(std::fs::File),
}

impl StatusSink {
    fn open(path: &Path) -> Result<StatusSink> {
        if path == Path::new("-") {
            return Ok(StatusSink::Stdout);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {} for --json-status", path.display()))?;
        Ok(StatusSink::File(file))
    }

    /// Writes one JSON line. A dashboard that went away must not stop the campaign: errors are ignored.
    fn write(&mut self, status: &Status) {
        use std::io::Write;
        let line = serde_json::to_string(status).expect("a status serialises") + "\n";
        let _ = match self {
            StatusSink::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
            StatusSink::File(f) => f.write_all(line.as_bytes()),
        };
    }
}

fn summary(shared: &Shared, args: &FuzzArgs, loaded: &Loaded) -> Result<ExitCode> {
    report_unimplemented(shared, &args.out)?;
    for line in shared.never_replied.lock().expect("lock").iter() {
        eprintln!("icfuzz: warning: {line}: check the setup (every call failing proves little)");
    }
    let known: BTreeSet<(String, String)> =
        loaded.config.adversaries.iter().flat_map(|a| a.impersonate.iter().map(move |m| (a.name.clone(), m.clone()))).collect();
    for (adversary, method) in shared.misses.lock().expect("lock").iter().filter(|m| !known.contains(*m)) {
        eprintln!("icfuzz: note: canisters called `{method}` on adversary `{adversary}`, which does not answer it; add it to its `impersonate` list");
    }
    let findings = shared.findings.lock().expect("lock");
    let new: Vec<String> = shared.new_findings.lock().expect("lock").clone();
    if let Some(path) = &args.sarif {
        let reported: Vec<crate::sarif::Reported<'_>> = findings
            .values()
            .map(|r| crate::sarif::Reported { finding: &r.finding, scenario_path: r.json_path.as_deref(), count: r.count })
            .collect();
        crate::sarif::write(path, &reported)?;
        eprintln!("icfuzz: SARIF written to {}", path.display());
    }
    if findings.is_empty() {
        eprintln!("icfuzz: no finding");
        return Ok(ExitCode::SUCCESS);
    }
    println!("\n{} finding(s) in {}:", findings.len(), args.out.display());
    // High-severity findings first: a low one (a new trap) is worth a look, not the first thing to read.
    let mut listed: Vec<&Recorded> = findings.values().collect();
    listed.sort_by_key(|r| r.finding.kind.severity());
    for r in listed {
        let saved = r.json_path.as_ref().map_or("NOT SAVED".to_owned(), |p| p.display().to_string());
        println!("  {} ({}×) {saved}", r.finding, r.count);
    }
    // A low-severity finding (a new trap) recurs all campaign long in scenarios full of unrelated steps: it is
    // minimized even without --minimize, so its bucket comes with its shortest reproducer.
    let to_minimize: Vec<&String> = new
        .iter()
        .filter(|signature| args.minimize || findings[*signature].finding.kind.severity() == icfuzz::Severity::Low)
        .collect();
    if !to_minimize.is_empty() {
        let mut harness = environment::build(loaded, COVERAGE)?;
        for signature in to_minimize {
            let r = &findings[signature];
            let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
            bar.set_style(ProgressStyle::with_template("minimizing {pos}/{len} runs, {msg}").expect("template"));
            let options = MinimizeOptions::default();
            bar.set_length(options.max_runs as u64);
            let minimized = minimize(&mut harness, &r.scenario, signature, options, &mut |p| {
                bar.set_position(p.runs as u64);
                bar.set_message(format!("{} steps", p.steps));
            })?;
            bar.finish_and_clear();
            // Every finding was saved, or the campaign would have ended with an error before this.
            let Some(json_path) = &r.json_path else { continue };
            let name = json_path.file_name().and_then(|n| n.to_str()).unwrap_or("crash.json");
            let path = crate::files::fresh_path(&json_path.with_file_name(format!("minimized-from-{name}")));
            write_new(&path, minimized.scenario.to_json().as_bytes())?;
            let title = format!(
                "minimized: {} → {} steps ({} runs), saved {}",
                minimized.original_steps,
                minimized.scenario.steps.len(),
                minimized.runs,
                path.display()
            );
            if !args.minimize {
                println!("  {}: {title}", r.finding.kind);
                continue;
            }
            println!("\n==== {title} ====\n{}", icfuzz::report::render_trace(&minimized.execution));
            println!("Reproduce with: icfuzz replay {}", path.display());
            println!("Regression test: icfuzz regress {} -o tests/regression.rs", path.display());
        }
    }
    Ok(crate::finding_code())
}

/// Says what canisters reached that the engine does not implement (how often, and a scenario that reaches it,
/// saved under `<out>/unimplemented/`), and writes `<out>/unimplemented.json`: each is a place where the engine's
/// answer differs from the IC's, so findings there may be false and bugs behind it are not explored.
fn report_unimplemented(shared: &Shared, out: &std::path::Path) -> Result<()> {
    let missing = unimplemented(shared);
    if missing.is_empty() {
        return Ok(());
    }
    let dir = out.join("unimplemented");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "icfuzz: warning: the canisters reached {} feature(s) the engine does not implement; the IC answers these \
         differently, so what follows them was not tested as on the IC:",
        missing.len()
    );
    let mut listed = Vec::new();
    for (what, used) in &missing {
        let mut line = format!("  {what}: reached {} time(s)", used.count);
        let mut first = None;
        if let Some(scenario) = &used.first {
            let path = crate::files::fresh_path(&dir.join(format!("{}.json", icfuzz::report::identifier(what))));
            write_new(&path, scenario.to_json().as_bytes())?;
            line.push_str(&format!("; see it with: icfuzz replay {}", path.display()));
            first = Some(path.display().to_string());
        }
        eprintln!("{line}");
        listed.push(serde_json::json!({ "what": what, "count": used.count, "first_scenario": first }));
    }
    let path = crate::files::fresh_path(&out.join("unimplemented.json"));
    let json = serde_json::to_string_pretty(&serde_json::json!({ "unimplemented": listed })).expect("JSON values serialise");
    write_new(&path, json.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
