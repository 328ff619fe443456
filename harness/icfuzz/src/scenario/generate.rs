//! From fuzzer bytes to a scenario.
//!
//! Every step is valid by construction (wasmtime's `generators/api.rs` habit): actors, canisters, methods and
//! adversaries are drawn from the environment, arguments from the methods' Candid types, so no input is wasted
//! on a scenario that cannot run. A swarm of switches drawn first turns whole step kinds off for one input, which
//! lets some inputs concentrate on, say, interleavings without faults.

use arbitrary::{Result, Unstructured};

use super::values::ValueGen;
use super::{FaultRef, MessageRef, OutcallAnswer, OutcallRef, Scenario, ScriptAction, Step};
use crate::backend::Capabilities;
use crate::environment::{AdversaryInfo, Environment};

/// Options of the scenario generator.
#[derive(Clone, Debug)]
pub struct GeneratorOptions {
    /// Most steps in one scenario.
    pub max_steps: usize,
    /// Allow system faults (SYS_TRANSIENT, shedding).
    pub faults: bool,
    /// Allow stopping and starting canisters.
    pub stop_start: bool,
    /// Allow `Deliver` steps, which choose exactly which pending message runs next (a backend without
    /// exact delivery order, such as PocketIC, can only run whole rounds).
    pub deliver: bool,
    /// Allow upgrades (of canisters marked upgradable).
    pub upgrade: bool,
    /// Allow adversaries to hold calls (and scenarios to release them).
    pub hold: bool,
    /// Allow answering HTTP outcalls (when a target's code makes them).
    pub outcalls: bool,
}

impl Default for GeneratorOptions {
    fn default() -> GeneratorOptions {
        GeneratorOptions { max_steps: 24, faults: true, stop_start: true, deliver: true, upgrade: true, hold: true, outcalls: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Call,
    Attack,
    Deliver,
    RunUntilQuiet,
    Script,
    Release,
    AdvanceTime,
    Fault,
    Stop,
    Start,
    Upgrade,
    AnswerOutcall,
}

/// Oversized reply sizes: around the 2 MiB response limit, and smaller ones that add up.
const OVERSIZED: &[u64] = &[1 << 10, 64 << 10, 1 << 20, (2 << 20) - 1000, 2 << 20, (2 << 20) + 1];
/// Cycles an attacker attaches: a token amount, a typical fee, a trillion (a canister's creation budget).
const ATTACHED_CYCLES: &[u64] = &[1, 1_000_000, 1_000_000_000, 1_000_000_000_000];
/// Time steps: a second, past a typical timer, past a bounded-wait timeout, past the 5-minute stop timeout, an hour.
const SECONDS: &[u64] = &[1, 10, 61, 301, 3_600];

impl GeneratorOptions {
    /// These options with every step kind a backend with `capabilities` cannot run turned off, so every generated
    /// scenario replays there step for step (e.g. no `Deliver` or `Fault` steps for PocketIC).
    pub fn restricted_to(&self, capabilities: &Capabilities) -> GeneratorOptions {
        GeneratorOptions {
            deliver: self.deliver && capabilities.exact_delivery_order,
            faults: self.faults && capabilities.faults,
            stop_start: self.stop_start && capabilities.stop_start,
            upgrade: self.upgrade && capabilities.upgrade,
            hold: self.hold && capabilities.hold_and_release,
            outcalls: self.outcalls && capabilities.http_outcalls,
            ..self.clone()
        }
    }
}

/// The environment and options a scenario is generated for.
struct Gen<'a> {
    env: &'a Environment,
    generator: &'a GeneratorOptions,
    /// Words HTTP response bodies are made of: the targets' own ([`crate::words`]), then common field names.
    words: Vec<&'a str>,
}

/// Field names common in the JSON APIs canisters call, for bodies when a module's words miss them.
const COMMON_FIELDS: &[&str] = &["price", "rate", "value", "amount", "result", "data", "status", "symbol", "error", "timestamp"];
/// Statuses of generated HTTP responses: success most often, then the ones canisters must handle.
const STATUSES: &[u16] = &[200, 200, 200, 200, 201, 204, 301, 400, 404, 429, 500, 503];
/// Sizes of garbage HTTP bodies: small, around a typical `max_response_bytes`, and the IC's 2 MB limit.
const BODY_SIZES: &[u32] = &[0, 1, 64, 4_095, 4_096, 4_097, 65_536, 2_000_000];

/// Decodes a scenario for an environment from fuzzer bytes. Never fails: running out of bytes ends it.
pub fn generate(env: &Environment, options: &GeneratorOptions, data: &[u8]) -> Scenario {
    let mut u = Unstructured::new(data);
    let mut steps = Vec::new();
    let words = env.canisters.iter().filter(|c| c.target).flat_map(|c| c.words.iter().map(String::as_str));
    let words = words.chain(COMMON_FIELDS.iter().copied()).collect();
    let _ = generate_steps(&Gen { env, generator: options, words }, &mut u, &mut steps);
    Scenario::new(steps)
}

/// Scenarios of one call each, on the state after setup: every callable method of every target, called by every
/// actor and every adversary with the smallest arguments and with `generated` more drawn from `seed`; at most `max`
/// in all (the smallest arguments of every caller first). What they do is the baseline an oracle compares a
/// scenario with: a trap these reach is the canister turning away input, not a state only a history reaches.
pub(crate) fn single_calls(env: &Environment, generated: usize, seed: u64, max: usize) -> Vec<Scenario> {
    let words: Vec<&str> = env.canisters.iter().filter(|c| c.target).flat_map(|c| c.words.iter().map(String::as_str)).collect();
    let scope = env.principal_scope();
    let mut rng = crate::rng::Rng(seed);
    let mut rounds: Vec<Vec<Step>> = vec![Vec::new(); generated + 1];
    for c in env.canisters.iter().filter(|c| c.target) {
        let gen = ValueGen::new(&c.interface.env, &scope, &words);
        for m in c.callable_methods() {
            for (round, steps) in rounds.iter_mut().enumerate() {
                // No input bytes: every choice takes its first option, the smallest value.
                let bytes = if round == 0 { Vec::new() } else { rng.bytes(64) };
                let Ok(args) = gen.args(&mut Unstructured::new(&bytes), &m.args) else { continue };
                let args = args.to_string();
                for (actor, _) in &env.actors {
                    steps.push(Step::Call { actor: actor.clone(), canister: c.name.clone(), method: m.name.clone(), args: args.clone() });
                }
                for a in &env.adversaries {
                    steps.push(Step::Attack {
                        attacker: a.name.clone(),
                        canister: c.name.clone(),
                        method: m.name.clone(),
                        args: args.clone(),
                        bounded_wait: false,
                        cycles: 0,
                    });
                }
            }
        }
    }
    rounds.into_iter().flatten().take(max).map(|step| Scenario::new(vec![step])).collect()
}

fn generate_steps(h: &Gen<'_>, u: &mut Unstructured, steps: &mut Vec<Step>) -> Result<()> {
    let options = &h.generator;
    let has_adversaries = !h.env.adversaries.is_empty();
    let scriptable = h.env.adversaries.iter().any(|a| !a.methods.is_empty());
    let callable = h.env.canisters.iter().any(|c| c.target && c.callable_methods().next().is_some());
    let upgradable = h.env.canisters.iter().any(|c| c.upgradable);
    let outcalls = h.env.canisters.iter().any(|c| crate::words::makes_outcalls(&c.words));
    let candidates = [
        (Kind::Call, 24, callable && !h.env.actors.is_empty()),
        (Kind::Attack, 10, callable && has_adversaries),
        (Kind::Deliver, 22, options.deliver),
        (Kind::RunUntilQuiet, 8, true),
        (Kind::Script, 16, scriptable),
        (Kind::Release, 4, scriptable && options.hold),
        (Kind::AdvanceTime, 5, true),
        (Kind::Fault, 5, options.faults),
        (Kind::Stop, 2, options.stop_start),
        (Kind::Start, 2, options.stop_start),
        (Kind::Upgrade, 2, upgradable && options.upgrade),
        (Kind::AnswerOutcall, 14, outcalls && options.outcalls),
    ];
    // Swarm: each kind is on for this input with probability 3/4; delivering and calling stay on.
    let swarm: u16 = u.arbitrary()?;
    let kinds: Vec<(Kind, u32)> = candidates
        .iter()
        .enumerate()
        .filter(|(i, (k, _, ok))| *ok && (matches!(k, Kind::Call | Kind::Deliver) || swarm >> i & 3 != 0))
        .map(|(_, (k, w, _))| (*k, *w))
        .collect();
    if kinds.is_empty() {
        return Ok(());
    }
    let scope = h.env.principal_scope();
    while steps.len() < options.max_steps && !u.is_empty() {
        let kind = weighted(u, &kinds, |(_, w)| *w)?.0;
        steps.push(step(h, u, kind, &scope)?);
    }
    Ok(())
}

/// One of `items`, each as likely as its weight; uniformly when every weight is 0. The total is summed in `u64`:
/// a configuration may give weights up to `u32::MAX` each.
fn weighted<'a, T>(u: &mut Unstructured, items: &'a [T], weight: impl Fn(&T) -> u32) -> Result<&'a T> {
    let total: u64 = items.iter().map(|item| u64::from(weight(item))).sum();
    if total == 0 {
        return u.choose(items);
    }
    let mut pick = u.int_in_range(0..=total - 1)?;
    Ok(items
        .iter()
        .find(|item| {
            let w = u64::from(weight(item));
            if pick < w {
                true
            } else {
                pick -= w;
                false
            }
        })
        .expect("pick < total"))
}

fn step(h: &Gen<'_>, u: &mut Unstructured, kind: Kind, scope: &[candid::Principal]) -> Result<Step> {
    Ok(match kind {
        Kind::Call => {
            let (canister, method, args) = call(h, u, scope)?;
            let actor = u.choose(&h.env.actors)?.0.clone();
            Step::Call { actor, canister, method, args }
        }
        Kind::Attack => {
            let (canister, method, args) = call(h, u, scope)?;
            let attacker = u.choose(&h.env.adversaries)?.name.clone();
            let bounded_wait = u.ratio(1u8, 4)?;
            // Payable methods (deposits, top-ups) answer only calls with cycles, which only a canister can attach.
            let cycles = if u.ratio(1u8, 3)? { *u.choose(ATTACHED_CYCLES)? } else { 0 };
            Step::Attack { attacker, canister, method, args, bounded_wait, cycles }
        }
        Kind::Deliver => Step::Deliver { message: MessageRef::Nth(u.int_in_range(0..=7u32)?) },
        Kind::RunUntilQuiet => Step::RunUntilQuiet,
        Kind::Script => {
            let scriptable: Vec<_> = h.env.adversaries.iter().filter(|a| !a.methods.is_empty()).collect();
            let a = *u.choose(&scriptable)?;
            let method = u.choose(&a.methods)?.clone();
            let action = action(h, u, a, &method, scope, 0)?;
            // A reply is typed by its method; other actions may serve whichever call comes next.
            let any = !matches!(action, ScriptAction::Reply { .. }) && u.ratio(1u8, 4)?;
            // A sticky call-back would call back on every call, recursing without end; it stays a one-off.
            let sticky = !any && !matches!(action, ScriptAction::CallBack { .. }) && u.ratio(1u8, 3)?;
            Step::Script { adversary: a.name.clone(), method: (!any).then_some(method), action, sticky }
        }
        Kind::Release => Step::Release { adversary: u.choose(&h.env.adversaries)?.name.clone() },
        Kind::AdvanceTime => Step::AdvanceTime { seconds: *u.choose(SECONDS)? },
        Kind::Fault => Step::Fault { fault: FaultRef::Nth(u.int_in_range(0..=7u32)?) },
        Kind::Stop => Step::Stop { canister: u.choose(&h.env.canisters)?.name.clone() },
        Kind::Start => Step::Start { canister: u.choose(&h.env.canisters)?.name.clone() },
        Kind::Upgrade => {
            let upgradable: Vec<&String> = h.env.canisters.iter().filter(|c| c.upgradable).map(|c| &c.name).collect();
            Step::Upgrade { canister: (*u.choose(&upgradable)?).clone() }
        }
        Kind::AnswerOutcall => Step::AnswerOutcall { outcall: OutcallRef::Nth(u.int_in_range(0..=3u32)?), answer: outcall_answer(h, u)? },
    })
}

/// What a hostile or flaky server answers: mostly JSON built from the canister's own words, sometimes plain text,
/// garbage of sizes around the limits, or a failed request.
fn outcall_answer(h: &Gen<'_>, u: &mut Unstructured) -> Result<OutcallAnswer> {
    let status = *u.choose(STATUSES)?;
    Ok(match u.int_in_range(0..=9u8)? {
        0..=5 => {
            let headers = if u.ratio(1u8, 2)? { vec![("content-type".to_owned(), "application/json".to_owned())] } else { vec![] };
            OutcallAnswer::Response { status, headers, body: json(h, u, 0)? }
        }
        6 => OutcallAnswer::Response { status, headers: vec![], body: (*u.choose(&h.words)?).to_owned() },
        7 => OutcallAnswer::Garbage { status, len: *u.choose(BODY_SIZES)?, seed: u.arbitrary()? },
        8 => OutcallAnswer::Fail { transient: true, message: "Connecting to the server failed: connection refused".into() },
        _ => OutcallAnswer::Fail { transient: false, message: "Timeout expired".into() },
    })
}

/// A JSON value, an object most often at the top (APIs answer objects); keys are the canister's words or common
/// field names, so its decoder finds the fields it expects.
fn json(h: &Gen<'_>, u: &mut Unstructured, depth: usize) -> Result<String> {
    let word = |u: &mut Unstructured| -> Result<String> {
        Ok(if u.ratio(1u8, 2)? { (*u.choose(COMMON_FIELDS)?).to_owned() } else { (*u.choose(&h.words)?).to_owned() })
    };
    let max = if depth >= 2 { 5 } else { 8 };
    let choice = if depth == 0 && u.ratio(2u8, 3)? { 6 } else { u.int_in_range(0..=max)? };
    Ok(match choice {
        0 => u.arbitrary::<i64>()?.to_string(),
        1 => format!("{}.{:04}", u.int_in_range(0..=100_000u32)?, u.int_in_range(0..=9_999u32)?),
        // Numbers as strings, as exchanges print prices; and the edge values a parser must survive.
        2 => format!("\"{}.{}\"", u.int_in_range(0..=100_000u32)?, u.int_in_range(0..=999_999u32)?),
        3 => format!("\"{}\"", u.choose(&["0", "-1", "1e308", "NaN", "", "0.0000001", "18446744073709551616"])?),
        4 => format!("{:?}", word(u)?),
        5 => u.choose(&["true", "false", "null"])?.to_string(),
        6 | 7 => {
            let mut fields = Vec::new();
            for _ in 0..u.int_in_range(1..=3u8)? {
                fields.push(format!("{:?}:{}", word(u)?, json(h, u, depth + 1)?));
            }
            format!("{{{}}}", fields.join(","))
        }
        _ => {
            let mut items = Vec::new();
            for _ in 0..u.int_in_range(0..=3u8)? {
                items.push(json(h, u, depth + 1)?);
            }
            format!("[{}]", items.join(","))
        }
    })
}

/// A call of a target's method with generated arguments: (canister, method, Candid text).
fn call(h: &Gen<'_>, u: &mut Unstructured, scope: &[candid::Principal]) -> Result<(String, String, String)> {
    let targets: Vec<_> = h.env.canisters.iter().filter(|c| c.target && c.callable_methods().next().is_some()).collect();
    let c = u.choose(&targets)?;
    let methods: Vec<_> = c.callable_methods().collect();
    let m = if c.weights.is_empty() {
        *u.choose(&methods)?
    } else {
        *weighted(u, &methods, |m| c.weight(&m.name))?
    };
    let gen = ValueGen::new(&c.interface.env, scope, &h.words);
    let args = gen.args(u, &m.args)?;
    Ok((c.name.clone(), m.name.clone(), args.to_string()))
}

fn action(
    h: &Gen<'_>,
    u: &mut Unstructured,
    a: &AdversaryInfo,
    method: &str,
    scope: &[candid::Principal],
    depth: usize,
) -> Result<ScriptAction> {
    // Holds and call-backs nest one level: their follow-up is a plain answer.
    let choice = if depth > 0 { u.int_in_range(0..=3u8)? } else { u.int_in_range(0..=9u8)? };
    Ok(match choice {
        0 | 1 => reply(h, u, a, method, scope)?,
        2 => ScriptAction::Reject { message: "adversary rejects".into() },
        3 => ScriptAction::Garbage { len: *u.choose(&[0u32, 1, 7, 16, 64])?, seed: u.arbitrary()? },
        4 => ScriptAction::Oversized { len: *u.choose(OVERSIZED)? },
        5 => ScriptAction::Trap { message: "adversary traps".into() },
        // Without holds the same bytes mean a plain reply instead (one input still means one scenario).
        6 if !h.generator.hold => reply(h, u, a, method, scope)?,
        6 => ScriptAction::Hold {
            release_after_seconds: if u.ratio(2u8, 3)? { None } else { Some(*u.choose(SECONDS)?) },
            then: Box::new(action(h, u, a, method, scope, depth + 1)?),
        },
        _ => {
            let (canister, callee_method, args) = call(h, u, scope)?;
            ScriptAction::CallBack {
                canister,
                to_caller: u.ratio(3u8, 4)?,
                method: callee_method,
                args,
                bounded_wait: u.ratio(1u8, 4)?,
                then: Box::new(action(h, u, a, method, scope, depth + 1)?),
            }
        }
    })
}

/// A well-typed reply when the impersonated interface is known, else `()`.
fn reply(h: &Gen<'_>, u: &mut Unstructured, a: &AdversaryInfo, method: &str, scope: &[candid::Principal]) -> Result<ScriptAction> {
    let typed = a.interface.as_ref().and_then(|i| i.method(method).ok().map(|m| (i, m)));
    let value = match typed {
        Some((i, m)) => ValueGen::new(&i.env, scope, &h.words).args(u, &m.rets)?.to_string(),
        None => "()".to_owned(),
    };
    Ok(ScriptAction::Reply { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_of_any_size_are_drawn_without_overflow() {
        let items = [u32::MAX, u32::MAX, 1, 0];
        let bytes: Vec<u8> = (0..=255).collect();
        let mut u = Unstructured::new(&bytes);
        let mut seen = std::collections::BTreeSet::new();
        while !u.is_empty() {
            let w = *weighted(&mut u, &items, |w| *w).unwrap();
            assert_ne!(w, 0, "a zero weight is never drawn while others are not zero");
            seen.insert(w);
        }
        assert!(seen.contains(&u32::MAX));
        // All zero: every item as likely.
        let zeros = [0u32, 0, 0];
        let mut u = Unstructured::new(&[1, 2, 3]);
        assert!(weighted(&mut u, &zeros, |w| *w).is_ok());
    }
}
