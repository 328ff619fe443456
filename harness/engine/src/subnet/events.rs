//! The subnet's public vocabulary: what may be delivered next ([`Delivery`], [`PendingMessage`], [`MessageKind`]),
//! the faults that may be injected ([`Fault`]), where an ingress message stands ([`IngressStatus`]), the trace
//! ([`Event`]) and the engine's own errors ([`EngineError`]).

use crate::types::{CallResult, CanisterId, ErrorCode, MessageId, Principal, RejectResponse, Unimplemented};

/// Errors in using the engine (not canister outcomes, which are [`CallResult`]s).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    /// The delivery chosen is not among [`Subnet::pending`](super::Subnet::pending).
    #[error("{0:?} is not a pending message")]
    NotPending(Delivery),
    /// No ingress message has this id.
    #[error("unknown ingress message {0}")]
    UnknownMessage(MessageId),
    /// Nothing is pending, but the awaited message has not completed (e.g. a callee holds the call forever).
    #[error("{0} cannot complete: no message is pending")]
    Stuck(MessageId),
    /// `run_until_quiet` delivered its maximum number of messages and messages are still pending.
    #[error("still {pending} messages pending after {delivered} deliveries")]
    NotQuiet {
        /// Messages delivered.
        delivered: usize,
        /// Messages still pending.
        pending: usize,
    },
    /// No pending HTTP outcall has this id.
    #[error("no pending HTTP outcall {0}")]
    NoSuchOutcall(u64),
    /// The fault is not among [`Subnet::faults`](super::Subnet::faults).
    #[error("{0:?} is not a fault the IC could produce now")]
    NotAFault(Fault),
    /// No canister has this id.
    #[error("canister {0} does not exist")]
    UnknownCanister(CanisterId),
    /// [`Subnet::create_canister_at`](super::Subnet::create_canister_at) at an id already in use.
    #[error("canister {0} already exists")]
    CanisterExists(CanisterId),
    /// wasmtime could not be set up.
    #[error("wasmtime: {0}")]
    Wasmtime(String),
}

/// Names one deliverable choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Delivery {
    /// An ingress message not yet executed.
    Ingress(MessageId),
    /// The head of the stream from one canister (or the management canister) to another.
    Stream {
        /// Sender of the messages in the stream.
        from: Principal,
        /// Receiver.
        to: Principal,
    },
    /// The canister's global timer is due: run `canister_global_timer`.
    Timer(CanisterId),
    /// Run `canister_heartbeat` (offered whenever the canister runs and exports it; never needed for quiescence).
    Heartbeat(CanisterId),
    /// A bounded-wait call's deadline passed: its callback gets SYS_UNKNOWN and a later response is dropped.
    DeadlineExpired {
        /// The calling canister.
        canister: CanisterId,
        /// Its callback id.
        callback: u64,
    },
}

/// What a pending message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// An ingress update call.
    Ingress {
        /// The method.
        method: String,
    },
    /// A request from one canister to another.
    Request {
        /// The method.
        method: String,
        /// Whether it is a bounded-wait call.
        bounded_wait: bool,
    },
    /// A response to a request.
    Response {
        /// `true` for a reply, `false` for a reject.
        reply: bool,
        /// The method of the request answered.
        method: String,
    },
    /// The global timer task.
    Timer,
    /// The heartbeat task.
    Heartbeat,
    /// The system's SYS_UNKNOWN reject for a bounded-wait call whose deadline passed.
    DeadlineExpired {
        /// The method of the call.
        method: String,
    },
}

/// A message that may be delivered next (see [`Subnet::pending`](super::Subnet::pending) for which ones are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMessage {
    /// How to deliver it.
    pub delivery: Delivery,
    /// Global sequence number: the order in which messages were produced.
    pub seq: u64,
    /// Sender (user principal for ingress).
    pub from: Principal,
    /// Receiver.
    pub to: Principal,
    /// What it is.
    pub kind: MessageKind,
}

/// Where an ingress message stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngressStatus {
    /// Submitted and waiting to be delivered.
    Received,
    /// Executed; its call context waits for responses to calls it made.
    Processing,
    /// Done.
    Completed(CallResult),
}

/// One entry of the engine's trace: what happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An ingress message was accepted for delivery.
    IngressSubmitted {
        /// The message.
        id: MessageId,
        /// Sender.
        sender: Principal,
        /// Target.
        canister: CanisterId,
        /// Method.
        method: String,
    },
    /// A message was delivered.
    Delivered {
        /// Its sequence number.
        seq: u64,
        /// Sender.
        from: Principal,
        /// Receiver.
        to: Principal,
        /// What it was.
        kind: MessageKind,
    },
    /// An entry point ran.
    Executed {
        /// The canister.
        canister: CanisterId,
        /// What ran (method export or callback).
        entry: String,
        /// The execution kind.
        kind: crate::ExecutionKind,
        /// The method of the call context it ran in (for a callback: the method whose code awaited).
        method: String,
        /// Instructions used.
        instructions: u64,
        /// `None` if it returned, the trap's message otherwise.
        trap: Option<String>,
        /// The trap's error code (`None` if it returned): tells instruction and memory limits from other traps.
        code: Option<ErrorCode>,
    },
    /// A request could not be delivered and the system answered it with a reject.
    SystemReject {
        /// Who sent the request.
        caller: Principal,
        /// Intended receiver.
        callee: Principal,
        /// The reject.
        reject: RejectResponse,
    },
    /// A response arrived for a callback that no longer exists, and was dropped.
    ResponseDropped {
        /// The canister it was for.
        canister: CanisterId,
        /// The callback id.
        callback: u64,
    },
    /// A bounded-wait message timed out in its queue and was dropped (its caller gets SYS_UNKNOWN).
    MessageTimedOut {
        /// Sender.
        from: Principal,
        /// Receiver.
        to: Principal,
        /// What it was.
        kind: MessageKind,
    },
    /// The system answered a call context on the canister's behalf: the execution trapped, or it returned
    /// without replying with nothing outstanding ("did not reply"). The caller, canister or user, gets `reject`.
    ContextRejected {
        /// The canister whose call context it was.
        canister: CanisterId,
        /// The context's method.
        method: String,
        /// The reject its caller gets.
        reject: RejectResponse,
    },
    /// Canister code reached something of the IC the engine does not implement (a management method, a system
    /// API feature): whatever the engine answered, the IC would have answered differently. The library counts
    /// these so a campaign never diverges from the IC in silence.
    Unimplemented {
        /// The canister whose code reached it (for a management call, its caller).
        canister: Principal,
        /// What it reached.
        feature: Unimplemented,
    },
    /// A canister's `http_request` was accepted and waits for an answer ([`Subnet::answer_outcall`](super::Subnet::answer_outcall)).
    OutcallRequested {
        /// The canister.
        canister: CanisterId,
        /// The outcall's id.
        id: u64,
        /// The URL.
        url: String,
        /// The HTTP method.
        method: String,
    },
    /// An outcall was answered; its response (after the transform) is on its way to the canister.
    OutcallAnswered {
        /// The canister.
        canister: CanisterId,
        /// The outcall's id.
        id: u64,
        /// Whether the canister gets a reply (`false`: a reject).
        reply: bool,
    },
    /// A fault was injected.
    Fault(Fault),
    /// An ingress message completed.
    IngressCompleted {
        /// The message.
        id: MessageId,
        /// Its result.
        result: CallResult,
    },
}

/// A system fault the IC may produce, which a caller of the engine can choose to inject (see
/// [`Subnet::faults`](super::Subnet::faults)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Reject the request at the head of a stream with SYS_TRANSIENT, as if the callee's queue were full or the
    /// subnet out of message memory: the callee never runs.
    RejectTransient {
        /// Caller.
        from: Principal,
        /// Callee.
        to: Principal,
    },
    /// Shed a bounded-wait message (request or response) from a stream, as the IC does under load. The caller
    /// learns nothing until the call's deadline passes, then gets SYS_UNKNOWN: the callee may have run.
    Shed {
        /// Sender of the message.
        from: Principal,
        /// Receiver.
        to: Principal,
        /// The message's sequence number.
        seq: u64,
    },
}
