//! The adversary: a scriptable malicious callee and attacker canister.
//!
//! icfuzz installs this canister in every adversary slot of a scenario. It is an ordinary ic-cdk canister, so what
//! it does is what a real malicious canister could do on the IC, on any backend.
//!
//! **As a callee** it answers methods it does not know in advance: the module exports 32 handlers
//! `icfuzz_slot_0` … `icfuzz_slot_31`, and the harness adds an export alias `canister_update <method>` pointing at
//! a slot's handler for every method the adversary impersonates (a plain Wasm export rewrite, valid for any
//! backend). Each incoming call takes the next scripted [`Action`] of its slot, else of the any-method queue,
//! else the slot's default, and acts it out: reply with given bytes, reply with garbage, reply with an oversized
//! payload (up to and past the 2 MiB response limit), reject, trap, hold the call context open until released
//! (or until a time), or call any canister (by default back into the caller) before acting on.
//!
//! **As an attacker** `icfuzz_attack` calls any method of any canister with raw arguments and returns its answer;
//! inter-canister calls skip the target's `canister_inspect_message`.
//!
//! Holding: a call context stays open on the IC only while it has outstanding calls, so a held call polls
//! `icfuzz_park` on itself until released. The harness knows those self-calls and never needs to deliver them
//! (the IC gives no delivery guarantee in time either); releasing a hold is delivering them.
//!
//! Control methods (`icfuzz_script`, `icfuzz_set_default`, `icfuzz_release`, `icfuzz_attack`) are for
//! controllers only, so the canister under test cannot reprogram its adversary.

use candid::Principal;
use ic_cdk::call::{Call, CallFailed};
// The wire contract with the harness (types, method names, slots) is defined once, in the shared crate.
use icfuzz_adversary_wire::{
    slot_export_prefix, Action, AttackArgs, AttackResult, HoldsReply, ReleaseArgs, ScriptArgs, ServedReply,
    SetDefaultArgs, PARK_METHOD, SLOTS,
};
use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};

/// The empty Candid tuple: the default answer of every slot until the harness sets one.
const EMPTY_REPLY: &[u8] = b"DIDL\x00\x00";

struct State {
    queues: Vec<VecDeque<Action>>,
    defaults: Vec<Action>,
    any: VecDeque<Action>,
    next_hold: u64,
    holds: BTreeSet<u64>,
    released: BTreeSet<u64>,
    served: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        queues: vec![VecDeque::new(); SLOTS],
        defaults: vec![Action::Reply(EMPTY_REPLY.to_vec()); SLOTS],
        any: VecDeque::new(),
        next_hold: 0,
        holds: BTreeSet::new(),
        released: BTreeSet::new(),
        served: 0,
    });
}

fn check_controller() {
    if !ic_cdk::api::is_controller(&ic_cdk::api::msg_caller()) {
        ic_cdk::trap("adversary: control methods are for controllers only");
    }
}

fn check_slot(slot: u32) -> usize {
    let slot = slot as usize;
    if slot >= SLOTS {
        ic_cdk::trap(format!("adversary: slot {slot} out of range (0..{SLOTS})"));
    }
    slot
}

/// Appends actions to a slot's queue, or to the any-method queue when `slot` is `None`.
#[ic_cdk::update]
fn icfuzz_script(slot: Option<u32>, actions: Vec<Action>) {
    check_controller();
    let slot = slot.map(check_slot);
    STATE.with_borrow_mut(|s| match slot {
        Some(slot) => s.queues[slot].extend(actions),
        None => s.any.extend(actions),
    });
}

/// Sets what a slot does once its queue and the any-method queue are empty.
#[ic_cdk::update]
fn icfuzz_set_default(slot: u32, action: Action) {
    check_controller();
    let slot = check_slot(slot);
    STATE.with_borrow_mut(|s| s.defaults[slot] = action);
}

/// Releases one hold, or every hold when `hold` is `None`. Held calls notice at their next poll.
#[ic_cdk::update]
fn icfuzz_release(hold: Option<u64>) {
    check_controller();
    STATE.with_borrow_mut(|s| match hold {
        Some(id) => {
            s.released.insert(id);
        }
        None => {
            let all: Vec<u64> = s.holds.iter().copied().collect();
            s.released.extend(all);
        }
    });
}

/// The ids of the calls currently held.
#[ic_cdk::query]
fn icfuzz_holds() -> Vec<u64> {
    STATE.with_borrow(|s| s.holds.iter().copied().collect())
}

/// How many incoming calls the slots have served.
#[ic_cdk::query]
fn icfuzz_served() -> u64 {
    STATE.with_borrow(|s| s.served)
}

/// The self-call a held call polls: answers at once.
#[ic_cdk::update]
fn icfuzz_park() {}

/// Calls `method` on `target` as this canister and returns what it answered.
#[ic_cdk::update]
async fn icfuzz_attack(target: Principal, method: String, arg: Vec<u8>, cycles: u128, bounded_wait: bool) -> AttackResult {
    check_controller();
    call(target, &method, arg, cycles, bounded_wait).await
}

// The methods above take and return exactly the shared crate's shapes (ic-cdk decodes a parameter list as one
// tuple), so the harness's encodings cannot drift from them: this stops compiling if either side changes alone. The
// ic-cdk macros keep the annotated functions callable; nothing here runs.
const _: () = {
    let _: fn(ScriptArgs) = |(slot, actions)| icfuzz_script(slot, actions);
    let _: fn(SetDefaultArgs) = |(slot, action)| icfuzz_set_default(slot, action);
    let _: fn(ReleaseArgs) = |(hold,)| icfuzz_release(hold);
    let _: fn() -> HoldsReply = icfuzz_holds;
    let _: fn() -> ServedReply = icfuzz_served;
    let _ = |(target, method, arg, cycles, bounded_wait): AttackArgs| async move {
        let result: AttackResult = icfuzz_attack(target, method, arg, cycles, bounded_wait).await;
        result
    };
};

async fn call(target: Principal, method: &str, arg: Vec<u8>, cycles: u128, bounded_wait: bool) -> AttackResult {
    let call = if bounded_wait { Call::bounded_wait(target, method) } else { Call::unbounded_wait(target, method) };
    match call.take_raw_args(arg).with_cycles(cycles).await {
        Ok(response) => AttackResult::Reply(response.into_bytes()),
        Err(CallFailed::CallRejected(rejected)) => {
            AttackResult::Reject { code: rejected.raw_reject_code(), message: rejected.reject_message().to_owned() }
        }
        Err(other) => AttackResult::Reject { code: 0, message: other.to_string() },
    }
}

/// Takes the action for the next call on `slot`.
fn next_action(slot: usize) -> Action {
    STATE.with_borrow_mut(|s| {
        s.served += 1;
        s.queues[slot].pop_front().or_else(|| s.any.pop_front()).unwrap_or_else(|| s.defaults[slot].clone())
    })
}

/// Serves one incoming call on a slot: everything after the first await runs in callbacks, like any async method.
fn serve(slot: usize) {
    ic_cdk::futures::internals::in_executor_context(|| {
        let caller = ic_cdk::api::msg_caller();
        let action = next_action(slot);
        ic_cdk::futures::spawn(perform(action, caller));
    });
}

async fn perform(mut action: Action, caller: Principal) {
    loop {
        action = match action {
            Action::Reply(bytes) => return ic_cdk::api::msg_reply(bytes),
            Action::Garbage { len, seed } => return ic_cdk::api::msg_reply(garbage(len as usize, seed)),
            Action::Oversized { len } => return ic_cdk::api::msg_reply(candid_text_of_size(len)),
            Action::Reject(message) => return ic_cdk::api::msg_reject(message),
            Action::Trap(message) => ic_cdk::trap(message),
            Action::Hold { release_at_nanos, then } => {
                hold(release_at_nanos).await;
                *then
            }
            Action::CallThen { target, method, arg, bounded_wait, then } => {
                // Whatever the answer, the adversary goes on: it is the interleaving that matters.
                let _ = call(target.unwrap_or(caller), &method, arg, 0, bounded_wait).await;
                *then
            }
        };
    }
}

/// Keeps the current call context open (by polling a self-call) until released.
async fn hold(release_at_nanos: Option<u64>) {
    let id = STATE.with_borrow_mut(|s| {
        let id = s.next_hold;
        s.next_hold += 1;
        s.holds.insert(id);
        id
    });
    loop {
        let released = STATE.with_borrow(|s| s.released.contains(&id));
        if released || release_at_nanos.is_some_and(|t| ic_cdk::api::time() >= t) {
            break;
        }
        // A failed poll (e.g. the adversary is stopping) just polls again at the next chance.
        let _ = Call::unbounded_wait(ic_cdk::api::canister_self(), PARK_METHOD).await;
    }
    STATE.with_borrow_mut(|s| {
        s.holds.remove(&id);
        s.released.remove(&id);
    });
}

/// `len` bytes from a xorshift generator: deterministic garbage.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A Candid message `(text)` whose encoding is exactly `len` bytes (raw filler below the minimum size). The text
/// length is written as a fixed-width LEB128 (continuation bits on leading zero groups, which decoders accept), so
/// every size is reachable exactly, including the 2 MiB limit and one byte past it.
fn candid_text_of_size(len: u64) -> Vec<u8> {
    let len = len as usize;
    // "DIDL" + 0 types + 1 arg + type 0x71 (text), then the LEB128 length and the bytes.
    const HEADER: &[u8] = b"DIDL\x00\x01\x71";
    if len < HEADER.len() + 1 {
        return vec![b'x'; len];
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(HEADER);
    let room = len - HEADER.len();
    let width = (1..=10).find(|&w| w <= room && leb128_len(room - w) <= w).unwrap_or(1);
    let body = room - width;
    for i in 0..width {
        let group = ((body >> (7 * i)) & 0x7f) as u8;
        out.push(if i + 1 < width { group | 0x80 } else { group });
    }
    out.resize(len, b'a');
    out
}

fn leb128_len(mut n: usize) -> usize {
    let mut bytes = 1;
    while n >= 0x80 {
        n >>= 7;
        bytes += 1;
    }
    bytes
}

macro_rules! slots {
    ($($slot:literal => $name:ident),* $(,)?) => {
        $(
            #[doc = concat!("Serves calls on slot ", stringify!($slot), " (the harness aliases method names to it).")]
            #[unsafe(export_name = concat!(slot_export_prefix!(), stringify!($slot)))]
            extern "C" fn $name() {
                serve($slot);
            }
        )*
    };
}

slots! {
    0 => slot_0, 1 => slot_1, 2 => slot_2, 3 => slot_3, 4 => slot_4, 5 => slot_5, 6 => slot_6, 7 => slot_7,
    8 => slot_8, 9 => slot_9, 10 => slot_10, 11 => slot_11, 12 => slot_12, 13 => slot_13, 14 => slot_14,
    15 => slot_15, 16 => slot_16, 17 => slot_17, 18 => slot_18, 19 => slot_19, 20 => slot_20, 21 => slot_21,
    22 => slot_22, 23 => slot_23, 24 => slot_24, 25 => slot_25, 26 => slot_26, 27 => slot_27, 28 => slot_28,
    29 => slot_29, 30 => slot_30, 31 => slot_31,
}
