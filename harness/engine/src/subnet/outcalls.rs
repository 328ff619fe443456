//! HTTP outcalls (`http_request`): the engine never reaches the network. A request that passes the replica's
//! checks and pays its fee becomes a pending outcall ([`HttpOutcall`]); whoever drives the subnet answers it with
//! [`Subnet::answer_outcall`] (a response, or the failure the HTTP adapter would report), and the engine then does
//! what the replica does with the adapter's answer: size and header checks, the canister's transform (a
//! non-replicated query called by the management canister), and the response to the caller's callback.
//!
//! Checks, messages and codes follow the replica (`rs/types/types/src/canister_http.rs` for requests,
//! `rs/https_outcalls/client` for responses, `cycles_account_manager` for the fee).

use candid::{Decode, Encode};
use ic_management_canister_types as mgmt;

use super::events::{EngineError, Event};
use super::messages::{Message, Response};
use super::Subnet;
use crate::types::{CanisterId, Cycles, ErrorCode, Payload, Principal, RejectCode, RejectResponse};

/// Longest URL (`MAX_CANISTER_HTTP_URL_SIZE`).
pub const MAX_URL_BYTES: usize = 8192;
/// Most headers, in a request or a response.
pub const MAX_HEADERS: usize = 64;
/// Longest header name, and longest header value.
pub const MAX_HEADER_NAME_OR_VALUE: usize = 8192;
/// Most bytes of all header names and values together.
pub const MAX_HEADERS_TOTAL: usize = 48 * 1024;
/// Most bytes of headers and body of a request, and the largest `max_response_bytes` (also its default).
pub const MAX_HTTP_BYTES: u64 = 2_000_000;

/// An outcall no one answers within this time fails, as the replica's consensus gives up on it
/// (`CANISTER_HTTP_TIMEOUT_INTERVAL`): on the IC every outcall ends, so none may hold a call context forever.
pub const OUTCALL_TIMEOUT_NANOS: u64 = 60 * 1_000_000_000;

/// An outcall waiting for its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOutcall {
    /// Its id, for [`Subnet::answer_outcall`].
    pub id: u64,
    /// The canister that made it.
    pub canister: CanisterId,
    /// The URL.
    pub url: String,
    /// `GET`, `HEAD`, `POST`, `PUT`, `DELETE` or `PATCH`.
    pub method: String,
    /// The request's headers.
    pub headers: Vec<(String, String)>,
    /// The request's body.
    pub body: Vec<u8>,
    /// The largest response (headers and body) the canister accepts.
    pub max_response_bytes: u64,
    /// The transform method, if any.
    pub transform: Option<String>,
}

/// What the HTTP adapter brings back for an outcall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpAnswer {
    /// The server answered.
    Response {
        /// The HTTP status.
        status: u16,
        /// Headers; names are lowercased as the adapter does.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// The request failed (no connection, timeout, no consensus among replicas): `transient` gives SYS_TRANSIENT,
    /// otherwise SYS_FATAL, with `message`.
    Failed {
        /// SYS_TRANSIENT rather than SYS_FATAL.
        transient: bool,
        /// The reject message.
        message: String,
    },
}

/// An outcall accepted and waiting, with what is needed to answer its caller.
#[derive(Clone, Debug)]
pub(crate) struct PendingOutcall {
    pub outcall: HttpOutcall,
    transform_context: Vec<u8>,
    callback: u64,
    deadline_nanos: Option<u64>,
    /// Attached cycles beyond the fee, returned with the response.
    refund: Cycles,
    /// When it was accepted.
    since_nanos: u64,
}

/// A reject of the HTTP path (the adapter or the client), which carries no IC error code.
fn failed(reject_code: RejectCode, message: impl Into<String>) -> RejectResponse {
    RejectResponse { reject_code, reject_message: message.into(), error_code: ErrorCode::HttpOutcallFailed }
}

fn rejected(message: impl Into<String>) -> RejectResponse {
    RejectResponse::new(ErrorCode::CanisterRejectedMessage, message)
}

/// The header checks the replica applies to requests and again to responses.
fn check_headers(headers: &[(String, String)]) -> Result<usize, String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!("number of all http headers {} exceeds {MAX_HEADERS}", headers.len()));
    }
    let mut total = 0;
    for (name, value) in headers {
        if name.len() > MAX_HEADER_NAME_OR_VALUE {
            return Err(format!("number of bytes to represent some http header name {} exceeds {MAX_HEADER_NAME_OR_VALUE}", name.len()));
        }
        if value.len() > MAX_HEADER_NAME_OR_VALUE {
            return Err(format!("number of bytes to represent some http header value {} exceeds {MAX_HEADER_NAME_OR_VALUE}", value.len()));
        }
        total += name.len() + value.len();
    }
    if total > MAX_HEADERS_TOTAL {
        return Err(format!(
            "total number of bytes to represent all http header names and values {total} exceeds {MAX_HEADERS_TOTAL}"
        ));
    }
    Ok(total)
}

fn method_name(method: &mgmt::HttpMethod) -> &'static str {
    match method {
        mgmt::HttpMethod::GET => "GET",
        mgmt::HttpMethod::HEAD => "HEAD",
        mgmt::HttpMethod::POST => "POST",
        mgmt::HttpMethod::PUT => "PUT",
        mgmt::HttpMethod::DELETE => "DELETE",
        mgmt::HttpMethod::PATCH => "PATCH",
    }
}

impl Subnet {
    /// `http_request` from `caller` with `cycles` attached: checks the request, takes the fee and makes it a
    /// pending outcall (`Ok`: the response comes when it is answered), or rejects it (all cycles refunded).
    pub(super) fn http_request(
        &mut self,
        caller: Principal,
        arg: &[u8],
        cycles: Cycles,
        callback: u64,
        deadline_nanos: Option<u64>,
    ) -> Result<(), RejectResponse> {
        let args = Decode!(arg, mgmt::HttpRequestArgs)
            .map_err(|e| RejectResponse::new(ErrorCode::InvalidManagementPayload, format!("Error decoding candid: {e}")))?;
        if let Some(transform) = &args.transform {
            if transform.function.0.principal != caller {
                return Err(rejected(format!(
                    "transform principal id expected to be {caller}, got {}",
                    transform.function.0.principal
                )));
            }
        }
        if args.url.len() > MAX_URL_BYTES {
            return Err(rejected(format!("url size {} exceeds {MAX_URL_BYTES}", args.url.len())));
        }
        let headers: Vec<(String, String)> = args.headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect();
        let header_bytes = check_headers(&headers).map_err(rejected)?;
        let body = args.body.clone().unwrap_or_default();
        if (header_bytes + body.len()) as u64 > MAX_HTTP_BYTES {
            return Err(rejected(format!(
                "total number of bytes to represent all http header names and values and http body {} exceeds {MAX_HTTP_BYTES}",
                header_bytes + body.len()
            )));
        }
        let max_response_bytes = args.max_response_bytes.unwrap_or(MAX_HTTP_BYTES);
        if max_response_bytes > MAX_HTTP_BYTES {
            return Err(rejected(format!(
                "max_response_bytes expected to be in the range [0..{MAX_HTTP_BYTES}], got {max_response_bytes}"
            )));
        }
        if matches!(args.method, mgmt::HttpMethod::PUT | mgmt::HttpMethod::DELETE | mgmt::HttpMethod::PATCH) && args.is_replicated != Some(false) {
            return Err(rejected("The requested HTTP method is only allowed for non-replicated requests."));
        }
        let transform_bytes = args.transform.as_ref().map_or(0, |t| t.function.0.method.len() + t.context.len());
        let request_bytes = args.url.len() + header_bytes + body.len() + transform_bytes;
        let fee = self.config.fees.http_request(request_bytes as u64, max_response_bytes);
        if cycles < fee {
            return Err(rejected(format!(
                "http_request request sent with {} cycles, but {} cycles are required.",
                super::signing::cycles_text(cycles),
                super::signing::cycles_text(fee)
            )));
        }
        let id = self.next_outcall;
        self.next_outcall += 1;
        let outcall = HttpOutcall {
            id,
            canister: caller,
            url: args.url.clone(),
            method: method_name(&args.method).to_owned(),
            headers,
            body,
            max_response_bytes,
            transform: args.transform.as_ref().map(|t| t.function.0.method.clone()),
        };
        self.events.push(Event::OutcallRequested { canister: caller, id, url: args.url.clone(), method: outcall.method.clone() });
        let transform_context = args.transform.map(|t| t.context).unwrap_or_default();
        let since_nanos = self.time_nanos;
        let https = args.url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        self.outcalls.insert(id, PendingOutcall { outcall, transform_context, callback, deadline_nanos, refund: cycles - fee, since_nanos });
        if !https {
            // The adapter refuses anything but HTTPS: no server ever answers, whatever a scenario would say.
            let refused = HttpAnswer::Failed { transient: false, message: "Url need to specify https scheme".into() };
            self.answer_outcall(id, refused).expect("just made pending");
        }
        Ok(())
    }

    /// Outcalls pending for [`OUTCALL_TIMEOUT_NANOS`] fail with the replica's SYS_TRANSIENT.
    pub(super) fn time_out_outcalls(&mut self) {
        let now = self.time_nanos;
        let due: Vec<u64> =
            self.outcalls.values().filter(|p| p.since_nanos.saturating_add(OUTCALL_TIMEOUT_NANOS) <= now).map(|p| p.outcall.id).collect();
        for id in due {
            let timed_out = HttpAnswer::Failed { transient: true, message: "Canister http request timed out".into() };
            self.answer_outcall(id, timed_out).expect("the outcall is pending");
        }
    }

    /// The outcalls waiting for an answer, oldest first.
    pub fn pending_outcalls(&self) -> Vec<HttpOutcall> {
        self.outcalls.values().map(|p| p.outcall.clone()).collect()
    }

    /// Answers a pending outcall as the HTTP adapter would: the response is checked against the request's
    /// limits, passed through the canister's transform, and sent to the caller's callback as the replica does.
    pub fn answer_outcall(&mut self, id: u64, answer: HttpAnswer) -> Result<(), EngineError> {
        let pending = self.outcalls.remove(&id).ok_or(EngineError::NoSuchOutcall(id))?;
        let canister = pending.outcall.canister;
        let payload = match self.outcall_result(&pending, answer) {
            Ok(bytes) => Payload::Reply(bytes),
            Err(reject) => Payload::Reject(reject),
        };
        self.events.push(Event::OutcallAnswered {
            canister,
            id,
            reply: matches!(payload, Payload::Reply(_)),
        });
        let response = Response {
            originator: canister,
            callback: pending.callback,
            method: "http_request".to_owned(),
            payload,
            refund: pending.refund,
            deadline_nanos: pending.deadline_nanos,
        };
        self.enqueue(Principal::management_canister(), canister, Message::Response(response));
        Ok(())
    }

    fn outcall_result(&mut self, pending: &PendingOutcall, answer: HttpAnswer) -> Result<Vec<u8>, RejectResponse> {
        let (status, headers, body) = match answer {
            HttpAnswer::Failed { transient: true, message } => return Err(failed(RejectCode::SysTransient, message)),
            HttpAnswer::Failed { transient: false, message } => return Err(failed(RejectCode::SysFatal, message)),
            HttpAnswer::Response { status, headers, body } => (status, headers, body),
        };
        let headers: Vec<(String, String)> = headers.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
        let limit = pending.outcall.max_response_bytes;
        let header_bytes = check_headers(&headers).map_err(|e| failed(RejectCode::SysFatal, e))? as u64;
        if header_bytes > limit {
            return Err(failed(RejectCode::SysFatal, format!("Header size exceeds specified response size limit {limit}")));
        }
        if header_bytes + body.len() as u64 > limit {
            return Err(failed(RejectCode::SysFatal, format!("Http body exceeds size limit of {limit} bytes.")));
        }
        let result = mgmt::HttpRequestResult {
            status: candid::Nat::from(status),
            headers: headers.into_iter().map(|(name, value)| mgmt::HttpHeader { name, value }).collect(),
            body,
        };
        let Some(transform) = &pending.outcall.transform else {
            return Ok(Encode!(&result).expect("responses encode"));
        };
        if self.check_callee(pending.outcall.canister, transform, false) == Ok(super::execute::MethodKind::CompositeQuery) {
            return Err(RejectResponse::new(
                ErrorCode::CompositeQueryCalledInReplicatedMode,
                "Composite query cannot be used as transform in canister http outcalls.",
            ));
        }
        // The transform runs as a query called by the management canister; its reply is passed on as it is.
        let arg = Encode!(&mgmt::TransformArgs { response: result, context: pending.transform_context.clone() })
            .expect("transform arguments encode");
        let reply = self
            .query_call(pending.outcall.canister, Principal::management_canister(), transform, arg)
            .map_err(|reject| match reject.reject_code {
                RejectCode::CanisterReject => reject,
                _ => failed(reject.reject_code, format!("{}: {}", reject.error_code, reject.reject_message)),
            })?;
        if reply.len() as u64 > limit {
            return Err(failed(RejectCode::SysFatal, format!("Transformed http response exceeds limit: {limit}")));
        }
        Ok(reply)
    }
}
