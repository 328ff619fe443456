//! Integration tests of the engine on real canister Wasm built from `canisters/`.
//!
//! Most tests drive the universal canister (`canisters/universal`), which runs a program passed as its argument,
//! so each IC rule gets a test that exercises exactly that rule. The ic-cdk canisters (`bank`, `ledger`) check
//! that real async Rust canisters behave as on the IC.

mod calls;
mod certificates;
mod composite;
mod canister_history;
mod canister_snapshots;
mod chunks;
mod context_matrix;
mod coverage;
mod cycles;
mod ic0_contexts;
mod instruction_costs;
mod hostile_modules;
mod interleaving;
mod lifecycle;
mod limits;
mod management;
mod motoko;
mod outcalls;
mod rollback;
mod signing;
mod snapshots;
mod stack;
mod time;
mod vetkd;

use icfuzz_engine::{CallResult, CanisterId, Config, InstructionLimits, Principal, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;

/// Instruction limit low enough that an infinite loop costs well under a second.
pub const TEST_INSTRUCTION_LIMIT: u64 = 200_000_000;

/// A subnet with test limits.
pub fn subnet() -> Subnet {
    let config = Config { instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT), ..Config::default() };
    Subnet::new(config).expect("wasmtime starts")
}

/// A subnet that charges no fees, for tests of exact cycle arithmetic.
pub fn subnet_without_fees() -> Subnet {
    let config = Config {
        instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT),
        fees: icfuzz_engine::Fees::ZERO,
        ..Config::default()
    };
    Subnet::new(config).expect("wasmtime starts")
}

/// The universal canister's Wasm.
pub fn uc_wasm() -> Vec<u8> {
    icfuzz_test_canisters::wasm("universal")
}

/// A freshly installed universal canister.
pub fn install_uc(subnet: &mut Subnet) -> CanisterId {
    let id = subnet.create_canister();
    subnet.install_canister(id, &uc_wasm(), vec![], None).expect("universal canister installs");
    id
}

/// A canister built from `canisters/<name>`, installed with `arg`.
pub fn install(subnet: &mut Subnet, name: &str, arg: Vec<u8>) -> CanisterId {
    let id = subnet.create_canister();
    subnet.install_canister(id, &icfuzz_test_canisters::wasm(name), arg, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    id
}

/// A user principal (self-authenticating form).
pub fn user() -> Principal {
    Principal::self_authenticating(b"icfuzz test user")
}

/// Runs `program` as an ingress update to the universal canister.
pub fn update(subnet: &mut Subnet, canister: CanisterId, program: Program) -> CallResult {
    subnet.update_call(canister, user(), "update", program.build())
}

/// Runs `program` as a query call.
pub fn query(subnet: &mut Subnet, canister: CanisterId, program: Program) -> CallResult {
    subnet.query_call(canister, user(), "query", program.build())
}

/// The universal canister's heap variable, read by a query.
pub fn global(subnet: &mut Subnet, canister: CanisterId) -> Vec<u8> {
    query(subnet, canister, Program::new().get_global().reply_data_append().reply()).expect("get_global")
}

/// The universal canister's heap counter, read by a query.
pub fn counter(subnet: &mut Subnet, canister: CanisterId) -> u64 {
    int(&query(subnet, canister, Program::new().get_counter().reply_data_append().reply()).expect("get_counter"))
}

/// Decodes an integer the universal canister pushed (8 bytes little-endian).
pub fn int(bytes: &[u8]) -> u64 {
    icfuzz_test_canisters::uc::int(bytes)
}

/// Asserts a reject with this code whose message contains `text`.
#[track_caller]
pub fn assert_reject(result: &CallResult, code: RejectCode, text: &str) {
    match result {
        Err(reject) => {
            assert_eq!(reject.reject_code, code, "{reject}");
            assert!(reject.reject_message.contains(text), "{:?} does not contain {text:?}", reject.reject_message);
        }
        Ok(bytes) => panic!("expected a reject {code:?} containing {text:?}, got a reply {bytes:?}"),
    }
}

/// A program that replies with the bytes of the response to the call it is the callback of:
/// reply callbacks reply with the reply bytes, reject callbacks with `code as u64 LE ++ message`.
pub fn relay_reply() -> Program {
    Program::new().arg_data().reply_data_append().reply()
}

/// See [`relay_reply`].
pub fn relay_reject() -> Program {
    Program::new().reject_code().reply_data_append().reject_message().reply_data_append().reply()
}

/// A program that calls `callee`'s `update` method with `callee_program` and relays the response.
pub fn call_and_relay(callee: CanisterId, callee_program: Program) -> Program {
    Program::new().call_new(callee.as_slice(), "update", relay_reply(), relay_reject())
        .push_bytes(&callee_program.build())
        .call_data_append()
        .call_perform()
        .drop()
}

/// Splits a relayed reject into its code and message.
pub fn relayed_reject(bytes: &[u8]) -> (u64, String) {
    (int(&bytes[..8]), String::from_utf8_lossy(&bytes[8..]).into_owned())
}

/// A program calling the management canister with `cycles` attached and relaying the response.
pub fn mgmt_call(method: &str, arg: Vec<u8>, cycles: u64) -> Program {
    let mut p = Program::new()
        .call_new(Principal::management_canister().as_slice(), method, relay_reply(), relay_reject())
        .push_bytes(&arg)
        .call_data_append();
    if cycles > 0 {
        p = p.push_int(cycles).call_cycles_add128();
    }
    p.call_perform().drop()
}
