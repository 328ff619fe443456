//! The environment a scenario runs in, as the executor sees it: canisters with their interfaces, modules and init
//! arguments, adversary slots, actors, names, setup calls. It is immutable once built
//! ([`crate::EnvironmentBuilder::build`] resolves it) and shared by every session that runs scenarios in it, on
//! any backend.

use std::collections::BTreeMap;

use candid::Principal;

use crate::engine::Config;
use crate::interface::{bytes_to_text, Interface, InterfaceError};

/// Errors setting up an environment or running a scenario in it (harness or configuration problems, never findings).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The environment could not be set up.
    #[error("setup: {0}")]
    Setup(String),
    /// A Candid interface or argument is wrong.
    #[error(transparent)]
    Interface(#[from] InterfaceError),
    /// The adversary module could not be prepared.
    #[error(transparent)]
    Adversary(#[from] crate::adversary::AdversaryError),
    /// A scenario does not fit the environment (unknown actor, canister or method).
    #[error("scenario: {0}")]
    Scenario(String),
}

/// A non-adversary canister of the environment.
#[derive(Clone, Debug)]
pub struct CanisterInfo {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: Principal,
    /// Its Candid interface.
    pub interface: Interface,
    pub(crate) wasm: Vec<u8>,
    pub(crate) init_arg: Vec<u8>,
    /// The init arguments as Candid text (placeholders substituted).
    pub(crate) init_text: String,
    /// Whether the init arguments were found by probing (the configuration gave none and the smallest values
    /// did not install).
    pub(crate) init_probed: bool,
    /// Cycles it starts with (`None`: the backend's default).
    pub(crate) cycles: Option<u128>,
    /// Whether scenarios call it and oracles watch it.
    pub target: bool,
    /// Whether scenarios may upgrade it.
    pub upgradable: bool,
    /// Methods scenarios never call.
    pub exclude: Vec<String>,
    /// Relative weights of methods in generated calls (unlisted methods weigh 1; 0 excludes).
    pub weights: BTreeMap<String, u32>,
    /// Identifier-like strings of its data segments ([`crate::words`]).
    pub(crate) words: Vec<String>,
}

impl CanisterInfo {
    /// Update methods scenarios may call.
    pub fn callable_methods(&self) -> impl Iterator<Item = &crate::interface::Method> {
        self.interface.updates().filter(|m| !self.exclude.contains(&m.name) && self.weight(&m.name) > 0)
    }

    /// The Candid-encoded init arguments it is installed with.
    pub fn init_arg(&self) -> &[u8] {
        &self.init_arg
    }

    /// The init arguments as Candid text, principals written out.
    pub fn init_text(&self) -> &str {
        &self.init_text
    }

    /// Whether the init arguments were found by probing: the configuration gave none, and the smallest
    /// well-typed values did not install.
    pub fn init_probed(&self) -> bool {
        self.init_probed
    }

    /// The weight of a method in generated calls.
    pub fn weight(&self, method: &str) -> u32 {
        self.weights.get(method).copied().unwrap_or(1)
    }
}

/// An adversary slot of the environment.
#[derive(Clone, Debug)]
pub struct AdversaryInfo {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: Principal,
    /// Impersonated methods; slot `i` answers `methods[i]`.
    pub methods: Vec<String>,
    /// The interface it impersonates, when known (types its replies).
    pub interface: Option<Interface>,
    /// The adversary canister's module with this slot's impersonation exports (what is installed).
    pub(crate) module: Vec<u8>,
}

/// A call the controller (or an actor) makes during setup; it must succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupCall {
    /// The actor making it; `None` for the controller.
    pub actor: Option<String>,
    /// The canister called, by name.
    pub canister: String,
    /// The method.
    pub method: String,
    /// Candid text of the arguments, with `{name}` placeholders.
    pub args: String,
}

/// Names of the environment: actors and canisters, both ways.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub(crate) by_name: BTreeMap<String, Principal>,
    pub(crate) by_principal: BTreeMap<Principal, String>,
}

impl Names {
    pub(crate) fn insert(&mut self, name: &str, principal: Principal) {
        self.by_name.insert(name.to_owned(), principal);
        self.by_principal.entry(principal).or_insert_with(|| name.to_owned());
    }

    /// The principal called `name`.
    pub fn principal(&self, name: &str) -> Option<Principal> {
        self.by_name.get(name).copied()
    }

    /// The principal called `name`, or written as `name` (a principal's text form, e.g. `aaaaa-aa` for the
    /// management canister, which has no name of its own).
    pub fn resolve(&self, name: &str) -> Option<Principal> {
        self.principal(name).or_else(|| Principal::from_text(name).ok())
    }

    /// The name of a principal, or its text form.
    pub fn name(&self, principal: &Principal) -> String {
        self.by_principal.get(principal).cloned().unwrap_or_else(|| principal.to_text())
    }

    /// Every named principal with its name (the first name given to it), e.g. to write `{name}` placeholders.
    pub fn named(&self) -> impl Iterator<Item = (&Principal, &str)> {
        self.by_principal.iter().map(|(p, n)| (p, n.as_str()))
    }
}

/// The principal the harness uses as every canister's controller.
pub fn controller_principal() -> Principal {
    Principal::self_authenticating(b"icfuzz controller")
}

/// The principal of a user actor: derived from its name, so it is the same in every run and on every backend.
pub fn user_principal(name: &str) -> Principal {
    Principal::self_authenticating(format!("icfuzz user {name}").as_bytes())
}

/// A resolved environment: everything a scenario needs to run on any backend.
#[derive(Clone, Debug)]
pub struct Environment {
    pub(crate) config: Config,
    pub(crate) names: Names,
    pub(crate) controller: Principal,
    pub(crate) canisters: Vec<CanisterInfo>,
    pub(crate) adversaries: Vec<AdversaryInfo>,
    pub(crate) actors: Vec<(String, Principal)>,
    pub(crate) setup: Vec<SetupCall>,
}

impl Environment {
    /// The engine configuration it was resolved with (and that an engine backend for it uses).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Canisters (adversaries excluded).
    pub fn canisters(&self) -> &[CanisterInfo] {
        &self.canisters
    }

    /// Adversary slots.
    pub fn adversaries(&self) -> &[AdversaryInfo] {
        &self.adversaries
    }

    /// Actors that send ingress calls, with their principals.
    pub fn actors(&self) -> &[(String, Principal)] {
        &self.actors
    }

    /// Names of actors and canisters.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The principal that controls every canister and drives the adversaries.
    pub fn controller(&self) -> Principal {
        self.controller
    }

    /// The setup calls, in order.
    pub fn setup_calls(&self) -> &[SetupCall] {
        &self.setup
    }

    /// The canister called `name`.
    pub fn canister(&self, name: &str) -> Result<&CanisterInfo, Error> {
        self.canisters.iter().find(|c| c.name == name).ok_or_else(|| Error::Scenario(format!("no canister `{name}`")))
    }

    /// The adversary called `name`.
    pub fn adversary(&self, name: &str) -> Result<&AdversaryInfo, Error> {
        self.adversaries.iter().find(|a| a.name == name).ok_or_else(|| Error::Scenario(format!("no adversary `{name}`")))
    }

    /// Whether `p` is an adversary.
    pub fn is_adversary(&self, p: &Principal) -> bool {
        self.adversaries.iter().any(|a| a.id == *p)
    }

    /// The name of the target canister with id `id`.
    pub fn target_name(&self, id: &Principal) -> Option<&str> {
        self.canisters.iter().find(|c| c.id == *id && c.target).map(|c| c.name.as_str())
    }

    /// Whether the canister called `name` is a target.
    pub fn is_target(&self, name: &str) -> bool {
        self.canisters.iter().any(|c| c.name == name && c.target)
    }

    /// Principals arguments are drawn from: adversaries first (the likeliest), then users, then canisters.
    pub fn principal_scope(&self) -> Vec<Principal> {
        let mut out: Vec<Principal> = self.adversaries.iter().map(|a| a.id).collect();
        out.extend(self.actors.iter().map(|(_, p)| *p).filter(|p| *p != Principal::anonymous()));
        out.extend(self.canisters.iter().map(|c| c.id));
        out
    }

    /// The Candid-encoded call of `canister.method(args)` (args as text with `{name}` placeholders).
    pub fn encode_call(&self, canister: &str, method: &str, args: &str) -> Result<(Principal, Vec<u8>), Error> {
        let text = substitute(args, &self.names)?;
        if let Some(c) = self.canisters.iter().find(|c| c.name == canister) {
            let m = c.interface.method(method)?;
            return Ok((c.id, c.interface.encode_args(&text, &m.args)?));
        }
        let id = self.names.principal(canister).ok_or_else(|| Error::Scenario(format!("no canister `{canister}`")))?;
        Ok((id, untyped_args(&text)?))
    }

    /// A reply of `canister.method` as Candid text, typed by the interface when known.
    pub fn decode_reply(&self, canister: &str, method: &str, bytes: &[u8]) -> String {
        self.canisters
            .iter()
            .find(|c| c.name == canister)
            .and_then(|c| c.interface.method(method).ok().and_then(|m| c.interface.decode_to_text(bytes, &m.rets)))
            .unwrap_or_else(|| bytes_to_text(bytes))
    }
}

/// Replaces every `{name}` placeholder with `principal "<id>"` of the named actor or canister, wherever it stands:
/// at the top level, inside records, variants, options and vectors. Candid's own braces (`record { … }`) and
/// string literals are left alone.
pub fn substitute(text: &str, names: &Names) -> Result<String, Error> {
    replace_placeholders(text, |name| {
        let p = names.principal(name).ok_or_else(|| Error::Setup(format!("`{{{name}}}` names no actor or canister")))?;
        Ok(format!("principal \"{p}\""))
    })
}

/// Whether `text` holds a `{name}` placeholder outside string literals.
pub(crate) fn has_placeholder(text: &str) -> bool {
    let mut found = false;
    let _ = replace_placeholders(text, |_| {
        found = true;
        Ok::<_, Error>(String::new())
    });
    found
}

/// Candid text with each placeholder `{name}` (a name of letters, digits, `_` and `-` directly between braces)
/// replaced by `with(name)`. A brace followed by anything else opens a record or variant body, and text in
/// double quotes is a string literal (with `\` escapes): both are copied as they are.
pub fn replace_placeholders<E>(text: &str, mut with: impl FnMut(&str) -> Result<String, E>) -> Result<String, E> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    out.push(c);
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            '{' => {
                let rest = &text[i + 1..];
                let len = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
                if len > 0 && rest[len..].starts_with('}') {
                    out.push_str(&with(&rest[..len])?);
                    // Skip the name and its closing brace.
                    for _ in 0..rest[..=len].chars().count() {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Encodes Candid text with the types its literals name (for canisters whose interface is not known yet).
pub(crate) fn untyped_args(text: &str) -> Result<Vec<u8>, Error> {
    let args = crate::interface::parse_args(text).map_err(|error| InterfaceError::Args { text: text.to_owned(), error })?;
    args.to_bytes().map_err(|e| Error::from(InterfaceError::Args { text: text.to_owned(), error: e.to_string() }))
}


#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut names = Names::default();
        names.insert("alice", Principal::from_slice(&[1]));
        names.insert("ledger", Principal::from_slice(&[2]));
        names
    }

    #[test]
    fn placeholders_are_substituted_wherever_they_stand() {
        let alice = format!("principal \"{}\"", Principal::from_slice(&[1]));
        let ledger = format!("principal \"{}\"", Principal::from_slice(&[2]));
        let names = names();
        assert_eq!(substitute("({alice}, 5 : nat64)", &names).unwrap(), format!("({alice}, 5 : nat64)"));
        assert_eq!(
            substitute("(record { ledger = {ledger}; fee = 10 : nat })", &names).unwrap(),
            format!("(record {{ ledger = {ledger}; fee = 10 : nat }})")
        );
        assert_eq!(
            substitute("(variant { Init = record { owners = vec { {alice}; {ledger} }; minter = opt {alice} } })", &names).unwrap(),
            format!("(variant {{ Init = record {{ owners = vec {{ {alice}; {ledger} }}; minter = opt {alice} }} }})")
        );
        // Candid's own braces and string literals are not placeholders.
        assert_eq!(substitute("(record {}, \"{alice} \\\" {ledger}\")", &names).unwrap(), "(record {}, \"{alice} \\\" {ledger}\")");
        assert!(substitute("({nobody})", &names).is_err());
        assert!(has_placeholder("record { a = {alice} }") && !has_placeholder("record { a = \"{alice}\" }"));
    }
}
