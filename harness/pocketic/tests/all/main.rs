//! icfuzz-pocketic's tests, on the example canisters' real Wasm: the step mapping and `--dry-run` output (run
//! everywhere), the backend-generic executor on the engine (run everywhere), and replays on a PocketIC server
//! (run when `POCKET_IC_BIN` names one, otherwise skipped with one line saying so).

mod engine_replay;
mod mapping;
mod server;

use icfuzz::{Scenario, ScriptAction, Step};

/// `mallory` answers `on_reward` by claiming again (reentrancy), then mallory claims its own reward.
pub fn reentrant_claim() -> Scenario {
    Scenario::new(vec![
        Step::Script {
            adversary: "mallory".into(),
            method: Some("on_reward".into()),
            action: ScriptAction::CallBack {
                canister: "rewards".into(),
                to_caller: true,
                method: "claim".into(),
                args: "({mallory})".into(),
                bounded_wait: false,
                then: Box::new(ScriptAction::Reply { value: "()".into() }),
            },
            sticky: false,
        },
        Step::Attack {
            attacker: "mallory".into(),
            canister: "rewards".into(),
            method: "claim".into(),
            args: "({mallory})".into(),
            bounded_wait: false,
            cycles: 0,
        },
        Step::RunUntilQuiet,
    ])
}

/// The subscriber never answers `on_event`; alice notifies it.
pub fn held_notification() -> Scenario {
    Scenario::new(vec![
        Step::Script {
            adversary: "subscriber".into(),
            method: Some("on_event".into()),
            action: ScriptAction::Hold { release_after_seconds: None, then: Box::new(ScriptAction::Reply { value: "()".into() }) },
            sticky: false,
        },
        Step::Call { actor: "alice".into(), canister: "notifier".into(), method: "notify".into(), args: "({subscriber}, \"hello\")".into() },
        Step::RunUntilQuiet,
    ])
}

/// The price oracle answers garbage, so `refresh` traps in its callback with the lock taken.
pub fn garbage_price() -> Scenario {
    Scenario::new(vec![
        Step::Script {
            adversary: "oracle".into(),
            method: Some("get_price".into()),
            action: ScriptAction::Garbage { len: 7, seed: 42 },
            sticky: false,
        },
        Step::Call { actor: "bob".into(), canister: "prices".into(), method: "refresh".into(), args: "({oracle})".into() },
        Step::RunUntilQuiet,
    ])
}

/// The three example findings that need no engine-only step: (example, scenario, expected oracle).
pub fn portable_findings() -> Vec<(&'static str, Scenario, &'static str)> {
    vec![
        ("reentrancy", reentrant_claim(), "each claimant is paid once"),
        ("unbounded_wait", held_notification(), "cannot stop"),
        ("lock_in_callback", garbage_price(), "prices.is_locked() is false at quiescence"),
    ]
}
