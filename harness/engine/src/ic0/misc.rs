//! Identity, status, certification, time and timer, performance counter, environment variables, debugging.

use wasmtime::{Caller, Linker};

use super::{
    allowed, charge, copy_out, copy_out_owned, debug_text, exec, exec_in, log_charge, read_bytes, read_principal,
    violation, HostError, HostState, Ptr,
};
use crate::instruction_costs::system_api::PER_BYTE;
use crate::limits::MAX_CERTIFIED_DATA;

/// Environment variable names longer than this trap.
const MAX_ENV_VAR_NAME: u64 = 100;

/// Nodes on the engine's subnet, as an application subnet has.
const SUBNET_NODE_COUNT: u32 = 13;

fn env_var_name(c: &mut Caller<'_, HostState>, src: u64, size: u64, name: &str) -> wasmtime::Result<String> {
    if size > MAX_ENV_VAR_NAME {
        return Err(violation(format!("ic0_{name}: environment variable name longer than {MAX_ENV_VAR_NAME} bytes")));
    }
    let bytes = read_bytes(c, src, size, name)?;
    String::from_utf8(bytes).map_err(|_| violation(format!("ic0_{name}: environment variable name is not UTF-8")))
}

fn env_var_by_index(exec: &super::ExecState, index: u64, name: &str) -> wasmtime::Result<String> {
    exec.env_vars
        .keys()
        .nth(index as usize)
        .cloned()
        .ok_or_else(|| violation(format!("ic0_{name}: no environment variable with index {index}")))
}

fn env_var_value<'a>(exec: &'a super::ExecState, key: &str, name: &str) -> wasmtime::Result<&'a str> {
    exec.env_vars
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| violation(format!("ic0_{name}: no environment variable named {key:?}")))
}

pub(super) fn add<P: Ptr>(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("ic0", "canister_self_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        Ok(P::from_usize(exec_in(&mut c, allowed::STAR, "canister_self_size")?.canister_id.as_slice().len()))
    })?;
    linker.func_wrap("ic0", "canister_self_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::STAR, "canister_self_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "canister_self_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| e.canister_id.as_slice())
        })
    })?;
    linker.func_wrap("ic0", "subnet_self_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        Ok(P::from_usize(exec_in(&mut c, allowed::STAR, "subnet_self_size")?.subnet_id.as_slice().len()))
    })?;
    linker.func_wrap("ic0", "subnet_self_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::STAR, "subnet_self_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "subnet_self_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| e.subnet_id.as_slice())
        })
    })?;
    linker.func_wrap("ic0", "subnet_self_node_count", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
        exec_in(&mut c, allowed::STAR, "subnet_self_node_count")?;
        Ok(SUBNET_NODE_COUNT)
    })?;
    linker.func_wrap("ic0", "canister_status", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
        Ok(exec_in(&mut c, allowed::STAR, "canister_status")?.status)
    })?;
    linker.func_wrap("ic0", "canister_version", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
        Ok(exec_in(&mut c, allowed::STAR, "canister_version")?.version)
    })?;
    linker.func_wrap("ic0", "root_key_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        Ok(P::from_usize(exec_in(&mut c, allowed::ROOT_KEY, "root_key_size")?.root_key.len()))
    })?;
    linker.func_wrap("ic0", "root_key_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::ROOT_KEY, "root_key_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "root_key_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| &e.root_key[..])
        })
    })?;
    linker.func_wrap("ic0", "is_controller", |mut c: Caller<'_, HostState>, src: P, size: P| -> wasmtime::Result<u32> {
        exec_in(&mut c, allowed::ALL, "is_controller")?;
        charge(&mut c, size.get().saturating_mul(PER_BYTE))?;
        let principal = read_principal(&mut c, src.get(), size.get(), "is_controller")?;
        let e = exec(&mut c, "is_controller")?;
        Ok(u32::from(e.controllers.contains(&principal)))
    })?;
    linker.func_wrap("ic0", "in_replicated_execution", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
        Ok(u32::from(exec_in(&mut c, allowed::ALL, "in_replicated_execution")?.api.is_replicated()))
    })?;
    linker.func_wrap("ic0", "certified_data_set", |mut c: Caller<'_, HostState>, src: P, size: P| {
        exec_in(&mut c, allowed::CERTIFIED_SET, "certified_data_set")?;
        charge(&mut c, size.get().saturating_mul(PER_BYTE))?;
        if size.get() > MAX_CERTIFIED_DATA as u64 {
            return Err(violation(format!(
                "ic0_certified_data_set: certified data of {} bytes exceeds the maximum of {MAX_CERTIFIED_DATA}",
                size.get()
            )));
        }
        let data = read_bytes(&mut c, src.get(), size.get(), "certified_data_set")?;
        exec(&mut c, "certified_data_set")?.certified_data = Some(data);
        Ok(())
    })?;
    // A query call has a certificate (see `certification.rs`); replicated executions have none, as on the IC.
    linker.func_wrap("ic0", "data_certificate_present", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
        Ok(u32::from(exec_in(&mut c, allowed::STAR, "data_certificate_present")?.certificate.is_some()))
    })?;
    linker.func_wrap("ic0", "data_certificate_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        let exec = exec_in(&mut c, allowed::CERTIFICATE, "data_certificate_size")?;
        let canister = exec.canister_id;
        let certificate = exec.certificate.as_mut().ok_or_else(|| violation("ic0_data_certificate_size: no certificate is available"))?;
        Ok(P::from_usize(certificate.bytes(canister).len()))
    })?;
    linker.func_wrap("ic0", "data_certificate_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        let exec = exec_in(&mut c, allowed::CERTIFICATE, "data_certificate_copy")?;
        let canister = exec.canister_id;
        let certificate = exec.certificate.as_mut().ok_or_else(|| violation("ic0_data_certificate_copy: no certificate is available"))?;
        let bytes = certificate.bytes(canister).to_vec();
        copy_out_owned(&mut c, dst.get(), off.get(), size.get(), "data_certificate_copy", &bytes)
    })?;
    linker.func_wrap("ic0", "time", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
        Ok(exec_in(&mut c, allowed::STAR, "time")?.time_nanos)
    })?;
    linker.func_wrap("ic0", "global_timer_set", |mut c: Caller<'_, HostState>, timestamp: u64| -> wasmtime::Result<u64> {
        let e = exec_in(&mut c, allowed::TIMER_SET, "global_timer_set")?;
        Ok(std::mem::replace(&mut e.global_timer, timestamp))
    })?;
    linker.func_wrap("ic0", "performance_counter", |mut c: Caller<'_, HostState>, kind: u32| -> wasmtime::Result<u64> {
        // Charged before the counter is read, so the value includes this call (as on the IC).
        let (given, before, memory64) = {
            let e = exec_in(&mut c, allowed::ALL, "performance_counter")?;
            (e.fuel_given, e.context_instructions, e.memory64)
        };
        // Coverage instrumentation's own instructions are not the canister's: subtract them exactly.
        let overhead = match c.data().coverage {
            Some((memory, blocks)) => crate::module::coverage::overhead(memory.data(&c), blocks, memory64),
            None => 0,
        };
        let owed = c.data().owed_instructions;
        let used = given.saturating_sub(c.get_fuel().unwrap_or(0)).saturating_sub(overhead)
            + crate::instruction_costs::FUNCTION_ENTRY
            + owed;
        match kind {
            0 => Ok(used),
            1 => Ok(before + used),
            other => Err(violation(format!("ic0_performance_counter: unknown counter type {other}"))),
        }
    })?;
    linker.func_wrap("ic0", "env_var_count", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        Ok(P::from_usize(exec_in(&mut c, allowed::STAR, "env_var_count")?.env_vars.len()))
    })?;
    linker.func_wrap("ic0", "env_var_name_size", |mut c: Caller<'_, HostState>, index: P| -> wasmtime::Result<P> {
        let e = exec_in(&mut c, allowed::STAR, "env_var_name_size")?;
        Ok(P::from_usize(env_var_by_index(e, index.get(), "env_var_name_size")?.len()))
    })?;
    // Argument order (index, dst, offset, size) follows the IC linker and the ic0 crate, not the old portal text.
    linker.func_wrap(
        "ic0",
        "env_var_name_copy",
        |mut c: Caller<'_, HostState>, index: P, dst: P, off: P, size: P| {
            let e = exec_in(&mut c, allowed::STAR, "env_var_name_copy")?;
            let key = env_var_by_index(e, index.get(), "env_var_name_copy")?;
            copy_out_owned(&mut c, dst.get(), off.get(), size.get(), "env_var_name_copy", key.as_bytes())
        },
    )?;
    linker.func_wrap("ic0", "env_var_name_exists", |mut c: Caller<'_, HostState>, src: P, size: P| -> wasmtime::Result<u32> {
        exec_in(&mut c, allowed::STAR, "env_var_name_exists")?;
        let key = env_var_name(&mut c, src.get(), size.get(), "env_var_name_exists")?;
        Ok(u32::from(exec(&mut c, "env_var_name_exists")?.env_vars.contains_key(&key)))
    })?;
    linker.func_wrap("ic0", "env_var_value_size", |mut c: Caller<'_, HostState>, src: P, size: P| -> wasmtime::Result<P> {
        exec_in(&mut c, allowed::STAR, "env_var_value_size")?;
        let key = env_var_name(&mut c, src.get(), size.get(), "env_var_value_size")?;
        let e = exec(&mut c, "env_var_value_size")?;
        Ok(P::from_usize(env_var_value(e, &key, "env_var_value_size")?.len()))
    })?;
    linker.func_wrap(
        "ic0",
        "env_var_value_copy",
        |mut c: Caller<'_, HostState>, nsrc: P, nsize: P, dst: P, off: P, size: P| {
            exec_in(&mut c, allowed::STAR, "env_var_value_copy")?;
            let key = env_var_name(&mut c, nsrc.get(), nsize.get(), "env_var_value_copy")?;
            let value = env_var_value(exec(&mut c, "env_var_value_copy")?, &key, "env_var_value_copy")?
                .to_owned();
            copy_out_owned(&mut c, dst.get(), off.get(), size.get(), "env_var_value_copy", value.as_bytes())
        },
    )?;
    linker.func_wrap("ic0", "debug_print", |mut c: Caller<'_, HostState>, src: P, size: P| {
        let e = exec_in(&mut c, allowed::ALL, "debug_print")?;
        // Debug printing is rate-limited on application subnets, so only the log charge applies.
        let cost = log_charge(e, size.get());
        charge(&mut c, cost.saturating_mul(PER_BYTE))?;
        // debug_print never traps: a bad range prints a placeholder.
        let text = match read_bytes(&mut c, src.get(), size.get().min(super::MAX_DEBUG_MESSAGE as u64), "debug_print") {
            Ok(bytes) => debug_text(&bytes),
            Err(_) => "(debug message out of memory bounds)".to_owned(),
        };
        exec(&mut c, "debug_print")?.logs.push(text);
        Ok(())
    })?;
    linker.func_wrap("ic0", "trap", |mut c: Caller<'_, HostState>, src: P, size: P| -> wasmtime::Result<()> {
        let e = exec_in(&mut c, allowed::ALL, "trap")?;
        let cost = size.get().saturating_add(log_charge(e, size.get()));
        charge(&mut c, cost.saturating_mul(PER_BYTE))?;
        let text = match read_bytes(&mut c, src.get(), size.get().min(super::MAX_DEBUG_MESSAGE as u64), "trap") {
            Ok(bytes) => debug_text(&bytes),
            Err(_) => "(trap message out of memory bounds)".to_owned(),
        };
        Err(wasmtime::Error::new(HostError::ExplicitTrap(text)))
    })?;
    Ok(())
}
