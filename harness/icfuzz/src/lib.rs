//! icfuzz: a fuzzing and adversarial test harness for Internet Computer canisters.
//!
//! Build an [`Environment`] (the canisters under test, honest canisters they use, adversary slots, actors, setup
//! calls and invariants), then run [`Scenario`]s in it — decoded from fuzzer bytes by [`Harness::generate`], or
//! read from a saved finding. After every step the executor ([`session`]) checks the built-in oracles and the
//! invariants. The same executor replays a scenario on any [`backend`] (PocketIC, or the engine restricted to
//! rounds), so findings are confirmed like for like.
//!
//! ```no_run
//! use icfuzz::{AdversarySpec, CanisterSpec, Environment};
//! # let (ledger_wasm, bank_wasm, adversary_wasm) = (vec![], vec![], vec![]);
//! let mut harness = Environment::builder()
//!     .canister(CanisterSpec::new("ledger", ledger_wasm))
//!     .canister(CanisterSpec::new("bank", bank_wasm).init_args("({ledger})").target())
//!     .adversary(AdversarySpec::new("evil").like("ledger"))
//!     .adversary_wasm(adversary_wasm)
//!     .user("alice")
//!     .build()
//!     .unwrap();
//! let scenario = harness.generate(&[1, 2, 3, 4]);
//! let execution = harness.run(&scenario).unwrap();
//! if let Some(finding) = &execution.finding {
//!     println!("{finding}");
//! }
//! ```

#![deny(missing_docs)]

/// The embedded, deterministic IC subnet (the default backend).
pub use icfuzz_engine as engine;

// Modules in layer order: each uses only those above it (a test in `harness/lints` checks there are no cycles).
mod position;
pub mod interface;
pub mod backend;
pub mod adversary;
pub mod environment;
pub mod scenario;
pub mod oracle;
pub mod plan;
pub mod trace;
pub mod session;
mod builder;
pub mod config;
pub mod report;
pub mod save;
pub mod failure;
pub mod fuzz;
pub mod minimize;
pub mod libfuzzer;
mod rng;
mod words;

pub use builder::{AdversarySpec, CanisterSpec, EnvironmentBuilder};
pub use environment::{
    controller_principal, user_principal, AdversaryInfo, CanisterInfo, Environment, Error, SetupCall,
};
pub use oracle::{Calibration, Finding, FindingKind, Invariant, Oracle, Oracles, Severity};
pub use plan::MAX_DELIVERIES_PER_DRAIN;
pub use scenario::{FaultRef, MessageRef, OutcallAnswer, OutcallRef, Scenario, ScriptAction, Step};
pub use session::{Harness, MethodStats, Session, UnimplementedUse};
pub use trace::{Execution, Phase, TraceEntry, TraceEvent};
