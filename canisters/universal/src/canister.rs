//! The interpreter and the canister's entry points (Wasm only).

use crate::ops::Op;
use std::cell::RefCell;

/// The System API, wasm32 flavour: pointers and sizes are `usize` (i32), 64-bit values `u64`/`i64` (i64),
/// 128-bit cycle amounts either `(high, low)` i64 pairs or 16 little-endian bytes written to `dst`.
mod ic0 {
    #[link(wasm_import_module = "ic0")]
    extern "C" {
        pub fn msg_arg_data_size() -> usize;
        pub fn msg_arg_data_copy(dst: usize, offset: usize, size: usize);
        pub fn msg_caller_size() -> usize;
        pub fn msg_caller_copy(dst: usize, offset: usize, size: usize);
        pub fn msg_reject_code() -> u32;
        pub fn msg_reject_msg_size() -> usize;
        pub fn msg_reject_msg_copy(dst: usize, offset: usize, size: usize);
        pub fn msg_deadline() -> u64;
        pub fn msg_reply_data_append(src: usize, size: usize);
        pub fn msg_reply();
        pub fn msg_reject(src: usize, size: usize);
        pub fn msg_method_name_size() -> usize;
        pub fn msg_method_name_copy(dst: usize, offset: usize, size: usize);
        pub fn accept_message();
        pub fn msg_cycles_available128(dst: usize);
        pub fn msg_cycles_refunded128(dst: usize);
        pub fn msg_cycles_accept128(max_high: u64, max_low: u64, dst: usize);
        pub fn canister_cycle_balance128(dst: usize);
        pub fn canister_liquid_cycle_balance128(dst: usize);
        pub fn cycles_burn128(high: u64, low: u64, dst: usize);
        pub fn canister_self_size() -> usize;
        pub fn canister_self_copy(dst: usize, offset: usize, size: usize);
        pub fn subnet_self_size() -> usize;
        pub fn subnet_self_copy(dst: usize, offset: usize, size: usize);
        pub fn canister_status() -> u32;
        pub fn canister_version() -> u64;
        pub fn root_key_size() -> usize;
        pub fn root_key_copy(dst: usize, offset: usize, size: usize);
        pub fn is_controller(src: usize, size: usize) -> u32;
        pub fn in_replicated_execution() -> u32;
        pub fn call_new(
            callee_src: usize,
            callee_size: usize,
            name_src: usize,
            name_size: usize,
            reply_fun: usize,
            reply_env: usize,
            reject_fun: usize,
            reject_env: usize,
        );
        pub fn call_on_cleanup(fun: usize, env: usize);
        pub fn call_data_append(src: usize, size: usize);
        pub fn call_cycles_add128(high: u64, low: u64);
        pub fn call_with_best_effort_response(timeout_seconds: u32);
        pub fn call_perform() -> u32;
        pub fn stable64_size() -> u64;
        pub fn stable64_grow(new_pages: u64) -> u64;
        pub fn stable64_write(offset: u64, src: u64, size: u64);
        pub fn stable64_read(dst: u64, offset: u64, size: u64);
        pub fn stable_size() -> u32;
        pub fn stable_grow(new_pages: u32) -> i32;
        pub fn stable_write(offset: u32, src: u32, size: u32);
        pub fn stable_read(dst: u32, offset: u32, size: u32);
        pub fn certified_data_set(src: usize, size: usize);
        pub fn data_certificate_present() -> u32;
        pub fn time() -> u64;
        pub fn global_timer_set(timestamp: u64) -> u64;
        pub fn performance_counter(counter_type: u32) -> u64;
        pub fn cost_call(method_name_size: u64, payload_size: u64, dst: usize);
        pub fn cost_sign_with_ecdsa(src: usize, size: usize, curve: u32, dst: usize) -> u32;
        pub fn cost_sign_with_schnorr(src: usize, size: usize, algorithm: u32, dst: usize) -> u32;
        pub fn cost_vetkd_derive_key(src: usize, size: usize, curve: u32, dst: usize) -> u32;
        pub fn env_var_count() -> usize;
        pub fn env_var_value_size(name_src: usize, name_size: usize) -> usize;
        pub fn env_var_value_copy(name_src: usize, name_size: usize, dst: usize, offset: usize, size: usize);
        pub fn debug_print(src: usize, size: usize);
        pub fn trap(src: usize, size: usize) -> !;
    }
}

/// Heap state that outlives a single message (and is discarded by an upgrade, like any canister heap).
#[derive(Default)]
struct State {
    global: Vec<u8>,
    counter: u64,
    pre_upgrade: Option<Vec<u8>>,
    inspect: Option<Vec<u8>>,
    timer: Option<Vec<u8>>,
    on_low_memory: Option<Vec<u8>>,
    /// `Box<CallEnv>` of the call under construction (0 if none, or if it was made with `CallNewRaw` and has no
    /// cleanup). Kept so the box can be freed if the call is never performed or `call_perform` fails.
    pending_env: usize,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// What the callbacks of one outgoing call run. A single box serves as the env of the reply, reject and cleanup
/// callbacks: exactly one of reply/reject runs, and frees it; cleanup only runs after that callback trapped, i.e.
/// from the state before the free, so it can free the box itself without a double free.
struct CallEnv {
    reply: Vec<u8>,
    reject: Vec<u8>,
    cleanup: Option<Vec<u8>>,
}

fn trap(message: &str) -> ! {
    unsafe { ic0::trap(message.as_ptr() as usize, message.len()) }
}

/// Reads a System API blob exposed as a `*_size`/`*_copy` pair.
fn read_blob(size: usize, copy: impl FnOnce(usize, usize)) -> Vec<u8> {
    let mut bytes = vec![0u8; size];
    copy(bytes.as_mut_ptr() as usize, size);
    bytes
}

fn cycles128(fill: impl FnOnce(usize)) -> u64 {
    let mut bytes = [0u8; 16];
    fill(bytes.as_mut_ptr() as usize);
    // Only the low 64 bits are pushed: test amounts never reach 2^64, and ints are 64-bit throughout.
    u64::from_le_bytes(bytes[..8].try_into().unwrap_or_else(|_| trap("unreachable: 16-byte slice")))
}

fn arg_data() -> Vec<u8> {
    unsafe { read_blob(ic0::msg_arg_data_size(), |dst, size| ic0::msg_arg_data_copy(dst, 0, size)) }
}

/// Sequential reader over a program's bytes; running off the end traps instead of panicking, so a malformed program
/// produces a readable trap message.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                slice
            }
            _ => trap("universal canister: program truncated inside an instruction's immediates"),
        }
    }

    fn u32(&mut self) -> u32 {
        let mut buf = [0u8; 4];
        buf.copy_from_slice(self.take(4));
        u32::from_le_bytes(buf)
    }

    fn u64(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8));
        u64::from_le_bytes(buf)
    }

    fn len_prefixed(&mut self) -> &'a [u8] {
        let len = self.u32() as usize;
        self.take(len)
    }
}

struct Stack(Vec<Vec<u8>>);

impl Stack {
    fn push(&mut self, blob: Vec<u8>) {
        self.0.push(blob);
    }

    fn push_int(&mut self, value: u64) {
        self.0.push(value.to_le_bytes().to_vec());
    }

    fn pop(&mut self) -> Vec<u8> {
        self.0.pop().unwrap_or_else(|| trap("universal canister: pop from an empty stack"))
    }

    fn pop_int(&mut self) -> u64 {
        let blob = self.pop();
        if blob.len() > 8 {
            // Longer blobs are almost certainly a test bug (e.g. a principal where an int was meant): refuse
            // rather than silently truncate.
            trap("universal canister: int operand longer than 8 bytes");
        }
        let mut buf = [0u8; 8];
        buf[..blob.len()].copy_from_slice(&blob);
        u64::from_le_bytes(buf)
    }

    fn pop_u32(&mut self) -> u32 {
        u32::try_from(self.pop_int()).unwrap_or_else(|_| trap("universal canister: int operand does not fit in u32"))
    }

    fn pop_usize(&mut self) -> usize {
        usize::try_from(self.pop_int())
            .unwrap_or_else(|_| trap("universal canister: int operand does not fit in usize"))
    }
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|state| f(&mut state.borrow_mut()))
}

fn stored(select: impl FnOnce(&State) -> &Option<Vec<u8>>) -> Option<Vec<u8>> {
    STATE.with(|state| select(&state.borrow()).clone())
}

/// Frees the env of a call that was constructed but never (successfully) performed.
fn discard_pending_env() {
    let env = with_state(|s| std::mem::take(&mut s.pending_env));
    if env != 0 {
        drop(unsafe { Box::from_raw(env as *mut CallEnv) });
    }
}

/// Runs a program as a fresh execution: new empty stack. A call left under construction by an earlier execution was
/// discarded by the system when that execution ended, so its env is freed here.
fn execute(program: &[u8]) {
    discard_pending_env();
    let mut stack = Stack(Vec::new());
    run(program, &mut stack);
}

fn run(program: &[u8], stack: &mut Stack) {
    let mut reader = Reader { bytes: program, pos: 0 };
    while reader.pos < reader.bytes.len() {
        let byte = reader.take(1)[0];
        let Some(op) = Op::from_byte(byte) else {
            trap(&format!("universal canister: unknown opcode 0x{byte:02x} at offset {}", reader.pos - 1));
        };
        step(op, &mut reader, stack);
    }
}

fn step(op: Op, reader: &mut Reader<'_>, stack: &mut Stack) {
    unsafe {
        match op {
            Op::PushBytes => stack.push(reader.len_prefixed().to_vec()),
            Op::PushInt => stack.push_int(reader.u64()),
            Op::Dup => {
                let top = stack.pop();
                stack.push(top.clone());
                stack.push(top);
            }
            Op::Drop => drop(stack.pop()),
            Op::Swap => {
                let b = stack.pop();
                let a = stack.pop();
                stack.push(b);
                stack.push(a);
            }
            Op::Concat => {
                let b = stack.pop();
                let mut a = stack.pop();
                a.extend_from_slice(&b);
                stack.push(a);
            }
            Op::IfZero => {
                let condition = stack.pop_int();
                let body = reader.len_prefixed();
                if condition == 0 {
                    run(body, stack);
                }
            }
            Op::SetGlobal => {
                let value = stack.pop();
                with_state(|s| s.global = value);
            }
            Op::GetGlobal => stack.push(with_state(|s| s.global.clone())),
            Op::IncCounter => {
                let value = with_state(|s| {
                    s.counter = s.counter.wrapping_add(1);
                    s.counter
                });
                stack.push_int(value);
            }
            Op::GetCounter => stack.push_int(with_state(|s| s.counter)),

            Op::ReplyDataAppend => {
                let data = stack.pop();
                ic0::msg_reply_data_append(data.as_ptr() as usize, data.len());
            }
            Op::Reply => ic0::msg_reply(),
            Op::Reject => {
                let message = stack.pop();
                ic0::msg_reject(message.as_ptr() as usize, message.len());
            }
            Op::Trap => {
                let message = stack.pop();
                ic0::trap(message.as_ptr() as usize, message.len());
            }
            Op::DebugPrint => {
                let message = stack.pop();
                ic0::debug_print(message.as_ptr() as usize, message.len());
            }
            Op::Caller => stack.push(read_blob(ic0::msg_caller_size(), |d, n| ic0::msg_caller_copy(d, 0, n))),
            Op::ArgData => stack.push(arg_data()),
            Op::ArgSize => stack.push_int(ic0::msg_arg_data_size() as u64),
            Op::Self_ => stack.push(read_blob(ic0::canister_self_size(), |d, n| ic0::canister_self_copy(d, 0, n))),
            Op::RejectCode => stack.push_int(u64::from(ic0::msg_reject_code())),
            Op::RejectMessage => {
                stack.push(read_blob(ic0::msg_reject_msg_size(), |d, n| ic0::msg_reject_msg_copy(d, 0, n)))
            }
            Op::MethodName => {
                stack.push(read_blob(ic0::msg_method_name_size(), |d, n| ic0::msg_method_name_copy(d, 0, n)))
            }
            Op::AcceptMessage => ic0::accept_message(),
            Op::MsgDeadline => stack.push_int(ic0::msg_deadline()),

            Op::Time => stack.push_int(ic0::time()),
            Op::CanisterVersion => stack.push_int(ic0::canister_version()),
            Op::CanisterStatus => stack.push_int(u64::from(ic0::canister_status())),
            Op::InReplicatedExecution => stack.push_int(u64::from(ic0::in_replicated_execution())),
            Op::PerformanceCounter => {
                let counter_type = stack.pop_u32();
                stack.push_int(ic0::performance_counter(counter_type));
            }
            Op::IsController => {
                let principal = stack.pop();
                stack.push_int(u64::from(ic0::is_controller(principal.as_ptr() as usize, principal.len())));
            }
            Op::SubnetSelf => stack.push(read_blob(ic0::subnet_self_size(), |d, n| ic0::subnet_self_copy(d, 0, n))),
            Op::RootKey => stack.push(read_blob(ic0::root_key_size(), |d, n| ic0::root_key_copy(d, 0, n))),
            Op::EnvVarCount => stack.push_int(ic0::env_var_count() as u64),
            Op::EnvVarValue => {
                let name = stack.pop();
                let (src, len) = (name.as_ptr() as usize, name.len());
                stack.push(read_blob(ic0::env_var_value_size(src, len), |d, n| {
                    ic0::env_var_value_copy(src, len, d, 0, n)
                }));
            }

            Op::StableSize => stack.push_int(ic0::stable64_size()),
            Op::StableGrow => {
                let pages = stack.pop_int();
                stack.push_int(ic0::stable64_grow(pages));
            }
            Op::StableWrite => {
                let data = stack.pop();
                let offset = stack.pop_int();
                ic0::stable64_write(offset, data.as_ptr() as u64, data.len() as u64);
            }
            Op::StableRead => {
                let size = stack.pop_usize();
                let offset = stack.pop_int();
                stack.push(read_blob(size, |d, n| ic0::stable64_read(d as u64, offset, n as u64)));
            }
            Op::Stable32Size => stack.push_int(u64::from(ic0::stable_size())),
            Op::Stable32Grow => {
                let pages = stack.pop_u32();
                // Sign-extend so that -1 reads as u64::MAX, like StableGrow.
                stack.push_int(i64::from(ic0::stable_grow(pages)) as u64);
            }
            Op::Stable32Write => {
                let data = stack.pop();
                let offset = stack.pop_u32();
                ic0::stable_write(offset, data.as_ptr() as u32, data.len() as u32);
            }
            Op::Stable32Read => {
                let size = stack.pop_u32();
                let offset = stack.pop_u32();
                stack.push(read_blob(size as usize, |d, n| ic0::stable_read(d as u32, offset, n as u32)));
            }

            Op::CallNew => {
                let reject = stack.pop();
                let reply = stack.pop();
                let method = stack.pop();
                let callee = stack.pop();
                discard_pending_env();
                let env = Box::into_raw(Box::new(CallEnv { reply, reject, cleanup: None })) as usize;
                with_state(|s| s.pending_env = env);
                ic0::call_new(
                    callee.as_ptr() as usize,
                    callee.len(),
                    method.as_ptr() as usize,
                    method.len(),
                    reply_callback as extern "C" fn(usize) as usize,
                    env,
                    reject_callback as extern "C" fn(usize) as usize,
                    env,
                );
            }
            Op::CallNewRaw => {
                let reject_fun = stack.pop_u32();
                let reply_fun = stack.pop_u32();
                let method = stack.pop();
                let callee = stack.pop();
                discard_pending_env();
                ic0::call_new(
                    callee.as_ptr() as usize,
                    callee.len(),
                    method.as_ptr() as usize,
                    method.len(),
                    reply_fun as usize,
                    0,
                    reject_fun as usize,
                    0,
                );
            }
            Op::CallOnCleanup => {
                let cleanup = stack.pop();
                let mut env = with_state(|s| s.pending_env);
                if env == 0 {
                    // A raw call (or no call at all, in which case call_on_cleanup traps and this is rolled back):
                    // the cleanup gets an env of its own. If the raw callbacks never trap it is never freed, a leak
                    // accepted for a test-only path.
                    env = Box::into_raw(Box::new(CallEnv { reply: Vec::new(), reject: Vec::new(), cleanup: None }))
                        as usize;
                    with_state(|s| s.pending_env = env);
                }
                (*(env as *mut CallEnv)).cleanup = Some(cleanup);
                ic0::call_on_cleanup(cleanup_callback as extern "C" fn(usize) as usize, env);
            }
            Op::CallDataAppend => {
                let data = stack.pop();
                ic0::call_data_append(data.as_ptr() as usize, data.len());
            }
            Op::CallCyclesAdd128 => ic0::call_cycles_add128(0, stack.pop_int()),
            Op::CallWithBestEffortResponse => ic0::call_with_best_effort_response(stack.pop_u32()),
            Op::CallPerform => {
                let result = ic0::call_perform();
                if result == 0 {
                    // The env now belongs to whichever callback runs.
                    with_state(|s| s.pending_env = 0);
                } else {
                    // Not sent: no callback will ever see the env.
                    discard_pending_env();
                }
                stack.push_int(u64::from(result));
            }

            Op::CertifiedDataSet => {
                let data = stack.pop();
                ic0::certified_data_set(data.as_ptr() as usize, data.len());
            }
            Op::DataCertificatePresent => stack.push_int(u64::from(ic0::data_certificate_present())),
            Op::GlobalTimerSet => {
                let timestamp = stack.pop_int();
                stack.push_int(ic0::global_timer_set(timestamp));
            }

            Op::CyclesBalance128 => stack.push_int(cycles128(|d| ic0::canister_cycle_balance128(d))),
            Op::LiquidCyclesBalance128 => stack.push_int(cycles128(|d| ic0::canister_liquid_cycle_balance128(d))),
            Op::CyclesAvailable128 => stack.push_int(cycles128(|d| ic0::msg_cycles_available128(d))),
            Op::CyclesAccept128 => {
                let max = stack.pop_int();
                stack.push_int(cycles128(|d| ic0::msg_cycles_accept128(0, max, d)));
            }
            Op::CyclesRefunded128 => stack.push_int(cycles128(|d| ic0::msg_cycles_refunded128(d))),
            Op::CyclesBurn128 => {
                let amount = stack.pop_int();
                stack.push_int(cycles128(|d| ic0::cycles_burn128(0, amount, d)));
            }
            Op::CostCall => {
                let payload_len = stack.pop_int();
                let name_len = stack.pop_int();
                stack.push_int(cycles128(|d| ic0::cost_call(name_len, payload_len, d)));
            }
            Op::CostSign => {
                let curve = stack.pop_int() as u32;
                let name = stack.pop();
                let kind = stack.pop_int();
                let mut dst = [0xffu8; 16];
                let (src, len, out) = (name.as_ptr() as usize, name.len(), dst.as_mut_ptr() as usize);
                let code = match kind {
                    0 => ic0::cost_sign_with_ecdsa(src, len, curve, out),
                    1 => ic0::cost_sign_with_schnorr(src, len, curve, out),
                    _ => ic0::cost_vetkd_derive_key(src, len, curve, out),
                };
                stack.push(dst.to_vec());
                stack.push_int(u64::from(code));
            }

            Op::SetPreUpgrade => {
                let program = stack.pop();
                with_state(|s| s.pre_upgrade = Some(program));
            }
            Op::SetInspect => {
                let program = stack.pop();
                with_state(|s| s.inspect = Some(program));
            }
            Op::SetTimer => {
                let program = stack.pop();
                with_state(|s| s.timer = Some(program));
            }
            Op::SetOnLowMemory => {
                let program = stack.pop();
                with_state(|s| s.on_low_memory = Some(program));
            }

            Op::LoopForever => {
                let mut i: u64 = 0;
                loop {
                    // black_box makes every iteration observable, so the loop cannot be folded away.
                    i = core::hint::black_box(i.wrapping_add(1));
                }
            }
            Op::GrowMemoryForever => {
                // Reserve before exhausting memory: pushing the result must not need an allocation.
                stack.0.reserve(1);
                let mut result = Vec::with_capacity(8);
                let mut pages: u64 = 0;
                loop {
                    let previous = core::arch::wasm32::memory_grow(0, 1);
                    if previous == usize::MAX {
                        break;
                    }
                    // Touch the page so an engine that commits memory lazily still has to provide it.
                    core::ptr::write_volatile((previous * 65536) as *mut u8, 1);
                    pages += 1;
                }
                result.extend_from_slice(&pages.to_le_bytes());
                stack.push(result);
            }
            Op::WasmMemoryGrow => {
                let pages = stack.pop_u32() as usize;
                let previous = core::arch::wasm32::memory_grow(0, pages);
                stack.push_int(if previous == usize::MAX { u64::MAX } else { previous as u64 });
            }
            Op::Recurse => {
                let depth = stack.pop_int();
                core::hint::black_box(recurse(depth));
            }
            Op::TouchHeap => {
                let count = stack.pop_int();
                let address = stack.pop_int() as usize;
                for page in 0..count as usize {
                    let at = address + page * 4096;
                    // The caller names memory the canister grew for this purpose (we are inside the interpreter's
                    // unsafe block); an address past the end traps (out of bounds), which is the intended failure.
                    core::ptr::write_volatile(at as *mut u8, (page as u8).wrapping_add(1));
                }
            }
            Op::RecurseNative => {
                let depth = stack.pop_int();
                core::hint::black_box(recurse_native(depth));
            }
        }
    }
}

/// Non-tail recursion with a 512-byte frame on the shadow stack: the frame escapes through `black_box`, and the
/// result of the recursive call is combined with it afterwards, so neither tail-call elimination nor frame
/// elision applies.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 512];
    frame[(depth % 512) as usize] = depth as u8;
    let frame = core::hint::black_box(&mut frame);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    recurse(core::hint::black_box(depth - 1)).wrapping_add(u64::from(frame[(depth % 512) as usize]))
}

/// Non-tail recursion whose frame holds only scalars (Wasm locals): the result passes through `black_box`, so
/// LLVM cannot turn it into a loop, and nothing lands on the shadow stack.
#[inline(never)]
fn recurse_native(depth: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    core::hint::black_box(recurse_native(core::hint::black_box(depth - 1))).wrapping_mul(3).wrapping_add(depth)
}

/// Takes ownership of a callback env; 0 (raw calls) yields `None`.
unsafe fn take_env(env: usize) -> Option<Box<CallEnv>> {
    (env != 0).then(|| unsafe { Box::from_raw(env as *mut CallEnv) })
}

// Callbacks are referenced by table index (a function pointer's value on wasm32), not exported.
extern "C" fn reply_callback(env: usize) {
    if let Some(env) = unsafe { take_env(env) } {
        execute(&env.reply);
    }
}

extern "C" fn reject_callback(env: usize) {
    if let Some(env) = unsafe { take_env(env) } {
        execute(&env.reject);
    }
}

extern "C" fn cleanup_callback(env: usize) {
    if let Some(env) = unsafe { take_env(env) } {
        if let Some(cleanup) = &env.cleanup {
            execute(cleanup);
        }
    }
}

#[export_name = "canister_update update"]
extern "C" fn update() {
    execute(&arg_data());
}

#[export_name = "canister_query query"]
extern "C" fn query() {
    execute(&arg_data());
}

#[export_name = "canister_composite_query composite"]
extern "C" fn composite() {
    execute(&arg_data());
}

#[export_name = "canister_init"]
extern "C" fn init() {
    execute(&arg_data());
}

#[export_name = "canister_post_upgrade"]
extern "C" fn post_upgrade() {
    execute(&arg_data());
}

#[export_name = "canister_pre_upgrade"]
extern "C" fn pre_upgrade() {
    if let Some(program) = stored(|s| &s.pre_upgrade) {
        execute(&program);
    }
}

#[export_name = "canister_inspect_message"]
extern "C" fn inspect_message() {
    match stored(|s| &s.inspect) {
        Some(program) => execute(&program),
        // Without an inspect program behave like a canister that does not export inspect_message.
        None => unsafe { ic0::accept_message() },
    }
}

#[export_name = "canister_global_timer"]
extern "C" fn global_timer() {
    if let Some(program) = stored(|s| &s.timer) {
        execute(&program);
    }
}

#[export_name = "canister_on_low_wasm_memory"]
extern "C" fn on_low_wasm_memory() {
    if let Some(program) = stored(|s| &s.on_low_memory) {
        execute(&program);
    }
}
