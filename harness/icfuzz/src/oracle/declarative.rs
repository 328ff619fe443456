//! Invariants written as data (the `[[invariant]]` tables of `icfuzz.toml`): a query result compared with a
//! constant or with another query, e.g. `ledger.balance_of({bank}) >= bank.liabilities()`.
//!
//! An operand is either a query, `canister.method(args)` with Candid text arguments (`{name}` placeholders stand
//! for principals), optionally followed by a path into the reply (`.field`, `.0`, `.Ok`) and a factor (`* 10`),
//! or a Candid literal (`100`, `false`, `"open"`, `principal "aaaaa-aa"`). Numbers of any Candid width compare
//! as integers; anything else compares for (in)equality.
//!
//! `old(query)` is the query's value before the step (on the state after setup for the first step; for an
//! invariant checked at quiescence, at the last check), so a check can say what a step may change:
//! `registry.owner() == old(registry.owner())`. Which steps a comparison judges can be narrowed to the steps in
//! which given methods replied to given callers, or to the steps during which no call of given callers was alive
//! ([`Comparison::after_calls`], [`Comparison::unless_calls_by`]).

use std::collections::BTreeMap;

use candid::types::value::{IDLField, IDLValue};
use candid::types::Label;
use candid::{Int, Principal};

use super::{FindingKind, Invariant, World};
use crate::environment::substitute;
use crate::interface::Interface;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// Parses `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn parse(text: &str) -> Result<Op, String> {
        Ok(match text.trim() {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            other => return Err(format!("unknown comparison `{other}` (use ==, !=, <, <=, >, >=)")),
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ordering == Equal,
            Op::Ne => ordering != Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }
}

/// One step of a path into a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PathElem {
    /// A record field or variant case by name.
    Name(String),
    /// A tuple position, a vector index, or the n-th of several return values.
    Index(u32),
}

/// One side of a comparison.
#[derive(Clone, Debug)]
pub struct Operand {
    text: String,
    source: Source,
    path: Vec<PathElem>,
    factor: Option<Int>,
}

#[derive(Clone, Debug)]
enum Source {
    Query {
        canister: String,
        method: String,
        args: String,
        /// The encoded arguments: placeholders name fixed principals, so they are encoded once per harness.
        encoded: Option<Vec<u8>>,
        /// Field names of the interface by hash, when it is known: untyped decoding gives records hashes only.
        names: Option<FieldNames>,
    },
    Literal(IDLValue),
    /// `old(query)`: the query's value before the step.
    Old {
        /// The query.
        inner: Box<Operand>,
        /// Its value after the last evaluation (or on the state after setup): the value before the next step.
        before: Option<IDLValue>,
    },
    /// A Candid value naming actors or canisters (`{controller}`, `opt {alice}`): parsed once the names are known.
    Template {
        /// The text, with placeholders.
        text: String,
        /// The value, once parsed.
        value: Option<IDLValue>,
    },
}

impl Operand {
    /// Parses an operand. A query's arguments are encoded with the types the environment's interface of the
    /// canister declares (its `.did`, metadata or the interface it reports), and its replies show the
    /// interface's field names; without one, numbers need annotations (`5 : nat64`).
    pub fn parse(text: &str) -> Result<Operand, String> {
        let trimmed = text.trim();
        let (body, factor) = split_factor(trimmed)?;
        if let Some(inner) = old_argument(body).map_err(|e| format!("`{trimmed}`: {e}"))? {
            let inner = Operand::parse(inner)?;
            if !matches!(inner.source, Source::Query { .. }) {
                return Err(format!(
                    "`{trimmed}`: old(...) takes a query, `canister.method(args)`: anything else is the same before a step \
                     as after it"
                ));
            }
            let source = Source::Old { inner: Box::new(inner), before: None };
            return Ok(Operand { text: trimmed.into(), source, path: Vec::new(), factor });
        }
        if let Some((canister, method, args, rest)) = split_query(body) {
            let path = parse_path(rest).map_err(|e| format!("`{trimmed}`: {e}"))?;
            let source =
                Source::Query { canister: canister.into(), method: method.into(), args: args.into(), encoded: None, names: None };
            return Ok(Operand { text: trimmed.into(), source, path, factor });
        }
        if crate::environment::has_placeholder(body) {
            // Names resolve when the environment exists; check the syntax now with any principal in their place.
            let probe = crate::environment::replace_placeholders(body, |_| Ok::<_, String>("principal \"aaaaa-aa\"".into()))?;
            literal(trimmed, &probe)?;
            let source = Source::Template { text: body.into(), value: None };
            return Ok(Operand { text: trimmed.into(), source, path: Vec::new(), factor });
        }
        let value = literal(trimmed, body)?;
        Ok(Operand { text: trimmed.into(), source: Source::Literal(value), path: Vec::new(), factor })
    }

    /// Before a scenario, on the state after setup: `old(...)` records the value its first evaluation returns
    /// (unknown if the query fails: that evaluation then returns the value it sees).
    pub(crate) fn start(&mut self, world: &mut World<'_>) {
        if let Source::Old { inner, before } = &mut self.source {
            *before = inner.eval(world).ok();
        }
    }

    /// Evaluates the operand now (`old(...)`: the value its query had at the previous evaluation, which the query's
    /// value now replaces).
    pub(crate) fn eval(&mut self, world: &mut World<'_>) -> Result<IDLValue, String> {
        let mut value = match &mut self.source {
            Source::Literal(v) => v.clone(),
            Source::Old { inner, before } => {
                let now = inner.eval(world)?;
                before.replace(now.clone()).unwrap_or(now)
            }
            Source::Template { text, value } => {
                if value.is_none() {
                    let substituted = substitute(text, world.names()).map_err(|e| e.to_string())?;
                    *value = Some(literal(&self.text, &substituted)?);
                }
                value.clone().expect("parsed above")
            }
            Source::Query { canister, method, args, encoded, names } => {
                if encoded.is_none() {
                    let (bytes, fields) = encode(world, canister, method, args)?;
                    *encoded = Some(bytes);
                    *names = fields;
                }
                let arg = encoded.clone().expect("encoded above");
                let reply = world.query_raw(canister, method, arg)?;
                let mut decoded = candid::IDLArgs::from_bytes(&reply).map_err(|e| format!("decoding {canister}.{method}: {e}"))?;
                if let Some(names) = names {
                    decoded.args.iter_mut().for_each(|value| names.relabel(value));
                }
                let mut values = decoded.args;
                if values.len() == 1 {
                    values.pop().expect("one value")
                } else {
                    // Several return values: the path starts with the position.
                    IDLValue::Record(
                        values.into_iter().enumerate().map(|(i, val)| IDLField { id: Label::Unnamed(i as u32), val }).collect(),
                    )
                }
            }
        };
        for elem in &self.path {
            value = walk(value, elem).map_err(|e| format!("`{}`: {e}", self.text))?;
        }
        if let Some(factor) = &self.factor {
            let n = to_int(&value).ok_or_else(|| format!("`{}` is not a number and cannot be multiplied", self.text))?;
            value = IDLValue::Int(n * factor.clone());
        }
        Ok(value)
    }
}

/// One Candid value written as text.
fn literal(operand: &str, text: &str) -> Result<IDLValue, String> {
    let args = crate::interface::parse_args(&format!("({text})"))
        .map_err(|e| format!("`{operand}` is neither a query `canister.method(args)` nor a Candid value: {e}"))?;
    match <[IDLValue; 1]>::try_from(args.args) {
        Ok([value]) => Ok(value),
        Err(_) => Err(format!("`{operand}` must be one Candid value")),
    }
}

/// The query's arguments, encoded with their declared types when the interface is known, and the interface's
/// field names.
type Encoded = (Vec<u8>, Option<FieldNames>);

fn encode(world: &World<'_>, canister: &str, method: &str, args: &str) -> Result<Encoded, String> {
    let text = substitute(args, world.names()).map_err(|e| e.to_string())?;
    let interface = world.env.canister(canister).ok().map(|c| &c.interface);
    match interface.and_then(|interface| Some((interface, interface.method(method).ok()?))) {
        Some((interface, m)) => {
            let bytes = interface.encode_args(&text, &m.args).map_err(|e| e.to_string())?;
            Ok((bytes, Some(FieldNames::of(interface))))
        }
        None => Ok((crate::environment::untyped_args(&text).map_err(|e| e.to_string())?, None)),
    }
}

/// The record and variant field names an interface declares, by their Candid hash. A reply decoded without types
/// has only the hashes; putting the names back makes messages readable (`author = …`, not `1_234_567 = …`). A
/// reply that does not match the interface (a stale `.did`) still decodes, which typed decoding would refuse.
#[derive(Clone, Debug, Default)]
struct FieldNames(BTreeMap<u32, String>);

impl FieldNames {
    fn of(interface: &Interface) -> FieldNames {
        let mut names = FieldNames::default();
        for ty in interface.env.0.values() {
            names.collect(ty);
        }
        for m in &interface.methods {
            m.args.iter().chain(&m.rets).for_each(|ty| names.collect(ty));
        }
        names
    }

    fn collect(&mut self, ty: &candid::types::Type) {
        use candid::types::TypeInner;
        match ty.as_ref() {
            TypeInner::Record(fields) | TypeInner::Variant(fields) => {
                for field in fields {
                    if let Label::Named(name) = field.id.as_ref() {
                        self.0.insert(candid::idl_hash(name), name.clone());
                    }
                    self.collect(&field.ty);
                }
            }
            TypeInner::Opt(inner) | TypeInner::Vec(inner) => self.collect(inner),
            _ => {}
        }
    }

    fn relabel(&self, value: &mut IDLValue) {
        let name = |label: &mut Label| {
            if let Label::Id(hash) = label {
                if let Some(name) = self.0.get(hash) {
                    *label = Label::Named(name.clone());
                }
            }
        };
        match value {
            IDLValue::Record(fields) => fields.iter_mut().for_each(|f| {
                name(&mut f.id);
                self.relabel(&mut f.val);
            }),
            IDLValue::Variant(variant) => {
                name(&mut variant.0.id);
                self.relabel(&mut variant.0.val);
            }
            IDLValue::Opt(inner) => self.relabel(inner),
            IDLValue::Vec(items) => items.iter_mut().for_each(|item| self.relabel(item)),
            _ => {}
        }
    }
}

/// Splits a trailing `* N`.
fn split_factor(text: &str) -> Result<(&str, Option<Int>), String> {
    let Some(star) = text.rfind('*') else { return Ok((text, None)) };
    let digits = text[star + 1..].trim().replace('_', "");
    // A `*` inside Candid text (e.g. in a string) is not a factor.
    // A factor is an integer literal: an optional `-`, then digits (`10-` is not one, whatever `Int` makes of it).
    let unsigned = digits.strip_prefix('-').unwrap_or(&digits);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) || text[star + 1..].contains('"') {
        return Ok((text, None));
    }
    let factor: Int = digits.parse().map_err(|e| format!("factor `{digits}`: {e:?}"))?;
    Ok((text[..star].trim_end(), Some(factor)))
}

/// `canister.method(args)rest` → its parts, or `None` if `text` is not a query.
fn split_query(text: &str) -> Option<(&str, &str, &str, &str)> {
    let ident = |s: &str| s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).unwrap_or(s.len());
    let canister_len = ident(text);
    if canister_len == 0 || !text[canister_len..].starts_with('.') {
        return None;
    }
    let after_dot = &text[canister_len + 1..];
    let method_len = ident(after_dot);
    if method_len == 0 || !after_dot[method_len..].starts_with('(') {
        return None;
    }
    let open = canister_len + 1 + method_len;
    let close = matching_paren(text, open)?;
    Some((&text[..canister_len], &after_dot[..method_len], &text[open..=close], &text[close + 1..]))
}

/// The index of the parenthesis closing the one at `open`, skipping Candid strings.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text[open..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `old(x)` → `x`; `None` for any other operand.
fn old_argument(text: &str) -> Result<Option<&str>, String> {
    let Some(rest) = text.strip_prefix("old") else { return Ok(None) };
    if !rest.trim_start().starts_with('(') {
        return Ok(None);
    }
    let open = text.len() - rest.trim_start().len();
    let close = matching_paren(text, open).ok_or("old(...) is not closed")?;
    if !text[close + 1..].trim().is_empty() {
        return Err("write what follows old(...) inside it: old(canister.method(args).field)".into());
    }
    Ok(Some(&text[open + 1..close]))
}

fn parse_path(rest: &str) -> Result<Vec<PathElem>, String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = rest.strip_prefix('.') else { return Err(format!("unexpected `{rest}` after the query")) };
    rest.split('.')
        .map(|part| {
            let part = part.trim();
            if part.is_empty() {
                Err("empty path element".to_owned())
            } else if let Ok(i) = part.parse::<u32>() {
                Ok(PathElem::Index(i))
            } else if part.chars().all(|c| c.is_alphanumeric() || c == '_') {
                Ok(PathElem::Name(part.to_owned()))
            } else {
                Err(format!("bad path element `{part}`"))
            }
        })
        .collect()
}

fn label_matches(label: &Label, elem: &PathElem) -> bool {
    match (label, elem) {
        (Label::Named(n), PathElem::Name(name)) => n == name,
        (Label::Id(id), PathElem::Name(name)) => *id == candid::idl_hash(name),
        (Label::Id(id) | Label::Unnamed(id), PathElem::Index(i)) => id == i,
        _ => false,
    }
}

fn walk(value: IDLValue, elem: &PathElem) -> Result<IDLValue, String> {
    match (value, elem) {
        (IDLValue::Record(fields), _) => {
            let shown = describe_labels(&fields);
            fields
                .into_iter()
                .find(|f| label_matches(&f.id, elem))
                .map(|f| f.val)
                .ok_or_else(|| format!("the reply has no field {elem:?} (fields: {shown})"))
        }
        (IDLValue::Variant(variant), _) => {
            if label_matches(&variant.0.id, elem) {
                Ok(variant.0.val)
            } else {
                Err(format!("the reply is the variant case {}, not {elem:?}", variant.0.id))
            }
        }
        (IDLValue::Opt(inner), _) => walk(*inner, elem),
        (IDLValue::None, _) => Err(format!("the reply is `null` where {elem:?} was expected")),
        (IDLValue::Vec(items), PathElem::Index(i)) => {
            let len = items.len();
            items.into_iter().nth(*i as usize).ok_or_else(|| format!("index {i} of a vector of {len}"))
        }
        (other, _) => Err(format!("cannot take {elem:?} of {other}")),
    }
}

fn describe_labels(fields: &[IDLField]) -> String {
    fields.iter().map(|f| f.id.to_string()).collect::<Vec<_>>().join(", ")
}

/// The integer value of any Candid number (untyped literals included).
fn to_int(value: &IDLValue) -> Option<Int> {
    Some(match value {
        IDLValue::Nat(n) => Int::from(n.clone()),
        IDLValue::Int(n) => n.clone(),
        IDLValue::Nat8(n) => Int::from(*n as u64),
        IDLValue::Nat16(n) => Int::from(*n as u64),
        IDLValue::Nat32(n) => Int::from(*n as u64),
        IDLValue::Nat64(n) => Int::from(*n),
        IDLValue::Int8(n) => Int::from(*n as i64),
        IDLValue::Int16(n) => Int::from(*n as i64),
        IDLValue::Int32(n) => Int::from(*n as i64),
        IDLValue::Int64(n) => Int::from(*n),
        IDLValue::Number(text) => text.replace('_', "").parse().ok()?,
        IDLValue::Reserved => return None,
        _ => return None,
    })
}

/// Record and variant labels by id, so a literal `record { owner = … }` equals a decoded `record { 947296307 = … }`.
fn normalized(value: &IDLValue) -> IDLValue {
    let field = |f: &IDLField| IDLField { id: Label::Id(f.id.get_id()), val: normalized(&f.val) };
    match value {
        IDLValue::Record(fields) => IDLValue::Record(fields.iter().map(field).collect()),
        IDLValue::Variant(v) => {
            let mut v = v.clone();
            v.0 = Box::new(field(&v.0));
            IDLValue::Variant(v)
        }
        IDLValue::Opt(inner) => IDLValue::Opt(Box::new(normalized(inner))),
        IDLValue::Vec(items) => IDLValue::Vec(items.iter().map(normalized).collect()),
        other => to_int(other).map(IDLValue::Int).unwrap_or_else(|| other.clone()),
    }
}

/// A caller a comparison's step filter names: an actor or adversary, or a query for a principal (`old(...)`: the
/// principal before the step, such as the owner a step may hand over from).
#[derive(Clone, Debug)]
enum Caller {
    Named(String),
    Value(Operand),
}

impl Caller {
    fn parse(text: &str) -> Result<Caller, String> {
        if !text.contains('(') {
            return Ok(Caller::Named(text.trim().to_owned()));
        }
        let operand = Operand::parse(text)?;
        match operand.source {
            Source::Query { .. } | Source::Old { .. } => Ok(Caller::Value(operand)),
            _ => Err(format!("`{text}`: a caller is a name or a query for a principal")),
        }
    }

    /// The caller's principal now (a query is evaluated, so `old(...)` follows every step).
    fn principal(&mut self, world: &mut World<'_>) -> Result<Principal, String> {
        match self {
            Caller::Named(name) => world.principal(name),
            Caller::Value(operand) => match operand.eval(world)? {
                IDLValue::Principal(p) => Ok(p),
                IDLValue::Opt(inner) => match *inner {
                    IDLValue::Principal(p) => Ok(p),
                    other => Err(format!("`{}` = {other}, not a principal", operand.text)),
                },
                other => Err(format!("`{}` = {other}, not a principal", operand.text)),
            },
        }
    }
}

/// A declarative invariant: `left op right`.
#[derive(Clone, Debug)]
pub struct Comparison {
    name: String,
    left: Operand,
    op: Op,
    right: Operand,
    at_quiescence: bool,
    kind: FindingKind,
    /// Judged only after steps in which one of these methods, `(canister, method or "*")`, replied (any, if empty).
    after_methods: Vec<(String, String)>,
    /// Judged only after steps in which a call of one of these callers replied (anyone's, if empty).
    after_callers: Vec<Caller>,
    /// Not judged in steps during which a call of one of these callers was alive (submitted, in flight, completed).
    unless_callers: Vec<Caller>,
}

impl Comparison {
    /// `left op right`, checked after every step (see [`Comparison::at_quiescence`]).
    pub fn new(name: &str, left: Operand, op: Op, right: Operand) -> Comparison {
        Comparison {
            name: name.to_owned(),
            left,
            op,
            right,
            at_quiescence: false,
            kind: FindingKind::Invariant,
            after_methods: Vec::new(),
            after_callers: Vec::new(),
            unless_callers: Vec::new(),
        }
    }

    /// Judge only the steps after which one of `methods` (`canister.method`, or `canister.*` for any of its
    /// methods; any method if empty) replied to one of `callers` (actors, adversaries; anyone if empty): "after a
    /// withdrawal by bob, ...". The operands are still evaluated after every step, so `old(...)` is always the
    /// value before the step.
    pub fn after_calls(mut self, methods: &[&str], callers: &[&str]) -> Result<Self, String> {
        for m in methods {
            let (canister, method) = m
                .split_once('.')
                .filter(|(c, m)| !c.is_empty() && !m.is_empty())
                .ok_or_else(|| format!("`{m}`: expected `canister.method` or `canister.*`"))?;
            self.after_methods.push((canister.to_owned(), method.to_owned()));
        }
        for c in callers {
            self.after_callers.push(Caller::parse(c)?);
        }
        Ok(self)
    }

    /// Do not judge steps during which a call of one of `callers` was alive (submitted before or during the step
    /// and completed during or after it). A caller is an actor or adversary, or a query for a principal:
    /// "only the owner changes the owner" is `registry.owner() == old(registry.owner())` unless calls by
    /// `old(registry.owner())`, the owner before the step.
    pub fn unless_calls_by(mut self, callers: &[&str]) -> Result<Self, String> {
        for c in callers {
            self.unless_callers.push(Caller::parse(c)?);
        }
        Ok(self)
    }

    /// Whether this step is one the comparison judges, given the principals of its callers.
    fn judges(&self, world: &World<'_>, after: &[Principal], unless: &[Principal]) -> bool {
        if !self.after_methods.is_empty() || !self.after_callers.is_empty() {
            let method_matches = |canister: &str, method: &str| {
                self.after_methods.is_empty() || self.after_methods.iter().any(|(c, m)| c == canister && (m == "*" || m == method))
            };
            let replied = world.step_calls().iter().any(|c| {
                c.result.is_ok() && method_matches(&c.canister, &c.method) && (after.is_empty() || after.contains(&c.caller))
            });
            if !replied {
                return false;
            }
        }
        let in_flight = world.in_flight_callers().filter_map(|name| world.principal(name).ok());
        let mut alive = world.step_calls().iter().map(|c| c.caller).chain(in_flight);
        !alive.any(|caller| unless.contains(&caller))
    }

    /// Check only when nothing is in flight.
    pub fn at_quiescence(mut self, on: bool) -> Self {
        self.at_quiescence = on;
        self
    }

    /// Report violations as this kind of finding (e.g. a lock that is never released).
    pub fn kind(mut self, kind: FindingKind) -> Self {
        self.kind = kind;
        self
    }
}

impl Invariant for Comparison {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> FindingKind {
        self.kind
    }
    fn at_quiescence(&self) -> bool {
        self.at_quiescence
    }
    fn start(&mut self, world: &mut World<'_>) {
        self.left.start(world);
        self.right.start(world);
        for caller in self.after_callers.iter_mut().chain(&mut self.unless_callers) {
            if let Caller::Value(operand) = caller {
                operand.start(world);
            }
        }
    }
    fn check(&mut self, world: &mut World<'_>) -> Result<(), String> {
        // Both sides first, on every step: `old(...)` must see every state to know the one before the next step.
        let left = self.left.eval(world);
        let right = self.right.eval(world);
        let after: Result<Vec<Principal>, String> = self.after_callers.iter_mut().map(|c| c.principal(world)).collect();
        let unless: Result<Vec<Principal>, String> = self.unless_callers.iter_mut().map(|c| c.principal(world)).collect();
        let (left, right, after, unless) = (left?, right?, after?, unless?);
        if !self.judges(world, &after, &unless) {
            return Ok(());
        }
        let holds = match (to_int(&left), to_int(&right)) {
            (Some(l), Some(r)) => self.op.holds(l.cmp(&r)),
            _ => match self.op {
                Op::Eq => normalized(&left) == normalized(&right),
                Op::Ne => normalized(&left) != normalized(&right),
                _ => return Err(format!("`{}` {} `{}`: only numbers can be ordered", self.left.text, self.op.symbol(), self.right.text)),
            },
        };
        if holds {
            Ok(())
        } else {
            Err(format!("{} = {left}, {} = {right}: `{} {} {}` does not hold", self.left.text, self.right.text, self.left.text, self.op.symbol(), self.right.text))
        }
    }
}
