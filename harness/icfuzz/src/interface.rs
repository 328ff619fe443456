//! Candid interfaces of canisters: where they come from and what the fuzzer needs of them.
//!
//! An interface is read from a `.did` file, from the module's `candid:service` metadata section, from the
//! `get_candid_pointer` export that ic-cdk's `export_candid!()` adds (all a plain cargo build has; what
//! candid-extractor reads), or from the canister's own `__get_candid_interface_tmp_hack` query, in that order.

use candid::types::{FuncMode, Type, TypeEnv};
use candid::IDLArgs;

/// A method of a canister's interface.
#[derive(Clone, Debug)]
pub struct Method {
    /// The method name.
    pub name: String,
    /// Argument types.
    pub args: Vec<Type>,
    /// Result types.
    pub rets: Vec<Type>,
    /// `query` or `composite_query` (not callable as an update through ingress state changes).
    pub query: bool,
}

/// A parsed Candid service: its methods and the types they refer to.
#[derive(Clone, Debug)]
pub struct Interface {
    /// Named types the method types refer to.
    pub env: TypeEnv,
    /// Methods in the order of the service definition.
    pub methods: Vec<Method>,
    /// Init argument types (empty when the service is not a class).
    pub init_args: Vec<Type>,
}

/// Errors reading an interface or encoding values against it.
#[derive(Debug, thiserror::Error)]
pub enum InterfaceError {
    /// The Candid text does not parse or type-check.
    #[error("invalid Candid interface: {0}")]
    Parse(String),
    /// The interface has no service.
    #[error("the Candid interface defines no service")]
    NoService,
    /// No method of that name.
    #[error("the interface has no method `{0}`")]
    NoMethod(String),
    /// Candid arguments do not parse or do not match the types.
    #[error("Candid arguments {text:?}: {error}")]
    Args {
        /// The argument text.
        text: String,
        /// What is wrong.
        error: String,
    },
}

impl Interface {
    /// Parses a `.did` text (a service or a service class).
    pub fn parse(did: &str) -> Result<Interface, InterfaceError> {
        // Not `instantiate_candid`: its parser prints a coloured diagnostic to stderr on errors, and ours go
        // into the error value (one line for the command line, structured for the library).
        let prog: candid_parser::IDLProg = did.parse().map_err(|e: candid_parser::Error| InterfaceError::Parse(e.to_string()))?;
        let mut env = TypeEnv::new();
        let actor = candid_parser::check_prog(&mut env, &prog).map_err(|e| InterfaceError::Parse(e.to_string()))?;
        let actor = actor.ok_or(InterfaceError::NoService)?;
        let actor = env.trace_type(&actor).map_err(|e| InterfaceError::Parse(e.to_string()))?;
        let (init_args, service) = match actor.as_ref() {
            candid::types::TypeInner::Class(args, ty) => (args.clone(), ty.clone()),
            _ => (Vec::new(), actor.clone()),
        };
        let mut methods = Vec::new();
        for (name, ty) in env.as_service(&service).map_err(|e| InterfaceError::Parse(e.to_string()))? {
            let func = env.as_func(ty).map_err(|e| InterfaceError::Parse(e.to_string()))?;
            methods.push(Method {
                name: name.clone(),
                args: func.args.clone(),
                rets: func.rets.clone(),
                query: func.modes.iter().any(|m| matches!(m, FuncMode::Query | FuncMode::CompositeQuery)),
            });
        }
        Ok(Interface { env, methods, init_args })
    }

    /// The interface in a module's `candid:service` metadata (public or private custom section), if any.
    pub fn from_wasm_metadata(wasm: &[u8]) -> Option<Result<Interface, InterfaceError>> {
        metadata_did(wasm).map(|text| match text {
            Ok(text) => Interface::parse(&text),
            Err(e) => Err(e),
        })
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Result<&Method, InterfaceError> {
        self.methods.iter().find(|m| m.name == name).ok_or_else(|| InterfaceError::NoMethod(name.to_owned()))
    }

    /// Update methods (the ones ingress and attacker calls may change state through).
    pub fn updates(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(|m| !m.query)
    }

    /// Encodes Candid text (e.g. `(principal "aaaaa-aa", 5)`) as arguments of the given types.
    pub fn encode_args(&self, text: &str, types: &[Type]) -> Result<Vec<u8>, InterfaceError> {
        encode_args(&self.env, text, types)
    }

    /// Decodes bytes as values of the given types and prints them as Candid text (`None` if they do not decode).
    pub fn decode_to_text(&self, bytes: &[u8], types: &[Type]) -> Option<String> {
        IDLArgs::from_bytes_with_types(bytes, &self.env, types).ok().map(|args| args.to_string())
    }
}

/// Encodes Candid text as arguments of the given types in `env`.
pub fn encode_args(env: &TypeEnv, text: &str, types: &[Type]) -> Result<Vec<u8>, InterfaceError> {
    let error = |error: String| InterfaceError::Args { text: text.to_owned(), error };
    let args = candid_parser::parse_idl_args(text).map_err(|e| error(e.to_string()))?;
    let args = args.annotate_types(true, env, types).map_err(|e| error(e.to_string()))?;
    args.to_bytes_with_types(env, types).map_err(|e| error(e.to_string()))
}

/// Candid text of arbitrary bytes: decoded without types if they are Candid, else as a blob literal.
pub fn bytes_to_text(bytes: &[u8]) -> String {
    match IDLArgs::from_bytes(bytes) {
        Ok(args) => args.to_string(),
        Err(_) if bytes.len() > 64 => format!("<{} bytes, not Candid: {}…>", bytes.len(), hex_prefix(bytes)),
        Err(_) => format!("<{} bytes, not Candid: {}>", bytes.len(), hex_prefix(bytes)),
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    crate::adversary::hex_bytes::hex(&bytes[..bytes.len().min(32)])
}

/// A gzip-compressed module (as dfx ships them) is decompressed (up to 256 MiB); anything else is used as is.
pub(crate) fn maybe_gunzip(wasm: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    use std::io::Read;
    if !wasm.starts_with(&[0x1f, 0x8b]) {
        return Some(std::borrow::Cow::Borrowed(wasm));
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(wasm).take(256 << 20).read_to_end(&mut out).ok()?;
    Some(std::borrow::Cow::Owned(out))
}

/// The `candid:service` metadata of a module (plain or gzipped), as text, if it has one.
pub fn metadata_did(wasm: &[u8]) -> Option<Result<String, InterfaceError>> {
    let wasm = maybe_gunzip(wasm)?;
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        let Ok(payload) = payload else { return None };
        if let wasmparser::Payload::CustomSection(section) = payload {
            if matches!(section.name(), "icp:public candid:service" | "icp:private candid:service") {
                return Some(match std::str::from_utf8(section.data()) {
                    Ok(text) => Ok(text.to_owned()),
                    Err(_) => Err(InterfaceError::Parse("candid:service metadata is not UTF-8".into())),
                });
            }
        }
    }
    None
}

/// The module without one export (e.g. `canister_init`), everything else copied; `None` if it does not parse.
pub(crate) fn without_export(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
    let wasm = maybe_gunzip(wasm)?;
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        match payload.ok()? {
            wasmparser::Payload::ExportSection(reader) => {
                let mut exports = wasm_encoder::ExportSection::new();
                for export in reader {
                    let export = export.ok()?;
                    if export.name != name {
                        exports.export(export.name, RoundtripReencoder.export_kind(export.kind).ok()?, export.index);
                    }
                }
                out.section(&exports);
            }
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&wasm_encoder::RawSection { id, data: &wasm[range] });
                }
            }
        }
    }
    Some(out.finish())
}

/// Whether the module (plain or gzipped) exports `name`.
pub(crate) fn has_export(wasm: &[u8], name: &str) -> bool {
    let Some(wasm) = maybe_gunzip(wasm) else { return false };
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let Ok(wasmparser::Payload::ExportSection(reader)) = payload {
            return reader.into_iter().flatten().any(|e| e.name == name);
        }
    }
    false
}
