//! Programs for the universal canister (`canisters/universal`).
//!
//! The universal canister exports `canister_update update`, `canister_query query` and
//! `canister_composite_query composite` (each runs its argument as a program), `canister_init` and
//! `canister_post_upgrade` (run the install/upgrade argument; empty = nothing), and `canister_pre_upgrade`,
//! `canister_inspect_message`, `canister_global_timer`, `canister_on_low_wasm_memory` (run a program stored by
//! [`Program::set_pre_upgrade`] and friends; inspect accepts everything when none is stored).
//!
//! A program is a sequence of instructions over a stack of blobs; [`Program`] has one method per instruction,
//! named after it, plus conveniences. Ints are 8-byte little-endian blobs (see [`int`]); `-1` results read as
//! `u64::MAX`. For ops that pop several operands, push them in the order of the method's parameters as documented
//! ("pops b, then a" means push a first).
//!
//! ```
//! use icfuzz_test_canisters::uc::Program;
//! // Reply with the caller's principal.
//! let arg = Program::new().caller().reply_data_append().reply().build();
//! # assert!(!arg.is_empty());
//! ```

pub use crate::ops::Op;

/// Decodes an int blob as the universal canister reads it: little-endian `u64`, shorter blobs zero-extended.
///
/// # Panics
///
/// If `bytes` is longer than 8 bytes (the canister traps on such operands too).
pub fn int(bytes: &[u8]) -> u64 {
    assert!(bytes.len() <= 8, "int blob longer than 8 bytes: {bytes:?}");
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

/// A universal-canister program under construction. Methods append one instruction each and return the program,
/// so programs read as chains; [`Program::build`] yields the bytes to pass as the message argument.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Program {
    bytes: Vec<u8>,
}

impl From<Program> for Vec<u8> {
    fn from(program: Program) -> Self {
        program.bytes
    }
}

impl AsRef<[u8]> for Program {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Program {
    /// An empty program (does nothing; as an update argument that means "no reply", i.e. the call is rejected
    /// with "did not reply").
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoded program.
    pub fn build(self) -> Vec<u8> {
        self.bytes
    }

    /// The encoded program so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends the instructions of `other` (sequential composition).
    pub fn append(mut self, other: Program) -> Self {
        self.bytes.extend_from_slice(&other.bytes);
        self
    }

    fn op(mut self, op: Op) -> Self {
        self.bytes.push(op as u8);
        self
    }

    fn len_prefixed(mut self, bytes: &[u8]) -> Self {
        let len = u32::try_from(bytes.len()).expect("universal canister immediates are at most u32::MAX bytes");
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(bytes);
        self
    }

    // ---- Stack and heap state ----

    /// `PushBytes`: push `bytes`.
    pub fn push_bytes(self, bytes: &[u8]) -> Self {
        self.op(Op::PushBytes).len_prefixed(bytes)
    }

    /// `PushInt`: push `value` as an 8-byte little-endian int.
    pub fn push_int(mut self, value: u64) -> Self {
        self = self.op(Op::PushInt);
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// `Dup`: push a copy of the top blob.
    pub fn dup(self) -> Self {
        self.op(Op::Dup)
    }

    /// `Drop`: discard the top blob.
    pub fn drop(self) -> Self {
        self.op(Op::Drop)
    }

    /// `Swap`: swap the two top blobs.
    pub fn swap(self) -> Self {
        self.op(Op::Swap)
    }

    /// `Concat`: pops b, then a; pushes a ++ b.
    pub fn concat(self) -> Self {
        self.op(Op::Concat)
    }

    /// `IfZero`: pops an int and runs `body` (on the same stack) only if it is zero.
    pub fn if_zero(self, body: Program) -> Self {
        self.op(Op::IfZero).len_prefixed(&body.bytes)
    }

    /// `SetGlobal`: pops a blob into a heap variable (kept across messages, lost on upgrade).
    pub fn set_global(self) -> Self {
        self.op(Op::SetGlobal)
    }

    /// `GetGlobal`: push the heap variable (empty if never set).
    pub fn get_global(self) -> Self {
        self.op(Op::GetGlobal)
    }

    /// `IncCounter`: increment the heap counter and push its new value.
    pub fn inc_counter(self) -> Self {
        self.op(Op::IncCounter)
    }

    /// `GetCounter`: push the heap counter.
    pub fn get_counter(self) -> Self {
        self.op(Op::GetCounter)
    }

    // ---- Message ----

    /// `ReplyDataAppend`: pops a blob and appends it to the reply (`msg_reply_data_append`).
    pub fn reply_data_append(self) -> Self {
        self.op(Op::ReplyDataAppend)
    }

    /// `Reply`: `msg_reply`.
    pub fn reply(self) -> Self {
        self.op(Op::Reply)
    }

    /// `Reject`: pops a message and rejects with it (`msg_reject`).
    pub fn reject(self) -> Self {
        self.op(Op::Reject)
    }

    /// `Trap`: pops a message and traps with it (`ic0.trap`).
    pub fn trap(self) -> Self {
        self.op(Op::Trap)
    }

    /// `DebugPrint`: pops a blob and prints it (`debug_print`).
    pub fn debug_print(self) -> Self {
        self.op(Op::DebugPrint)
    }

    /// `Caller`: push the caller's principal.
    pub fn caller(self) -> Self {
        self.op(Op::Caller)
    }

    /// `ArgData`: push the message argument (the program itself in entry points; the reply payload in a reply
    /// callback; traps in a reject callback, where `msg_arg_data` is not available).
    pub fn arg_data(self) -> Self {
        self.op(Op::ArgData)
    }

    /// `ArgSize`: push `msg_arg_data_size`.
    pub fn arg_size(self) -> Self {
        self.op(Op::ArgSize)
    }

    /// `Self_`: push this canister's principal.
    pub fn self_(self) -> Self {
        self.op(Op::Self_)
    }

    /// `RejectCode`: push `msg_reject_code` (0 in a reply callback).
    pub fn reject_code(self) -> Self {
        self.op(Op::RejectCode)
    }

    /// `RejectMessage`: push the reject message (reject callbacks only).
    pub fn reject_message(self) -> Self {
        self.op(Op::RejectMessage)
    }

    /// `MethodName`: push the method name (inspect_message only).
    pub fn method_name(self) -> Self {
        self.op(Op::MethodName)
    }

    /// `AcceptMessage`: `accept_message` (inspect_message only).
    pub fn accept_message(self) -> Self {
        self.op(Op::AcceptMessage)
    }

    /// `MsgDeadline`: push `msg_deadline`.
    pub fn msg_deadline(self) -> Self {
        self.op(Op::MsgDeadline)
    }

    // ---- Environment ----

    /// `Time`: push `time`.
    pub fn time(self) -> Self {
        self.op(Op::Time)
    }

    /// `CanisterVersion`: push `canister_version`.
    pub fn canister_version(self) -> Self {
        self.op(Op::CanisterVersion)
    }

    /// `CanisterStatus`: push `canister_status` (1 running, 2 stopping, 3 stopped).
    pub fn canister_status(self) -> Self {
        self.op(Op::CanisterStatus)
    }

    /// `InReplicatedExecution`: push `in_replicated_execution`.
    pub fn in_replicated_execution(self) -> Self {
        self.op(Op::InReplicatedExecution)
    }

    /// `PerformanceCounter`: pops the counter type; push `performance_counter(type)`.
    pub fn performance_counter(self) -> Self {
        self.op(Op::PerformanceCounter)
    }

    /// `IsController`: pops a principal; push `is_controller` (0/1).
    pub fn is_controller(self) -> Self {
        self.op(Op::IsController)
    }

    /// `SubnetSelf`: push the subnet's principal.
    pub fn subnet_self(self) -> Self {
        self.op(Op::SubnetSelf)
    }

    /// `RootKey`: push the root key.
    pub fn root_key(self) -> Self {
        self.op(Op::RootKey)
    }

    /// `EnvVarCount`: push `env_var_count`.
    pub fn env_var_count(self) -> Self {
        self.op(Op::EnvVarCount)
    }

    /// `EnvVarValue`: pops a variable name; push its value.
    pub fn env_var_value(self) -> Self {
        self.op(Op::EnvVarValue)
    }

    // ---- Stable memory ----

    /// `StableSize`: push `stable64_size` (pages).
    pub fn stable_size(self) -> Self {
        self.op(Op::StableSize)
    }

    /// `StableGrow`: pops pages; push `stable64_grow` (previous size, `u64::MAX` on failure).
    pub fn stable_grow(self) -> Self {
        self.op(Op::StableGrow)
    }

    /// `StableWrite`: pops data, then offset; `stable64_write`.
    pub fn stable_write(self) -> Self {
        self.op(Op::StableWrite)
    }

    /// `StableRead`: pops size, then offset; push the bytes read by `stable64_read`.
    pub fn stable_read(self) -> Self {
        self.op(Op::StableRead)
    }

    /// `Stable32Size`: push legacy `stable_size` (pages).
    pub fn stable32_size(self) -> Self {
        self.op(Op::Stable32Size)
    }

    /// `Stable32Grow`: pops pages (u32); push legacy `stable_grow` (previous size, `u64::MAX` on failure).
    pub fn stable32_grow(self) -> Self {
        self.op(Op::Stable32Grow)
    }

    /// `Stable32Write`: pops data, then offset (u32); legacy `stable_write`.
    pub fn stable32_write(self) -> Self {
        self.op(Op::Stable32Write)
    }

    /// `Stable32Read`: pops size, then offset (both u32); push the bytes read by legacy `stable_read`.
    pub fn stable32_read(self) -> Self {
        self.op(Op::Stable32Read)
    }

    // ---- Outgoing calls ----

    /// `CallNew` with its operands: `call_new` to `method` on `callee` with callbacks that run `on_reply` /
    /// `on_reject` as fresh programs when the response arrives (the reply callback sees the reply via
    /// [`Program::arg_data`], the reject callback uses [`Program::reject_code`] / [`Program::reject_message`]).
    /// Follow with the argument ([`Program::call_data_append`]), optionally cycles, cleanup or a timeout, then
    /// [`Program::call_perform`]; or use [`Program::call`].
    pub fn call_new(self, callee: &[u8], method: &str, on_reply: Program, on_reject: Program) -> Self {
        self.push_bytes(callee)
            .push_bytes(method.as_bytes())
            .push_program(on_reply)
            .push_program(on_reject)
            .call_new_op()
    }

    /// The bare `CallNew` instruction: pops reject program, reply program, method, callee (push callee first).
    /// For callees computed at run time, e.g. [`Program::self_`].
    pub fn call_new_op(self) -> Self {
        self.op(Op::CallNew)
    }

    /// `CallNewRaw` with its operands: `call_new` to `method` on `callee` with exactly these callback table indices
    /// and env 0, e.g. `u32::MAX` for an invalid index (the response then traps in the callback).
    pub fn call_new_raw(self, callee: &[u8], method: &str, reply_fun: u32, reject_fun: u32) -> Self {
        self.push_bytes(callee)
            .push_bytes(method.as_bytes())
            .push_int(u64::from(reply_fun))
            .push_int(u64::from(reject_fun))
            .call_new_raw_op()
    }

    /// The bare `CallNewRaw` instruction: pops reject table index, reply table index (ints), method, callee.
    pub fn call_new_raw_op(self) -> Self {
        self.op(Op::CallNewRaw)
    }

    /// `CallOnCleanup`: pops a program to run if the reply/reject callback traps.
    pub fn call_on_cleanup(self) -> Self {
        self.op(Op::CallOnCleanup)
    }

    /// `CallDataAppend`: pops a blob and appends it to the call's argument.
    pub fn call_data_append(self) -> Self {
        self.op(Op::CallDataAppend)
    }

    /// `CallCyclesAdd128`: pops an amount and attaches it (`call_cycles_add128(0, amount)`).
    pub fn call_cycles_add128(self) -> Self {
        self.op(Op::CallCyclesAdd128)
    }

    /// `CallWithBestEffortResponse`: pops a timeout in seconds (u32); makes the call bounded-wait.
    pub fn call_with_best_effort_response(self) -> Self {
        self.op(Op::CallWithBestEffortResponse)
    }

    /// `CallPerform`: `call_perform`; push its result (0 = sent).
    pub fn call_perform(self) -> Self {
        self.op(Op::CallPerform)
    }

    // ---- Certification and timer ----

    /// `CertifiedDataSet`: pops a blob; `certified_data_set`.
    pub fn certified_data_set(self) -> Self {
        self.op(Op::CertifiedDataSet)
    }

    /// `DataCertificatePresent`: push `data_certificate_present`.
    pub fn data_certificate_present(self) -> Self {
        self.op(Op::DataCertificatePresent)
    }

    /// `GlobalTimerSet`: pops a timestamp (ns, 0 disables); push the previous timer value.
    pub fn global_timer_set(self) -> Self {
        self.op(Op::GlobalTimerSet)
    }

    // ---- Cycles (ints; only the low 64 bits of 128-bit results) ----

    /// `CyclesBalance128`: push the cycle balance.
    pub fn cycles_balance128(self) -> Self {
        self.op(Op::CyclesBalance128)
    }

    /// `LiquidCyclesBalance128`: push the liquid cycle balance.
    pub fn liquid_cycles_balance128(self) -> Self {
        self.op(Op::LiquidCyclesBalance128)
    }

    /// `CyclesAvailable128`: push the cycles still available in the incoming call.
    pub fn cycles_available128(self) -> Self {
        self.op(Op::CyclesAvailable128)
    }

    /// `CyclesAccept128`: pops a maximum; push the amount accepted.
    pub fn cycles_accept128(self) -> Self {
        self.op(Op::CyclesAccept128)
    }

    /// `CyclesRefunded128`: push the cycles refunded with the response (callbacks only).
    pub fn cycles_refunded128(self) -> Self {
        self.op(Op::CyclesRefunded128)
    }

    /// `CyclesBurn128`: pops an amount; push the amount burned.
    pub fn cycles_burn128(self) -> Self {
        self.op(Op::CyclesBurn128)
    }

    /// `CostCall`: pops payload length, then method-name length; push `cost_call`.
    pub fn cost_call(self) -> Self {
        self.op(Op::CostCall)
    }

    /// `CostSign`: pops curve, key name and kind (0 ECDSA, 1 Schnorr, 2 vetKD); push the 16-byte fee
    /// destination (0xff-filled if untouched), then the return code.
    pub fn cost_sign(self) -> Self {
        self.op(Op::CostSign)
    }

    // ---- Stored programs ----

    /// `SetPreUpgrade`: pops a program for `canister_pre_upgrade`.
    pub fn set_pre_upgrade(self) -> Self {
        self.op(Op::SetPreUpgrade)
    }

    /// `SetInspect`: pops a program for `canister_inspect_message` (which otherwise accepts everything).
    pub fn set_inspect(self) -> Self {
        self.op(Op::SetInspect)
    }

    /// `SetTimer`: pops a program for `canister_global_timer`.
    pub fn set_timer(self) -> Self {
        self.op(Op::SetTimer)
    }

    /// `SetOnLowMemory`: pops a program for `canister_on_low_wasm_memory`.
    pub fn set_on_low_memory(self) -> Self {
        self.op(Op::SetOnLowMemory)
    }

    // ---- Resource exhaustion ----

    /// `LoopForever`: spin until the instruction limit traps.
    pub fn loop_forever(self) -> Self {
        self.op(Op::LoopForever)
    }

    /// `GrowMemoryForever`: grow Wasm memory a page at a time (touching each) until it fails; push the count.
    pub fn grow_memory_forever(self) -> Self {
        self.op(Op::GrowMemoryForever)
    }

    /// `WasmMemoryGrow`: pops pages (u32); push `memory.grow`'s result (`u64::MAX` on failure).
    pub fn wasm_memory_grow(self) -> Self {
        self.op(Op::WasmMemoryGrow)
    }

    /// `Recurse`: pops a depth and recurses that deep (about 0.5 KiB of shadow stack per frame).
    pub fn recurse(self) -> Self {
        self.op(Op::Recurse)
    }

    /// `RecurseNative`: pops a depth and recurses that deep using Wasm locals only (hits the engine's Wasm stack
    /// limit, not the canister's shadow stack).
    pub fn recurse_native(self) -> Self {
        self.op(Op::RecurseNative)
    }

    /// `TouchHeap`: pops a page count and an address; writes one byte in each of that many 4 KiB pages.
    pub fn touch_heap(self) -> Self {
        self.op(Op::TouchHeap)
    }

    // ---- Conveniences (sequences of the instructions above) ----

    /// Pushes `program`'s bytes (an operand for `CallNew`, `SetTimer`, ...).
    pub fn push_program(self, program: Program) -> Self {
        self.push_bytes(&program.bytes)
    }

    /// Replies with `bytes`.
    pub fn reply_bytes(self, bytes: &[u8]) -> Self {
        self.push_bytes(bytes).reply_data_append().reply()
    }

    /// Replies with `value` as an 8-byte int.
    pub fn reply_int(self, value: u64) -> Self {
        self.push_int(value).reply_data_append().reply()
    }

    /// Pops the top blob and replies with it.
    pub fn reply_top(self) -> Self {
        self.reply_data_append().reply()
    }

    /// Rejects with `message`.
    pub fn reject_with(self, message: &str) -> Self {
        self.push_bytes(message.as_bytes()).reject()
    }

    /// Traps with `message`.
    pub fn trap_with(self, message: &str) -> Self {
        self.push_bytes(message.as_bytes()).trap()
    }

    /// Prints `message` with `debug_print`.
    pub fn print(self, message: &str) -> Self {
        self.push_bytes(message.as_bytes()).debug_print()
    }

    /// Writes `data` to stable memory (64-bit API) at `offset`.
    pub fn stable_write_at(self, offset: u64, data: &[u8]) -> Self {
        self.push_int(offset).push_bytes(data).stable_write()
    }

    /// Pushes `size` bytes of stable memory (64-bit API) read from `offset`.
    pub fn stable_read_at(self, offset: u64, size: u64) -> Self {
        self.push_int(offset).push_int(size).stable_read()
    }

    /// Calls `method` on `callee` with argument `arg` (for a universal callee: a program) and performs the call.
    /// The `call_perform` result stays on the stack (0 = sent). The callbacks run `on_reply`/`on_reject` as fresh
    /// programs; they typically reply to the original caller, e.g.
    /// `Program::new().arg_data().reply_top()` to forward the callee's reply.
    pub fn call(
        self,
        callee: &[u8],
        method: &str,
        arg: impl Into<Vec<u8>>,
        on_reply: Program,
        on_reject: Program,
    ) -> Self {
        self.call_new(callee, method, on_reply, on_reject).push_bytes(&arg.into()).call_data_append().call_perform()
    }

    /// Stores `program` as the `canister_pre_upgrade` program.
    pub fn on_pre_upgrade(self, program: Program) -> Self {
        self.push_program(program).set_pre_upgrade()
    }

    /// Stores `program` as the `canister_inspect_message` program.
    pub fn on_inspect(self, program: Program) -> Self {
        self.push_program(program).set_inspect()
    }

    /// Stores `program` as the `canister_global_timer` program.
    pub fn on_timer(self, program: Program) -> Self {
        self.push_program(program).set_timer()
    }

    /// Stores `program` as the `canister_on_low_wasm_memory` program.
    pub fn on_low_memory(self, program: Program) -> Self {
        self.push_program(program).set_on_low_memory()
    }
}

#[cfg(test)]
mod tests {
    use super::{int, Op, Program};

    #[test]
    fn encodes_instructions_and_immediates() {
        let program = Program::new().push_bytes(b"hi").reply_data_append().reply().build();
        assert_eq!(program, [0x01, 2, 0, 0, 0, b'h', b'i', 0x10, 0x11]);

        let program = Program::new().push_int(0x0102_0304_0506_0708).stable_grow().drop().build();
        assert_eq!(program, [0x02, 8, 7, 6, 5, 4, 3, 2, 1, 0x31, 0x04]);

        let body = Program::new().reply_int(7);
        let program = Program::new().get_counter().if_zero(body).build();
        let mut expected = vec![0x0b, 0x07, 11, 0, 0, 0];
        expected.extend_from_slice(&[0x02, 7, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x11]);
        assert_eq!(program, expected);
    }

    #[test]
    fn call_pushes_operands_in_the_order_call_new_pops_them() {
        let on_reply = Program::new().arg_data().reply_top();
        let on_reject = Program::new().reject_message().reject();
        let program = Program::new().call(&[0xAA], "m", vec![0x42], on_reply, on_reject).build();
        let mut expected = vec![0x01, 1, 0, 0, 0, 0xAA, 0x01, 1, 0, 0, 0, b'm'];
        expected.extend_from_slice(&[0x01, 3, 0, 0, 0, 0x16, 0x10, 0x11]);
        expected.extend_from_slice(&[0x01, 2, 0, 0, 0, 0x1a, 0x12]);
        expected.extend_from_slice(&[0x40, 0x01, 1, 0, 0, 0, 0x42, 0x43, 0x46]);
        assert_eq!(program, expected);
    }

    #[test]
    fn call_new_raw_pushes_indices_as_ints() {
        let program = Program::new().call_new_raw(&[], "m", u32::MAX, 1).build();
        let mut expected = vec![0x01, 0, 0, 0, 0, 0x01, 1, 0, 0, 0, b'm'];
        expected.extend_from_slice(&[0x02, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0x41]);
        assert_eq!(program, expected);
        assert_eq!(Program::new().call_new_op().call_new_raw_op().build(), [0x40, 0x41]);
    }

    #[test]
    fn opcode_bytes_are_stable() {
        // Spot checks against the documented table; changing a byte silently would invalidate saved programs.
        for (op, byte) in [
            (Op::PushBytes, 0x01),
            (Op::IfZero, 0x07),
            (Op::Reply, 0x11),
            (Op::CallNew, 0x40),
            (Op::CallPerform, 0x46),
            (Op::CostCall, 0x66),
            (Op::Recurse, 0x83),
        ] {
            assert_eq!(op as u8, byte, "{}", op.name());
        }
    }

    #[test]
    fn int_zero_extends_short_blobs() {
        assert_eq!(int(&[]), 0);
        assert_eq!(int(&[1]), 1);
        assert_eq!(int(&u64::MAX.to_le_bytes()), u64::MAX);
        assert_eq!(int(&[0x34, 0x12]), 0x1234);
    }

    #[test]
    #[should_panic(expected = "longer than 8 bytes")]
    fn int_rejects_long_blobs() {
        int(&[0; 9]);
    }
}
