//! Adversaries: the malicious-callee behaviour model and the canister that acts it out.
//!
//! An adversary slot is an instance of `canisters/adversary` (a real ic-cdk canister, so it behaves the same on
//! any backend). It impersonates a set of methods — the ones the canister under test calls on it — by export
//! aliases added to its module ([`impersonate`]), and serves each incoming call with the next scripted
//! [`Action`]. The harness scripts it with controller-only update calls (`icfuzz_script`, `icfuzz_release`,
//! `icfuzz_set_default`) and uses it as an attacker canister through `icfuzz_attack`.
//!
//! The wire contract with the canister — [`Action`], [`AttackResult`], the method names and argument shapes, the
//! slots — is defined once in `icfuzz-adversary-wire`, which the canister depends on too; [`wire`] re-exports it.

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{Parser, Payload};

// The wire contract is defined once, in the crate the canister uses too; these are the paths users already know.
pub use icfuzz_adversary_wire::{Action, AttackResult, ATTACK_METHOD, CONTROL_METHODS, PARK_METHOD, SLOTS};
/// The rest of the adversary's wire contract: every method name, argument shapes, the slot export prefix.
pub use icfuzz_adversary_wire as wire;
pub(crate) use icfuzz_adversary_wire::hex_bytes;
use icfuzz_adversary_wire::{OWN_NAME_PREFIX, SLOT_EXPORT_PREFIX};

/// Errors preparing an adversary module.
#[derive(Debug, thiserror::Error)]
pub enum AdversaryError {
    /// More methods than slots.
    #[error("an adversary impersonates at most {SLOTS} methods, {0} were asked for")]
    TooManyMethods(usize),
    /// The module is not the adversary canister (no `icfuzz_slot_<n>` handlers).
    #[error("the adversary module has no handler export `{SLOT_EXPORT_PREFIX}{0}`")]
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
                    let slot = export.name.strip_prefix(SLOT_EXPORT_PREFIX).and_then(|n| n.parse::<usize>().ok());
                    if let Some(slot) = slot {
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
                    if !taken.insert(name.clone()) || method.starts_with(OWN_NAME_PREFIX) {
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
