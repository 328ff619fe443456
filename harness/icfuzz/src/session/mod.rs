//! The scenario executor: one for every backend.
//!
//! A [`Session`] owns a backend, the [`Environment`] it is set up with, and the oracles; it sets the environment up
//! on the backend ([`Session::setup`]), then runs scenarios from its snapshot ([`Session::run`]). The engine
//! session ([`Harness`]) is the fuzz hot path; PocketIC and [`crate::backend::RoundsOnly`] run the very same code
//! ([`replay`]), so a finding and its replay are compared like for like. Each step lowers to the operations of its
//! [`crate::plan::Plan`], which the executor performs; after every step the oracles run
//! ([`crate::oracle::Oracle`]) and the trace records what happened as data ([`crate::trace`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use candid::Principal;
use serde::Serialize;

use crate::backend::{Backend, EngineBackend};
use crate::environment::{AdversaryInfo, CanisterInfo, Environment, Error, Names, SetupCall};
use crate::oracle::{Calibration, Finding, Oracle};
use crate::plan::{self, Plan};
use crate::scenario::{GeneratorOptions, Scenario};
use crate::trace::{Execution, Note, Phase, TraceEntry, TraceEvent};

mod exec;

pub use crate::plan::Fidelity;

/// Calls per method of target canisters, and how they ended.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MethodStats {
    /// Calls that completed.
    pub calls: u64,
    /// Replies.
    pub replies: u64,
    /// Rejects (including traps).
    pub rejects: u64,
    /// Executions of this method (or its callbacks) that trapped.
    pub traps: u64,
    /// Why calls failed: trap and reject messages bucketed as signatures bucket them (principals, hex and numbers
    /// blanked), each with its count and the first message seen. At most [`MAX_FAILURE_KINDS`] kinds.
    pub failures: BTreeMap<String, (u64, String)>,
}

/// Rounds of generated arguments the calibration calls every method with, besides the smallest arguments.
const CALIBRATION_ROUNDS: usize = 3;
/// Seed of the calibration's generated arguments: fixed, so every session of an environment calibrates alike.
const CALIBRATION_SEED: u64 = 0x1cf0_ca11;
/// Most calibration runs (single calls); the smallest arguments of every method and caller come first.
const MAX_CALIBRATION_RUNS: usize = 256;

/// Most kinds of failure [`MethodStats`] keeps per method.
pub const MAX_FAILURE_KINDS: usize = 16;

impl MethodStats {
    /// Counts one failure with this message.
    pub(crate) fn failed(&mut self, message: &str) {
        let key = crate::oracle::normalize(message);
        if let Some((count, _)) = self.failures.get_mut(&key) {
            *count += 1;
        } else if self.failures.len() < MAX_FAILURE_KINDS {
            self.failures.insert(key, (1, message.lines().next().unwrap_or("").to_owned()));
        }
    }

    /// The most frequent failure: its count and first message.
    pub fn most_common_failure(&self) -> Option<(u64, &str)> {
        self.failures.values().max_by_key(|(count, _)| *count).map(|(count, message)| (*count, message.as_str()))
    }
}

/// An environment set up on a backend, ready to run scenarios.
pub struct Session<B: Backend> {
    env: Arc<Environment>,
    backend: B,
    pub(crate) oracles: Vec<Box<dyn Oracle>>,
    generator: GeneratorOptions,
    /// Whether the backend holds the snapshot `run` restores; `false` until [`Session::setup`] took it.
    snapshot: bool,
    /// Whether the backend is in the state right after setup (no scenario ran since).
    fresh: bool,
    /// The setup's engine events, until the calibration ([`Session::calibrate`]) took them; `None` once the
    /// oracles are calibrated (or need no calibration).
    uncalibrated: Option<Vec<crate::engine::Event>>,
    /// Per (canister, method) statistics over every run of this session.
    pub stats: BTreeMap<(String, String), MethodStats>,
    /// Scenarios run.
    pub runs: u64,
    /// Methods canisters called on an adversary that does not impersonate them, as (adversary, method): the system
    /// rejects those calls, so adding them to the adversary lets scenarios script their answers (zero-config
    /// discovery of what a canister calls).
    pub adversary_misses: BTreeSet<(String, String)>,
    /// What canister code reached that the engine does not implement (a management method, a system API
    /// feature), by description: every such answer differs from the IC's, so a campaign reports them.
    pub unimplemented: BTreeMap<String, UnimplementedUse>,
}

/// How often this session's runs reached one unimplemented feature, and the first scenario that did.
#[derive(Clone, Debug, Default)]
pub struct UnimplementedUse {
    /// Times reached (each execution or call that reached it counts once).
    pub count: u64,
    /// The first scenario that reached it (replay it for the trace).
    pub first: Option<Scenario>,
}

/// The engine session: what [`crate::EnvironmentBuilder::build`] returns and the fuzz loop drives.
pub type Harness = Session<EngineBackend>;

impl<B: Backend> Session<B> {
    /// A session of `env` on `backend` with these oracles; nothing is set up yet ([`Session::setup`]).
    pub fn new(env: Arc<Environment>, backend: B, oracles: Vec<Box<dyn Oracle>>, generator: GeneratorOptions) -> Session<B> {
        let generator = generator.restricted_to(&backend.capabilities());
        Session {
            env,
            backend,
            oracles,
            generator,
            snapshot: false,
            fresh: false,
            uncalibrated: None,
            stats: BTreeMap::new(),
            runs: 0,
            adversary_misses: BTreeSet::new(),
            unimplemented: BTreeMap::new(),
        }
    }

    /// A session of `env` on `backend`, set up and snapshotted (the backend must be fresh).
    pub fn start(env: Arc<Environment>, backend: B, oracles: Vec<Box<dyn Oracle>>, generator: GeneratorOptions) -> Result<Session<B>, Error> {
        let mut session = Session::new(env, backend, oracles, generator);
        session.setup(true)?;
        Ok(session)
    }

    /// Sets the environment up on the (fresh) backend: creates and installs every canister, sets the adversaries'
    /// default answers, runs the setup calls; with `snapshot`, snapshots the result for [`Session::run`]. Returns
    /// what the setup did.
    pub fn setup(&mut self, snapshot: bool) -> Result<TraceEntry, Error> {
        let setup = plan::setup_plan(&self.env)?;
        let exec = exec::Exec::new(self);
        let (entry, events) = exec.setup(&setup)?;
        if snapshot && self.oracles.iter().any(|o| o.wants_calibration()) {
            self.uncalibrated = Some(events);
        }
        let controller = self.env.controller;
        if snapshot {
            let ids: Vec<Principal> =
                self.env.adversaries.iter().map(|a| a.id).chain(self.env.canisters.iter().map(|c| c.id)).collect();
            self.backend.snapshot(&ids, controller).map_err(|e| Error::Setup(format!("{} backend: snapshot: {e}", self.backend.name())))?;
            self.snapshot = true;
        }
        self.fresh = true;
        Ok(entry)
    }

    /// Runs a scenario from the state right after setup (restoring the snapshot unless nothing ran since setup).
    /// Stops at the first finding. `Err` is a harness or backend failure, never a finding.
    pub fn run(&mut self, scenario: &Scenario) -> Result<Execution, Error> {
        if let Some(setup_events) = self.uncalibrated.take() {
            self.calibrate(&setup_events)?;
        }
        self.start_run()?;
        let execution = exec::Exec::new(self).run(scenario);
        for reached in self.unimplemented.values_mut().filter(|u| u.first.is_none()) {
            reached.first = Some(scenario.clone());
        }
        execution
    }

    /// Restores the state right after setup, unless nothing ran since.
    fn start_run(&mut self) -> Result<(), Error> {
        if !self.fresh {
            if !self.snapshot {
                return Err(Error::Setup("the session has no snapshot to restore: set it up with a snapshot".into()));
            }
            let controller = self.env.controller;
            self.backend.restore(controller).map_err(|e| Error::Setup(format!("restoring the snapshot: {e}")))?;
        }
        self.fresh = false;
        self.backend.discard_events();
        self.runs += 1;
        Ok(())
    }

    /// Runs the calibration the oracles asked for, once, before the first scenario: single calls on the state after
    /// setup ([`crate::scenario::single_calls`]), with no oracle watching and nothing counted in the session's
    /// statistics; then gives each oracle what they and the setup (`setup_events`) did.
    fn calibrate(&mut self, setup_events: &[crate::engine::Event]) -> Result<(), Error> {
        let mut calibration = Calibration::default();
        calibration.record(&self.env, setup_events);
        let oracles = std::mem::take(&mut self.oracles);
        let saved = (self.stats.clone(), self.runs, self.adversary_misses.clone(), self.unimplemented.clone());
        let env = self.env.clone();
        let mut result = Ok(());
        for scenario in crate::scenario::single_calls(&env, CALIBRATION_ROUNDS, CALIBRATION_SEED, MAX_CALIBRATION_RUNS) {
            if let Err(e) = self.start_run() {
                result = Err(e);
                break;
            }
            match exec::Exec::new(self).run(&scenario) {
                Ok(execution) => {
                    let events = execution.trace.iter().flat_map(|entry| entry.events.iter());
                    calibration.record(&env, events.filter_map(|e| match e {
                        TraceEvent::Engine(event) => Some(event),
                        _ => None,
                    }));
                    calibration.runs += 1;
                }
                // A single call the backend cannot run (nothing a scenario could reach either) teaches nothing.
                Err(_) => continue,
            }
        }
        (self.stats, self.runs, self.adversary_misses, self.unimplemented) = saved;
        self.oracles = oracles;
        for oracle in &mut self.oracles {
            oracle.calibrate(&calibration);
        }
        result
    }

    /// Evaluates a `check` operand (`canister.method(args)` with an optional path and factor, or a Candid value) on
    /// the state right after setup, exactly as an invariant would: e.g. to show a user the values their invariants
    /// would compare. `Err` says why it cannot be evaluated (no such method, arguments that do not encode, a
    /// reject).
    pub fn evaluate(&mut self, operand: &str) -> Result<candid::types::value::IDLValue, String> {
        let mut operand = crate::oracle::declarative::Operand::parse(operand)?;
        if !self.fresh {
            if !self.snapshot {
                return Err("the session has no snapshot to restore".into());
            }
            let controller = self.env.controller;
            self.backend.restore(controller).map_err(|e| format!("restoring the snapshot: {e}"))?;
        }
        // Queries change no state, but a later run must not count on that.
        self.fresh = false;
        let mut world = crate::oracle::World {
            backend: &mut self.backend as &mut dyn Backend,
            env: &self.env,
            calls: &[],
            step_calls: 0,
            events: &[],
            failed_upgrades: &[],
            in_flight_callers: &[],
            step: 0,
            quiescent: true,
            changed: true,
            unavailable: false,
        };
        let value = operand.eval(&mut world);
        self.backend.discard_events();
        value
    }

    /// Decodes fuzzer bytes into a scenario for this environment (steps this backend can run only).
    pub fn generate(&self, data: &[u8]) -> Scenario {
        crate::scenario::generate(&self.env, &self.generator, data)
    }

    /// The plan of `scenario` on this session's backend: each step's operations and how faithfully they map.
    pub fn plan(&self, scenario: &Scenario) -> Result<Plan, Error> {
        self.plan_for(scenario, self.backend.name(), &self.backend.capabilities())
    }

    /// The plan of `scenario` with this session's oracles on another backend (a dry run of a replay there).
    pub fn plan_for(&self, scenario: &Scenario, backend: &'static str, capabilities: &crate::backend::Capabilities) -> Result<Plan, Error> {
        plan::plan(&self.env, scenario, backend, capabilities, self.stop_check())
    }

    /// Whether the end of a scenario asks every target to stop (an oracle needs it).
    pub(crate) fn stop_check(&self) -> bool {
        self.oracles.iter().any(|o| o.needs_stop_check())
    }

    /// Restricts the scenario generator to what a backend can do, so every generated scenario replays there
    /// step for step (e.g. no `Deliver` or `Fault` steps for PocketIC).
    pub fn restrict_to(&mut self, capabilities: &crate::backend::Capabilities) {
        self.generator = self.generator.restricted_to(capabilities);
    }

    /// The generator's options.
    pub fn generator_options(&self) -> &GeneratorOptions {
        &self.generator
    }

    /// The environment.
    pub fn environment(&self) -> &Arc<Environment> {
        &self.env
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Canisters of the environment (adversaries excluded).
    pub fn canisters(&self) -> &[CanisterInfo] {
        &self.env.canisters
    }

    /// Adversary slots.
    pub fn adversaries(&self) -> &[AdversaryInfo] {
        &self.env.adversaries
    }

    /// Actors that send ingress calls, with their principals.
    pub fn actors(&self) -> &[(String, Principal)] {
        &self.env.actors
    }

    /// Names of actors and canisters.
    pub fn names(&self) -> &Names {
        &self.env.names
    }

    /// The principal that controls every canister and drives the adversaries.
    pub fn controller(&self) -> Principal {
        self.env.controller
    }

    /// The setup calls the environment runs, in order.
    pub fn setup_calls(&self) -> &[SetupCall] {
        &self.env.setup
    }

    /// Gives the oracles back (e.g. to a session on another backend).
    pub fn into_oracles(self) -> Vec<Box<dyn Oracle>> {
        self.oracles
    }
}

impl Harness {
    /// The engine (for inspection between runs, e.g. coverage).
    pub fn subnet(&self) -> &crate::engine::Subnet {
        self.backend.subnet()
    }

    /// What the last snapshot restore had to do.
    pub fn last_restore(&self) -> &crate::engine::RestoreStats {
        self.backend.last_restore()
    }
}

/// The result of replaying a scenario on a backend.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The plan that ran.
    pub plan: Plan,
    /// What happened, step by step, setup first (render it with [`crate::report::render_trace`]).
    pub execution: Execution,
}

impl Replay {
    /// The replay for a reader: how faithfully the scenario mapped, the trace, the finding, what was not checked.
    pub fn render(&self) -> String {
        let (exact, approximated, impossible) = self.plan.counts();
        let mut out = format!(
            "replayed on {}: {exact} step(s) exact, {approximated} approximated, {impossible} not reproducible\n",
            self.plan.backend
        );
        out.push_str(&self.execution.render());
        for note in &self.plan.unchecked {
            out.push_str(&format!("not checked on {}: {note}\n", self.plan.backend));
        }
        out
    }

    /// Whether the replay found what `expected` says: same kind, same oracle, same canister.
    pub fn confirms(&self, expected: &Finding) -> bool {
        self.execution
            .finding
            .as_ref()
            .is_some_and(|f| f.kind == expected.kind && f.oracle == expected.oracle && f.canister == expected.canister)
    }
}

/// Sets the environment of `harness` up on a fresh `backend` and runs `scenario` there with the harness's
/// oracles (borrowed for the replay), through the same executor as [`Session::run`]. The trace starts with the
/// setup; each step the backend cannot do exactly carries a note saying how it was approximated or why skipped.
pub fn replay<B: Backend>(harness: &mut Harness, backend: B, scenario: &Scenario) -> Result<Replay, Error> {
    // The oracles judge as on the engine, so they are calibrated there.
    if let Some(setup_events) = harness.uncalibrated.take() {
        harness.calibrate(&setup_events)?;
    }
    let oracles = std::mem::take(&mut harness.oracles);
    let mut session = Session::new(harness.env.clone(), backend, oracles, harness.generator.clone());
    let result = (|| {
        let plan = session.plan(scenario)?;
        let setup = session.setup(false)?;
        let mut execution = session.run(scenario)?;
        for entry in &mut execution.trace {
            let Phase::Step(i) = entry.phase else { continue };
            match plan.steps.get(i).map(|p| &p.fidelity) {
                Some(fidelity) if *fidelity != Fidelity::Exact => {
                    entry.events.insert(0, TraceEvent::Note(Note::Fidelity(fidelity.clone())));
                }
                _ => {}
            }
        }
        execution.trace.insert(0, setup);
        Ok(Replay { plan, execution })
    })();
    harness.oracles = session.into_oracles();
    result
}
