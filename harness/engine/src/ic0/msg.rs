//! `msg_*` functions and `accept_message`: the incoming message and the response to it.

use wasmtime::{Caller, Linker};

use super::{allowed, charge, copy_out, exec, exec_in, read_bytes, violation, HostState, Ptr};
use crate::instruction_costs::system_api::PAYLOAD_PER_BYTE;
use crate::types::{ErrorCode, Payload, RejectResponse};

fn ensure_not_responded(exec: &super::ExecState, name: &str) -> wasmtime::Result<()> {
    if exec.already_responded || exec.response.is_some() {
        return Err(violation(format!("ic0_{name}: the call context was already replied to or rejected")));
    }
    Ok(())
}

pub(super) fn add<P: Ptr>(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("ic0", "msg_arg_data_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        let e = exec_in(&mut c, allowed::ARG, "msg_arg_data_size")?;
        Ok(P::from_usize(e.arg.len()))
    })?;
    linker.func_wrap("ic0", "msg_arg_data_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::ARG, "msg_arg_data_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "msg_arg_data_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| &e.arg[..])
        })
    })?;
    linker.func_wrap("ic0", "msg_caller_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        let e = exec_in(&mut c, allowed::STAR, "msg_caller_size")?;
        Ok(P::from_usize(e.caller.as_slice().len()))
    })?;
    linker.func_wrap("ic0", "msg_caller_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::STAR, "msg_caller_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "msg_caller_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| e.caller.as_slice())
        })
    })?;
    // Caller info is non-empty only for canister-signature self-authenticating callers, which the engine's
    // actors never are.
    for name in ["msg_caller_info_data_size", "msg_caller_info_signer_size"] {
        linker.func_wrap("ic0", name, move |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
            exec_in(&mut c, allowed::CALLER_INFO, name)?;
            Ok(P::from_usize(0))
        })?;
    }
    for name in ["msg_caller_info_data_copy", "msg_caller_info_signer_copy"] {
        linker.func_wrap("ic0", name, move |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
            exec_in(&mut c, allowed::CALLER_INFO, name)?;
            copy_out(&mut c, dst.get(), off.get(), size.get(), name, |_| &[][..])
        })?;
    }
    linker.func_wrap("ic0", "msg_reject_code", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u32> {
        // 0 in reply callbacks: ic-cdk uses one function for both callbacks and branches on this.
        Ok(exec_in(&mut c, allowed::REJECT_CODE, "msg_reject_code")?.reject_code)
    })?;
    linker.func_wrap("ic0", "msg_reject_msg_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        let e = exec_in(&mut c, allowed::REJECT_MSG, "msg_reject_msg_size")?;
        Ok(P::from_usize(e.reject_message.len()))
    })?;
    linker.func_wrap("ic0", "msg_reject_msg_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::REJECT_MSG, "msg_reject_msg_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "msg_reject_msg_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| e.reject_message.as_bytes())
        })
    })?;
    linker.func_wrap("ic0", "msg_deadline", |mut c: Caller<'_, HostState>| -> wasmtime::Result<u64> {
        Ok(exec_in(&mut c, allowed::DEADLINE, "msg_deadline")?.deadline_nanos)
    })?;
    linker.func_wrap("ic0", "msg_reply_data_append", |mut c: Caller<'_, HostState>, src: P, size: P| {
        exec_in(&mut c, allowed::RESPOND, "msg_reply_data_append")?;
        charge(&mut c, size.get().saturating_mul(PAYLOAD_PER_BYTE))?;
        let limit = {
            let e = exec(&mut c, "msg_reply_data_append")?;
            ensure_not_responded(e, "msg_reply_data_append")?;
            e.api.max_reply_bytes().saturating_sub(e.reply_buf.len())
        };
        if size.get() > limit as u64 {
            return Err(violation(format!(
                "ic0_msg_reply_data_append: the reply would exceed the maximum response size of {} bytes",
                limit
            )));
        }
        let bytes = read_bytes(&mut c, src.get(), size.get(), "msg_reply_data_append")?;
        exec(&mut c, "msg_reply_data_append")?.reply_buf.extend_from_slice(&bytes);
        Ok(())
    })?;
    linker.func_wrap("ic0", "msg_reply", |mut c: Caller<'_, HostState>| {
        let e = exec_in(&mut c, allowed::RESPOND, "msg_reply")?;
        ensure_not_responded(e, "msg_reply")?;
        e.response = Some(Payload::Reply(std::mem::take(&mut e.reply_buf)));
        Ok(())
    })?;
    linker.func_wrap("ic0", "msg_reject", |mut c: Caller<'_, HostState>, src: P, size: P| {
        exec_in(&mut c, allowed::RESPOND, "msg_reject")?;
        charge(&mut c, size.get().saturating_mul(PAYLOAD_PER_BYTE))?;
        let limit = {
            let e = exec(&mut c, "msg_reject")?;
            ensure_not_responded(e, "msg_reject")?;
            e.api.max_reply_bytes()
        };
        if size.get() > limit as u64 {
            return Err(violation("ic0_msg_reject: the reject message exceeds the maximum response size"));
        }
        let bytes = read_bytes(&mut c, src.get(), size.get(), "msg_reject")?;
        let message = String::from_utf8(bytes)
            .map_err(|_| violation("ic0_msg_reject: the reject message is not valid UTF-8"))?;
        let e = exec(&mut c, "msg_reject")?;
        e.reply_buf.clear();
        e.response = Some(Payload::Reject(RejectResponse::new(ErrorCode::CanisterRejectedMessage, message)));
        Ok(())
    })?;
    linker.func_wrap("ic0", "msg_method_name_size", |mut c: Caller<'_, HostState>| -> wasmtime::Result<P> {
        let e = exec_in(&mut c, allowed::INSPECT, "msg_method_name_size")?;
        Ok(P::from_usize(e.method_name.len()))
    })?;
    linker.func_wrap("ic0", "msg_method_name_copy", |mut c: Caller<'_, HostState>, dst: P, off: P, size: P| {
        exec_in(&mut c, allowed::INSPECT, "msg_method_name_copy")?;
        copy_out(&mut c, dst.get(), off.get(), size.get(), "msg_method_name_copy", |h| {
            h.exec.as_ref().map_or(&[][..], |e| e.method_name.as_bytes())
        })
    })?;
    linker.func_wrap("ic0", "accept_message", |mut c: Caller<'_, HostState>| {
        let e = exec_in(&mut c, allowed::INSPECT, "accept_message")?;
        if e.accepted_message {
            return Err(violation("ic0_accept_message: the message was already accepted"));
        }
        e.accepted_message = true;
        Ok(())
    })?;
    Ok(())
}
