//! Scheduling: what may be delivered next and delivering it, system faults, rounds (`tick`), running until quiet,
//! and the streams and deadlines behind them.
//!
//! # What may be delivered next
//!
//! Canister-to-canister messages travel in *streams*, one per ordered pair (sender → receiver), holding requests
//! and responses in the order they were produced. Only the head of a stream can be delivered: the replica keeps one
//! input queue per counterpart holding both kinds of message, so a schedule in which a later message from B to A
//! overtakes an earlier one is one the IC cannot produce. Ingress messages may be delivered in any order, and
//! different streams interleave freely. Each delivery runs to completion before the next starts, so a canister
//! never runs two executions at once.
//!
//! [`Subnet::pending`] lists exactly these choices; [`Subnet::deliver`] runs one. [`Subnet::run_until_quiet`]
//! and [`Subnet::await_call`] deliver in the default order: oldest message first.

use super::events::{Delivery, EngineError, Event, Fault, IngressStatus, MessageKind, PendingMessage};
use super::messages::{Message, Queued, Request, Response};
use super::Subnet;
use crate::canister::Canister;
use crate::types::{CanisterId, CanisterStatus, Cycles, ErrorCode, Payload, Principal, RejectResponse};

/// Whether a bounded-wait deadline has passed, as the replica decides it: deadlines are whole seconds
/// (`CoarseTime`, `floor(now + timeout)`) and expire when `deadline < floor(now)`, so a message is still good
/// during the whole second its deadline names.
pub(super) fn past_deadline(deadline_nanos: u64, now_nanos: u64) -> bool {
    deadline_nanos / 1_000_000_000 < now_nanos / 1_000_000_000
}

impl Subnet {
    /// What happens when time moves on: idle fees, bounded-wait messages past their deadline time out, their
    /// callbacks become deliverable as SYS_UNKNOWN, and long-pending `stop_canister` calls are rejected.
    pub(super) fn time_passed(&mut self, elapsed_nanos: u64) {
        self.charge_idle_fees(elapsed_nanos);
        let now = self.time_nanos;
        // Bounded-wait messages past their deadline leave the queues without being delivered.
        let mut timed_out = Vec::new();
        for (&(from, to), queue) in self.streams.iter_mut() {
            queue.retain(|q| match q.message.deadline_nanos() {
                Some(deadline) if past_deadline(deadline, now) => {
                    timed_out.push((from, to, q.message.kind()));
                    false
                }
                _ => true,
            });
        }
        self.streams.retain(|_, q| !q.is_empty());
        for (from, to, kind) in timed_out {
            self.events.push(Event::MessageTimedOut { from, to, kind });
        }
        // Their callbacks (and any other bounded-wait callback past its deadline) expire.
        let mut due = Vec::new();
        for (&id, c) in &self.canisters {
            for (&callback, cb) in &c.callbacks {
                if cb.deadline_nanos.is_some_and(|d| past_deadline(d, now)) && !self.expired.contains_key(&(id, callback)) {
                    due.push((id, callback));
                }
            }
        }
        for (canister, callback) in due {
            self.expire_callback(canister, callback);
        }
        self.time_out_stops();
        self.time_out_outcalls();
    }

    /// Every message that may be delivered next, oldest first. Only choices the IC could make are listed.
    pub fn pending(&self) -> Vec<PendingMessage> {
        let mut out: Vec<PendingMessage> = self
            .received
            .iter()
            .map(|id| (id, &self.ingress[id]))
            .map(|(id, i)| PendingMessage {
                delivery: Delivery::Ingress(*id),
                seq: i.seq,
                from: i.sender,
                to: i.canister,
                kind: MessageKind::Ingress { method: i.method.clone() },
            })
            .collect();
        for (&(from, to), queue) in &self.streams {
            if let Some(head) = queue.front() {
                out.push(PendingMessage { delivery: Delivery::Stream { from, to }, seq: head.seq, from, to, kind: head.message.kind() });
            }
        }
        for (&(canister, callback), &seq) in &self.expired {
            let method = self.canisters[&canister].callbacks.get(&callback).map(|cb| cb.method.clone()).unwrap_or_default();
            out.push(PendingMessage {
                delivery: Delivery::DeadlineExpired { canister, callback },
                seq,
                from: Principal::management_canister(),
                to: canister,
                kind: MessageKind::DeadlineExpired { method },
            });
        }
        // System tasks have no sequence number of their own; they sort last (u64::MAX) so the default order
        // drains messages first, but any of them may be chosen at any time.
        for id in self.due_timers() {
            out.push(PendingMessage {
                delivery: Delivery::Timer(id),
                seq: u64::MAX,
                from: Principal::management_canister(),
                to: id,
                kind: MessageKind::Timer,
            });
        }
        for &id in self.canisters.keys() {
            if self.heartbeat_runnable(id) {
                out.push(PendingMessage {
                    delivery: Delivery::Heartbeat(id),
                    seq: u64::MAX,
                    from: Principal::management_canister(),
                    to: id,
                    kind: MessageKind::Heartbeat,
                });
            }
        }
        out.sort_by_key(|p| p.seq);
        out
    }

    /// Whether the canister runs, exports a heartbeat, and can pay for it.
    fn heartbeat_runnable(&self, id: CanisterId) -> bool {
        self.canisters.get(&id).is_some_and(|c| {
            c.status == CanisterStatus::Running && c.code.as_ref().is_some_and(|code| code.module.info.has_heartbeat)
        }) && self.can_prepay(id)
    }

    /// Whether the canister can prepay a maximal update execution without dropping below its freezing limit
    /// (otherwise it is frozen: calls to it are rejected and its timers and heartbeats do not run).
    pub(super) fn can_prepay(&self, id: CanisterId) -> bool {
        let Some(c) = self.canisters.get(&id) else { return false };
        let memory64 = c.code.as_ref().is_some_and(|code| code.module.info.memory64);
        let prepay = self.config.fees.execution(self.config.instruction_limits.update, memory64);
        c.cycles >= c.freezing_limit(&self.config.fees).saturating_add(prepay)
    }

    /// Storage fees for the time that passed; a canister that cannot pay them runs out of cycles and is
    /// uninstalled, as on the IC.
    fn charge_idle_fees(&mut self, elapsed_nanos: u64) {
        let fees = self.config.fees;
        let mut exhausted = Vec::new();
        for (&id, c) in self.canisters.iter_mut() {
            let due = fees.idle_per_second(c.memory_bytes()) * Cycles::from(elapsed_nanos) / 1_000_000_000;
            if due > c.cycles {
                c.cycles = 0;
                if c.code.is_some() {
                    exhausted.push(id);
                }
            } else {
                c.cycles -= due;
            }
        }
        for id in exhausted {
            self.uninstall(id, None);
        }
    }

    /// Whether canister `id`'s global timer is due and can run.
    fn timer_due(&self, id: CanisterId, c: &Canister) -> bool {
        c.status == CanisterStatus::Running
            && c.global_timer != 0
            && c.global_timer <= self.time_nanos
            && c.code.as_ref().is_some_and(|code| code.module.info.has_global_timer)
            && self.can_prepay(id)
    }

    /// Canisters whose global timer is due and can run.
    fn due_timers(&self) -> Vec<CanisterId> {
        self.canisters.iter().filter(|(&id, c)| self.timer_due(id, c)).map(|(&id, _)| id).collect()
    }

    /// Whether anything but a heartbeat is pending. Heartbeats are always possible and never needed, so they
    /// don't count: "quiet" means no message and no due timer.
    pub fn has_pending(&self) -> bool {
        self.streams.values().any(|q| !q.is_empty())
            || !self.received.is_empty()
            || !self.expired.is_empty()
            || self.canisters.iter().any(|(&id, c)| self.timer_due(id, c))
    }

    /// Faults the IC could produce right now (see [`Fault`]). Injecting one is always IC-legal.
    pub fn faults(&self) -> Vec<Fault> {
        let mut out = Vec::new();
        for (&(from, to), queue) in &self.streams {
            if let Some(Queued { message: Message::Request(_), .. }) = queue.front() {
                if to != Principal::management_canister() {
                    out.push(Fault::RejectTransient { from, to });
                }
            }
            for queued in queue {
                if queued.message.deadline_nanos().is_some() {
                    out.push(Fault::Shed { from, to, seq: queued.seq });
                }
            }
        }
        out
    }

    /// Injects a fault from [`Subnet::faults`].
    pub fn inject_fault(&mut self, fault: Fault) -> Result<(), EngineError> {
        if !self.faults().contains(&fault) {
            return Err(EngineError::NotAFault(fault));
        }
        self.events.push(Event::Fault(fault));
        match fault {
            Fault::RejectTransient { from, to } => {
                let queue = self.streams.get_mut(&(from, to)).expect("listed by faults()");
                let Some(Queued { message: Message::Request(request), .. }) = queue.pop_front() else {
                    unreachable!("faults() lists only request heads")
                };
                if queue.is_empty() {
                    self.streams.remove(&(from, to));
                }
                let reject = RejectResponse::new(
                    ErrorCode::CanisterQueueFull,
                    format!("Canister {to} input queue is full"),
                );
                self.system_reject(request, reject);
            }
            Fault::Shed { from, to, seq } => {
                let queue = self.streams.get_mut(&(from, to)).expect("listed by faults()");
                queue.retain(|q| q.seq != seq);
                if queue.is_empty() {
                    self.streams.remove(&(from, to));
                }
            }
        }
        Ok(())
    }

    /// Delivers one pending message and runs everything it triggers synchronously (its execution, and for a
    /// callback trap the cleanup). New messages it produces become pending.
    pub fn deliver(&mut self, delivery: Delivery) -> Result<(), EngineError> {
        match delivery {
            Delivery::Ingress(id) => {
                let ingress = self.ingress.get_mut(&id).ok_or(EngineError::NotPending(delivery))?;
                if ingress.status != IngressStatus::Received {
                    return Err(EngineError::NotPending(delivery));
                }
                ingress.status = IngressStatus::Processing;
                self.received.remove(&id);
                let (seq, sender, canister, method, arg) =
                    (ingress.seq, ingress.sender, ingress.canister, ingress.method.clone(), std::mem::take(&mut ingress.arg));
                self.events.push(Event::Delivered {
                    seq,
                    from: sender,
                    to: canister,
                    kind: MessageKind::Ingress { method: method.clone() },
                });
                self.deliver_ingress(id, sender, canister, method, arg);
            }
            Delivery::Stream { from, to } => {
                let queue = self.streams.get_mut(&(from, to)).ok_or(EngineError::NotPending(delivery))?;
                let queued = queue.pop_front().ok_or(EngineError::NotPending(delivery))?;
                if queue.is_empty() {
                    self.streams.remove(&(from, to));
                }
                self.events.push(Event::Delivered { seq: queued.seq, from, to, kind: queued.message.kind() });
                match queued.message {
                    Message::Request(request) => self.deliver_request(request),
                    Message::Response(response) => self.deliver_response(response),
                }
            }
            Delivery::Timer(id) => {
                if !self.due_timers().contains(&id) {
                    return Err(EngineError::NotPending(delivery));
                }
                // The timer is cleared before the handler runs; it must re-arm itself (ic-semantics §8).
                self.canisters.get_mut(&id).expect("due").global_timer = 0;
                self.run_system_task(id, MessageKind::Timer, "canister_global_timer");
            }
            Delivery::Heartbeat(id) => {
                if !self.heartbeat_runnable(id) {
                    return Err(EngineError::NotPending(delivery));
                }
                self.run_system_task(id, MessageKind::Heartbeat, "canister_heartbeat");
            }
            Delivery::DeadlineExpired { canister, callback } => {
                let seq = self.expired.remove(&(canister, callback)).ok_or(EngineError::NotPending(delivery))?;
                let method = self.canisters[&canister].callbacks.get(&callback).map(|cb| cb.method.clone()).unwrap_or_default();
                self.events.push(Event::Delivered {
                    seq,
                    from: Principal::management_canister(),
                    to: canister,
                    kind: MessageKind::DeadlineExpired { method: method.clone() },
                });
                // Zero refund: cycles attached to a call that ends in SYS_UNKNOWN are lost (ic-semantics §6).
                let reject = RejectResponse::new(
                    ErrorCode::DeadlineExpired,
                    "Call deadline has expired.".to_owned(),
                );
                self.deliver_response(Response {
                    originator: canister,
                    callback,
                    method,
                    payload: Payload::Reject(reject),
                    refund: 0,
                    deadline_nanos: None,
                });
            }
        }
        Ok(())
    }

    /// Answers a request on the system's behalf (the callee did not run).
    pub(super) fn system_reject(&mut self, request: Request, reject: RejectResponse) {
        self.events.push(Event::SystemReject { caller: request.sender, callee: request.receiver, reject: reject.clone() });
        let response = Response {
            originator: request.sender,
            callback: request.callback,
            method: request.method,
            payload: Payload::Reject(reject),
            refund: request.cycles,
            deadline_nanos: request.deadline_nanos,
        };
        self.enqueue(request.receiver, request.sender, Message::Response(response));
    }

    /// Delivers the oldest pending message; `false` if none was pending.
    pub fn deliver_next(&mut self) -> bool {
        let next = self.next_default_delivery();
        match next {
            Some(delivery) => self.deliver(delivery).is_ok(),
            None => false,
        }
    }

    /// The delivery of the default order: the oldest message, else the first due timer.
    fn next_default_delivery(&self) -> Option<Delivery> {
        let ingress = self.received.iter().map(|id| (self.ingress[id].seq, Delivery::Ingress(*id))).min();
        let stream = self
            .streams
            .iter()
            .filter_map(|(&(from, to), q)| q.front().map(|h| (h.seq, Delivery::Stream { from, to })))
            .min();
        let expired = self
            .expired
            .iter()
            .map(|(&(canister, callback), &seq)| (seq, Delivery::DeadlineExpired { canister, callback }))
            .min();
        [ingress, stream, expired]
            .into_iter()
            .flatten()
            .min()
            .map(|(_, delivery)| delivery)
            .or_else(|| self.due_timers().first().map(|&id| Delivery::Timer(id)))
    }

    /// One round, as PocketIC's `tick`: every running canister's heartbeat and due timer, then every message
    /// that was pending when the round began, oldest first.
    pub fn tick(&mut self) {
        let ids: Vec<CanisterId> = self.canisters.keys().copied().collect();
        for id in ids {
            if self.heartbeat_runnable(id) {
                let _ = self.deliver(Delivery::Heartbeat(id));
            }
            if self.due_timers().contains(&id) {
                let _ = self.deliver(Delivery::Timer(id));
            }
        }
        let round: Vec<Delivery> = self
            .pending()
            .into_iter()
            .filter(|p| !matches!(p.delivery, Delivery::Heartbeat(_) | Delivery::Timer(_)))
            .map(|p| p.delivery)
            .collect();
        for delivery in round {
            // A stream head delivered earlier in the round exposes the next message; deliver only what was
            // listed, and only once.
            let _ = self.deliver(delivery);
        }
    }

    /// Delivers in the default order until nothing is pending or `max_deliveries` were made.
    pub fn run_until_quiet(&mut self, max_deliveries: usize) -> Result<usize, EngineError> {
        let mut delivered = 0;
        while self.has_pending() {
            if delivered == max_deliveries {
                return Err(EngineError::NotQuiet { delivered, pending: self.pending().len() });
            }
            self.deliver_next();
            delivered += 1;
        }
        Ok(delivered)
    }

    /// The next global sequence number.
    pub(super) fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Appends a message to the stream from `from` to `to`.
    pub(super) fn enqueue(&mut self, from: Principal, to: Principal, message: Message) {
        // A bounded-wait message produced after its deadline times out at once: a callee replying after the
        // caller's deadline never reaches it (nor does its refund).
        if message.deadline_nanos().is_some_and(|d| past_deadline(d, self.time_nanos)) {
            self.events.push(Event::MessageTimedOut { from, to, kind: message.kind() });
            if let Message::Request(request) = &message {
                self.expire_callback(request.sender, request.callback);
            }
            return;
        }
        let seq = self.next_seq();
        self.streams.entry((from, to)).or_default().push_back(Queued { seq, message });
    }

    /// Makes a callback deliverable as SYS_UNKNOWN (once).
    fn expire_callback(&mut self, canister: CanisterId, callback: u64) {
        if !self.expired.contains_key(&(canister, callback)) {
            let seq = self.next_seq();
            self.expired.insert((canister, callback), seq);
        }
    }

    /// Drops pending SYS_UNKNOWN deliveries of a canister whose callbacks are gone.
    pub(super) fn forget_expired(&mut self, id: CanisterId) {
        self.expired.retain(|&(canister, _), _| canister != id);
    }
}
