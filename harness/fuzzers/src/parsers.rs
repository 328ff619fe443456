//! Fuzzing icfuzz's own parsers: whatever a user feeds icfuzz — `icfuzz.toml`, `.did` text (and the values
//! generated from its types), scenario and crash JSON of every format version, declarative `check` expressions,
//! `dfx.json`/`icp.yaml`, Candid argument text — is accepted or refused with a message; it never panics, hangs or
//! allocates out of proportion to its size. What is accepted also survives a round trip where icfuzz writes the
//! format back (`icfuzz.resolved.toml`, scenario files): what it writes, it reads back unchanged.
//!
//! Raw crash bytes are the example fuzz targets' input: every byte string decodes to a scenario there.

use std::path::Path;

use arbitrary::Unstructured;
use icfuzz::config::{project, split_comparison, Config};
use icfuzz::environment::replace_placeholders;
use icfuzz::interface::{parse_args, Interface};
use icfuzz::oracle::declarative::{Op, Operand};
use icfuzz::scenario::values::ValueGen;
use icfuzz::Scenario;

/// One of the parsers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    /// `icfuzz.toml` (and `icfuzz.resolved.toml`, which icfuzz writes and reads back).
    Config,
    /// A `.did` file; each method's arguments are then generated from the rest of the input and encoded.
    Did,
    /// A saved scenario (`crash-*.json`), any format version.
    Scenario,
    /// A declarative invariant's `check`.
    Check,
    /// A `dfx.json` (input starting with `{`) or an `icp.yaml`.
    Project,
    /// Candid argument text (`init_args`, setup calls, query arguments).
    CandidArgs,
}

impl Parser {
    /// Every parser, in the order of the CI run.
    pub const ALL: [Parser; 6] =
        [Parser::Config, Parser::Did, Parser::Scenario, Parser::Check, Parser::Project, Parser::CandidArgs];
}

/// What a parser made of an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not UTF-8: every format is text, and icfuzz refuses such a file before parsing.
    NotText,
    /// Accepted.
    Accepted,
    /// Refused, with this message.
    Refused(String),
}

/// Runs `parser` on `data`. Panics (the fuzzer's signal) when the parser panics, refuses with an empty message,
/// or accepts something it cannot write back unchanged.
pub fn run(parser: Parser, data: &[u8]) -> Verdict {
    // The `.did` target reads text up to the first NUL and generates values from the bytes after it.
    let (text, rest) = match parser {
        Parser::Did => data.split_at(data.iter().position(|&b| b == 0).unwrap_or(data.len())),
        _ => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return Verdict::NotText };
    let result = match parser {
        Parser::Config => config(text),
        Parser::Did => did(text, rest),
        Parser::Scenario => scenario(text),
        Parser::Check => check(text),
        Parser::Project => {
            let name = if text.trim_start().starts_with('{') { "dfx.json" } else { "icp.yaml" };
            // Every place a module may be holds one, so everything after the lookup runs too.
            project::parse(name, text, Path::new("/project"), &|_| true).map(|_| ())
        }
        // As icfuzz reads arguments: placeholders (`{ledger}`) become principals, then the text is parsed.
        Parser::CandidArgs => {
            let text = replace_placeholders(text, |_| Ok::<_, String>("principal \"aaaaa-aa\"".into())).expect("infallible");
            parse_args(&text).map(|_| ())
        }
    };
    match result {
        Ok(()) => Verdict::Accepted,
        Err(message) => {
            assert!(!message.trim().is_empty(), "{parser:?} refused {text:?} without saying why");
            Verdict::Refused(message)
        }
    }
}

fn config(text: &str) -> Result<(), String> {
    let config = Config::parse(text)?;
    let written = config.to_toml();
    let back = Config::parse(&written).unwrap_or_else(|e| panic!("icfuzz cannot read the config it wrote: {e}\n{written}"));
    assert_eq!(back, config, "the config changed in a round trip through\n{written}");
    Ok(())
}

fn did(text: &str, values: &[u8]) -> Result<(), String> {
    let interface = Interface::parse(text).map_err(|e| e.to_string())?;
    let generator = ValueGen::new(&interface.env, &[], &["icfuzz"]);
    let mut u = Unstructured::new(values);
    for method in &interface.methods {
        let Ok(args) = generator.args(&mut u, &method.args) else { break };
        // What the generator makes for a type, the encoder accepts and the decoder reads back.
        let bytes = args
            .to_bytes_with_types(&interface.env, &method.args)
            .unwrap_or_else(|e| panic!("a generated argument of `{}` does not encode: {e}", method.name));
        assert!(interface.decode_to_text(&bytes, &method.args).is_some(), "`{}`: generated argument does not decode", method.name);
    }
    Ok(())
}

fn scenario(text: &str) -> Result<(), String> {
    let scenario = Scenario::from_json(text)?;
    let written = scenario.to_json();
    let back = Scenario::from_json(&written).unwrap_or_else(|e| panic!("icfuzz cannot read the scenario it wrote: {e}\n{written}"));
    assert_eq!(back, scenario, "the scenario changed in a round trip through\n{written}");
    Ok(())
}

fn check(text: &str) -> Result<(), String> {
    let (left, op, right) = split_comparison(text)?;
    Operand::parse(left)?;
    Operand::parse(right)?;
    let _: Op = op;
    Ok(())
}
