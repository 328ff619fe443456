//! What the subnet holds in flight: requests and responses in streams, ingress records, and management responses
//! that come later (`stop_canister`).

use super::events::{IngressStatus, MessageKind};
use crate::types::{CanisterId, Cycles, MessageId, Payload, Principal};

/// A canister-to-canister request in a stream.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub sender: Principal,
    pub receiver: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub cycles: Cycles,
    pub callback: u64,
    pub deadline_nanos: Option<u64>,
}

/// A response in a stream.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub originator: Principal,
    pub callback: u64,
    pub method: String,
    pub payload: Payload,
    pub refund: Cycles,
    /// Copied from the request: a bounded-wait response can time out too.
    pub deadline_nanos: Option<u64>,
}

/// A message in a stream.
#[derive(Clone, Debug)]
pub(crate) enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    /// What it is, as [`PendingMessage`](super::PendingMessage) and the trace describe it.
    pub(crate) fn kind(&self) -> MessageKind {
        match self {
            Message::Request(r) => {
                MessageKind::Request { method: r.method.clone(), bounded_wait: r.deadline_nanos.is_some() }
            }
            Message::Response(r) => {
                MessageKind::Response { reply: matches!(r.payload, Payload::Reply(_)), method: r.method.clone() }
            }
        }
    }

    /// A bounded-wait message's deadline (`None` for guaranteed-response messages).
    pub(crate) fn deadline_nanos(&self) -> Option<u64> {
        match self {
            Message::Request(r) => r.deadline_nanos,
            Message::Response(r) => r.deadline_nanos,
        }
    }
}

/// Where the response to a management call that completes later (stop_canister) goes.
#[derive(Clone, Debug)]
pub(crate) enum Responder {
    Ingress(MessageId),
    Canister { caller: Principal, callback: u64, deadline_nanos: Option<u64> },
}

/// A `stop_canister` call waiting for the canister to stop.
#[derive(Clone, Debug)]
pub(crate) struct PendingStop {
    pub responder: Responder,
    pub since_nanos: u64,
}

/// A message in a stream, with its global sequence number (the order messages were produced in).
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    pub seq: u64,
    pub message: Message,
}

/// An ingress message in the ingress history (kept after it completes).
#[derive(Clone)]
pub(crate) struct Ingress {
    pub seq: u64,
    pub sender: Principal,
    pub canister: CanisterId,
    pub method: String,
    pub arg: Vec<u8>,
    pub status: IngressStatus,
}
