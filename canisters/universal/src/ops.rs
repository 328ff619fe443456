//! The universal canister's instruction set: the single definition of every opcode.
//!
//! This file is compiled into two crates: the canister (`canisters/universal`, which interprets it) and
//! `harness/test-canisters` (whose `uc::Program` builder encodes it, via `#[path]`). Keeping one table means the two
//! sides cannot drift apart. It must therefore stay dependency-free and use only `core`.
//!
//! Encoding: a program is a sequence of instructions, each an opcode byte followed by its immediates. Operands are
//! blobs on a stack. An "int" operand is a blob read as a little-endian `u64` (shorter blobs are zero-extended,
//! longer ones trap); ints are pushed as 8-byte little-endian blobs. Signed results (for example `-1` from a failed
//! grow) are sign-extended to 64 bits, so `-1` becomes `u64::MAX`. "Pop a, pop b" lists pops in order, so the
//! operand pushed last is popped first. Popping from an empty stack traps.

macro_rules! define_ops {
    ($( $(#[doc = $doc:literal])* $name:ident = $byte:literal, )*) => {
        /// One universal-canister instruction; the discriminant is its opcode byte.
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Op {
            $( $(#[doc = $doc])* $name = $byte, )*
        }

        impl Op {
            /// Every instruction, in opcode order.
            pub const ALL: &'static [Op] = &[$(Op::$name,)*];

            /// Decodes an opcode byte; `None` for bytes that are not instructions.
            pub const fn from_byte(byte: u8) -> Option<Op> {
                match byte {
                    $( $byte => Some(Op::$name), )*
                    _ => None,
                }
            }

            /// The instruction's name as written in this table (for error messages and disassembly).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Op::$name => stringify!($name), )*
                }
            }
        }
    };
}

define_ops! {
    // ---- Stack and heap state ----
    /// Immediates: `u32` LE length, then that many bytes. Pushes the bytes.
    PushBytes = 0x01,
    /// Immediate: `u64` LE. Pushes it as an 8-byte int blob.
    PushInt = 0x02,
    /// Pushes a copy of the top blob.
    Dup = 0x03,
    /// Pops and discards the top blob.
    Drop = 0x04,
    /// Swaps the two top blobs.
    Swap = 0x05,
    /// Pop b, pop a, push a ++ b.
    Concat = 0x06,
    /// Pop int; immediates: `u32` LE length, then a body of that many bytes. Runs the body (on the same stack) only
    /// if the int is zero; otherwise skips it.
    IfZero = 0x07,
    /// Pop a blob and store it in a heap variable (persists across messages, lost on upgrade).
    SetGlobal = 0x08,
    /// Push the heap variable set by `SetGlobal` (empty if never set).
    GetGlobal = 0x09,
    /// Increment a heap `u64` counter and push its new value.
    IncCounter = 0x0a,
    /// Push the heap counter's current value.
    GetCounter = 0x0b,

    // ---- Message ----
    /// Pop a blob; `msg_reply_data_append`.
    ReplyDataAppend = 0x10,
    /// `msg_reply`.
    Reply = 0x11,
    /// Pop a message; `msg_reject`.
    Reject = 0x12,
    /// Pop a message; `trap`.
    Trap = 0x13,
    /// Pop a blob; `debug_print`.
    DebugPrint = 0x14,
    /// Push the caller principal (`msg_caller_*`).
    Caller = 0x15,
    /// Push the message argument (`msg_arg_data_*`): the program itself in entry points, the reply payload in a
    /// reply callback.
    ArgData = 0x16,
    /// Push `msg_arg_data_size` as an int.
    ArgSize = 0x17,
    /// Push this canister's principal (`canister_self_*`).
    Self_ = 0x18,
    /// Push `msg_reject_code` as an int (0 in a reply callback).
    RejectCode = 0x19,
    /// Push the reject message (`msg_reject_msg_*`).
    RejectMessage = 0x1a,
    /// Push the method name (`msg_method_name_*`, inspect_message only).
    MethodName = 0x1b,
    /// `accept_message` (inspect_message only).
    AcceptMessage = 0x1c,
    /// Push `msg_deadline` as an int.
    MsgDeadline = 0x1d,

    // ---- Environment ----
    /// Push `time` as an int.
    Time = 0x20,
    /// Push `canister_version` as an int.
    CanisterVersion = 0x21,
    /// Push `canister_status` as an int.
    CanisterStatus = 0x22,
    /// Push `in_replicated_execution` as an int.
    InReplicatedExecution = 0x23,
    /// Pop int counter type; push `performance_counter(type)` as an int.
    PerformanceCounter = 0x24,
    /// Pop a principal blob; push `is_controller` as an int.
    IsController = 0x25,
    /// Push the subnet principal (`subnet_self_*`).
    SubnetSelf = 0x26,
    /// Push the root key (`root_key_*`).
    RootKey = 0x27,
    /// Push `env_var_count` as an int.
    EnvVarCount = 0x28,
    /// Pop a variable name; push its value (`env_var_value_*`).
    EnvVarValue = 0x29,

    // ---- Stable memory ----
    /// Push `stable64_size` (pages) as an int.
    StableSize = 0x30,
    /// Pop int pages; push `stable64_grow` (previous size in pages, or `u64::MAX` for -1).
    StableGrow = 0x31,
    /// Pop data, pop int offset; `stable64_write`.
    StableWrite = 0x32,
    /// Pop int size, pop int offset; push the bytes read by `stable64_read`.
    StableRead = 0x33,
    /// Push legacy `stable_size` (pages) as an int.
    Stable32Size = 0x34,
    /// Pop int pages (as `u32`); push legacy `stable_grow` (previous size, or `u64::MAX` for -1).
    Stable32Grow = 0x35,
    /// Pop data, pop int offset (as `u32`); legacy `stable_write`.
    Stable32Write = 0x36,
    /// Pop int size, pop int offset (both as `u32`); push the bytes read by legacy `stable_read`.
    Stable32Read = 0x37,

    // ---- Outgoing calls ----
    /// Pop reject program, pop reply program, pop method name, pop callee principal; `call_new` with the
    /// universal reply/reject callbacks, which run the given program when the response arrives. (A call already
    /// under construction and not performed is dropped, as the System API does.)
    CallNew = 0x40,
    /// Pop int reject table index, pop int reply table index (both as `u32`), pop method, pop callee; `call_new`
    /// with exactly those indices and env 0, so a test can pass invalid indices (e.g. `u32::MAX`). If an index does
    /// happen to name a universal callback, env 0 makes it do nothing.
    CallNewRaw = 0x41,
    /// Pop cleanup program; `call_on_cleanup` with a callback that runs it if the reply/reject callback traps.
    CallOnCleanup = 0x42,
    /// Pop a blob; `call_data_append`.
    CallDataAppend = 0x43,
    /// Pop int amount; `call_cycles_add128(0, amount)`.
    CallCyclesAdd128 = 0x44,
    /// Pop int timeout seconds (as `u32`); `call_with_best_effort_response`.
    CallWithBestEffortResponse = 0x45,
    /// `call_perform`; push its result as an int (0 = sent).
    CallPerform = 0x46,

    // ---- Certification and timer ----
    /// Pop a blob; `certified_data_set`.
    CertifiedDataSet = 0x50,
    /// Push `data_certificate_present` as an int.
    DataCertificatePresent = 0x51,
    /// Pop int timestamp (ns); push `global_timer_set`'s previous value as an int.
    GlobalTimerSet = 0x52,

    // ---- Cycles (amounts are ints: high 64 bits passed as 0, only the low 64 bits of results pushed) ----
    /// Push the low 64 bits of `canister_cycle_balance128`.
    CyclesBalance128 = 0x60,
    /// Push the low 64 bits of `canister_liquid_cycle_balance128`.
    LiquidCyclesBalance128 = 0x61,
    /// Push the low 64 bits of `msg_cycles_available128`.
    CyclesAvailable128 = 0x62,
    /// Pop int max; push the low 64 bits accepted by `msg_cycles_accept128`.
    CyclesAccept128 = 0x63,
    /// Push the low 64 bits of `msg_cycles_refunded128`.
    CyclesRefunded128 = 0x64,
    /// Pop int amount; push the low 64 bits burned by `cycles_burn128`.
    CyclesBurn128 = 0x65,
    /// Pop int payload length, pop int method-name length; push the low 64 bits of `cost_call`.
    CostCall = 0x66,
    /// Pop int curve (or algorithm), pop a key name, pop int kind (0 ECDSA, 1 Schnorr, 2 vetKD); call
    /// `cost_sign_with_ecdsa`/`cost_sign_with_schnorr`/`cost_vetkd_derive_key`; push the 16-byte destination
    /// (filled with 0xff first, so an untouched one shows), then the return code as an int.
    CostSign = 0x67,

    // ---- Stored programs for argument-less entry points (heap, so lost on upgrade) ----
    /// Pop a program that `canister_pre_upgrade` will run.
    SetPreUpgrade = 0x70,
    /// Pop a program that `canister_inspect_message` will run instead of accepting every message.
    SetInspect = 0x71,
    /// Pop a program that `canister_global_timer` will run.
    SetTimer = 0x72,
    /// Pop a program that `canister_on_low_wasm_memory` will run.
    SetOnLowMemory = 0x73,

    // ---- Resource exhaustion ----
    /// Loop forever (until the instruction limit traps).
    LoopForever = 0x80,
    /// `memory.grow` by one page and touch the new page until growing fails, then push the number of pages grown.
    GrowMemoryForever = 0x81,
    /// Pop int pages (as `u32`); push `memory.grow`'s result (previous size in pages, or `u64::MAX` on failure).
    WasmMemoryGrow = 0x82,
    /// Pop int depth; recurse that deep with a frame that uses linear-memory (shadow) stack, to provoke stack
    /// overflow. Pushes nothing.
    Recurse = 0x83,
    /// Pop int depth; recurse that deep using only Wasm locals (no shadow stack), to hit the engine's native
    /// Wasm stack limit rather than the canister's own stack region. Pushes nothing.
    RecurseNative = 0x84,
    /// Pop int count, pop int address; write one byte in each of `count` consecutive 4 KiB pages starting at
    /// `address` (for benchmarks of page-proportional rollback and restore). Pushes nothing.
    TouchHeap = 0x85,
}

#[cfg(test)]
mod tests {
    use super::Op;

    #[test]
    fn from_byte_inverts_the_discriminant() {
        for &op in Op::ALL {
            assert_eq!(Op::from_byte(op as u8), Some(op), "{}", op.name());
        }
        let known = Op::ALL.len();
        let decodable = (0..=u8::MAX).filter(|&b| Op::from_byte(b).is_some()).count();
        assert_eq!(known, decodable, "every decodable byte is listed in Op::ALL");
        assert_eq!(Op::from_byte(0x00), None, "0x00 is deliberately not an instruction");
    }
}
