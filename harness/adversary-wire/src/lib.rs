//! The adversary canister's wire contract, written once.
//!
//! `canisters/adversary` (an ic-cdk canister built for wasm32-unknown-unknown) and the harness
//! (`icfuzz::adversary`) talk to each other through Candid calls and through the module's export names. Everything
//! the two sides must agree on lives here, so a change to one side is a change to both:
//!
//! - the Candid types [`Action`] and [`AttackResult`];
//! - the method names ([`SCRIPT_METHOD`] … [`SERVED_METHOD`]), grouped as [`UPDATE_METHODS`], [`QUERY_METHODS`] and
//!   [`CONTROL_METHODS`];
//! - the argument and reply shapes of those methods ([`ScriptArgs`], [`SetDefaultArgs`], [`ReleaseArgs`],
//!   [`AttackArgs`], [`HoldsReply`], [`ServedReply`]), as plain tuples so the Candid encoding is exactly what ic-cdk
//!   decodes for the method's parameter list;
//! - the handler slots: [`SLOTS`] and the export name prefix [`SLOT_EXPORT_PREFIX`] (also as the literal
//!   [`slot_export_prefix!`], because `concat!` in an `export_name` attribute takes only literals).
//!
//! The crate depends on nothing but `candid` and `serde`, so it builds for the canister's target as well.

#![deny(missing_docs)]

use candid::{CandidType, Deserialize, Principal};
use serde::Serialize;

/// Number of method handler slots: the most methods one adversary can impersonate.
pub const SLOTS: usize = 32;

/// The export name prefix of a handler slot, as a literal: `icfuzz_slot_<n>` for `n` in `0..SLOTS`.
///
/// A macro rather than only a constant because the canister builds its export names with
/// `concat!(slot_export_prefix!(), stringify!(n))`, and `concat!` accepts literals (and macros that expand to them)
/// but not constants.
#[macro_export]
macro_rules! slot_export_prefix {
    () => {
        "icfuzz_slot_"
    };
}

/// The export name prefix of a handler slot: slot `n` is the export `icfuzz_slot_<n>`. The harness adds
/// `canister_update <method>` aliases of these exports to impersonate methods.
pub const SLOT_EXPORT_PREFIX: &str = slot_export_prefix!();

/// The prefix of every name the adversary exports itself (methods and slots): the harness refuses to impersonate a
/// method with this prefix, so an impersonated method can never shadow one of the adversary's own.
pub const OWN_NAME_PREFIX: &str = "icfuzz_";

/// Update: appends actions to a slot's queue, or to the any-method queue. Arguments: [`ScriptArgs`].
pub const SCRIPT_METHOD: &str = "icfuzz_script";

/// Update: sets what a slot does once its queue and the any-method queue are empty. Arguments: [`SetDefaultArgs`].
pub const SET_DEFAULT_METHOD: &str = "icfuzz_set_default";

/// Update: releases one held call, or all of them. Arguments: [`ReleaseArgs`].
pub const RELEASE_METHOD: &str = "icfuzz_release";

/// Update: the self-call a held call polls while it waits to be released (no arguments, empty reply). The runner
/// never has to deliver these.
pub const PARK_METHOD: &str = "icfuzz_park";

/// Update: the attacker entry point, which calls any method of any canister as the adversary. Arguments:
/// [`AttackArgs`]; reply: [`AttackResult`].
pub const ATTACK_METHOD: &str = "icfuzz_attack";

/// Query: the ids of the calls currently held (no arguments). Reply: [`HoldsReply`].
pub const HOLDS_METHOD: &str = "icfuzz_holds";

/// Query: how many incoming calls the slots have served (no arguments). Reply: [`ServedReply`].
pub const SERVED_METHOD: &str = "icfuzz_served";

/// Update methods of the adversary that drive it; the runner keeps them out of traces.
///
/// [`ATTACK_METHOD`] is not one of them: an attack is a step of the scenario, and its inner call is what the trace
/// shows.
pub const CONTROL_METHODS: &[&str] = &[SCRIPT_METHOD, SET_DEFAULT_METHOD, RELEASE_METHOD, PARK_METHOD];

/// Every update method the adversary canister exports (`canister_update <name>`), besides the impersonated ones.
pub const UPDATE_METHODS: &[&str] = &[SCRIPT_METHOD, SET_DEFAULT_METHOD, RELEASE_METHOD, PARK_METHOD, ATTACK_METHOD];

/// Every query method the adversary canister exports (`canister_query <name>`).
pub const QUERY_METHODS: &[&str] = &[HOLDS_METHOD, SERVED_METHOD];

/// Arguments of [`SCRIPT_METHOD`]: the slot (`None`: the any-method queue, taken by a call on any slot whose own
/// queue is empty) and the actions to append to its queue.
pub type ScriptArgs = (Option<u32>, Vec<Action>);

/// Arguments of [`SET_DEFAULT_METHOD`]: the slot and its new default action.
pub type SetDefaultArgs = (u32, Action);

/// Arguments of [`RELEASE_METHOD`]: the hold id (as [`HOLDS_METHOD`] lists them), `None` for every hold.
pub type ReleaseArgs = (Option<u64>,);

/// Arguments of [`ATTACK_METHOD`]: target canister, method, raw Candid argument bytes, cycles to attach, and whether
/// to make a bounded-wait (best-effort) call instead of an unbounded-wait one.
pub type AttackArgs = (Principal, String, Vec<u8>, u128, bool);

/// Reply of [`HOLDS_METHOD`]: the ids of the held calls, ascending.
pub type HoldsReply = Vec<u64>;

/// Reply of [`SERVED_METHOD`]: the number of incoming calls served so far.
pub type ServedReply = u64;

/// What the adversary does with one incoming call.
///
/// Besides Candid, the type has a serde form for structured files (JSON and the like), where byte fields are
/// lowercase hex strings (see [`hex_bytes`]); Candid encoding and decoding are those of plain `Vec<u8>` fields.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reply with these bytes (a well-typed Candid value or anything else).
    Reply(#[serde(with = "hex_bytes")] Vec<u8>),
    /// Reply with `len` pseudo-random bytes drawn from `seed`.
    Garbage {
        /// Reply size in bytes.
        len: u32,
        /// Seed of the canister's byte generator.
        seed: u64,
    },
    /// Reply with a Candid `text` value whose encoding is `len` bytes. Past the 2 MiB inter-canister response
    /// limit the reply itself traps, as it would for any canister.
    Oversized {
        /// Reply size in bytes.
        len: u64,
    },
    /// Reject the call (CANISTER_REJECT) with this message.
    Reject(String),
    /// Trap with this message.
    Trap(String),
    /// Keep the call context open until [`RELEASE_METHOD`] releases it (or, if set, until the time is reached),
    /// then act on `then`.
    Hold {
        /// Release on its own once `ic0.time` reaches this many nanoseconds.
        release_at_nanos: Option<u64>,
        /// What to do once released.
        then: Box<Action>,
    },
    /// Call `method` on `target` (the caller of the current call when `None`: reentrancy), wait for its answer
    /// (whatever it is), then act on `then`.
    CallThen {
        /// Whom to call; `None` is the canister that called the adversary.
        target: Option<Principal>,
        /// The method.
        method: String,
        /// Raw Candid arguments.
        #[serde(with = "hex_bytes")]
        arg: Vec<u8>,
        /// Make a bounded-wait (best-effort) call instead of an unbounded-wait one.
        bounded_wait: bool,
        /// What to do after the answer.
        then: Box<Action>,
    },
}

/// The answer [`ATTACK_METHOD`] got: the target's answer to the attacker's call.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum AttackResult {
    /// The target replied with these bytes.
    Reply(Vec<u8>),
    /// The call was rejected.
    Reject {
        /// The reject code (1 SYS_FATAL … 6 SYS_UNKNOWN), 0 if the call could not be made at all.
        code: u32,
        /// The reject message.
        message: String,
    },
}

/// Serde helper (`#[serde(with = "hex_bytes")]`): byte strings as lowercase hex in human-readable formats.
///
/// Candid's `Deserialize` is serde's, so a `with` helper also runs when Candid decodes the field. Candid's
/// deserializer is not human-readable, and for such formats the helper does exactly what a plain `Vec<u8>` field
/// does: the Candid wire format stays `vec nat8`. (Candid encoding goes through `CandidType`, which ignores
/// `with`.)
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `bytes` as a hex string if the format is human-readable, else as a plain `Vec<u8>` would.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex(bytes))
        } else {
            bytes.serialize(s)
        }
    }

    /// Deserializes a hex string if the format is human-readable, else as a plain `Vec<u8>` would.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if !d.is_human_readable() {
            return Vec::<u8>::deserialize(d);
        }
        let text = String::deserialize(d)?;
        unhex(&text).ok_or_else(|| serde::de::Error::custom(format!("not a hex byte string: {text:?}")))
    }

    /// Lowercase hex.
    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses lowercase or uppercase hex, two digits a byte; `None` for an odd length or a pair that is not a number.
    pub fn unhex(text: &str) -> Option<Vec<u8>> {
        if text.len() % 2 != 0 {
            return None;
        }
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
    }
}

#[cfg(test)]
mod tests;
