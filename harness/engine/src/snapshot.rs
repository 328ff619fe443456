//! Whole-subnet snapshots: take one after setup, restore it before every fuzz input.
//!
//! A snapshot holds every canister's committed heap, globals and stable memory plus all subnet state (queues,
//! call contexts, callbacks, ingress, time). Restoring patches live instances in place, copying back only the
//! pages committed since the snapshot (see `tracked_memory.rs`); an instance that cannot be patched (it was
//! reinstalled, its memory grew, or tracking is unavailable) is rebuilt from the snapshot instead.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::canister::Canister;
use crate::runtime::{HeapSnapshot, LoadedModule};
use crate::stable_memory::StableMemory;
use crate::subnet::{Event, Ingress, PendingStop, Queued, Subnet};
use crate::types::{CanisterId, MessageId, Principal};

/// The state of a whole [`Subnet`] at one point in time (see [`Subnet::snapshot`]).
pub struct SubnetSnapshot {
    id: u64,
    time_nanos: u64,
    canisters: BTreeMap<CanisterId, (Canister, Option<CodeSnapshot>)>,
    next_canister_index: u64,
    streams: BTreeMap<(Principal, Principal), VecDeque<Queued>>,
    ingress: BTreeMap<MessageId, Ingress>,
    received: std::collections::BTreeSet<MessageId>,
    next_message: u64,
    next_seq: u64,
    rand_counter: u64,
    expired: BTreeMap<(CanisterId, u64), u64>,
    pending_stops: BTreeMap<CanisterId, Vec<PendingStop>>,
    outcalls: BTreeMap<u64, crate::subnet::PendingOutcall>,
    next_outcall: u64,
    events: Vec<Event>,
}

/// What a [`Subnet::restore`] had to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// 4 KiB heap pages copied back into live instances.
    pub pages_copied: usize,
    /// Instances rebuilt from the snapshot (replaced since, grown, or no dirty-page tracking).
    pub canisters_rebuilt: usize,
}

struct CodeSnapshot {
    /// The instance the snapshot was taken from (fast restore only into that one).
    code_id: u64,
    module: Arc<LoadedModule>,
    heap: HeapSnapshot,
    stable: StableMemory,
}

impl std::fmt::Debug for SubnetSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubnetSnapshot").field("id", &self.id).field("canisters", &self.canisters.len()).finish()
    }
}

impl Subnet {
    /// Takes a snapshot of the whole subnet. Costs a copy of every heap once; restoring it later costs what
    /// changed since.
    pub fn snapshot(&mut self) -> SubnetSnapshot {
        static NEXT_SNAPSHOT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_SNAPSHOT_ID.fetch_add(1, Ordering::Relaxed);
        let canisters = self
            .canisters
            .iter_mut()
            .map(|(&cid, c)| {
                let code = c.code.as_mut().map(|code| {
                    let snapshot = CodeSnapshot {
                        code_id: code.id,
                        module: code.module.clone(),
                        heap: code.committed_heap(),
                        stable: code.store.data().stable.detached(),
                    };
                    code.mark_snapshot(id);
                    snapshot
                });
                (cid, (c.clone_without_code(), code))
            })
            .collect();
        SubnetSnapshot {
            id,
            time_nanos: self.time_nanos,
            canisters,
            next_canister_index: self.next_canister_index,
            streams: self.streams.clone(),
            ingress: self.ingress.clone(),
            received: self.received.clone(),
            next_message: self.next_message,
            next_seq: self.next_seq,
            rand_counter: self.rand_counter,
            expired: self.expired.clone(),
            pending_stops: self.pending_stops.clone(),
            outcalls: self.outcalls.clone(),
            next_outcall: self.next_outcall,
            events: self.events.clone(),
        }
    }

    /// Restores the subnet to `snapshot` exactly: afterwards it behaves as it did when the snapshot was taken.
    pub fn restore(&mut self, snapshot: &SubnetSnapshot) -> Result<RestoreStats, crate::EngineError> {
        let mut stats = RestoreStats::default();
        let mut live = std::mem::take(&mut self.canisters);
        for (&cid, (meta, code_snapshot)) in &snapshot.canisters {
            let mut canister = meta.clone_without_code();
            if let Some(cs) = code_snapshot {
                let reused = live.get_mut(&cid).and_then(|c| c.code.take()).and_then(|mut code| {
                    // Fast restore needs an instance of the same module marked for this snapshot (the one it was
                    // taken from, or one rebuilt from it by an earlier restore); a reinstall or upgrade since is not.
                    if code.id != cs.code_id && !Arc::ptr_eq(&code.module, &cs.module) {
                        return None;
                    }
                    let copied = self.runtime.restore_to_snapshot(&mut code, snapshot.id, &cs.heap)?;
                    stats.pages_copied += copied;
                    Some(code)
                });
                let code = match reused {
                    Some(code) => code,
                    None => {
                        stats.canisters_rebuilt += 1;
                        let mut code = self
                            .runtime
                            .instantiate_with(cs.module.clone(), &cs.heap, cs.stable.detached())
                            .map_err(|e| crate::EngineError::Wasmtime(format!("{e:#}")))?;
                        code.mark_snapshot(snapshot.id);
                        code
                    }
                };
                canister.code = Some(code);
            }
            self.canisters.insert(cid, canister);
        }
        self.time_nanos = snapshot.time_nanos;
        self.next_canister_index = snapshot.next_canister_index;
        self.streams.clone_from(&snapshot.streams);
        self.ingress.clone_from(&snapshot.ingress);
        self.received.clone_from(&snapshot.received);
        self.next_message = snapshot.next_message;
        self.next_seq = snapshot.next_seq;
        self.rand_counter = snapshot.rand_counter;
        self.expired.clone_from(&snapshot.expired);
        self.pending_stops.clone_from(&snapshot.pending_stops);
        self.outcalls.clone_from(&snapshot.outcalls);
        self.next_outcall = snapshot.next_outcall;
        self.events.clone_from(&snapshot.events);
        Ok(stats)
    }
}
