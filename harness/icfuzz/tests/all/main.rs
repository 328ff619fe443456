//! icfuzz's tests, on real canister Wasm: the adversary canister's behaviours, the oracles, interfaces, reports.

mod adversary;
mod backend;
mod interface;
mod oracles;
mod report;

use icfuzz::{AdversarySpec, CanisterSpec, Environment, EnvironmentBuilder, Execution, Harness, Scenario, Step};
use icfuzz_test_canisters::wasm;

/// `canisters/bank` (withdrawals call `transfer` on a ledger given as argument) with 100 deposited, the honest
/// `canisters/ledger`, and an adversary `evil` that impersonates the ledger.
pub fn bank_env() -> EnvironmentBuilder {
    Environment::builder()
        .canister(CanisterSpec::new("ledger", wasm("ledger")).did(include_str!("../../../../canisters/ledger/ledger.did")))
        .canister(CanisterSpec::new("bank", wasm("bank")).did(include_str!("../../../../canisters/bank/bank.did")).target())
        .adversary(AdversarySpec::new("evil").like("ledger"))
        .adversary_wasm(wasm("adversary"))
        .user("alice")
        .setup("bank", "deposit", "(100 : nat64)")
}

/// Builds [`bank_env`].
pub fn bank() -> Harness {
    bank_env().build().expect("the bank environment builds")
}

/// Runs steps, panicking on harness errors.
pub fn run(harness: &mut Harness, steps: Vec<Step>) -> Execution {
    harness.run(&Scenario::new(steps)).expect("the scenario runs")
}

/// `actor` calls `canister.method(args)`.
pub fn call(actor: &str, canister: &str, method: &str, args: &str) -> Step {
    Step::Call { actor: actor.into(), canister: canister.into(), method: method.into(), args: args.into() }
}

/// Scripts `evil`'s next `transfer`.
pub fn script(action: icfuzz::ScriptAction) -> Step {
    Step::Script { adversary: "evil".into(), method: Some("transfer".into()), action, sticky: false }
}

/// The decoded `Result<u64, String>` of the last completed call of `method`.
pub fn last_result(execution: &Execution, method: &str) -> Result<u64, String> {
    let record = execution.calls.iter().rev().find(|c| c.method == method).unwrap_or_else(|| {
        panic!("no completed call of {method}:\n{}", icfuzz::report::render_trace(execution))
    });
    match &record.result {
        Ok(bytes) => candid::decode_one::<Result<u64, String>>(bytes).expect("a Result<nat64, text>"),
        Err((code, message)) => Err(format!("rejected {code}: {message}")),
    }
}
