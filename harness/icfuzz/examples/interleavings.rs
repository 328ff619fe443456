//! Demo: find the double spend in the example bank canister by trying every IC-legal interleaving of two
//! concurrent withdrawals.
//!
//! The bank (`canisters/bank`, Rust/ic-cdk) reads the balance, awaits a transfer on the ledger, and writes the
//! balance after the await. Run sequentially it is correct; interleaved, both withdrawals pass the balance check
//! before either writes it back, and the ledger pays out twice.
//!
//! Run with `cargo run -p icfuzz --example interleavings`.

#![allow(clippy::disallowed_types)] // The demo reports how long exploration took.

use std::time::Instant;

use candid::{CandidType, Decode, Encode, Principal};
use icfuzz::engine::{explore, Config, Event, InstructionLimits, MessageKind, Subnet};
use serde::Deserialize;

#[derive(CandidType, Deserialize, Debug)]
enum WithdrawResult {
    Ok(u64),
    Err(String),
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("Building the example canisters (first run only)...");
    let bank_wasm = icfuzz_test_canisters::wasm("bank");
    let ledger_wasm = icfuzz_test_canisters::wasm("ledger");

    let config = Config { instruction_limits: InstructionLimits::uniform(1_000_000_000), ..Config::default() };
    let mut subnet = Subnet::new(config)?;
    let ledger = subnet.create_canister();
    subnet.install_canister(ledger, &ledger_wasm, vec![], None)?;
    let bank = subnet.create_canister();
    subnet.install_canister(bank, &bank_wasm, vec![], None)?;
    let alice = Principal::self_authenticating(b"alice");

    // Setup: Alice deposits 100, then asks for two withdrawals of 100 at once.
    subnet.update_call(bank, alice, "deposit", Encode!(&100u64)?)?;
    for _ in 0..2 {
        subnet.submit_call(bank, alice, "withdraw", Encode!(&ledger, &100u64)?)?;
    }
    let events_before = subnet.events().len();

    // Invariant: the ledger never pays out more than was deposited.
    let started = Instant::now();
    let exploration = explore::explore(&mut subnet, 10_000, 100, |subnet, _deliveries| {
        let paid = subnet.query_call(ledger, alice, "total", Encode!().ok()?).ok()?;
        let paid = Decode!(&paid, u64).ok()?;
        (paid > 100).then(|| (paid, subnet.events()[events_before..].to_vec()))
    })?;
    println!(
        "Explored {} schedules ({}) in {:.2?}.",
        exploration.schedules,
        if exploration.complete { "all of them" } else { "bounded" },
        started.elapsed()
    );
    let Some((_, (paid, events))) = exploration.findings.first() else {
        println!("No violation found.");
        return Ok(());
    };
    println!(
        "\nINVARIANT VIOLATED in {} of {} schedules: the ledger paid out {paid} from a deposit of 100 (double spend).",
        exploration.findings.len(),
        exploration.schedules
    );
    println!("\nFirst violating schedule:");
    let name = |p: Principal| {
        if p == bank {
            "bank".to_owned()
        } else if p == ledger {
            "ledger".to_owned()
        } else if p == alice {
            "alice".to_owned()
        } else {
            p.to_text()
        }
    };
    let mut step = 0;
    for event in events {
        match event {
            Event::Delivered { from, to, kind, .. } => {
                step += 1;
                let what = match kind {
                    MessageKind::Ingress { method } => format!("ingress {method}"),
                    MessageKind::Request { method, .. } => format!("request {method}"),
                    MessageKind::Response { reply, method } => {
                        format!("{} to {method}", if *reply { "reply" } else { "reject" })
                    }
                    other => format!("{other:?}"),
                };
                println!("  {step}. deliver {what}: {} -> {}", name(*from), name(*to));
            }
            Event::IngressCompleted { id, result } => {
                let shown = match result {
                    Ok(bytes) => Decode!(bytes, WithdrawResult).map(|r| format!("{r:?}")).unwrap_or_default(),
                    Err(reject) => reject.to_string(),
                };
                println!("     {id} completed: {shown}");
            }
            _ => {}
        }
    }
    println!("\nThe bank reads its balance before `await` and writes it after: both withdrawals passed the check.");
    Ok(())
}
