//! HTTP outcalls: `canisters/oracle` (ic-cdk `http_request` with a transform) waits until its outcall is answered,
//! gets the transformed response or the replica's rejects, and pays the replica's fee; the universal canister meets
//! the request checks.

use candid::{Decode, Encode, Principal};
use ic_management_canister_types as mgmt;
use icfuzz_engine::{CanisterId, HttpAnswer, IngressStatus, MessageId, RejectCode, Subnet};
use icfuzz_test_canisters::uc::Program;

use crate::*;

const ORACLE_URL: &str = "https://api.exchange.example/v1/ticker?symbol=ICPUSD";

fn response(status: u16, body: &[u8]) -> HttpAnswer {
    HttpAnswer::Response {
        status,
        headers: vec![("Content-Type".into(), "application/json".into()), ("Date".into(), "Wed, 02 Dec 2026".into())],
        body: body.to_vec(),
    }
}

/// Starts `refresh` and runs until the oracle waits for its outcall.
fn refresh(s: &mut Subnet, oracle: CanisterId) -> MessageId {
    let id = s.submit_call(oracle, user(), "refresh", Encode!().unwrap()).unwrap();
    s.run_until_quiet(10_000).unwrap();
    id
}

fn refreshed(s: &mut Subnet, id: MessageId) -> Result<u64, String> {
    s.run_until_quiet(10_000).unwrap();
    match s.ingress_status(id) {
        Ok(IngressStatus::Completed(Ok(bytes))) => Decode!(bytes, Result<u64, String>).unwrap(),
        other => panic!("refresh did not complete: {other:?}"),
    }
}

#[test]
fn an_outcall_waits_for_its_answer_and_the_transformed_response_reaches_the_oracle() {
    let mut s = subnet();
    let oracle = install(&mut s, "oracle", vec![]);
    let before = s.cycle_balance(oracle).unwrap();
    let id = refresh(&mut s, oracle);
    assert!(matches!(s.ingress_status(id), Ok(IngressStatus::Processing)), "the call waits for the outcall");
    let outcalls = s.pending_outcalls();
    assert_eq!(outcalls.len(), 1);
    let outcall = &outcalls[0];
    assert_eq!((outcall.canister, outcall.url.as_str(), outcall.method.as_str()), (oracle, ORACLE_URL, "GET"));
    assert_eq!((outcall.max_response_bytes, outcall.transform.as_deref()), (4_096, Some("transform")));
    // ic-cdk attached what `cost_http_request` quoted, and `http_request` charged exactly that: the replica's
    // formula over URL + transform name, and 4,096 response bytes.
    let fee = s.config().fees.http_request((ORACLE_URL.len() + "transform".len()) as u64, 4_096);

    // Nothing happens until it is answered; the answer goes through the transform (a query called by aaaaa-aa).
    s.answer_outcall(outcall.id, response(200, br#"{"price":"7.1234"}"#)).unwrap();
    assert!(s.pending_outcalls().is_empty());
    assert_eq!(refreshed(&mut s, id), Ok(7_123_400));
    // Once the response is in, the call's reservations are back: what is gone is the fee and the executions.
    let paid = before - s.cycle_balance(oracle).unwrap();
    assert!((fee..fee + 100_000_000).contains(&paid), "paid {paid}, the fee is {fee}");
    let price = Decode!(&s.query_call(oracle, user(), "price", Encode!().unwrap()).unwrap(), Option<(u64, u64)>).unwrap();
    assert_eq!(price.map(|p| p.0), Some(7_123_400));
    assert!(s.answer_outcall(outcall.id, response(200, b"{}")).is_err(), "an outcall is answered once");
}

#[test]
fn responses_over_the_limit_and_failed_requests_are_rejected_as_by_the_replica() {
    let mut s = subnet();
    let oracle = install(&mut s, "oracle", vec![]);

    let id = refresh(&mut s, oracle);
    let outcall = s.pending_outcalls()[0].id;
    // Headers count toward max_response_bytes: 4,096 bytes of body alone is too much with them.
    s.answer_outcall(outcall, response(200, &[b' '; 4_096])).unwrap();
    let error = refreshed(&mut s, id).unwrap_err();
    assert!(error.contains("Http body exceeds size limit of 4096 bytes."), "{error}");

    let id = refresh(&mut s, oracle);
    let outcall = s.pending_outcalls()[0].id;
    s.answer_outcall(outcall, HttpAnswer::Failed { transient: true, message: "Connecting to api.exchange.example failed".into() })
        .unwrap();
    let error = refreshed(&mut s, id).unwrap_err();
    assert!(error.contains("Connecting to api.exchange.example failed"), "{error}");

    // A hostile exchange: the oracle's own checks refuse what the transform passed on.
    let id = refresh(&mut s, oracle);
    let outcall = s.pending_outcalls()[0].id;
    s.answer_outcall(outcall, response(200, br#"{"price":"0"}"#)).unwrap();
    assert_eq!(refreshed(&mut s, id), Err("the exchange quoted a zero price".into()));
    assert_eq!(Decode!(&s.query_call(oracle, user(), "price", Encode!().unwrap()).unwrap(), Option<(u64, u64)>).unwrap(), None);
}

#[test]
fn a_snapshot_keeps_pending_outcalls() {
    let mut s = subnet();
    let oracle = install(&mut s, "oracle", vec![]);
    let id = refresh(&mut s, oracle);
    let snapshot = s.snapshot();
    let outcall = s.pending_outcalls()[0].clone();
    s.answer_outcall(outcall.id, response(200, br#"{"price":"1.5"}"#)).unwrap();
    assert_eq!(refreshed(&mut s, id), Ok(1_500_000));
    s.restore(&snapshot).unwrap();
    assert_eq!(s.pending_outcalls(), [outcall.clone()]);
    s.answer_outcall(outcall.id, response(200, br#"{"price":"2"}"#)).unwrap();
    assert_eq!(refreshed(&mut s, id), Ok(2_000_000));
}

fn http_args(transform: Option<(CanisterId, &str)>, max_response_bytes: Option<u64>) -> mgmt::HttpRequestArgs {
    mgmt::HttpRequestArgs {
        url: "https://example.org/".into(),
        max_response_bytes,
        method: mgmt::HttpMethod::GET,
        headers: vec![],
        body: None,
        transform: transform.map(|(principal, method)| mgmt::TransformContext {
            function: mgmt::TransformFunc(candid::Func { principal, method: method.into() }),
            context: vec![],
        }),
        is_replicated: None,
        pricing_version: None,
    }
}

fn outcall(arg: &mgmt::HttpRequestArgs, cycles: u64) -> Program {
    Program::new()
        .call_new(Principal::management_canister().as_slice(), "http_request", relay_reply(), relay_reject())
        .push_bytes(&Encode!(arg).unwrap())
        .call_data_append()
        .push_int(cycles)
        .call_cycles_add128()
        .call_perform()
        .drop()
}

#[test]
fn requests_are_checked_as_by_the_replica() {
    let mut s = subnet();
    let a = install_uc(&mut s);
    let b = install_uc(&mut s);
    let plenty = 100_000_000_000u64;
    let refused = |s: &mut Subnet, arg: mgmt::HttpRequestArgs, cycles: u64| relayed_reject(&update(s, a, outcall(&arg, cycles)).unwrap());

    let (code, message) = refused(&mut s, http_args(Some((b, "transform")), None), plenty);
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert_eq!(message, format!("transform principal id expected to be {a}, got {b}"));
    let (_, message) = refused(&mut s, http_args(None, Some(2_000_001)), plenty);
    assert_eq!(message, "max_response_bytes expected to be in the range [0..2000000], got 2000001");
    let mut put = http_args(None, None);
    put.method = mgmt::HttpMethod::PUT;
    let (_, message) = refused(&mut s, put, plenty);
    assert_eq!(message, "The requested HTTP method is only allowed for non-replicated requests.");
    let arg = http_args(None, Some(1_000));
    let fee = s.config().fees.http_request(arg.url.len() as u64, 1_000) as u64;
    let (code, message) = refused(&mut s, arg.clone(), fee - 1);
    assert_eq!(code, RejectCode::CanisterReject as u64);
    assert!(message.starts_with("http_request request sent with ") && message.ends_with(" cycles are required."), "{message}");
    assert!(s.pending_outcalls().is_empty(), "nothing refused is pending");

    // Enough cycles: pending; the excess comes back with the response.
    let before = s.cycle_balance(a).unwrap();
    let call = s.submit_call(a, user(), "update", outcall(&arg, fee + 7_000_000_000).build()).unwrap();
    s.run_until_quiet(10_000).unwrap();
    let pending = s.pending_outcalls();
    assert_eq!(pending.len(), 1);
    let headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
    s.answer_outcall(pending[0].id, HttpAnswer::Response { status: 404, headers, body: b"not found".to_vec() }).unwrap();
    s.run_until_quiet(10_000).unwrap();
    let Ok(IngressStatus::Completed(Ok(reply))) = s.ingress_status(call) else { panic!("completed") };
    // Without a transform the response passes as the adapter hands it over: header names lowercased.
    let result = Decode!(&reply, mgmt::HttpRequestResult).unwrap();
    assert_eq!((result.status, result.body), (candid::Nat::from(404u16), b"not found".to_vec()));
    assert_eq!(result.headers, [mgmt::HttpHeader { name: "content-type".into(), value: "text/plain".into() }]);
    let paid = u128::from(before) - s.cycle_balance(a).unwrap();
    assert!(paid < u128::from(fee) + 1_000_000_000, "only the fee was kept: paid {paid}");

    // A transform that traps: the caller gets CANISTER_ERROR with the trap.
    let call = s.submit_call(a, user(), "update", outcall(&http_args(Some((a, "query")), None), plenty).build()).unwrap();
    s.run_until_quiet(10_000).unwrap();
    let pending = s.pending_outcalls();
    s.answer_outcall(pending[0].id, HttpAnswer::Response { status: 200, headers: vec![], body: vec![] }).unwrap();
    s.run_until_quiet(10_000).unwrap();
    let Ok(IngressStatus::Completed(Ok(reply))) = s.ingress_status(call) else { panic!("completed") };
    let (code, message) = relayed_reject(&reply);
    assert_eq!(code, RejectCode::CanisterError as u64, "{message}");
    assert!(message.starts_with("IC05"), "{message}");

    // Only HTTPS reaches a server: the adapter fails anything else (after the fee is taken), and no answer is asked.
    let mut plain = http_args(None, Some(1_000));
    plain.url = "http://example.org/".into();
    let (code, message) = refused(&mut s, plain, plenty);
    assert_eq!((code, message.as_str()), (RejectCode::SysFatal as u64, "Url need to specify https scheme"));
    assert!(s.pending_outcalls().is_empty());

    let refused = s.update_call(Principal::management_canister(), user(), "http_request", Encode!(&arg).unwrap());
    assert_reject(&refused, RejectCode::CanisterReject, "Only canisters can call ic00 method http_request");
}

/// On the IC every outcall ends: one nobody answers fails after the consensus timeout, so it cannot keep its
/// caller's call context open (and the canister from stopping) forever.
#[test]
fn an_unanswered_outcall_times_out() {
    let mut s = subnet();
    let oracle = install(&mut s, "oracle", vec![]);
    let id = refresh(&mut s, oracle);
    s.advance_time(59 * 1_000_000_000);
    assert_eq!(s.pending_outcalls().len(), 1, "still waiting after 59 s");
    s.advance_time(1_000_000_000);
    assert!(s.pending_outcalls().is_empty());
    let error = refreshed(&mut s, id).unwrap_err();
    assert!(error.contains("Canister http request timed out"), "{error}");
    assert_eq!(s.open_call_contexts(oracle).unwrap(), 0);
}
