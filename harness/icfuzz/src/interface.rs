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
    /// A type nests deeper than icfuzz handles (encoding such values costs time that grows much faster than the
    /// depth).
    #[error("the Candid interface nests a type {depth} levels deep (`{name}`); icfuzz handles at most {MAX_TYPE_DEPTH}")]
    TooDeep {
        /// Where: a method or type name.
        name: String,
        /// How deep it nests.
        depth: usize,
    },
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
        // The parser and type checker recurse on nesting: measure it on the text first, so no input can overflow
        // the stack (the exact limit is checked on the parsed types below).
        let nesting = text_nesting(did);
        if nesting > MAX_TEXT_NESTING {
            return Err(InterfaceError::TooDeep { name: "the .did text".to_owned(), depth: nesting });
        }
        // Not `instantiate_candid`: its parser prints a coloured diagnostic to stderr on errors, and ours go
        // into the error value (one line for the command line, structured for the library).
        let prog: candid_parser::IDLProg = did.parse().map_err(|e: candid_parser::Error| {
            // The parser's positions are byte offsets; users count lines.
            let message = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            match e.report().labels.first() {
                Some(label) => {
                    let (line, column) = crate::position::line_column(did, label.range.start);
                    InterfaceError::Parse(format!("line {line}, column {column}: {message}"))
                }
                None => InterfaceError::Parse(message),
            }
        })?;
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
        let deepest = env
            .0
            .iter()
            .map(|(name, ty)| (name.clone(), type_depth(ty)))
            .chain(methods.iter().map(|m| (m.name.clone(), m.args.iter().chain(&m.rets).map(type_depth).max().unwrap_or(0))))
            .chain(std::iter::once(("init".to_owned(), init_args.iter().map(type_depth).max().unwrap_or(0))))
            .max_by_key(|(_, depth)| *depth);
        if let Some((name, depth)) = deepest.filter(|(_, depth)| *depth > MAX_TYPE_DEPTH) {
            return Err(InterfaceError::TooDeep { name, depth });
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

/// Deepest type nesting an interface may have. Real interfaces nest a few levels (recursive types go through names,
/// which do not count); Candid's type table for a value of a type nested `n` deep takes time growing like `n³`,
/// so 5,000 nested `opt`s would stall every call.
pub const MAX_TYPE_DEPTH: usize = 64;

/// Deepest nesting of a `.did` text that is parsed at all (an over-estimate of the type depth, see
/// [`text_nesting`]); far above [`MAX_TYPE_DEPTH`] and far below what overflows the parser's stack.
const MAX_TEXT_NESTING: usize = 1_000;

/// An upper bound of how deep the types of a `.did` text nest, read from its tokens without parsing: every `{`
/// and `(` opens a level, and so does each `opt` and `vec`, whose levels close when the type they wrap ends (at a
/// name, or at the bracket closing a `record`, `variant` or argument list). Comments and strings are skipped.
fn text_nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    // Per open bracket: the `opt`/`vec` chain that was pending when it opened.
    let mut frames: Vec<usize> = Vec::new();
    let mut carried = 0; // sum of the chains saved in `frames`
    let mut chain = 0; // `opt`/`vec` keywords since the last complete type
    let mut deepest = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        // Bytes, not `str` slices: an escape or a multi-byte character may leave `i` inside a character.
        if bytes[i..].starts_with(b"//") {
            i += bytes[i..].iter().position(|&b| b == b'\n').unwrap_or(bytes.len() - i);
        } else if bytes[i..].starts_with(b"/*") {
            i += bytes[i + 2..].windows(2).position(|w| w == b"*/").map_or(bytes.len() - i, |end| end + 4);
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'{' || c == b'(' {
            frames.push(chain);
            carried += chain;
            chain = 0;
            i += 1;
        } else if c == b'}' || c == b')' {
            carried -= frames.pop().unwrap_or(0).min(carried);
            chain = 0;
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            match &bytes[start..i] {
                b"opt" | b"vec" => chain += 1,
                // These open their level with the bracket that follows.
                b"record" | b"variant" | b"func" | b"service" => {}
                // A name: a complete type (ending the chain) or a label (before any chain of its type).
                _ => chain = 0,
            }
        } else {
            i += 1;
        }
        deepest = deepest.max(frames.len() + carried + chain);
    }
    deepest
}

/// How deep a type nests, not following names (each named type is measured on its own).
fn type_depth(ty: &Type) -> usize {
    use candid::types::TypeInner;
    // Iterative, so a type nested far deeper than the limit cannot overflow the stack while being measured.
    let mut deepest = 0;
    let mut stack = vec![(ty.clone(), 1usize)];
    while let Some((ty, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match ty.as_ref() {
            TypeInner::Opt(inner) | TypeInner::Vec(inner) => stack.push((inner.clone(), depth + 1)),
            TypeInner::Record(fields) | TypeInner::Variant(fields) => {
                stack.extend(fields.iter().map(|f| (f.ty.clone(), depth + 1)));
            }
            TypeInner::Func(func) => stack.extend(func.args.iter().chain(&func.rets).map(|t| (t.clone(), depth + 1))),
            TypeInner::Service(methods) => stack.extend(methods.iter().map(|(_, t)| (t.clone(), depth + 1))),
            TypeInner::Class(args, t) => {
                stack.extend(args.iter().map(|t| (t.clone(), depth + 1)));
                stack.push((t.clone(), depth + 1));
            }
            _ => {}
        }
    }
    deepest
}

/// Parses Candid argument text (`(5, opt "a")`). The one way every argument text the user or a scenario file
/// supplies is parsed: text nested deeper than any interface allows is refused before the parser, which recurses
/// on nesting, could overflow the stack.
pub fn parse_args(text: &str) -> Result<IDLArgs, String> {
    let nesting = text_nesting(text);
    if nesting > MAX_TEXT_NESTING {
        return Err(format!("the value nests {nesting} levels deep; icfuzz handles at most {MAX_TYPE_DEPTH}"));
    }
    candid_parser::parse_idl_args(text).map_err(|e| e.to_string())
}

/// Encodes Candid text as arguments of the given types in `env`.
pub fn encode_args(env: &TypeEnv, text: &str, types: &[Type]) -> Result<Vec<u8>, InterfaceError> {
    let error = |error: String| InterfaceError::Args { text: text.to_owned(), error };
    let args = parse_args(text).map_err(error)?;
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
