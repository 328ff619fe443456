//! `call_*` functions: building and performing inter-canister calls.
//!
//! A performed call is only recorded here; the engine sends it (and registers its callback) when the execution
//! finishes without trapping, which is how "calls made by a trapped execution never arrive" holds.

use wasmtime::{Caller, Linker};

use super::{allowed, charge, exec, exec_in, read_bytes, read_principal, violation, HostState, Ptr, MAX_METHOD_NAME};
use crate::instruction_costs::system_api::{PAYLOAD_PER_BYTE, PER_BYTE};
use crate::limits::{MAX_CALL_TIMEOUT_SECONDS, MAX_INTER_CANISTER_REQUEST, QUEUE_CAPACITY};
use crate::types::{Cycles, Principal};

/// A call built with `call_new` and, once performed, waiting to be sent.
#[derive(Clone, Debug)]
pub(crate) struct OutgoingCall {
    /// The callee.
    pub callee: Principal,
    /// The method name.
    pub method: String,
    /// The argument.
    pub arg: Vec<u8>,
    /// Cycles attached (already taken from the working balance).
    pub cycles: Cycles,
    /// Reply callback: table index and environment.
    pub reply: (u64, u64),
    /// Reject callback: table index and environment.
    pub reject: (u64, u64),
    /// Cleanup callback, if registered.
    pub cleanup: Option<(u64, u64)>,
    /// Bounded-wait timeout in seconds (already capped at 300), if the call is bounded-wait.
    pub timeout_seconds: Option<u32>,
    /// Prepaid at `call_perform` for executing the callback.
    pub execution_reserve: Cycles,
}

fn call_in_prep<'a>(exec: &'a mut super::ExecState, name: &str) -> wasmtime::Result<&'a mut OutgoingCall> {
    exec.call_in_prep.as_mut().ok_or_else(|| violation(format!("ic0_{name}: no call is under construction")))
}

pub(super) fn add<P: Ptr>(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "ic0",
        "call_new",
        |mut c: Caller<'_, HostState>,
         callee_src: P,
         callee_size: P,
         name_src: P,
         name_size: P,
         reply_fun: P,
         reply_env: P,
         reject_fun: P,
         reject_env: P| {
            exec_in(&mut c, allowed::CALL, "call_new")?;
            charge(&mut c, callee_size.get().saturating_add(name_size.get()).saturating_mul(PER_BYTE))?;
            let callee = read_principal(&mut c, callee_src.get(), callee_size.get(), "call_new")?;
            if name_size.get() > MAX_METHOD_NAME as u64 {
                return Err(violation(format!("ic0_call_new: method name longer than {MAX_METHOD_NAME} bytes")));
            }
            let name = read_bytes(&mut c, name_src.get(), name_size.get(), "call_new")?;
            let method = String::from_utf8(name)
                .map_err(|_| violation("ic0_call_new: the method name is not valid UTF-8"))?;
            let e = exec(&mut c, "call_new")?;
            // A call under construction is discarded by a new call_new; its cycles go back to the balance.
            if let Some(old) = e.call_in_prep.take() {
                e.balance += old.cycles;
            }
            e.call_in_prep = Some(OutgoingCall {
                callee,
                method,
                arg: Vec::new(),
                cycles: 0,
                reply: (reply_fun.get(), reply_env.get()),
                reject: (reject_fun.get(), reject_env.get()),
                cleanup: None,
                timeout_seconds: None,
                execution_reserve: 0,
            });
            Ok(())
        },
    )?;
    linker.func_wrap("ic0", "call_on_cleanup", |mut c: Caller<'_, HostState>, fun: P, env: P| {
        let e = exec_in(&mut c, allowed::CALL, "call_on_cleanup")?;
        let call = call_in_prep(e, "call_on_cleanup")?;
        if call.cleanup.is_some() {
            return Err(violation("ic0_call_on_cleanup: a cleanup callback was already set for this call"));
        }
        call.cleanup = Some((fun.get(), env.get()));
        Ok(())
    })?;
    linker.func_wrap("ic0", "call_data_append", |mut c: Caller<'_, HostState>, src: P, size: P| {
        exec_in(&mut c, allowed::CALL, "call_data_append")?;
        charge(&mut c, size.get().saturating_mul(PAYLOAD_PER_BYTE))?;
        let room = {
            let e = exec(&mut c, "call_data_append")?;
            let call = call_in_prep(e, "call_data_append")?;
            MAX_INTER_CANISTER_REQUEST.saturating_sub(call.method.len() + call.arg.len())
        };
        if size.get() > room as u64 {
            return Err(violation(format!(
                "ic0_call_data_append: the request would exceed the maximum inter-canister payload of {} bytes",
                MAX_INTER_CANISTER_REQUEST
            )));
        }
        let bytes = read_bytes(&mut c, src.get(), size.get(), "call_data_append")?;
        let e = exec(&mut c, "call_data_append")?;
        call_in_prep(e, "call_data_append")?.arg.extend_from_slice(&bytes);
        Ok(())
    })?;
    linker.func_wrap("ic0", "call_cycles_add128", |mut c: Caller<'_, HostState>, high: u64, low: u64| {
        add_cycles(&mut c, super::cycles_from_parts(high, low), "call_cycles_add128")
    })?;
    linker.func_wrap("ic0", "call_with_best_effort_response", |mut c: Caller<'_, HostState>, timeout: u32| {
        let e = exec_in(&mut c, allowed::CALL, "call_with_best_effort_response")?;
        let call = call_in_prep(e, "call_with_best_effort_response")?;
        if call.timeout_seconds.is_some() {
            return Err(violation("ic0_call_with_best_effort_response: a timeout was already set for this call"));
        }
        call.timeout_seconds = Some(timeout.min(MAX_CALL_TIMEOUT_SECONDS));
        Ok(())
    })?;
    linker.func_wrap("ic0", "call_perform", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
        let e = exec_in(&mut c, allowed::CALL, "call_perform")?;
        let mut call =
            e.call_in_prep.take().ok_or_else(|| violation("ic0_call_perform: no call is under construction"))?;
        // A full output queue, or a liquid balance that cannot pay the call's fees and reservations, makes
        // call_perform fail synchronously with 2; the attached cycles return and no callback will ever run.
        let queued = e.queued_towards.get(&call.callee).copied().unwrap_or(0)
            + e.calls.iter().filter(|other| other.callee == call.callee).count();
        let cost = e.fees.call_cost(call.method.len() + call.arg.len(), e.callback_instruction_limit, e.memory64);
        if queued >= QUEUE_CAPACITY || e.liquid_balance() < cost {
            e.balance += call.cycles;
            return Ok(2);
        }
        e.balance -= cost;
        call.execution_reserve = e.fees.execution(e.callback_instruction_limit, e.memory64);
        e.calls.push(call);
        Ok(0)
    })?;
    Ok(())
}

/// `call_cycles_add*`: moves cycles from the balance onto the call; more than the liquid balance traps.
pub(super) fn add_cycles(c: &mut Caller<'_, HostState>, amount: Cycles, name: &str) -> wasmtime::Result<()> {
    let e = exec_in(c, allowed::CALL_CYCLES, name)?;
    if e.call_in_prep.is_none() {
        return Err(violation(format!("ic0_{name}: no call is under construction")));
    }
    if amount > e.liquid_balance() {
        return Err(violation(format!(
            "ic0_{name}: canister cannot attach {amount} cycles: the liquid balance is only {}",
            e.liquid_balance()
        )));
    }
    e.balance -= amount;
    if let Some(call) = e.call_in_prep.as_mut() {
        call.cycles += amount;
    }
    Ok(())
}
