//! icfuzz: a fuzzing and adversarial test harness for Internet Computer canisters.
//!
//! This crate is what users depend on. Today it re-exports the embedded IC engine ([`engine`]); the scenario
//! model, oracles, reports and the `icfuzz` command line grow here on top of it.
//!
//! ```no_run
//! use icfuzz::engine::{Config, Subnet};
//! let mut subnet = Subnet::new(Config::default()).unwrap();
//! let canister = subnet.create_canister();
//! # let wasm = vec![];
//! subnet.install_canister(canister, &wasm, vec![], None).unwrap();
//! ```

#![deny(missing_docs)]

/// The embedded, deterministic IC subnet (the default backend).
pub use icfuzz_engine as engine;

pub mod libfuzzer;

pub mod report;
