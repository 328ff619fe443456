//! Adversaries: the malicious-callee behaviour model and the canister that acts it out.
//!
//! An adversary slot is an instance of `canisters/adversary` (a real ic-cdk canister, so it behaves the same on
//! any backend). It impersonates a set of methods — the ones the canister under test calls on it — by export
//! aliases added to its module ([`impersonate`]), and serves each incoming call with the next scripted
//! [`Action`]. The harness scripts it with controller-only update calls (`icfuzz_script`, `icfuzz_release`,
//! `icfuzz_set_default`) and uses it as an attacker canister through `icfuzz_attack`.

use candid::{CandidType, Deserialize, Principal};
use serde::Serialize;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{Parser, Payload};

/// How many methods one adversary can impersonate (the canister's handler slots).
pub const SLOTS: usize = 32;

/// The self-call a held call polls while it waits to be released. The runner never has to deliver these.
pub const PARK_METHOD: &str = "icfuzz_park";

/// Update methods of the adversary that drive it; the runner keeps them out of traces.
pub const CONTROL_METHODS: &[&str] = &["icfuzz_script", "icfuzz_set_default", "icfuzz_release", PARK_METHOD];

/// The attacker entry point: calls any method of any canister as the adversary.
pub const ATTACK_METHOD: &str = "icfuzz_attack";

/// What an adversary does with one incoming call. Mirrors the canister's Candid type `Action`.
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
    /// Reply with a Candid `text` whose encoding is `len` bytes; past the 2 MiB response limit the reply traps.
    Oversized {
        /// Reply size in bytes.
        len: u64,
    },
    /// Reject (CANISTER_REJECT) with this message.
    Reject(String),
    /// Trap with this message.
    Trap(String),
    /// Keep the call context open until released (or until `ic0.time` reaches `release_at_nanos`), then `then`.
    Hold {
        /// Release on its own at this time.
        release_at_nanos: Option<u64>,
        /// What to do once released.
        then: Box<Action>,
    },
    /// Call `method` on `target` (the caller when `None`: reentrancy), wait for the answer, then `then`.
    CallThen {
        /// Whom to call; `None` is whoever called the adversary.
        target: Option<Principal>,
        /// The method.
        method: String,
        /// Raw Candid arguments.
        #[serde(with = "hex_bytes")]
        arg: Vec<u8>,
        /// A bounded-wait call instead of an unbounded-wait one.
        bounded_wait: bool,
        /// What to do after the answer.
        then: Box<Action>,
    },
}

/// What `icfuzz_attack` returns: the target's answer to the attacker's call.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum AttackResult {
    /// The target replied.
    Reply(Vec<u8>),
    /// The call was rejected (`code` 0: the call could not be made).
    Reject {
        /// Reject code.
        code: u32,
        /// Reject message.
        message: String,
    },
}

/// Errors preparing an adversary module.
#[derive(Debug, thiserror::Error)]
pub enum AdversaryError {
    /// More methods than slots.
    #[error("an adversary impersonates at most {SLOTS} methods, {0} were asked for")]
    TooManyMethods(usize),
    /// The module is not the adversary canister (no `icfuzz_slot_<n>` handlers).
    #[error("the adversary module has no handler export `icfuzz_slot_{0}`")]
    MissingSlot(usize),
    /// The module could not be parsed or re-encoded.
    #[error("adversary module: {0}")]
    Wasm(String),
    /// A method name is impersonated twice or clashes with the adversary's own methods.
    #[error("method `{0}` cannot be impersonated (duplicate, or one of the adversary's own methods)")]
    BadMethod(String),
}

/// Adds an export `canister_update <method>` for each of `methods`, aliasing handler slot `i` for `methods[i]`.
/// Everything else in the module is copied unchanged.
pub fn impersonate(adversary_wasm: &[u8], methods: &[String]) -> Result<Vec<u8>, AdversaryError> {
    if methods.len() > SLOTS {
        return Err(AdversaryError::TooManyMethods(methods.len()));
    }
    let wasm_error = |e: &dyn std::fmt::Display| AdversaryError::Wasm(e.to_string());
    let mut out = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(adversary_wasm) {
        let payload = payload.map_err(|e| wasm_error(&e))?;
        match payload {
            Payload::ExportSection(reader) => {
                let mut exports = ExportSection::new();
                let mut slots = vec![None; SLOTS];
                let mut taken = std::collections::BTreeSet::new();
                for export in reader {
                    let export = export.map_err(|e| wasm_error(&e))?;
                    if let Some(slot) = export.name.strip_prefix("icfuzz_slot_").and_then(|n| n.parse::<usize>().ok()) {
                        if slot < SLOTS {
                            slots[slot] = Some(export.index);
                        }
                    }
                    taken.insert(export.name.to_owned());
                    let kind = RoundtripReencoder.export_kind(export.kind).map_err(|e| wasm_error(&e))?;
                    exports.export(export.name, kind, export.index);
                }
                for (slot, method) in methods.iter().enumerate() {
                    let index = slots[slot].ok_or(AdversaryError::MissingSlot(slot))?;
                    let name = format!("canister_update {method}");
                    if !taken.insert(name.clone()) || method.starts_with("icfuzz_") {
                        return Err(AdversaryError::BadMethod(method.clone()));
                    }
                    exports.export(&name, ExportKind::Func, index);
                }
                out.section(&exports);
            }
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&RawSection { id, data: &adversary_wasm[range] });
                }
            }
        }
    }
    Ok(out.finish())
}

/// Serde helper: byte strings as lowercase hex in structured files.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        unhex(&text).ok_or_else(|| serde::de::Error::custom(format!("not a hex byte string: {text:?}")))
    }

    /// Lowercase hex.
    pub(crate) fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses lowercase or uppercase hex.
    pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
        if text.len() % 2 != 0 {
            return None;
        }
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
    }
}
