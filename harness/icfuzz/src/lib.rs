//! icfuzz: a fuzzing and adversarial test harness for Internet Computer canisters.
//!
//! Build an [`Environment`] (the canisters under test, honest canisters they use, adversary slots, actors, setup
//! calls and invariants), then run [`Scenario`]s in it — decoded from fuzzer bytes by [`Harness::generate`], or
//! read from a saved finding. After every step the runner checks the built-in oracles and the invariants.
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

pub mod adversary;
pub mod backend;
pub mod config;
mod environment;
pub mod fuzz;
pub mod interface;
pub mod libfuzzer;
pub mod minimize;
pub mod oracle;
pub mod report;
mod runner;
pub mod scenario;

pub use environment::{
    controller_principal, user_principal, AdversarySpec, CanisterSpec, Environment, EnvironmentBuilder, Error, SetupCall,
};
pub use oracle::{Finding, FindingKind, Invariant, Oracles};
pub use runner::{AdversaryInfo, CanisterInfo, Execution, Harness, MethodStats, TraceEntry, MAX_DELIVERIES_PER_DRAIN};
pub use scenario::{Scenario, ScriptAction, Step};

impl Harness {
    /// Decodes fuzzer bytes into a scenario for this environment.
    pub fn generate(&self, data: &[u8]) -> Scenario {
        scenario::generate(self, data)
    }
}
