//! Candid values generated from types, for method arguments and adversary replies.
//!
//! Hand-written rather than `candid_parser::random` because the fuzzer needs two things that generator lacks:
//! principals drawn from the scenario's actors and canisters (so an argument can point the target at an
//! adversary), and numbers biased towards the values that matter for canister logic (0, 1, small amounts,
//! boundaries). Every choice is one `Unstructured` draw, so a small change of the input bytes changes one value.

use std::cell::Cell;

use arbitrary::{Result, Unstructured};
use candid::types::{Type, TypeEnv, TypeInner};
use candid::types::value::{IDLField, IDLValue, VariantValue};
use candid::{IDLArgs, Int, Nat, Principal};

/// Deepest nesting of generated values; below it, options are `null` and vectors empty.
const MAX_DEPTH: usize = 5;
/// Longest generated vector.
const MAX_VEC: usize = 4;
/// Most parts (values, fields, elements) of one generated argument list, and most candidate values considered
/// while listing [`ValueGen::alternatives`]. Depth and vector limits bound options and vectors, not records: five
/// levels of 60-field records are 60^5 parts. Past the budget generation fails like an exhausted input (the call
/// is not made), so no interface can make the generator hang or exhaust memory.
const MAX_PARTS: usize = 20_000;

/// Generates values of Candid types.
pub struct ValueGen<'a> {
    /// Types the generated types refer to.
    env: &'a TypeEnv,
    /// Principals to draw from, with the first ones (adversaries, then users) drawn most often.
    principals: &'a [Principal],
    /// Strings the canister knows (its data segments' words, e.g. token symbols and keys it compares with):
    /// half of the generated texts are one of them, when there are any.
    words: &'a [&'a str],
    /// Parts made so far for the current argument list (see [`MAX_PARTS`]).
    parts: Cell<usize>,
}

/// Numbers worth trying first: identities, small amounts, powers of ten and type boundaries (filtered by width).
const INTERESTING: &[u64] = &[0, 1, 2, 3, 5, 10, 11, 50, 100, 101, 1000, 10_000, 1_000_000, 1 << 31, u32::MAX as u64, 1 << 63, u64::MAX];

impl<'a> ValueGen<'a> {
    /// A generator for the types of `env`, drawing principals from `principals` (the first ones most often) and
    /// texts from `words` half of the time (when there are any).
    pub fn new(env: &'a TypeEnv, principals: &'a [Principal], words: &'a [&'a str]) -> ValueGen<'a> {
        ValueGen { env, principals, words, parts: Cell::new(0) }
    }

    /// Counts one part; fails once the budget of the current argument list is spent.
    fn part(&self) -> Result<()> {
        let parts = self.parts.get() + 1;
        self.parts.set(parts);
        if parts > MAX_PARTS {
            return Err(arbitrary::Error::IncorrectFormat);
        }
        Ok(())
    }

    /// Arguments for a method taking `types`; fails like an exhausted input when they would exceed the budget.
    pub fn args(&self, u: &mut Unstructured, types: &[Type]) -> Result<IDLArgs> {
        self.parts.set(0);
        let args = types.iter().map(|t| self.value(u, t, 0)).collect::<Result<Vec<_>>>()?;
        Ok(IDLArgs { args })
    }

    fn unsigned(&self, u: &mut Unstructured, max: u64) -> Result<u64> {
        Ok(match u.int_in_range(0..=3u8)? {
            0..=2 => {
                let candidates: Vec<u64> = INTERESTING.iter().copied().filter(|&v| v <= max).collect();
                *u.choose(&candidates)?
            }
            _ => u.int_in_range(0..=max)?,
        })
    }

    fn signed(&self, u: &mut Unstructured, min: i64, max: i64) -> Result<i64> {
        Ok(match u.int_in_range(0..=4u8)? {
            0 => *u.choose(&[0, 1, -1, min, max])?,
            1..=2 => self.unsigned(u, max as u64)? as i64,
            _ => u.int_in_range(min..=max)?,
        })
    }

    fn text(&self, u: &mut Unstructured) -> Result<String> {
        if !self.words.is_empty() && u.ratio(1u8, 2)? {
            return Ok((*u.choose(self.words)?).to_owned());
        }
        // Lengths around common validation limits (8, 32, 64, 256) matter more than the characters.
        let len = *u.choose(&[0usize, 1, 5, 8, 9, 32, 33, 64, 65, 100, 256, 257, 1000])?;
        let seed: u8 = u.arbitrary()?;
        Ok((0..len).map(|i| (b'a' + ((seed as usize + i) % 26) as u8) as char).collect())
    }

    fn principal(&self, u: &mut Unstructured) -> Result<Principal> {
        if self.principals.is_empty() || u.ratio(1u8, 16)? {
            return Ok(Principal::anonymous());
        }
        // Earlier principals (adversaries first) are likelier: half of the draws go to the first one.
        if u.ratio(1u8, 2)? {
            return Ok(self.principals[0]);
        }
        Ok(*u.choose(self.principals)?)
    }

    /// A value of type `ty`.
    pub fn value(&self, u: &mut Unstructured, ty: &Type, depth: usize) -> Result<IDLValue> {
        self.part()?;
        Ok(match ty.as_ref() {
            TypeInner::Null => IDLValue::Null,
            TypeInner::Bool => IDLValue::Bool(u.arbitrary()?),
            TypeInner::Nat => IDLValue::Nat(Nat::from(self.unsigned(u, u64::MAX)?)),
            TypeInner::Int => IDLValue::Int(Int::from(self.signed(u, i64::MIN, i64::MAX)?)),
            TypeInner::Nat8 => IDLValue::Nat8(self.unsigned(u, u8::MAX as u64)? as u8),
            TypeInner::Nat16 => IDLValue::Nat16(self.unsigned(u, u16::MAX as u64)? as u16),
            TypeInner::Nat32 => IDLValue::Nat32(self.unsigned(u, u32::MAX as u64)? as u32),
            TypeInner::Nat64 => IDLValue::Nat64(self.unsigned(u, u64::MAX)?),
            TypeInner::Int8 => IDLValue::Int8(self.signed(u, i8::MIN as i64, i8::MAX as i64)? as i8),
            TypeInner::Int16 => IDLValue::Int16(self.signed(u, i16::MIN as i64, i16::MAX as i64)? as i16),
            TypeInner::Int32 => IDLValue::Int32(self.signed(u, i32::MIN as i64, i32::MAX as i64)? as i32),
            TypeInner::Int64 => IDLValue::Int64(self.signed(u, i64::MIN, i64::MAX)?),
            TypeInner::Float32 => IDLValue::Float32(self.signed(u, -1000, 1000)? as f32),
            TypeInner::Float64 => IDLValue::Float64(self.signed(u, -1000, 1000)? as f64),
            TypeInner::Text => IDLValue::Text(self.text(u)?),
            TypeInner::Reserved => IDLValue::Reserved,
            // No value has type `empty`: a method taking one cannot be called; callers filter those out.
            TypeInner::Empty | TypeInner::Unknown | TypeInner::Future => IDLValue::Null,
            TypeInner::Knot(_) | TypeInner::Var(_) => {
                let resolved = self.env.trace_type(ty).map_err(|_| arbitrary::Error::IncorrectFormat)?;
                self.value(u, &resolved, depth + 1)?
            }
            TypeInner::Opt(inner) => {
                if depth >= MAX_DEPTH || u.ratio(1u8, 3)? {
                    IDLValue::None
                } else {
                    IDLValue::Opt(Box::new(self.value(u, inner, depth + 1)?))
                }
            }
            TypeInner::Vec(inner) => {
                if matches!(self.env.trace_type(inner).map(|t| t.as_ref().clone()), Ok(TypeInner::Nat8)) {
                    // 29 bytes is a principal, 32 a subaccount or hash: the sizes validation checks for.
                    let len = *u.choose(&[0usize, 1, 4, 29, 32, 32, 64, 100])?;
                    IDLValue::Blob((0..len).map(|_| u.arbitrary()).collect::<Result<_>>()?)
                } else {
                    let len = if depth >= MAX_DEPTH { 0 } else { u.int_in_range(0..=MAX_VEC)? };
                    IDLValue::Vec((0..len).map(|_| self.value(u, inner, depth + 1)).collect::<Result<_>>()?)
                }
            }
            TypeInner::Record(fields) => IDLValue::Record(
                fields
                    .iter()
                    .map(|f| Ok(IDLField { id: (*f.id).clone(), val: self.value(u, &f.ty, depth + 1)? }))
                    .collect::<Result<_>>()?,
            ),
            TypeInner::Variant(fields) => {
                if fields.is_empty() {
                    return Err(arbitrary::Error::IncorrectFormat);
                }
                let index = u.choose_index(fields.len())?;
                let field = &fields[index];
                let val = self.value(u, &field.ty, depth + 1)?;
                IDLValue::Variant(VariantValue(Box::new(IDLField { id: (*field.id).clone(), val }), index as u64))
            }
            TypeInner::Principal => IDLValue::Principal(self.principal(u)?),
            TypeInner::Service(_) | TypeInner::Class(..) => IDLValue::Service(self.principal(u)?),
            TypeInner::Func(_) => IDLValue::Func(self.principal(u)?, "method".to_owned()),
        })
    }

    /// Argument lists for `types`, the most plausible first and at most `limit`: the first choice of every
    /// value, then each value varied alone through its other choices (variant cases in declared order, options
    /// absent then present, principals in scope order, small numbers). For probing init arguments.
    pub fn alternatives(&self, types: &[Type], limit: usize) -> Vec<IDLArgs> {
        self.parts.set(0);
        let per_arg: Vec<Vec<IDLValue>> = types.iter().map(|t| self.choices(t, 0)).collect();
        one_at_a_time(&per_arg, limit).into_iter().map(|args| IDLArgs { args }).collect()
    }

    /// A few values of `ty`, the simplest first; none once the budget is spent (then no alternative is complete).
    fn choices(&self, ty: &Type, depth: usize) -> Vec<IDLValue> {
        if self.part().is_err() {
            return Vec::new();
        }
        let ints = |f: fn(u64) -> IDLValue| vec![f(0), f(1), f(100)];
        let mut out = match ty.as_ref() {
            TypeInner::Null | TypeInner::Empty | TypeInner::Unknown | TypeInner::Future => vec![IDLValue::Null],
            TypeInner::Bool => vec![IDLValue::Bool(false), IDLValue::Bool(true)],
            TypeInner::Nat => ints(|n| IDLValue::Nat(Nat::from(n))),
            TypeInner::Int => ints(|n| IDLValue::Int(Int::from(n))),
            TypeInner::Nat8 => ints(|n| IDLValue::Nat8(n as u8)),
            TypeInner::Nat16 => ints(|n| IDLValue::Nat16(n as u16)),
            TypeInner::Nat32 => ints(|n| IDLValue::Nat32(n as u32)),
            TypeInner::Nat64 => ints(IDLValue::Nat64),
            TypeInner::Int8 => ints(|n| IDLValue::Int8(n as i8)),
            TypeInner::Int16 => ints(|n| IDLValue::Int16(n as i16)),
            TypeInner::Int32 => ints(|n| IDLValue::Int32(n as i32)),
            TypeInner::Int64 => ints(|n| IDLValue::Int64(n as i64)),
            TypeInner::Float32 => vec![IDLValue::Float32(0.0), IDLValue::Float32(1.0)],
            TypeInner::Float64 => vec![IDLValue::Float64(0.0), IDLValue::Float64(1.0)],
            TypeInner::Text => vec![IDLValue::Text(String::new()), IDLValue::Text("icfuzz".into())],
            TypeInner::Reserved => vec![IDLValue::Reserved],
            TypeInner::Knot(_) | TypeInner::Var(_) => match self.env.trace_type(ty) {
                Ok(resolved) if depth < MAX_DEPTH => self.choices(&resolved, depth + 1),
                _ => vec![IDLValue::Null],
            },
            TypeInner::Opt(inner) => {
                let mut out = vec![IDLValue::None];
                if depth < MAX_DEPTH {
                    out.extend(self.choices(inner, depth + 1).into_iter().take(2).map(|v| IDLValue::Opt(Box::new(v))));
                }
                out
            }
            TypeInner::Vec(inner) if matches!(self.env.trace_type(inner).map(|t| t.as_ref().clone()), Ok(TypeInner::Nat8)) => {
                vec![IDLValue::Blob(Vec::new()), IDLValue::Blob(vec![0; 32])]
            }
            TypeInner::Vec(inner) => {
                let mut out = vec![IDLValue::Vec(Vec::new())];
                if depth < MAX_DEPTH {
                    out.extend(self.choices(inner, depth + 1).into_iter().take(1).map(|v| IDLValue::Vec(vec![v])));
                }
                out
            }
            TypeInner::Record(fields) => {
                let per_field: Vec<Vec<IDLValue>> = fields.iter().map(|f| self.choices(&f.ty, depth + 1)).collect();
                one_at_a_time(&per_field, 8)
                    .into_iter()
                    .map(|vals| {
                        IDLValue::Record(fields.iter().zip(vals).map(|(f, val)| IDLField { id: (*f.id).clone(), val }).collect())
                    })
                    .collect()
            }
            TypeInner::Variant(fields) => fields
                .iter()
                .enumerate()
                .flat_map(|(index, f)| {
                    self.choices(&f.ty, depth + 1).into_iter().take(2).map(move |val| {
                        IDLValue::Variant(VariantValue(Box::new(IDLField { id: (*f.id).clone(), val }), index as u64))
                    })
                })
                .collect(),
            TypeInner::Principal => self.scope_principals().into_iter().map(IDLValue::Principal).collect(),
            TypeInner::Service(_) | TypeInner::Class(..) => self.scope_principals().into_iter().map(IDLValue::Service).collect(),
            TypeInner::Func(_) => self.scope_principals().into_iter().map(|p| IDLValue::Func(p, "method".to_owned())).collect(),
        };
        if depth >= MAX_DEPTH {
            out.truncate(1);
        }
        out
    }

    /// Up to three principals of the scope (the anonymous one if it is empty).
    fn scope_principals(&self) -> Vec<Principal> {
        if self.principals.is_empty() {
            vec![Principal::anonymous()]
        } else {
            self.principals.iter().take(3).copied().collect()
        }
    }
}

/// Combinations of one choice per position: all first choices, then each position varied alone; at most `limit`.
fn one_at_a_time(per: &[Vec<IDLValue>], limit: usize) -> Vec<Vec<IDLValue>> {
    let Some(base) = per.iter().map(|c| c.first().cloned()).collect::<Option<Vec<IDLValue>>>() else { return Vec::new() };
    let mut out = vec![base.clone()];
    for (i, choices) in per.iter().enumerate() {
        for alt in choices.iter().skip(1) {
            if out.len() >= limit {
                return out;
            }
            let mut next = base.clone();
            next[i] = alt.clone();
            out.push(next);
        }
    }
    out
}
