//! The scenario model: what one fuzz input means.
//!
//! A [`Scenario`] is a list of [`Step`]s: ingress calls from actors, calls from attacker canisters, which pending
//! message is delivered next, adversary scripts and releases, time, system faults, and stop/start/upgrade.
//! Steps name actors, canisters and methods, and carry arguments as Candid text, so a scenario saved as JSON keeps
//! its meaning when the generator that produced it from fuzzer bytes changes ("DNA bitrot").
//!
//! [`generate`] turns fuzzer bytes into a scenario for an environment; [`crate::Harness::run`] applies one.

use serde::{Deserialize, Serialize};

mod generate;
pub mod values;

pub use generate::{generate, GeneratorOptions};

/// Version of the structured scenario format written to `.json` files.
pub const FORMAT_VERSION: u32 = 1;

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

    /// Reads a scenario saved by [`Scenario::to_json`].
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = serde_json::from_str(text).map_err(|e| format!("not an icfuzz scenario: {e}"))?;
        if scenario.version > FORMAT_VERSION {
            return Err(format!(
                "scenario format version {} is newer than this icfuzz understands ({FORMAT_VERSION})",
                scenario.version
            ));
        }
        Ok(scenario)
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
    },
    /// Deliver one message: the `choice % n`-th of the `n` deliverable messages, oldest first (nothing if none).
    Deliver {
        /// Which one.
        choice: u32,
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
    /// Inject a system fault the IC could produce now: the `choice % n`-th of the `n` possible (nothing if none).
    Fault {
        /// Which one.
        choice: u32,
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
            Step::Attack { attacker, canister, method, args, bounded_wait } => write!(
                f,
                "attacker canister {attacker} calls {canister}.{method}{args}{}",
                if *bounded_wait { " (bounded wait)" } else { "" }
            ),
            Step::Deliver { choice } => write!(f, "deliver pending message #{choice}"),
            Step::RunUntilQuiet => write!(f, "run until quiet"),
            Step::Script { adversary, method, action, sticky } => write!(
                f,
                "script {adversary}: {} call{} → {action}",
                if *sticky { "every" } else { "next" },
                method.as_ref().map(|m| format!(" of {m}")).unwrap_or_default()
            ),
            Step::Release { adversary } => write!(f, "{adversary} releases the calls it holds"),
            Step::AdvanceTime { seconds } => write!(f, "advance time by {seconds} s"),
            Step::Fault { choice } => write!(f, "inject system fault #{choice}"),
            Step::Stop { canister } => write!(f, "stop {canister}"),
            Step::Start { canister } => write!(f, "start {canister}"),
            Step::Upgrade { canister } => write!(f, "upgrade {canister}"),
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
