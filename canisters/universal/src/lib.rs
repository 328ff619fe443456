//! Universal test canister.
//!
//! Every entry point interprets a *program*: a byte string of instructions (defined in [`ops`]) that operate on a
//! stack of blobs and call the System API directly. Tests therefore need one canister Wasm for almost every
//! System API scenario, and compose behaviour (including what reply/reject/cleanup callbacks do) from the outside
//! with `icfuzz_test_canisters::uc::Program`.
//!
//! The ic0 imports are declared by hand rather than through ic-cdk or the ic0 crate so that the module imports
//! exactly the functions the interpreter uses, with the wasm32 signatures the engine must link, and so that
//! misuse (calling an API in the wrong context) reaches the engine instead of being caught by a library.

pub mod ops;

// The interpreter calls ic0 and `memory.grow`, so it exists only in the Wasm build; `ops` stays available on the
// host so the canisters workspace can be tested there.
#[cfg(target_family = "wasm")]
mod canister;
