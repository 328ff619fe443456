//! Canister snapshots: `take_canister_snapshot`, `load_canister_snapshot`, `list_canister_snapshots`,
//! `delete_canister_snapshot`, as the replica's `canister_manager.rs` does them.
//!
//! Controllers only. A snapshot holds the module, heap and globals, stable memory, certified data and chunk store;
//! loading one puts those back (not the timer, cycles, settings, status or call contexts), bumps the canister
//! version and records a `load_snapshot` change. Neither requires the canister to be stopped (the IC only
//! recommends it), so a snapshot taken while calls are in flight is possible, as on the IC. A canister holds at
//! most 10 snapshots; they count toward its memory. Ids are the local counter (8 bytes, big-endian) followed by
//! the canister's id.

use std::sync::Arc;

use ic_management_canister_types as mgmt;

use super::Subnet;
use crate::canister::CanisterSnapshot;
use crate::limits::{MAX_SNAPSHOTS, SNAPSHOT_BASELINE_INSTRUCTIONS, WASM_PAGE};
use crate::types::{CanisterId, Cycles, ErrorCode, Principal, RejectResponse};

/// A snapshot id taken apart: the canister it belongs to and its local id.
struct SnapshotId {
    canister: CanisterId,
    local: u64,
}

impl SnapshotId {
    fn bytes(canister: CanisterId, local: u64) -> Vec<u8> {
        let mut id = local.to_be_bytes().to_vec();
        id.extend_from_slice(canister.as_slice());
        id
    }

    /// Parses an id as the replica's `SnapshotId::try_from` does (its errors are payload errors, IC0408).
    fn parse(bytes: &[u8]) -> Result<SnapshotId, RejectResponse> {
        let invalid = |detail: String| {
            RejectResponse::new(ErrorCode::InvalidManagementPayload, format!("Payload deserialization error: {detail}"))
        };
        const MAX: usize = 8 + 29;
        if bytes.len() < 8 {
            return Err(invalid(format!("InvalidLength(\"Invalid snapshot ID length: provided {}, minumum length expected {MAX}.\")", bytes.len())));
        }
        if bytes.len() > MAX {
            return Err(invalid(format!("InvalidLength(\"Invalid snapshot ID length: provided {}, maximum length expected {MAX}.\")", bytes.len())));
        }
        let canister = Principal::try_from_slice(&bytes[8..]).map_err(|_| {
            invalid("InvalidFormat(\"Failed to create a Snapshot ID. Input could not be parsed into a Snapshot ID.\")".to_owned())
        })?;
        let local = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        Ok(SnapshotId { canister, local })
    }
}

impl std::fmt::Display for SnapshotId {
    /// As the replica shows ids in messages: `<canister>-<local id>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.canister, self.local)
    }
}

fn not_found(id: &SnapshotId, canister: CanisterId) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CanisterSnapshotNotFound,
        format!("Could not find the snapshot ID {id} for canister {canister}."),
    )
}

fn out_of_cycles(canister: CanisterId, required: Cycles, balance: Cycles) -> RejectResponse {
    RejectResponse::new(
        ErrorCode::CanisterOutOfCycles,
        format!(
            "Canister snapshotting failed with: `Canister {canister} is out of cycles: please top up the canister with at least {} additional cycles`",
            required - balance
        ),
    )
}

fn record(id: &[u8], snapshot: &CanisterSnapshot) -> mgmt::Snapshot {
    mgmt::Snapshot { id: id.to_vec(), taken_at_timestamp: snapshot.taken_at_nanos, total_size: snapshot.size }
}

impl Subnet {
    /// The snapshot `id` of `canister` (the one named in the call): not found, or another canister's.
    fn own_snapshot(&self, canister: CanisterId, id: &SnapshotId) -> Result<Arc<CanisterSnapshot>, RejectResponse> {
        let exists = |owner: CanisterId| self.canisters.get(&owner).and_then(|c| c.snapshots.get(&id.local)).cloned();
        if id.canister != canister {
            return match exists(id.canister) {
                Some(_) => Err(RejectResponse::new(
                    ErrorCode::CanisterRejectedMessage,
                    format!("The snapshot {id} does not belong to canister {canister}."),
                )),
                None => Err(not_found(id, canister)),
            };
        }
        exists(canister).ok_or_else(|| not_found(id, canister))
    }

    /// `take_canister_snapshot`.
    pub(super) fn take_canister_snapshot(
        &mut self,
        caller: Principal,
        args: mgmt::TakeCanisterSnapshotArgs,
        origin: mgmt::ChangeOrigin,
    ) -> Result<mgmt::Snapshot, RejectResponse> {
        let canister = args.canister_id;
        self.check_controller(caller, canister)?;
        let replaced = match &args.replace_snapshot {
            Some(bytes) => {
                let id = SnapshotId::parse(bytes)?;
                Some((id.local, self.own_snapshot(canister, &id)?.size))
            }
            None if self.canisters[&canister].snapshots.len() >= MAX_SNAPSHOTS => {
                return Err(RejectResponse::new(
                    ErrorCode::CanisterRejectedMessage,
                    format!("Canister {canister} has reached the maximum number of snapshots allowed: {MAX_SNAPSHOTS}."),
                ))
            }
            None => None,
        };
        let fees = self.config.fees;
        let time = self.time_nanos;
        let c = self.canisters.get_mut(&canister).expect("checked");
        let chunk_bytes = c.chunk_store_bytes();
        let certified_data = c.certified_data.clone();
        let chunks = c.chunks.clone();
        let version = c.version;
        let Some(code) = c.code.as_mut() else {
            return Err(RejectResponse::new(
                ErrorCode::CanisterRejectedMessage,
                format!("Failed to create snapshot for empty canister {canister}:"),
            ));
        };
        let heap = code.committed_heap();
        let stable = code.store.data().stable.detached();
        let size = heap.bytes()
            + stable.size_pages() * WASM_PAGE
            + code.module.wasm_size
            + chunk_bytes
            + certified_data.len() as u64;
        let fee = fees.execution(SNAPSHOT_BASELINE_INSTRUCTIONS + size, false);
        let memory_after = c.memory_bytes() + size - replaced.map_or(0, |(_, size)| size);
        let required = fee + fees.freezing_limit(memory_after, c.settings.freezing_threshold);
        if c.cycles < required {
            return Err(out_of_cycles(canister, required, c.cycles));
        }
        let module = c.code.as_ref().expect("checked").module.clone();
        c.cycles -= fee;
        if let Some((local, _)) = replaced {
            c.snapshots.remove(&local);
        }
        let local = c.next_snapshot;
        c.next_snapshot += 1;
        let snapshot =
            CanisterSnapshot { module, heap, stable, certified_data, chunks, canister_version: version, taken_at_nanos: time, size };
        let id = SnapshotId::bytes(canister, local);
        let reply = record(&id, &snapshot);
        c.snapshots.insert(local, Arc::new(snapshot));
        if args.uninstall_code == Some(true) {
            self.uninstall(canister, Some(origin));
        }
        Ok(reply)
    }

    /// `load_canister_snapshot`: a snapshot of this canister, or of another one on the subnet the caller also
    /// controls.
    pub(super) fn load_canister_snapshot(
        &mut self,
        caller: Principal,
        args: mgmt::LoadCanisterSnapshotArgs,
        origin: mgmt::ChangeOrigin,
    ) -> Result<(), RejectResponse> {
        let canister = args.canister_id;
        self.check_controller(caller, canister)?;
        let id = SnapshotId::parse(&args.snapshot_id)?;
        if id.canister != canister {
            let owner = self.canisters.get(&id.canister);
            if !owner.is_some_and(|o| o.settings.controllers.contains(&caller)) {
                return Err(RejectResponse::new(
                    ErrorCode::CanisterRejectedMessage,
                    format!("Only a controller of the canister that snapshot {id} belongs to can load it on canister {canister}. Sender: {caller}."),
                ));
            }
        }
        let snapshot = self
            .canisters
            .get(&id.canister)
            .and_then(|c| c.snapshots.get(&id.local))
            .cloned()
            .ok_or_else(|| not_found(&id, canister))?;
        // The replica charges the baseline up front and then the size (compiling the module aside).
        let fees = self.config.fees;
        let fee = fees.execution(SNAPSHOT_BASELINE_INSTRUCTIONS, false) + fees.execution(snapshot.size, false);
        let c = &self.canisters[&canister];
        let required = fee + c.freezing_limit(&fees);
        if c.cycles < required {
            return Err(out_of_cycles(canister, required, c.cycles));
        }
        let code = self
            .runtime
            .instantiate_with(snapshot.module.clone(), &snapshot.heap, snapshot.stable.detached())
            .map_err(|e| RejectResponse::new(ErrorCode::CanisterTrapped, format!("Error from Canister {canister}: {e:#}")))?;
        let time = self.time_nanos;
        let c = self.canisters.get_mut(&canister).expect("checked");
        c.cycles -= fee;
        c.code = Some(code);
        c.chunks = snapshot.chunks.clone();
        c.certified_data = snapshot.certified_data.clone();
        c.version += 1;
        let details = mgmt::LoadSnapshotRecord {
            from_canister_id: (id.canister != canister).then_some(id.canister),
            snapshot_id: args.snapshot_id,
            canister_version: snapshot.canister_version,
            taken_at_timestamp: snapshot.taken_at_nanos,
            source: mgmt::SnapshotSource::TakenFromCanister(candid::Reserved),
        };
        c.record_change(time, origin, mgmt::ChangeDetails::LoadSnapshot(details));
        Ok(())
    }

    /// `list_canister_snapshots`: in id order.
    pub(super) fn list_canister_snapshots(&self, caller: Principal, canister: CanisterId) -> Result<Vec<mgmt::Snapshot>, RejectResponse> {
        self.check_controller(caller, canister)?;
        let c = &self.canisters[&canister];
        Ok(c.snapshots.iter().map(|(&local, s)| record(&SnapshotId::bytes(canister, local), s)).collect())
    }

    /// `delete_canister_snapshot` (free).
    pub(super) fn delete_canister_snapshot(
        &mut self,
        caller: Principal,
        args: mgmt::DeleteCanisterSnapshotArgs,
    ) -> Result<(), RejectResponse> {
        let canister = args.canister_id;
        self.check_controller(caller, canister)?;
        let id = SnapshotId::parse(&args.snapshot_id)?;
        self.own_snapshot(canister, &id)?;
        self.canisters.get_mut(&canister).expect("checked").snapshots.remove(&id.local);
        Ok(())
    }
}
