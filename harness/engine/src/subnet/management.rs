//! The management canister (`aaaaa-aa`) subset the engine implements.
//!
//! Requests to the management canister run when delivered, like any other request; their replies travel back
//! through the stream from `aaaaa-aa` to the caller. Calls are decoded here; `install_code` is carried out by
//! `install.rs`, the chunk store by `chunks.rs`, snapshots by `canister_snapshots.rs`, `canister_info` and its
//! kin by `introspection.rs`, threshold signatures by `signing.rs`, HTTP outcalls by `outcalls.rs`.

use candid::{CandidType, Decode, Encode, Nat};
use ic_management_canister_types as mgmt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::events::Event;
use crate::types::Unimplemented;
use super::install::{InstallMode, InstallRequest, UpgradeOptions, WasmMemoryPersistence};
use super::messages::{Message, PendingStop, Responder, Response};
use super::Subnet;
use crate::canister::Settings;
use crate::limits;
use crate::types::{CanisterId, CanisterStatus, Cycles, ErrorCode, Payload, Principal, RejectResponse};
/// A `stop_canister` call is rejected after waiting this long (the canister stays stopping).
const STOP_TIMEOUT_NANOS: u64 = 5 * 60 * 1_000_000_000;

fn reject(code: ErrorCode, message: impl Into<String>) -> RejectResponse {
    RejectResponse::new(code, message)
}

/// The replica's reject of an ingress message to a method only canisters may call.
fn canister_only(method: &str) -> RejectResponse {
    reject(ErrorCode::CanisterRejectedMessage, format!("Only canisters can call ic00 method {method}"))
}

fn decode<T: CandidType + for<'de> Deserialize<'de>>(arg: &[u8]) -> Result<T, RejectResponse> {
    Decode!(arg, T).map_err(|e| reject(ErrorCode::InvalidManagementPayload, format!("Error decoding candid: {e}")))
}

fn encode<T: CandidType>(value: &T) -> Result<Vec<u8>, RejectResponse> {
    Encode!(value).map_err(|e| reject(ErrorCode::InvalidManagementPayload, format!("Error encoding candid: {e}")))
}

/// The reply of a management method that returns nothing: Candid's empty argument list.
fn empty_reply() -> Vec<u8> {
    b"DIDL\x00\x00".to_vec()
}

fn nat_to_u128(n: &Nat) -> u128 {
    u128::try_from(n.0.clone()).unwrap_or(u128::MAX)
}

/// Every method of the IC's management canister (the replica's `Ic00Method`), so that a call to one the engine
/// lacks is reported as unimplemented rather than passed off as the IC's "no such method".
const IC_MANAGEMENT_METHODS: &[&str] = &[
    "bitcoin_get_balance",
    "bitcoin_get_block_headers",
    "bitcoin_get_current_fee_percentiles",
    "bitcoin_get_utxos",
    "bitcoin_send_transaction",
    "canister_info",
    "canister_metadata",
    "canister_status",
    "clear_chunk_store",
    "create_canister",
    "delete_canister",
    "delete_canister_snapshot",
    "deposit_cycles",
    "ecdsa_public_key",
    "fetch_canister_logs",
    "http_request",
    "install_chunked_code",
    "install_code",
    "list_canister_snapshots",
    "load_canister_snapshot",
    "node_metrics_history",
    "provisional_create_canister_with_cycles",
    "provisional_top_up_canister",
    "raw_rand",
    "read_canister_snapshot_data",
    "read_canister_snapshot_metadata",
    "schnorr_public_key",
    "sign_with_ecdsa",
    "sign_with_schnorr",
    "start_canister",
    "stop_canister",
    "stored_chunks",
    "subnet_info",
    "take_canister_snapshot",
    "uninstall_code",
    "update_settings",
    "upload_canister_snapshot_data",
    "upload_canister_snapshot_metadata",
    "upload_chunk",
    "vetkd_derive_key",
    "vetkd_public_key",
];

/// Management methods whose argument may carry `sender_canister_version`, which the replica checks when the
/// calling canister's execution commits (`validate_sender_canister_version` in its system state changes).
const SENDER_VERSION_METHODS: &[&str] = &[
    "create_canister",
    "install_chunked_code",
    "install_code",
    "load_canister_snapshot",
    "provisional_create_canister_with_cycles",
    "uninstall_code",
    "update_settings",
];

/// The reject of a canister's management call whose `sender_canister_version` is not the version of the
/// execution that made it: the request never reaches the management canister, and the caller's callback gets a
/// CanisterError reject (IC0504). An argument that does not decode is left to the management canister, which
/// rejects it with the same reject code.
pub(super) fn wrong_sender_version(method: &str, arg: &[u8], version: u64) -> Option<RejectResponse> {
    #[derive(CandidType, Deserialize)]
    struct SenderVersion {
        sender_canister_version: Option<u64>,
    }
    if !SENDER_VERSION_METHODS.contains(&method) {
        return None;
    }
    let claimed = Decode!(arg, SenderVersion).ok()?.sender_canister_version?;
    (claimed != version).then(|| {
        RejectResponse::new(
            ErrorCode::CanisterContractViolation,
            format!(
                "Management canister call payload includes sender canister version {claimed:?} that does not match the actual sender canister version {version}."
            ),
        )
    })
}

/// Where a change in a canister's history came from: a user (ingress) or a canister, with the version it says
/// it has (`sender_canister_version`).
fn change_origin(caller: Principal, via_ingress: bool, sender_canister_version: Option<u64>) -> mgmt::ChangeOrigin {
    if via_ingress {
        mgmt::ChangeOrigin::FromUser(mgmt::FromUserRecord { user_id: caller })
    } else {
        mgmt::ChangeOrigin::FromCanister(mgmt::FromCanisterRecord { canister_id: caller, canister_version: sender_canister_version })
    }
}

/// The IC's install mode of a management call.
fn install_mode(mode: mgmt::CanisterInstallMode) -> InstallMode {
    match mode {
        mgmt::CanisterInstallMode::Install => InstallMode::Install,
        mgmt::CanisterInstallMode::Reinstall => InstallMode::Reinstall,
        mgmt::CanisterInstallMode::Upgrade(flags) => InstallMode::Upgrade(UpgradeOptions {
            skip_pre_upgrade: flags.and_then(|f| f.skip_pre_upgrade).unwrap_or(false),
            wasm_memory_persistence: flags.and_then(|f| f.wasm_memory_persistence).map(|p| match p {
                mgmt::WasmMemoryPersistence::Keep => WasmMemoryPersistence::Keep,
                mgmt::WasmMemoryPersistence::Replace => WasmMemoryPersistence::Replace,
            }),
        }),
    }
}

fn nat_to_u64(n: &Nat) -> u64 {
    u64::try_from(n.0.clone()).unwrap_or(u64::MAX)
}

impl Subnet {
    /// Handles one call to the management canister. Returns the response and the cycles refunded to the caller,
    /// or `None` when the response comes later (a `stop_canister` waiting for the canister to stop).
    pub(super) fn management_request(
        &mut self,
        caller: Principal,
        method: &str,
        arg: &[u8],
        cycles: Cycles,
        responder: Responder,
    ) -> Option<(Payload, Cycles)> {
        let via_ingress = matches!(responder, Responder::Ingress(_));
        let mut refund = cycles;
        let result = match method {
            "http_request" => match responder {
                Responder::Ingress(_) => Err(canister_only(method)),
                Responder::Canister { callback, deadline_nanos, .. } => match self.http_request(caller, arg, cycles, callback, deadline_nanos) {
                    Ok(()) => return None,
                    Err(reject) => Err(reject),
                },
            },
            "stop_canister" => match self.stop_canister(caller, arg, responder) {
                Ok(None) => return None,
                Ok(Some(bytes)) => Ok(bytes),
                Err(reject) => Err(reject),
            },
            _ => self.management_method(caller, method, arg, &mut refund, via_ingress),
        };
        let payload = match result {
            Ok(bytes) => Payload::Reply(bytes),
            Err(reject) => Payload::Reject(reject),
        };
        Some((payload, refund))
    }

    /// A query call to the management canister: only `fetch_canister_logs` is one.
    pub(super) fn management_query(&self, caller: Principal, method: &str, arg: &[u8]) -> Result<Vec<u8>, RejectResponse> {
        match method {
            "fetch_canister_logs" => {
                let args: mgmt::FetchCanisterLogsArgs = decode(arg)?;
                encode(&self.fetch_canister_logs(caller, &args)?)
            }
            other => Err(reject(
                ErrorCode::CanisterMethodNotFound,
                format!("Management canister has no query method '{other}'"),
            )),
        }
    }

    /// Sends a management-canister response that was deferred.
    fn respond_from_management(&mut self, responder: Responder, payload: Payload) {
        match responder {
            Responder::Ingress(id) => self.complete_ingress(id, payload.into_result()),
            Responder::Canister { caller, callback, deadline_nanos } => {
                let response = Response {
                    originator: caller,
                    callback,
                    method: "stop_canister".to_owned(),
                    payload,
                    refund: 0,
                    deadline_nanos,
                };
                self.enqueue(Principal::management_canister(), caller, Message::Response(response));
            }
        }
    }

    /// `stop_canister`: the canister becomes stopping and the reply waits until it has stopped (`None`); a canister
    /// already stopped is answered at once.
    fn stop_canister(&mut self, caller: Principal, arg: &[u8], responder: Responder) -> Result<Option<Vec<u8>>, RejectResponse> {
        let args: mgmt::CanisterIdRecord = decode(arg)?;
        let id = args.canister_id;
        self.check_controller(caller, id)?;
        let c = self.canisters.get_mut(&id).expect("checked");
        // An accepted stop bumps the version, even of a stopped canister (the replica's `stop_canister`).
        c.version += 1;
        match c.status {
            CanisterStatus::Stopped => return Ok(Some(empty_reply())),
            CanisterStatus::Running => c.status = CanisterStatus::Stopping,
            CanisterStatus::Stopping => {}
        }
        let since_nanos = self.time_nanos;
        self.pending_stops.entry(id).or_default().push(PendingStop { responder, since_nanos });
        self.maybe_stopped(id);
        Ok(None)
    }

    /// A stopping canister with no open call context becomes stopped, and its pending stop calls are answered.
    pub(super) fn maybe_stopped(&mut self, id: CanisterId) {
        let Some(c) = self.canisters.get_mut(&id) else { return };
        if c.status != CanisterStatus::Stopping || !c.contexts.is_empty() {
            return;
        }
        c.status = CanisterStatus::Stopped;
        c.version += 1;
        for stop in self.pending_stops.remove(&id).unwrap_or_default() {
            self.respond_from_management(stop.responder, Payload::Reply(empty_reply()));
        }
    }

    /// `stop_canister` calls pending for 5 minutes are rejected with SYS_TRANSIENT; the canister stays stopping.
    pub(super) fn time_out_stops(&mut self) {
        let now = self.time_nanos;
        let mut expired = Vec::new();
        for stops in self.pending_stops.values_mut() {
            let (old, keep): (Vec<PendingStop>, Vec<PendingStop>) =
                std::mem::take(stops).into_iter().partition(|s| s.since_nanos + STOP_TIMEOUT_NANOS <= now);
            *stops = keep;
            expired.extend(old);
        }
        self.pending_stops.retain(|_, stops| !stops.is_empty());
        for stop in expired {
            let reject = reject(ErrorCode::StopCanisterRequestTimeout, "Stop canister request timed out");
            self.respond_from_management(stop.responder, Payload::Reject(reject));
        }
    }

    /// Every management method but `stop_canister`, answered at once. `cycles` are those attached; what is left
    /// of them when it returns is refunded.
    fn management_method(
        &mut self,
        caller: Principal,
        method: &str,
        arg: &[u8],
        cycles: &mut Cycles,
        via_ingress: bool,
    ) -> Result<Vec<u8>, RejectResponse> {
        match method {
            "ecdsa_public_key" | "sign_with_ecdsa" | "schnorr_public_key" | "sign_with_schnorr" | "vetkd_public_key"
            | "vetkd_derive_key" => {
                if via_ingress {
                    return Err(canister_only(method));
                }
                self.threshold_call(caller, method, arg, cycles)
            }
            "provisional_create_canister_with_cycles" => {
                let args: mgmt::ProvisionalCreateCanisterWithCyclesArgs = decode(arg)?;
                let amount = args.amount.as_ref().map_or(self.config.default_cycles, nat_to_u128);
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                let id = self.create_from_settings(origin, caller, args.settings, amount, args.specified_id)?;
                encode(&mgmt::CanisterIdRecord { canister_id: id })
            }
            "create_canister" => {
                if via_ingress {
                    return Err(canister_only(method));
                }
                let args: mgmt::CreateCanisterArgs = decode(arg)?;
                // The creation fee comes out of the attached cycles; the rest funds the new canister.
                let fee = self.config.fees.create_canister;
                if *cycles < fee {
                    return Err(reject(
                        ErrorCode::InsufficientCyclesForCreateCanister,
                        format!("Cannot create canister: {} cycles attached, the fee is {fee}", *cycles),
                    ));
                }
                let amount = std::mem::take(cycles) - fee;
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                let id = self.create_from_settings(origin, caller, args.settings, amount, None)?;
                encode(&mgmt::CanisterIdRecord { canister_id: id })
            }
            "install_code" => {
                let args: mgmt::InstallCodeArgs = decode(arg)?;
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                let request = InstallRequest { sender: caller, origin, extra_instructions: 0 };
                self.install_code(request, args.canister_id, install_mode(args.mode), &args.wasm_module, args.arg)?;
                Ok(empty_reply())
            }
            "install_chunked_code" => {
                let args: mgmt::InstallChunkedCodeArgs = decode(arg)?;
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                let mode = install_mode(args.mode);
                self.install_chunked_code(caller, args, mode, origin)?;
                Ok(empty_reply())
            }
            "upload_chunk" => {
                let args: mgmt::UploadChunkArgs = decode(arg)?;
                encode(&self.upload_chunk(caller, args)?)
            }
            "stored_chunks" => {
                let args: mgmt::StoredChunksArgs = decode(arg)?;
                encode(&self.stored_chunks(caller, args.canister_id)?)
            }
            "clear_chunk_store" => {
                let args: mgmt::ClearChunkStoreArgs = decode(arg)?;
                self.clear_chunk_store(caller, args.canister_id)?;
                Ok(empty_reply())
            }
            "take_canister_snapshot" => {
                let args: mgmt::TakeCanisterSnapshotArgs = decode(arg)?;
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                encode(&self.take_canister_snapshot(caller, args, origin)?)
            }
            "load_canister_snapshot" => {
                let args: mgmt::LoadCanisterSnapshotArgs = decode(arg)?;
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                self.load_canister_snapshot(caller, args, origin)?;
                Ok(empty_reply())
            }
            "list_canister_snapshots" => {
                let args: mgmt::ListCanisterSnapshotsArgs = decode(arg)?;
                encode(&self.list_canister_snapshots(caller, args.canister_id)?)
            }
            "delete_canister_snapshot" => {
                let args: mgmt::DeleteCanisterSnapshotArgs = decode(arg)?;
                self.delete_canister_snapshot(caller, args)?;
                Ok(empty_reply())
            }
            "canister_info" | "canister_metadata" | "subnet_info" if via_ingress => Err(canister_only(method)),
            "canister_info" => {
                let args: mgmt::CanisterInfoArgs = decode(arg)?;
                encode(&self.canister_info(&args)?)
            }
            "canister_metadata" => {
                let args: mgmt::CanisterMetadataArgs = decode(arg)?;
                encode(&self.canister_metadata(caller, &args)?)
            }
            "subnet_info" => {
                let args: mgmt::SubnetInfoArgs = decode(arg)?;
                encode(&self.subnet_info(&args)?)
            }
            "fetch_canister_logs" => Err(reject(
                ErrorCode::CanisterRejectedMessage,
                if via_ingress {
                    "fetch_canister_logs API is not accessible via ingress in replicated mode"
                } else {
                    "fetch_canister_logs API is only accessible to end users in non-replicated mode"
                },
            )),
            "canister_status" => {
                let args: mgmt::CanisterIdRecord = decode(arg)?;
                let status = self.status_record(caller, args.canister_id)?;
                encode(&status)
            }
            "update_settings" => {
                let args: mgmt::UpdateSettingsArgs = decode(arg)?;
                self.check_controller(caller, args.canister_id)?;
                let time = self.time_nanos;
                let c = self.canisters.get_mut(&args.canister_id).expect("checked");
                apply_settings(&mut c.settings, &args.settings);
                // Every update bumps the version; the history records the controllers whenever they were given,
                // changed or not (the replica's `update_settings`).
                c.version += 1;
                if let Some(controllers) = &args.settings.controllers {
                    let mut controllers = controllers.clone();
                    controllers.sort();
                    controllers.dedup();
                    let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                    let details = mgmt::ChangeDetails::ControllersChange(mgmt::ControllersChangeRecord { controllers });
                    c.record_change(time, origin, details);
                }
                Ok(empty_reply())
            }
            "raw_rand" => {
                if via_ingress {
                    return Err(canister_only(method));
                }
                // Deterministic: SHA-256(seed ‖ counter).
                let mut hasher = Sha256::new();
                hasher.update(self.config.seed);
                hasher.update(self.rand_counter.to_le_bytes());
                self.rand_counter += 1;
                let bytes: [u8; 32] = hasher.finalize().into();
                encode(&serde_bytes::ByteBuf::from(bytes.to_vec()))
            }
            "start_canister" => {
                let args: mgmt::CanisterIdRecord = decode(arg)?;
                self.check_controller(caller, args.canister_id)?;
                let c = self.canisters.get_mut(&args.canister_id).expect("checked");
                c.status = CanisterStatus::Running;
                c.version += 1;
                for stop in self.pending_stops.remove(&args.canister_id).unwrap_or_default() {
                    let cancelled = reject(ErrorCode::CanisterStoppingCancelled, "Canister's stop request was cancelled.");
                    self.respond_from_management(stop.responder, Payload::Reject(cancelled));
                }
                Ok(empty_reply())
            }
            "delete_canister" => {
                let args: mgmt::CanisterIdRecord = decode(arg)?;
                self.check_controller(caller, args.canister_id)?;
                if self.canisters[&args.canister_id].status != CanisterStatus::Stopped {
                    return Err(reject(
                        ErrorCode::CanisterNotStopped,
                        format!("Canister {} must be stopped before it is deleted.", args.canister_id),
                    ));
                }
                // Ids are never reused: the allocator only moves forward. The deleted canister's cycles are burned
                // (the replica counts them as consumed, `CyclesUseCase::DeletedCanisters`), not refunded.
                self.canisters.remove(&args.canister_id);
                self.forget_expired(args.canister_id);
                Ok(empty_reply())
            }
            "uninstall_code" => {
                let args: mgmt::UninstallCodeArgs = decode(arg)?;
                self.check_controller(caller, args.canister_id)?;
                let origin = change_origin(caller, via_ingress, args.sender_canister_version);
                self.uninstall(args.canister_id, Some(origin));
                Ok(empty_reply())
            }
            "provisional_top_up_canister" => {
                let args: mgmt::ProvisionalTopUpCanisterArgs = decode(arg)?;
                let c = self.canisters.get_mut(&args.canister_id).ok_or_else(|| {
                    reject(ErrorCode::CanisterNotFound, format!("Canister {} not found", args.canister_id))
                })?;
                c.cycles = c.cycles.saturating_add(nat_to_u128(&args.amount));
                Ok(empty_reply())
            }
            "deposit_cycles" => {
                // Anyone may deposit (the replica's `validate_sender` lets any caller), but only a canister has
                // cycles to attach: ingress cannot call it.
                if via_ingress {
                    return Err(canister_only(method));
                }
                let args: mgmt::CanisterIdRecord = decode(arg)?;
                let c = self.canisters.get_mut(&args.canister_id).ok_or_else(|| {
                    reject(ErrorCode::CanisterNotFound, format!("Canister {} not found", args.canister_id))
                })?;
                c.cycles = c.cycles.saturating_add(*cycles);
                *cycles = 0;
                Ok(empty_reply())
            }
            other => {
                if IC_MANAGEMENT_METHODS.contains(&other) {
                    // The IC has it; the engine's reject is a divergence the campaign must hear about.
                    self.events.push(Event::Unimplemented { canister: caller, feature: Unimplemented::ManagementMethod(other.to_owned()) });
                }
                Err(reject(
                    ErrorCode::UnknownManagementMessage,
                    format!("Management canister has no method '{other}' (or the icfuzz engine does not implement it yet)"),
                ))
            }
        }
    }

    /// Creates a canister (at `specified_id` if given) with the settings of a creation call.
    fn create_from_settings(
        &mut self,
        origin: mgmt::ChangeOrigin,
        caller: Principal,
        settings: Option<mgmt::CanisterSettings>,
        cycles: Cycles,
        specified_id: Option<CanisterId>,
    ) -> Result<CanisterId, RejectResponse> {
        let id = match specified_id {
            Some(id) if self.canisters.contains_key(&id) => {
                return Err(reject(ErrorCode::CanisterRejectedMessage, format!("Canister {id} already exists")))
            }
            Some(id) => id,
            None => self.allocate_canister_id(),
        };
        let controllers = settings.as_ref().and_then(|s| s.controllers.clone()).unwrap_or_else(|| vec![caller]);
        self.create_canister_with_controllers_at(id, controllers, cycles, origin);
        if let Some(settings) = settings {
            let c = self.canisters.get_mut(&id).expect("just created");
            apply_settings(&mut c.settings, &settings);
        }
        Ok(id)
    }

    /// The canister exists and `caller` controls it; otherwise the IC's reject.
    pub(super) fn check_controller(&self, caller: Principal, canister: CanisterId) -> Result<(), RejectResponse> {
        let c = self
            .canisters
            .get(&canister)
            .ok_or_else(|| reject(ErrorCode::CanisterNotFound, format!("Canister {canister} not found")))?;
        if !c.settings.controllers.contains(&caller) {
            return Err(reject(
                ErrorCode::CanisterInvalidController,
                format!(
                    "Only the controllers of the canister {canister} can control it.\nCanister's controllers: {}\nSender's ID: {caller}",
                    c.settings.controllers.iter().map(|p| p.to_text()).collect::<Vec<_>>().join(" ")
                ),
            ));
        }
        Ok(())
    }

    /// `canister_status`: allowed for controllers and the canister itself.
    fn status_record(&mut self, caller: Principal, canister: CanisterId) -> Result<mgmt::CanisterStatusResult, RejectResponse> {
        if caller != canister {
            self.check_controller(caller, canister)?;
        }
        let c = self.canisters.get(&canister).expect("checked");
        let memory = c.code.as_ref().map_or(0, |code| code.memory_size());
        let stable = c.code.as_ref().map_or(0, |code| code.store.data().stable.size_pages() * limits::WASM_PAGE);
        let zero = || Nat::from(0u8);
        Ok(mgmt::CanisterStatusResult {
            status: match c.status {
                CanisterStatus::Running => mgmt::CanisterStatusType::Running,
                CanisterStatus::Stopping => mgmt::CanisterStatusType::Stopping,
                CanisterStatus::Stopped => mgmt::CanisterStatusType::Stopped,
            },
            ready_for_migration: false,
            version: c.version,
            settings: mgmt::DefiniteCanisterSettings {
                controllers: c.settings.controllers.clone(),
                compute_allocation: zero(),
                memory_allocation: zero(),
                freezing_threshold: Nat::from(c.settings.freezing_threshold),
                reserved_cycles_limit: Nat::from(5_000_000_000_000u64),
                log_visibility: c.settings.log_visibility.clone(),
                log_memory_limit: Nat::from(limits::MAX_LOG_BYTES as u64),
                wasm_memory_limit: Nat::from(c.settings.wasm_memory_limit),
                wasm_memory_threshold: zero(),
                environment_variables: c
                    .settings
                    .env_vars
                    .iter()
                    .map(|(name, value)| mgmt::EnvironmentVariable { name: name.clone(), value: value.clone() })
                    .collect(),
                minimum_incoming_canister_call_cycles: zero(),
                snapshot_visibility: mgmt::SnapshotVisibility::Controllers,
                status_visibility: mgmt::StatusVisibility::Controllers,
            },
            module_hash: c.code.as_ref().map(|code| code.module.hash.to_vec()),
            memory_size: Nat::from(c.memory_bytes()),
            memory_metrics: mgmt::MemoryMetrics {
                wasm_memory_size: Nat::from(memory),
                stable_memory_size: Nat::from(stable),
                global_memory_size: zero(),
                wasm_binary_size: zero(),
                custom_sections_size: zero(),
                canister_history_size: zero(),
                wasm_chunk_store_size: Nat::from(c.chunk_store_bytes()),
                snapshots_size: Nat::from(c.snapshots_bytes()),
                log_memory_store_size: zero(),
            },
            cycles: Nat::from(c.cycles),
            reserved_cycles: zero(),
            idle_cycles_burned_per_day: Nat::from(self.config.fees.idle_per_second(c.memory_bytes()) * 86_400),
            query_stats: mgmt::QueryStats {
                num_calls_total: zero(),
                num_instructions_total: zero(),
                request_payload_bytes_total: zero(),
                response_payload_bytes_total: zero(),
            },
        })
    }

}

fn apply_settings(settings: &mut Settings, new: &mgmt::CanisterSettings) {
    if let Some(controllers) = &new.controllers {
        settings.controllers = controllers.clone();
    }
    if let Some(limit) = &new.wasm_memory_limit {
        settings.wasm_memory_limit = nat_to_u64(limit);
    }
    if let Some(threshold) = &new.freezing_threshold {
        settings.freezing_threshold = nat_to_u64(threshold);
    }
    if let Some(visibility) = &new.log_visibility {
        settings.log_visibility = visibility.clone();
    }
    if let Some(vars) = &new.environment_variables {
        settings.env_vars = vars.iter().map(|v| (v.name.clone(), v.value.clone())).collect();
    }
}

