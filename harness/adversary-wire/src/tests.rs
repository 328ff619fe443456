//! The wire format is the one the canister and the harness used before the types moved here.

use super::*;
use candid::types::internal::TypeContainer;
use candid::types::{FuncMode, Function, Type, TypeInner};

/// The canister's types as `canisters/adversary/src/lib.rs` defined them before they moved here, verbatim but for
/// doc comments: the reference the shared types must stay byte-compatible with.
mod before {
    use candid::{CandidType, Deserialize, Principal};

    #[derive(CandidType, Deserialize, Clone, Debug)]
    pub enum Action {
        Reply(Vec<u8>),
        Garbage { len: u32, seed: u64 },
        Oversized { len: u64 },
        Reject(String),
        Trap(String),
        Hold { release_at_nanos: Option<u64>, then: Box<Action> },
        CallThen { target: Option<Principal>, method: String, arg: Vec<u8>, bounded_wait: bool, then: Box<Action> },
    }

    #[derive(CandidType, Deserialize, Clone, Debug)]
    pub enum AttackResult {
        Reply(Vec<u8>),
        Reject { code: u32, message: String },
    }
}

/// One value of every variant, nested ones included, each with its `before` twin.
fn actions() -> Vec<(Action, before::Action)> {
    let principal = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    vec![
        (Action::Reply(b"DIDL\x00\x00".to_vec()), before::Action::Reply(b"DIDL\x00\x00".to_vec())),
        (Action::Reply(vec![]), before::Action::Reply(vec![])),
        (Action::Garbage { len: 16, seed: u64::MAX }, before::Action::Garbage { len: 16, seed: u64::MAX }),
        (Action::Oversized { len: (2 << 20) + 1 }, before::Action::Oversized { len: (2 << 20) + 1 }),
        (Action::Reject("no".into()), before::Action::Reject("no".into())),
        (Action::Trap("boom".into()), before::Action::Trap("boom".into())),
        (
            Action::Hold { release_at_nanos: None, then: Box::new(Action::Reply(vec![1, 2])) },
            before::Action::Hold { release_at_nanos: None, then: Box::new(before::Action::Reply(vec![1, 2])) },
        ),
        (
            Action::Hold { release_at_nanos: Some(7), then: Box::new(Action::Trap("late".into())) },
            before::Action::Hold { release_at_nanos: Some(7), then: Box::new(before::Action::Trap("late".into())) },
        ),
        (
            Action::CallThen {
                target: None,
                method: "withdraw".into(),
                arg: vec![0xde, 0xad],
                bounded_wait: false,
                then: Box::new(Action::Hold {
                    release_at_nanos: None,
                    then: Box::new(Action::Garbage { len: 1, seed: 2 }),
                }),
            },
            before::Action::CallThen {
                target: None,
                method: "withdraw".into(),
                arg: vec![0xde, 0xad],
                bounded_wait: false,
                then: Box::new(before::Action::Hold {
                    release_at_nanos: None,
                    then: Box::new(before::Action::Garbage { len: 1, seed: 2 }),
                }),
            },
        ),
        (
            Action::CallThen {
                target: Some(principal),
                method: "deposit".into(),
                arg: vec![],
                bounded_wait: true,
                then: Box::new(Action::Oversized { len: 9 }),
            },
            before::Action::CallThen {
                target: Some(principal),
                method: "deposit".into(),
                arg: vec![],
                bounded_wait: true,
                then: Box::new(before::Action::Oversized { len: 9 }),
            },
        ),
    ]
}

fn attack_results() -> Vec<(AttackResult, before::AttackResult)> {
    vec![
        (
            AttackResult::Reply(b"DIDL\x00\x01\x78\x65".to_vec()),
            before::AttackResult::Reply(b"DIDL\x00\x01\x78\x65".to_vec()),
        ),
        (
            AttackResult::Reject { code: 4, message: "rejected".into() },
            before::AttackResult::Reject { code: 4, message: "rejected".into() },
        ),
    ]
}

/// Every Candid variant encodes to the bytes the canister's own type gave, and decodes back on both sides.
#[test]
fn every_action_variant_round_trips_with_the_canisters_bytes() {
    for (action, old) in actions() {
        let bytes = candid::encode_one(&action).unwrap();
        assert_eq!(bytes, candid::encode_one(&old).unwrap(), "{action:?}");
        assert_eq!(candid::decode_one::<Action>(&bytes).unwrap(), action);
        // What the harness sends, the canister (as it was) decodes, and the other way round.
        let decoded_old = candid::decode_one::<before::Action>(&bytes).unwrap();
        assert_eq!(candid::encode_one(&decoded_old).unwrap(), bytes);
    }
    // Scripts travel as a vector: the same bytes there too.
    let (new, old): (Vec<Action>, Vec<before::Action>) = actions().into_iter().unzip();
    let script = candid::encode_args((Some(3u32), new.clone())).unwrap();
    assert_eq!(script, candid::encode_args((Some(3u32), old)).unwrap());
    assert_eq!(candid::decode_args::<ScriptArgs>(&script).unwrap(), (Some(3), new));
}

/// Same for the attacker's answer.
#[test]
fn every_attack_result_variant_round_trips_with_the_canisters_bytes() {
    for (result, old) in attack_results() {
        let bytes = candid::encode_one(&result).unwrap();
        assert_eq!(bytes, candid::encode_one(&old).unwrap(), "{result:?}");
        assert_eq!(candid::decode_one::<AttackResult>(&bytes).unwrap(), result);
        let decoded_old = candid::decode_one::<before::AttackResult>(&bytes).unwrap();
        assert_eq!(candid::encode_one(&decoded_old).unwrap(), bytes);
    }
}

/// Renders `T::ty()` with its named types as Candid text. A fresh thread, because candid names types in
/// thread-local tables and a second type named `Action` in the same thread would print as `Action_1`.
fn candid_text<T: CandidType>() -> String {
    std::thread::spawn(|| {
        let mut env = TypeContainer::new();
        let ty = env.add::<T>();
        format!("{}{ty}", candid::pretty::candid::compile(&env.env, &None))
    })
    .join()
    .unwrap()
}

/// The canister's `Action` as Candid (fields in label-hash order, as candid prints them).
const ACTION_DID: &str = "type Action = variant {
  Hold : record { release_at_nanos : opt nat64; then : Action };
  Garbage : record { len : nat32; seed : nat64 };
  Reject : text;
  Trap : text;
  CallThen : record {
    arg : blob;
    method : text;
    then : Action;
    bounded_wait : bool;
    target : opt principal;
  };
  Reply : blob;
  Oversized : record { len : nat64 };
};
";

/// The canister's `AttackResult` as Candid.
const ATTACK_RESULT_DID: &str = "type AttackResult = variant {
  Reject : record { code : nat32; message : text };
  Reply : blob;
};
";

/// `CandidType::ty()` is the type the canister declared: the same text as the `before` copy, and as written here.
#[test]
fn candid_types_are_the_canisters() {
    assert_eq!(candid_text::<Action>(), format!("{ACTION_DID}Action"));
    assert_eq!(candid_text::<before::Action>(), format!("{ACTION_DID}Action"));
    assert_eq!(candid_text::<AttackResult>(), format!("{ATTACK_RESULT_DID}AttackResult"));
    assert_eq!(candid_text::<before::AttackResult>(), format!("{ATTACK_RESULT_DID}AttackResult"));
    // The same holds structurally, not only as text (the types are not recursive, so no knots to tell apart).
    assert_eq!(AttackResult::ty(), before::AttackResult::ty());
}

/// The argument shapes, as the adversary's Candid service: what ic-cdk decodes for each method's parameters.
#[test]
fn method_shapes_are_the_canisters_interface() {
    let service = std::thread::spawn(|| {
        let mut env = TypeContainer::new();
        // A tuple type is a record with fields 0, 1, …: its fields are the argument list.
        let list = |ty: Type| match ty.as_ref() {
            TypeInner::Record(fields) if ty.is_tuple() => fields.iter().map(|f| f.ty.clone()).collect(),
            _ => vec![ty],
        };
        let mut methods = vec![
            (SCRIPT_METHOD, vec![], list(env.add::<ScriptArgs>()), vec![]),
            (SET_DEFAULT_METHOD, vec![], list(env.add::<SetDefaultArgs>()), vec![]),
            (RELEASE_METHOD, vec![], list(env.add::<ReleaseArgs>()), vec![]),
            (PARK_METHOD, vec![], vec![], vec![]),
            (ATTACK_METHOD, vec![], list(env.add::<AttackArgs>()), vec![env.add::<AttackResult>()]),
            (HOLDS_METHOD, vec![FuncMode::Query], vec![], vec![env.add::<HoldsReply>()]),
            (SERVED_METHOD, vec![FuncMode::Query], vec![], vec![env.add::<ServedReply>()]),
        ];
        methods.sort_by_key(|m| m.0);
        let service: Type = TypeInner::Service(
            methods
                .into_iter()
                .map(|(name, modes, args, rets)| {
                    (name.to_owned(), TypeInner::Func(Function { modes, args, rets }).into())
                })
                .collect(),
        )
        .into();
        candid::pretty::candid::compile(&env.env, &Some(service))
    })
    .join()
    .unwrap();
    let expected = format!(
        "{ACTION_DID}{ATTACK_RESULT_DID}service : {{
  icfuzz_attack : (principal, text, blob, nat, bool) -> (AttackResult);
  icfuzz_holds : () -> (vec nat64) query;
  icfuzz_park : () -> ();
  icfuzz_release : (opt nat64) -> ();
  icfuzz_script : (opt nat32, vec Action) -> ();
  icfuzz_served : () -> (nat64) query;
  icfuzz_set_default : (nat32, Action) -> ();
}}"
    );
    assert_eq!(service, expected);
}

/// The serde form the harness used for structured files: externally tagged, byte fields as lowercase hex.
#[test]
fn json_has_hex_byte_fields_and_reads_back() {
    let action = Action::CallThen {
        target: Some(Principal::management_canister()),
        method: "m".into(),
        arg: vec![0xAB, 0x01],
        bounded_wait: false,
        then: Box::new(Action::Reply(b"DIDL\x00\x00".to_vec())),
    };
    let json = serde_json::to_string(&action).unwrap();
    assert_eq!(
        json,
        concat!(
            r#"{"CallThen":{"target":"aaaaa-aa","method":"m","arg":"ab01","bounded_wait":false,"#,
            r#""then":{"Reply":"4449444c0000"}}}"#
        )
    );
    assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), action);
    assert!(serde_json::from_str::<Action>(r#"{"Reply":"abc"}"#).is_err(), "odd length");
    assert!(serde_json::from_str::<Action>(r#"{"Reply":"zz"}"#).is_err(), "not hex");
}

#[test]
fn hex_round_trips() {
    assert_eq!(hex_bytes::hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    assert_eq!(hex_bytes::unhex("000FF0ff"), Some(vec![0x00, 0x0f, 0xf0, 0xff]));
    assert_eq!(hex_bytes::unhex(""), Some(vec![]));
    assert_eq!(hex_bytes::unhex("0"), None);
    assert_eq!(hex_bytes::unhex("0g"), None);
}

/// The names the harness relies on: every own name carries the prefix impersonation refuses, none is listed twice,
/// and the control methods are update methods.
#[test]
fn method_names_are_consistent() {
    let all: Vec<&str> = UPDATE_METHODS.iter().chain(QUERY_METHODS).copied().collect();
    for name in all.iter().chain([&SLOT_EXPORT_PREFIX]) {
        assert!(name.starts_with(OWN_NAME_PREFIX), "{name}");
    }
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "{all:?}");
    assert!(CONTROL_METHODS.iter().all(|m| UPDATE_METHODS.contains(m)));
    assert!(!CONTROL_METHODS.contains(&ATTACK_METHOD));
    assert_eq!(concat!(slot_export_prefix!(), 7), "icfuzz_slot_7");
}
