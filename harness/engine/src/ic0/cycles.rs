//! Cycles: balances, accepting, refunds, burning, attaching (legacy 64-bit forms on wasm32) and `cost_*`.
//!
//! `cost_call` reports exactly what `call_perform` takes, and the liquid balance is the balance minus the freezing
//! limit: ic-cdk refuses to call unless `liquid ≥ cost_call + attached` (ic-semantics §9), so the two must agree.
//! Threshold fees are those of the key's holder (`threshold.rs`); `cost_http_request` is the outcall fee
//! `http_request` charges; `cost_http_request_v2` (pricing not live on the IC) reports 0 and records its use.

use wasmtime::{Caller, Linker};

use super::{allowed, call::add_cycles, charge, cycles_from_parts, exec, exec_in, violation, write_cycles, HostState, Ptr};
use crate::instruction_costs::system_api::PER_BYTE;
use crate::threshold::{self, Scheme};
use crate::types::Cycles;

fn to_u64(amount: Cycles, name: &str) -> wasmtime::Result<u64> {
    u64::try_from(amount).map_err(|_| violation(format!("ic0_{name}: the amount {amount} does not fit in 64 bits")))
}

fn accept(c: &mut Caller<'_, HostState>, max: Cycles, name: &str) -> wasmtime::Result<Cycles> {
    let e = exec_in(c, allowed::MSG_CYCLES, name)?;
    let taken = max.min(e.cycles_available);
    e.cycles_available -= taken;
    e.balance = e.balance.saturating_add(taken);
    Ok(taken)
}

pub(super) fn add<P: Ptr>(linker: &mut Linker<HostState>, memory64: bool) -> wasmtime::Result<()> {
    linker.func_wrap("ic0", "msg_cycles_available128", |mut c: Caller<'_, HostState>, dst: P| {
        let amount = exec_in(&mut c, allowed::MSG_CYCLES, "msg_cycles_available128")?.cycles_available;
        write_cycles(&mut c, dst.get(), amount, "msg_cycles_available128")
    })?;
    linker.func_wrap("ic0", "msg_cycles_refunded128", |mut c: Caller<'_, HostState>, dst: P| {
        let amount = exec_in(&mut c, allowed::REFUNDED, "msg_cycles_refunded128")?.cycles_refunded;
        write_cycles(&mut c, dst.get(), amount, "msg_cycles_refunded128")
    })?;
    linker.func_wrap("ic0", "msg_cycles_accept128", |mut c: Caller<'_, HostState>, high: u64, low: u64, dst: P| {
        let taken = accept(&mut c, cycles_from_parts(high, low), "msg_cycles_accept128")?;
        write_cycles(&mut c, dst.get(), taken, "msg_cycles_accept128")
    })?;
    linker.func_wrap("ic0", "canister_cycle_balance128", |mut c: Caller<'_, HostState>, dst: P| {
        let balance = exec_in(&mut c, allowed::STAR, "canister_cycle_balance128")?.balance;
        write_cycles(&mut c, dst.get(), balance, "canister_cycle_balance128")
    })?;
    linker.func_wrap("ic0", "canister_liquid_cycle_balance128", |mut c: Caller<'_, HostState>, dst: P| {
        let liquid = exec_in(&mut c, allowed::STAR, "canister_liquid_cycle_balance128")?.liquid_balance();
        write_cycles(&mut c, dst.get(), liquid, "canister_liquid_cycle_balance128")
    })?;
    linker.func_wrap("ic0", "cycles_burn128", |mut c: Caller<'_, HostState>, high: u64, low: u64, dst: P| {
        let e = exec_in(&mut c, allowed::BURN, "cycles_burn128")?;
        let burned = cycles_from_parts(high, low).min(e.liquid_balance());
        e.balance -= burned;
        e.cycles_burned += burned;
        write_cycles(&mut c, dst.get(), burned, "cycles_burn128")
    })?;

    // Fees: see the module comment.
    linker.func_wrap("ic0", "cost_call", |mut c: Caller<'_, HostState>, name_len: u64, payload_len: u64, dst: P| {
        let e = exec_in(&mut c, allowed::ALL, "cost_call")?;
        let bytes = name_len.saturating_add(payload_len).min(usize::MAX as u64) as usize;
        let cost = e.fees.call_cost(bytes, e.callback_instruction_limit, e.memory64);
        write_cycles(&mut c, dst.get(), cost, "cost_call")
    })?;
    linker.func_wrap("ic0", "cost_create_canister", |mut c: Caller<'_, HostState>, dst: P| {
        let cost = exec_in(&mut c, allowed::ALL, "cost_create_canister")?.fees.create_canister;
        write_cycles(&mut c, dst.get(), cost, "cost_create_canister")
    })?;
    // The HTTP outcall fee `http_request` charges. The pay-as-you-go `_v2` pricing is not live on the IC yet and
    // not modelled: its stand-in (0 cycles) is recorded as unimplemented so a campaign says so.
    linker.func_wrap("ic0", "cost_http_request", |mut c: Caller<'_, HostState>, req: u64, max_res: u64, dst: P| {
        let cost = exec_in(&mut c, allowed::ALL, "cost_http_request")?.fees.http_request(req, max_res);
        write_cycles(&mut c, dst.get(), cost, "cost_http_request")
    })?;
    linker.func_wrap("ic0", "cost_http_request_v2", |mut c: Caller<'_, HostState>, src: P, size: P, dst: P| {
        exec_in(&mut c, allowed::ALL, "cost_http_request_v2")?;
        super::read_bytes(&mut c, src.get(), size.get(), "cost_http_request_v2")?;
        super::unimplemented(&mut c, "cost_http_request_v2", "HTTP outcall fees");
        write_cycles(&mut c, dst.get(), 0, "cost_http_request_v2")
    })?;
    // Threshold fees: the key name is read from memory; 0 = known key (fee written), 1 = unknown curve or
    // algorithm, 2 = unknown key name (the spec's codes; nothing is written on failure).
    for name in ["cost_sign_with_ecdsa", "cost_sign_with_schnorr", "cost_vetkd_derive_key"] {
        linker.func_wrap(
            "ic0",
            name,
            move |mut c: Caller<'_, HostState>, src: P, size: P, curve: u32, dst: P| -> wasmtime::Result<u32> {
                exec_in(&mut c, allowed::ALL, name)?;
                charge(&mut c, size.get().saturating_mul(PER_BYTE))?;
                let key_name = super::read_bytes(&mut c, src.get(), size.get(), name)?;
                let scheme = match (name, curve) {
                    ("cost_sign_with_ecdsa", 0) => Scheme::EcdsaSecp256k1,
                    ("cost_sign_with_schnorr", 0) => Scheme::Bip340,
                    ("cost_sign_with_schnorr", 1) => Scheme::Ed25519,
                    ("cost_vetkd_derive_key", 0) => Scheme::VetKd,
                    _ => return Ok(1),
                };
                let Some(key_name) = std::str::from_utf8(&key_name).ok().filter(|n| threshold::has_key(n)) else {
                    return Ok(2);
                };
                let fee = threshold::fee(&exec(&mut c, name)?.fees, scheme, key_name);
                write_cycles(&mut c, dst.get(), fee, name)?;
                Ok(0)
            },
        )?;
    }

    if !memory64 {
        linker.func_wrap("ic0", "msg_cycles_available", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
            let amount = exec_in(&mut c, allowed::MSG_CYCLES, "msg_cycles_available")?.cycles_available;
            to_u64(amount, "msg_cycles_available")
        })?;
        linker.func_wrap("ic0", "msg_cycles_refunded", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
            let amount = exec_in(&mut c, allowed::REFUNDED, "msg_cycles_refunded")?.cycles_refunded;
            to_u64(amount, "msg_cycles_refunded")
        })?;
        linker.func_wrap("ic0", "msg_cycles_accept", |mut c: Caller<'_, HostState>, max: u64| -> wasmtime::Result<u64> {
            let taken = accept(&mut c, Cycles::from(max), "msg_cycles_accept")?;
            Ok(taken as u64)
        })?;
        linker.func_wrap("ic0", "canister_cycle_balance", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
            let balance = exec_in(&mut c, allowed::STAR, "canister_cycle_balance")?.balance;
            to_u64(balance, "canister_cycle_balance")
        })?;
        linker.func_wrap("ic0", "call_cycles_add", |mut c: Caller<'_, HostState>, amount: u64| {
            add_cycles(&mut c, Cycles::from(amount), "call_cycles_add")
        })?;
    }
    Ok(())
}
