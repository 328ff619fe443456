//! The scenario model: what one fuzz input means.
//!
//! A [`Scenario`] is a list of [`Step`]s: ingress calls from actors, calls from attacker canisters, which pending
//! message is delivered next, adversary scripts and releases, time, system faults, stop/start/upgrade, and the
//! answers to HTTP outcalls.
//! Steps name actors, canisters and methods, and carry arguments as Candid text, so a scenario saved as JSON keeps
//! its meaning when the generator that produced it from fuzzer bytes changes ("DNA bitrot").
//!
//! [`generate`] turns fuzzer bytes into a scenario for an environment; [`crate::Harness::run`] applies one.
//!
//! `Deliver` and `Fault` steps of generated scenarios pick "the n-th pending message" ([`MessageRef::Nth`]), which
//! means something else as soon as an earlier step is dropped. A run resolves each pick to a stable name — "the
//! head of the stream from bank to ledger", "alice's call to bank.withdraw" — and the scenario saved with a
//! finding ([`crate::Execution::scenario`]) carries those names, so minimization and replays keep their meaning.
//! Files of an older format are migrated when read ([`Scenario::from_json`]).

use serde::{Deserialize, Serialize};

mod generate;
pub mod values;

pub use generate::{generate, GeneratorOptions};
pub(crate) use generate::single_calls;

/// Version of the structured scenario format written to `.json` files. Version 1 wrote `deliver` and `fault`
/// steps as `{"choice": n}`; version 2 names the message or fault (`{"message": {"nth": n}}` or a stable name).
pub const FORMAT_VERSION: u32 = 2;

/// One fuzz input, decoded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Scenario {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The steps, applied in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// A scenario of these steps.
    pub fn new(steps: Vec<Step>) -> Scenario {
        Scenario { version: FORMAT_VERSION, steps }
    }

    /// Pretty JSON, as saved next to a crash.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("scenarios always serialize")
    }

    /// Reads a scenario saved by [`Scenario::to_json`], by this or an older version of icfuzz (older formats are
    /// migrated: their steps mean what they meant when saved).
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not an icfuzz scenario: {e}"))?;
        let version = value.get("version").and_then(|v| v.as_u64()).ok_or("not an icfuzz scenario: no format version")?;
        if version > FORMAT_VERSION as u64 {
            return Err(format!(
                "scenario format version {version} is newer than this icfuzz understands ({FORMAT_VERSION})"
            ));
        }
        if version < 2 {
            migrate_v1(&mut value);
        }
        let mut scenario: Scenario = serde_json::from_value(value).map_err(|e| format!("not an icfuzz scenario: {e}"))?;
        scenario.version = FORMAT_VERSION;
        Ok(scenario)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// Version 1 → 2: `{"step": "deliver", "choice": n}` becomes `{"step": "deliver", "message": {"nth": n}}`, and
/// `fault` steps likewise (`"fault": {"nth": n}`): the same choice among the same list, so the same step.
fn migrate_v1(value: &mut serde_json::Value) {
    let Some(steps) = value.get_mut("steps").and_then(|s| s.as_array_mut()) else { return };
    for step in steps {
        let Some(object) = step.as_object_mut() else { continue };
        let field = match object.get("step").and_then(|k| k.as_str()) {
            Some("deliver") => "message",
            Some("fault") => "fault",
            _ => continue,
        };
        if let Some(choice) = object.remove("choice") {
            object.insert(field.to_owned(), serde_json::json!({ "nth": choice }));
        }
    }
}

/// Which pending message a `Deliver` step delivers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MessageRef {
    /// The `n % count`-th of the `count` deliverable messages, oldest first (held calls' polls left out): what
    /// generated scenarios say. A run resolves it to one of the names below.
    Nth(u32),
    /// The `nth` oldest undelivered ingress message of a scenario call by `caller` (an actor, or the attacker
    /// canister of an attack) to `canister.method` (several such calls may wait at once, with other arguments).
    Call {
        /// The actor or attacker.
        caller: String,
        /// The canister called.
        canister: String,
        /// The method.
        method: String,
        /// Which of the waiting calls alike, oldest first.
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        nth: u32,
    },
    /// The message at the head of the stream from one canister to another (requests and responses between two
    /// canisters are delivered in the order sent). Names are canister names or principals (`aaaaa-aa`).
    Stream {
        /// The sender.
        from: String,
        /// The receiver.
        to: String,
    },
    /// A canister's due global timer.
    Timer {
        /// The canister.
        canister: String,
    },
    /// A canister's heartbeat.
    Heartbeat {
        /// The canister.
        canister: String,
    },
    /// The SYS_UNKNOWN reject of the oldest bounded-wait call of `canister` to `method` whose deadline passed.
    Deadline {
        /// The calling canister.
        canister: String,
        /// The method it called.
        method: String,
    },
}

/// Which system fault a `Fault` step injects.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultRef {
    /// The `n % count`-th of the `count` faults possible now: what generated scenarios say. A run resolves it.
    Nth(u32),
    /// The request at the head of the stream `from → to` is rejected with SYS_TRANSIENT (a full queue): the
    /// callee never runs.
    QueueFull {
        /// The caller.
        from: String,
        /// The callee.
        to: String,
    },
    /// The `nth` (oldest first) sheddable bounded-wait message of the stream `from → to` is shed.
    Shed {
        /// The sender.
        from: String,
        /// The receiver.
        to: String,
        /// Which of the stream's sheddable messages.
        nth: u32,
    },
}

/// Which pending HTTP outcall an `AnswerOutcall` step answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutcallRef {
    /// The `n % count`-th of the `count` pending outcalls, oldest first: what generated scenarios say. A run
    /// resolves it to the name below.
    Nth(u32),
    /// The `nth` oldest pending outcall of `canister` to `url`.
    Url {
        /// The canister that made it.
        canister: String,
        /// Its URL.
        url: String,
        /// Which of the pending outcalls alike, oldest first.
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        nth: u32,
    },
}

/// What the outside world answers an HTTP outcall: the server's response, as an attacker controlling the server
/// (or the network) would shape it, or a failure of the request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutcallAnswer {
    /// A response with a text body.
    Response {
        /// HTTP status.
        status: u16,
        /// Headers (name, value).
        #[serde(default)]
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// A response whose body is `len` bytes of garbage.
    Garbage {
        /// HTTP status.
        status: u16,
        /// Body size.
        len: u32,
        /// Generator seed.
        seed: u64,
    },
    /// The request fails: SYS_TRANSIENT (no connection, timeout, no consensus) or, if not `transient`, SYS_FATAL.
    Fail {
        /// SYS_TRANSIENT rather than SYS_FATAL.
        transient: bool,
        /// The reject message.
        message: String,
    },
}

impl std::fmt::Display for OutcallRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutcallRef::Nth(n) => write!(f, "pending HTTP outcall #{n}"),
            OutcallRef::Url { canister, url, nth: 0 } => write!(f, "{canister}'s HTTP outcall to {url}"),
            OutcallRef::Url { canister, url, nth } => write!(f, "{canister}'s HTTP outcall #{nth} (oldest is #0) to {url}"),
        }
    }
}

impl std::fmt::Display for OutcallAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutcallAnswer::Response { status, body, .. } if body.len() <= 120 => write!(f, "HTTP {status} {body:?}"),
            OutcallAnswer::Response { status, body, .. } => write!(f, "HTTP {status} with a body of {} bytes", body.len()),
            OutcallAnswer::Garbage { status, len, .. } => write!(f, "HTTP {status} with {len} bytes of garbage"),
            OutcallAnswer::Fail { transient: true, message } => write!(f, "failure {message:?} (SYS_TRANSIENT)"),
            OutcallAnswer::Fail { transient: false, message } => write!(f, "failure {message:?} (SYS_FATAL)"),
        }
    }
}

impl std::fmt::Display for MessageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageRef::Nth(n) => write!(f, "pending message #{n}"),
            MessageRef::Call { caller, canister, method, nth: 0 } => write!(f, "{caller}'s call to {canister}.{method}"),
            MessageRef::Call { caller, canister, method, nth } => {
                write!(f, "{caller}'s call #{nth} (oldest is #0) to {canister}.{method}")
            }
            MessageRef::Stream { from, to } => write!(f, "the next message from {from} to {to}"),
            MessageRef::Timer { canister } => write!(f, "the global timer of {canister}"),
            MessageRef::Heartbeat { canister } => write!(f, "the heartbeat of {canister}"),
            MessageRef::Deadline { canister, method } => write!(f, "the expired deadline of {canister}'s call to {method}"),
        }
    }
}

impl std::fmt::Display for FaultRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultRef::Nth(n) => write!(f, "system fault #{n}"),
            FaultRef::QueueFull { from, to } => write!(f, "queue {from} → {to} full: SYS_TRANSIENT"),
            FaultRef::Shed { from, to, nth } => write!(f, "shed bounded-wait message #{nth} of {from} → {to}"),
        }
    }
}

/// One step of a scenario.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Submit an ingress update call (it runs when delivered). `canister_inspect_message` runs now.
    Call {
        /// Who sends it: a user, `anonymous` or `controller`.
        actor: String,
        /// The canister called.
        canister: String,
        /// The method.
        method: String,
        /// Candid text of the arguments, e.g. `(principal "aaaaa-aa", 5 : nat64)`.
        args: String,
    },
    /// An attacker canister (an adversary) calls a method directly: an inter-canister call, which skips
    /// `canister_inspect_message`. Submitted as ingress to the adversary, delivered like any message.
    Attack {
        /// The adversary making the call.
        attacker: String,
        /// The canister called.
        canister: String,
        /// The method.
        method: String,
        /// Candid text of the arguments.
        args: String,
        /// Bounded-wait (best-effort) call instead of unbounded-wait.
        bounded_wait: bool,
        /// Cycles the attacker attaches (ingress never can: payable methods are reachable only so).
        #[serde(default, skip_serializing_if = "is_zero")]
        cycles: u64,
    },
    /// Deliver one pending message (nothing if it is not pending).
    Deliver {
        /// Which one.
        message: MessageRef,
    },
    /// Deliver oldest first until nothing is deliverable (bounded).
    RunUntilQuiet,
    /// Append an action to an adversary's script.
    Script {
        /// The adversary.
        adversary: String,
        /// Only for calls of this method (`None`: the next call of any method).
        method: Option<String>,
        /// What it does.
        action: ScriptAction,
        /// Make it the method's answer from now on (its default) instead of the answer to one call.
        #[serde(default)]
        sticky: bool,
    },
    /// Release every call the adversary holds: each goes on with its `then` action.
    Release {
        /// The adversary.
        adversary: String,
    },
    /// Let time pass: timers become due, bounded-wait deadlines expire.
    AdvanceTime {
        /// Seconds.
        seconds: u64,
    },
    /// Inject a system fault the IC could produce now (nothing if it is not possible now).
    Fault {
        /// Which one.
        fault: FaultRef,
    },
    /// The controller asks the management canister to stop a canister (deferred while calls are in flight).
    Stop {
        /// The canister.
        canister: String,
    },
    /// The controller starts a canister.
    Start {
        /// The canister.
        canister: String,
    },
    /// The controller upgrades a canister to the same module (pre_upgrade, post_upgrade with the init arguments).
    Upgrade {
        /// The canister.
        canister: String,
    },
    /// Answer a pending HTTP outcall (nothing if none is pending): HTTP responses are attacker input.
    AnswerOutcall {
        /// Which one.
        outcall: OutcallRef,
        /// The answer.
        answer: OutcallAnswer,
    },
}

/// What an adversary does with one call, as written in scenarios (readable; see [`crate::adversary::Action`]).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScriptAction {
    /// Reply with a Candid value (text), encoded with the impersonated method's result types when known.
    Reply {
        /// Candid text, e.g. `(variant { Ok = 5 : nat64 })`.
        value: String,
    },
    /// Reply with `len` bytes of garbage.
    Garbage {
        /// Size.
        len: u32,
        /// Generator seed.
        seed: u64,
    },
    /// Reply with a Candid `text` of `len` bytes (past 2 MiB the adversary's reply traps).
    Oversized {
        /// Size.
        len: u64,
    },
    /// Reject (CANISTER_REJECT).
    Reject {
        /// Reject message.
        message: String,
    },
    /// Trap.
    Trap {
        /// Trap message.
        message: String,
    },
    /// Never answer until released (or until the time passes), then `then`.
    Hold {
        /// Release on its own this many seconds after the script step.
        release_after_seconds: Option<u64>,
        /// What to do once released.
        then: Box<ScriptAction>,
    },
    /// Call a canister before answering: back into the caller (`to_caller`) or into `canister`.
    CallBack {
        /// The canister whose method is called (and whose interface types `args`).
        canister: String,
        /// Call whoever called the adversary instead of `canister` (same interface).
        to_caller: bool,
        /// The method.
        method: String,
        /// Candid text of the arguments.
        args: String,
        /// Bounded-wait call.
        bounded_wait: bool,
        /// What to do after the answer.
        then: Box<ScriptAction>,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Call { actor, canister, method, args } => write!(f, "{actor} calls {canister}.{method}{args}"),
            Step::Attack { attacker, canister, method, args, bounded_wait, cycles } => write!(
                f,
                "attacker canister {attacker} calls {canister}.{method}{args}{}{}",
                if *cycles > 0 { format!(" with {cycles} cycles") } else { String::new() },
                if *bounded_wait { " (bounded wait)" } else { "" }
            ),
            Step::Deliver { message } => write!(f, "deliver {message}"),
            Step::RunUntilQuiet => write!(f, "run until quiet"),
            Step::Script { adversary, method, action, sticky } => write!(
                f,
                "script {adversary}: {} call{} → {action}",
                if *sticky { "every" } else { "next" },
                method.as_ref().map(|m| format!(" of {m}")).unwrap_or_default()
            ),
            Step::Release { adversary } => write!(f, "{adversary} releases the calls it holds"),
            Step::AdvanceTime { seconds } => write!(f, "advance time by {seconds} s"),
            Step::Fault { fault } => write!(f, "inject {fault}"),
            Step::Stop { canister } => write!(f, "stop {canister}"),
            Step::Start { canister } => write!(f, "start {canister}"),
            Step::Upgrade { canister } => write!(f, "upgrade {canister}"),
            Step::AnswerOutcall { outcall, answer } => write!(f, "answer {outcall} with {answer}"),
        }
    }
}

impl std::fmt::Display for ScriptAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptAction::Reply { value } => write!(f, "reply {value}"),
            ScriptAction::Garbage { len, .. } => write!(f, "reply {len} bytes of garbage"),
            ScriptAction::Oversized { len } => write!(f, "reply {len} bytes of text"),
            ScriptAction::Reject { message } => write!(f, "reject {message:?}"),
            ScriptAction::Trap { message } => write!(f, "trap {message:?}"),
            ScriptAction::Hold { release_after_seconds: None, then } => write!(f, "hold until released, then {then}"),
            ScriptAction::Hold { release_after_seconds: Some(s), then } => write!(f, "hold for {s} s, then {then}"),
            ScriptAction::CallBack { canister, to_caller, method, args, then, .. } => {
                let whom = if *to_caller { "the caller".to_owned() } else { canister.clone() };
                write!(f, "call {whom}.{method}{args}, then {then}")
            }
        }
    }
}
