//! Shrinking a finding's scenario while it keeps producing the same finding signature.
//!
//! Steps first (delta debugging over chunks, then one step at a time, so the result is 1-minimal: removing any
//! single remaining step loses the finding), then the remaining steps' contents: Candid arguments towards the
//! smallest values, delivery choices towards the oldest message, adversary payload sizes towards zero. Every
//! candidate is a full run from the snapshot, so the result replays exactly; the number of runs is bounded.
//!
//! Time is folded, not dropped: a removed `advance_time` adds its seconds to the next kept one, so a deadline or
//! timer the finding depends on still passes when the steps that waited for it go.

use candid::types::value::{IDLField, IDLValue, VariantValue};
use candid::IDLArgs;

use crate::environment::Error;
use crate::session::Harness;
use crate::trace::Execution;
use crate::scenario::{FaultRef, MessageRef, OutcallRef, Scenario, ScriptAction, Step};

/// Bounds of a minimization.
#[derive(Clone, Debug)]
pub struct MinimizeOptions {
    /// Most scenario runs (each candidate is one run).
    pub max_runs: usize,
}

impl Default for MinimizeOptions {
    fn default() -> Self {
        MinimizeOptions { max_runs: 2_000 }
    }
}

/// Where a minimization is (for a progress display).
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Runs so far.
    pub runs: usize,
    /// The bound on runs.
    pub max_runs: usize,
    /// Steps of the smallest scenario so far.
    pub steps: usize,
}

/// The result of a minimization.
#[derive(Debug)]
pub struct Minimized {
    /// The smallest scenario found that keeps the signature.
    pub scenario: Scenario,
    /// Its execution (the trace to show).
    pub execution: Execution,
    /// Steps before.
    pub original_steps: usize,
    /// Runs used.
    pub runs: usize,
    /// The run bound stopped it before it was done.
    pub exhausted: bool,
}

struct Shrinker<'a> {
    harness: &'a mut Harness,
    signature: String,
    runs: usize,
    options: MinimizeOptions,
    progress: &'a mut dyn FnMut(Progress),
    best: Scenario,
    best_execution: Execution,
}

impl Shrinker<'_> {
    /// Runs a candidate; keeps it if it gives the same signature. `Ok(false)` also when the run budget is spent.
    fn try_candidate(&mut self, candidate: Scenario) -> Result<bool, Error> {
        if self.runs >= self.options.max_runs || candidate == self.best {
            return Ok(false);
        }
        self.runs += 1;
        let execution = match self.harness.run(&candidate) {
            Ok(e) => e,
            // A candidate may name something the environment no longer has (it never does when shrinking a
            // scenario that ran); treat it as not reproducing rather than failing the whole minimization.
            Err(Error::Scenario(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let same = execution.finding.as_ref().is_some_and(|f| f.signature() == self.signature);
        if same {
            // The scenario as it ran: steps after the finding dropped, deliveries and faults named stably.
            self.best = execution.scenario.clone();
            self.best_execution = execution;
        }
        (self.progress)(Progress { runs: self.runs, max_runs: self.options.max_runs, steps: self.best.steps.len() });
        Ok(same)
    }

    fn spent(&self) -> bool {
        self.runs >= self.options.max_runs
    }

    /// Delta debugging over chunks of steps, then single steps.
    fn steps(&mut self) -> Result<(), Error> {
        let mut chunks = 2usize;
        while !self.spent() && !self.best.steps.is_empty() {
            let len = self.best.steps.len();
            let size = len.div_ceil(chunks.min(len));
            let mut removed_any = false;
            let mut start = 0;
            while start < self.best.steps.len() && !self.spent() {
                let end = (start + size).min(self.best.steps.len());
                if self.try_candidate(without(&self.best, start..end, true))?
                    || (has_time(&self.best.steps[start..end]) && self.try_candidate(without(&self.best, start..end, false))?)
                {
                    removed_any = true;
                } else {
                    start = end;
                }
            }
            if removed_any {
                chunks = chunks.saturating_sub(1).max(2);
            } else if size == 1 {
                break;
            } else {
                chunks = (chunks * 2).min(self.best.steps.len());
            }
        }
        Ok(())
    }

    /// Simpler contents for each remaining step.
    fn contents(&mut self) -> Result<(), Error> {
        let mut index = 0;
        while index < self.best.steps.len() && !self.spent() {
            for simpler in simpler_steps(&self.best.steps[index]) {
                let mut candidate = self.best.clone();
                candidate.steps[index] = simpler;
                if self.try_candidate(candidate)? {
                    // Keep simplifying the same step (a simpler value may allow a simpler one still).
                    break;
                }
            }
            index += 1;
        }
        Ok(())
    }
}

/// Minimizes `scenario`, which must produce a finding with `signature` in `harness`'s environment.
pub fn minimize(
    harness: &mut Harness,
    scenario: &Scenario,
    signature: &str,
    options: MinimizeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Minimized, Error> {
    let execution = harness.run(scenario)?;
    match &execution.finding {
        Some(f) if f.signature() == signature => {}
        Some(f) => {
            return Err(Error::Scenario(format!(
                "the scenario does not reproduce the finding: it gives `{}` instead of `{signature}`",
                f.signature()
            )))
        }
        None => return Err(Error::Scenario(format!("the scenario does not reproduce the finding `{signature}`: no finding"))),
    }
    // Shrink the scenario as it ran: its deliveries and faults are named stably, so dropping a step does not
    // change what a later one delivers.
    let best = execution.scenario.clone();
    let mut shrinker =
        Shrinker { harness, signature: signature.to_owned(), runs: 1, options, progress, best, best_execution: execution };
    // Alternate until neither pass finds anything (a simpler argument can make a step removable).
    loop {
        let before = (shrinker.best.clone(), shrinker.runs);
        shrinker.steps()?;
        shrinker.contents()?;
        if shrinker.best == before.0 || shrinker.spent() {
            break;
        }
    }
    let exhausted = shrinker.spent();
    Ok(Minimized {
        scenario: shrinker.best,
        execution: shrinker.best_execution,
        original_steps: scenario.steps.len(),
        runs: shrinker.runs,
        exhausted,
    })
}

fn has_time(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s, Step::AdvanceTime { .. }))
}

/// The scenario without `range`; with `fold`, the seconds of removed time steps go to the next kept time step
/// (or a new one in place of the removed range, when none follows).
fn without(scenario: &Scenario, range: std::ops::Range<usize>, fold: bool) -> Scenario {
    let seconds: u64 = scenario.steps[range.clone()]
        .iter()
        .map(|s| if let Step::AdvanceTime { seconds } = s { *seconds } else { 0 })
        .sum();
    let mut steps: Vec<Step> = scenario.steps[..range.start].to_vec();
    let mut rest: Vec<Step> = scenario.steps[range.end..].to_vec();
    if fold && seconds > 0 {
        match rest.iter_mut().find_map(|s| if let Step::AdvanceTime { seconds } = s { Some(seconds) } else { None }) {
            Some(next) => *next = next.saturating_add(seconds),
            None => steps.push(Step::AdvanceTime { seconds }),
        }
    }
    steps.append(&mut rest);
    Scenario { version: scenario.version, steps }
}

/// Candidates for a simpler version of one step, simplest first.
fn simpler_steps(step: &Step) -> Vec<Step> {
    let mut out = Vec::new();
    match step {
        Step::Call { actor, canister, method, args } => {
            for args in simpler_args(args) {
                out.push(Step::Call { actor: actor.clone(), canister: canister.clone(), method: method.clone(), args });
            }
        }
        Step::Attack { attacker, canister, method, args, bounded_wait, cycles } => {
            if *cycles > 0 {
                out.push(Step::Attack {
                    attacker: attacker.clone(),
                    canister: canister.clone(),
                    method: method.clone(),
                    args: args.clone(),
                    bounded_wait: *bounded_wait,
                    cycles: 0,
                });
            }
            for args in simpler_args(args) {
                out.push(Step::Attack {
                    attacker: attacker.clone(),
                    canister: canister.clone(),
                    method: method.clone(),
                    args,
                    bounded_wait: *bounded_wait,
                    cycles: *cycles,
                });
            }
        }
        // Stable names are simplest already; a leftover "n-th message" pick tries the oldest.
        Step::Deliver { message: MessageRef::Nth(n) } if *n != 0 => out.push(Step::Deliver { message: MessageRef::Nth(0) }),
        Step::Fault { fault: FaultRef::Nth(n) } if *n != 0 => out.push(Step::Fault { fault: FaultRef::Nth(0) }),
        Step::AnswerOutcall { outcall: OutcallRef::Nth(n), answer } if *n != 0 => {
            out.push(Step::AnswerOutcall { outcall: OutcallRef::Nth(0), answer: answer.clone() })
        }
        Step::Script { adversary, method, action, sticky } => {
            for action in simpler_actions(action) {
                out.push(Step::Script { adversary: adversary.clone(), method: method.clone(), action, sticky: *sticky });
            }
        }
        _ => {}
    }
    out
}

fn simpler_actions(action: &ScriptAction) -> Vec<ScriptAction> {
    match action {
        ScriptAction::Reply { value } => simpler_args(value).into_iter().map(|value| ScriptAction::Reply { value }).collect(),
        ScriptAction::Garbage { len, seed } if *len > 0 => vec![ScriptAction::Garbage { len: 0, seed: *seed }],
        _ => Vec::new(),
    }
}

/// Candid argument texts with one value made simpler each (numbers to 0 or 1, text empty, vectors empty, options
/// null), in order; the text as written when it does not parse (then there is nothing to simplify).
fn simpler_args(text: &str) -> Vec<String> {
    let Ok(args) = crate::interface::parse_args(text) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, value) in args.args.iter().enumerate() {
        for simpler in simpler_values(value) {
            let mut changed = args.args.clone();
            changed[i] = simpler;
            let candidate = IDLArgs::new(&changed).to_string();
            if candidate != text && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
    }
    out
}

fn simpler_values(value: &IDLValue) -> Vec<IDLValue> {
    use IDLValue::*;
    match value {
        Nat(n) if *n != candid::Nat::from(0u8) => vec![Nat(0u8.into()), Nat(1u8.into())],
        Int(n) if *n != candid::Int::from(0) => vec![Int(0.into()), Int(1.into())],
        Nat8(n) if *n > 1 => vec![Nat8(0), Nat8(1)],
        Nat16(n) if *n > 1 => vec![Nat16(0), Nat16(1)],
        Nat32(n) if *n > 1 => vec![Nat32(0), Nat32(1)],
        Nat64(n) if *n > 1 => vec![Nat64(0), Nat64(1)],
        Int8(n) if *n != 0 => vec![Int8(0), Int8(1)],
        Int16(n) if *n != 0 => vec![Int16(0), Int16(1)],
        Int32(n) if *n != 0 => vec![Int32(0), Int32(1)],
        Int64(n) if *n != 0 => vec![Int64(0), Int64(1)],
        Number(n) if n != "0" && n != "1" => vec![Number("0".into()), Number("1".into())],
        Text(t) if !t.is_empty() => vec![Text(String::new())],
        Vec(items) if !items.is_empty() => {
            let mut out = vec![Vec(std::vec::Vec::new())];
            if items.len() > 1 {
                out.push(Vec(items[..1].to_vec()));
            }
            out
        }
        Opt(_) => vec![None],
        Bool(true) => vec![Bool(false)],
        Record(fields) => fields
            .iter()
            .enumerate()
            .flat_map(|(i, f)| {
                simpler_values(&f.val).into_iter().map(move |val| {
                    let mut fields = fields.clone();
                    fields[i] = IDLField { id: f.id.clone(), val };
                    Record(fields)
                })
            })
            .collect(),
        Variant(v) => simpler_values(&v.0.val)
            .into_iter()
            .map(|val| Variant(VariantValue(Box::new(IDLField { id: v.0.id.clone(), val }), v.1)))
            .collect(),
        _ => std::vec::Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_time_folds_into_the_next_time_step() {
        let s = Scenario::new(vec![
            Step::AdvanceTime { seconds: 10 },
            Step::RunUntilQuiet,
            Step::AdvanceTime { seconds: 61 },
            Step::Deliver { message: MessageRef::Nth(1) },
        ]);
        let folded = without(&s, 0..2, true);
        assert_eq!(folded.steps, vec![Step::AdvanceTime { seconds: 71 }, Step::Deliver { message: MessageRef::Nth(1) }]);
        let plain = without(&s, 0..2, false);
        assert_eq!(plain.steps, vec![Step::AdvanceTime { seconds: 61 }, Step::Deliver { message: MessageRef::Nth(1) }]);
        // No later time step: the time stays where the removed steps were.
        let tail = without(&s, 2..4, true);
        assert_eq!(tail.steps[2], Step::AdvanceTime { seconds: 61 });
    }

    #[test]
    fn arguments_shrink_one_value_at_a_time() {
        let out = simpler_args(r#"(principal "aaaaa-aa", 500 : nat64, "hello")"#);
        assert!(out.contains(&r#"(principal "aaaaa-aa", 0 : nat64, "hello")"#.to_owned()), "{out:?}");
        assert!(out.contains(&r#"(principal "aaaaa-aa", 500 : nat64, "")"#.to_owned()), "{out:?}");
        assert!(simpler_args("(0 : nat64)").is_empty());
    }
}
