//! A built-in fuzzing loop: coverage-guided mutation of scenario bytes, without libFuzzer.
//!
//! libFuzzer (through cargo-fuzz or the stable `libfuzzer-sys` binaries) is the fast path for long campaigns. This
//! loop runs anywhere, deterministically from a seed, bounded by a number of executions — which is what the test
//! suite, a quick `icfuzz fuzz`, and CI need. It keeps an input when it reaches canister blocks no earlier input
//! reached (with `Config::coverage` on), and mutates kept inputs the way libFuzzer's basic mutators do.

use std::collections::BTreeMap;

use crate::environment::Error;
use crate::failure::FailureCause;
use crate::oracle::Finding;
use crate::rng::Rng;
use crate::session::Harness;
use crate::scenario::Scenario;

/// How long to fuzz and from where.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// Scenarios to run.
    pub executions: u64,
    /// Seed of the input generator: the same seed and environment give the same run.
    pub seed: u64,
    /// Longest input, in bytes.
    pub max_input_len: usize,
    /// Stop at the first high-severity finding (a low one, such as a new trap, never stops the run).
    pub stop_on_first: bool,
}

impl Default for FuzzOptions {
    fn default() -> FuzzOptions {
        FuzzOptions { executions: 1_000, seed: 0, max_input_len: 512, stop_on_first: true }
    }
}

/// A finding with the input that produced it.
#[derive(Clone, Debug)]
pub struct Found {
    /// The finding.
    pub finding: Finding,
    /// The fuzzer bytes.
    pub input: Vec<u8>,
    /// The scenario they decode to.
    pub scenario: Scenario,
    /// Which execution found it (0-based).
    pub execution: u64,
}

/// What a fuzzing run did.
#[derive(Clone, Debug, Default)]
pub struct FuzzReport {
    /// Unique findings (by signature), first occurrence each.
    pub findings: Vec<Found>,
    /// Scenarios run.
    pub executions: u64,
    /// Inputs kept for new coverage.
    pub corpus: Vec<Vec<u8>>,
    /// Findings per signature, duplicates included.
    pub counts: BTreeMap<String, u64>,
    /// Methods of targets that were called at least 10 times and never replied: a campaign in which every call
    /// fails (wrong setup, an always-trapping method) proves little, and is said so instead of passing silently.
    pub never_replied: Vec<String>,
}

/// Blocks hit so far in every instrumented module (0 without coverage).
fn blocks_hit(harness: &Harness) -> usize {
    harness.subnet().coverage().iter().map(|m| m.counters.blocks_hit()).sum()
}

/// What one execution of a [`Fuzzer`] did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The input run.
    pub input: Vec<u8>,
    /// It reached canister blocks no earlier input reached, and joined the corpus.
    pub new_coverage: bool,
    /// The finding, if it was the first of its signature (duplicates only count in [`FuzzReport::counts`]).
    pub new_finding: Option<Found>,
    /// The signature of any finding, new or duplicate.
    pub signature: Option<String>,
}

/// The fuzzing loop, one execution at a time: for callers that need control between executions (a time limit, a
/// status line, Ctrl-C, sharing inputs between workers). [`fuzz`] drives it for a number of executions.
pub struct Fuzzer {
    rng: Rng,
    options: FuzzOptions,
    covered: usize,
    report: FuzzReport,
}

impl Fuzzer {
    /// A fuzzer for `harness`'s environment (coverage already reached by the harness counts as seen).
    pub fn new(harness: &Harness, options: FuzzOptions) -> Fuzzer {
        Fuzzer { rng: Rng(options.seed), covered: blocks_hit(harness), options, report: FuzzReport::default() }
    }

    /// Runs one fresh or mutated input.
    pub fn step(&mut self, harness: &mut Harness) -> Result<Outcome, Error> {
        let input = next_input(&mut self.rng, &self.report.corpus, self.options.max_input_len);
        self.run(harness, input)
    }

    /// Runs a given input (a seed from disk, an input another worker found); it joins the corpus if it reaches
    /// new coverage, like any other.
    pub fn run(&mut self, harness: &mut Harness, input: Vec<u8>) -> Result<Outcome, Error> {
        let scenario = harness.generate(&input);
        let result = harness.run(&scenario)?;
        let execution = self.report.executions;
        self.report.executions += 1;
        let now = blocks_hit(harness);
        let new_coverage = now > self.covered;
        if new_coverage {
            self.covered = now;
            self.report.corpus.push(input.clone());
        }
        let mut outcome = Outcome { input, new_coverage, new_finding: None, signature: None };
        if let Some(finding) = result.finding {
            let signature = finding.signature();
            let count = self.report.counts.entry(signature.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                let found = Found { finding, input: outcome.input.clone(), scenario: result.scenario, execution };
                self.report.findings.push(found.clone());
                outcome.new_finding = Some(found);
            }
            outcome.signature = Some(signature);
        }
        Ok(outcome)
    }

    /// Canister blocks reached so far (0 without coverage).
    pub fn coverage(&self) -> usize {
        self.covered
    }

    /// What the loop did so far.
    pub fn report(&self) -> &FuzzReport {
        &self.report
    }

    /// The final report, with the methods that never replied (from the harness's statistics).
    pub fn finish(mut self, harness: &Harness) -> FuzzReport {
        self.report.never_replied = never_replied(harness);
        self.report
    }
}

/// Target methods called at least 10 times that never replied.
pub fn never_replied(harness: &Harness) -> Vec<String> {
    harness
        .stats
        .iter()
        .filter(|(_, s)| s.calls >= 10 && s.replies == 0)
        .map(|((canister, method), s)| {
            let mut line = format!("{canister}.{method}: {} calls, none replied ({} traps)", s.calls, s.traps);
            if let Some((count, message)) = s.most_common_failure() {
                line.push_str(&format!("; most often ({count}×): {message}"));
                if let Some(cause) = FailureCause::of(message) {
                    line.push_str(&format!(" — {}", cause.hint()));
                }
            }
            line
        })
        .collect()
}


/// Fuzzes the harness's environment for `options.executions` scenarios.
pub fn fuzz(harness: &mut Harness, options: &FuzzOptions) -> Result<FuzzReport, Error> {
    let mut fuzzer = Fuzzer::new(harness, options.clone());
    for _ in 0..options.executions {
        let outcome = fuzzer.step(harness)?;
        let high = outcome.new_finding.as_ref().is_some_and(|f| f.finding.kind.severity() == crate::Severity::High);
        if high && options.stop_on_first {
            break;
        }
    }
    Ok(fuzzer.finish(harness))
}

/// A fresh random input half the time (or while the corpus is empty), else a mutated corpus entry.
fn next_input(rng: &mut Rng, corpus: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    if corpus.is_empty() || rng.below(2) == 0 {
        let len = 8 + rng.below(max_len.saturating_sub(8).max(1));
        return rng.bytes(len);
    }
    let mut input = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        mutate(rng, &mut input, corpus, max_len);
    }
    input
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize) {
    match rng.below(6) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = rng.next() as u8;
        }
        2 => {
            let at = rng.below(input.len() + 1);
            let len = 1 + rng.below(16);
            let chunk = rng.bytes(len);
            input.splice(at..at, chunk);
        }
        3 if input.len() > 1 => {
            let at = rng.below(input.len());
            let len = 1 + rng.below((input.len() - at).min(16));
            input.drain(at..at + len);
        }
        4 => {
            // Splice: a prefix of this input, the suffix of another (steps from both).
            let other = &corpus[rng.below(corpus.len())];
            let cut = rng.below(input.len() + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        _ => {
            let len = 1 + rng.below(32);
            let chunk = rng.bytes(len);
            input.extend(chunk);
        }
    }
    input.truncate(max_len);
}
