//! Installing code (ic-semantics §7): `install_code` in its three modes (install, reinstall, upgrade), atomic on
//! failure, and uninstalling.

use ic_management_canister_types as mgmt;

use super::messages::{Message, Response};
use super::Subnet;
use crate::canister::CallOrigin;
use crate::execution::{self, Entry, Persist};
use crate::ic0::ApiType;
use crate::runtime::HeapSnapshot;
use crate::stable_memory::StableMemory;
use crate::types::{CanisterId, ErrorCode, Payload, Principal, RejectResponse};

/// How `install_code` treats the existing canister.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallMode {
    /// The canister must be empty.
    Install,
    /// Wipe everything (heap, stable memory) and install.
    Reinstall,
    /// Keep stable memory; run pre_upgrade (unless skipped) and post_upgrade.
    Upgrade(UpgradeOptions),
}

/// Options of an upgrade (the management canister's `upgrade` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpgradeOptions {
    /// Skip `canister_pre_upgrade`.
    pub skip_pre_upgrade: bool,
    /// What happens to the heap. Required when the installed module uses enhanced orthogonal persistence.
    pub wasm_memory_persistence: Option<WasmMemoryPersistence>,
}

/// Whether an upgrade keeps the heap (enhanced orthogonal persistence) or replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmMemoryPersistence {
    /// Reuse the old heap; the new module's data segments are written into it; globals start fresh.
    Keep,
    /// A fresh heap (the classic upgrade).
    Replace,
}

/// Who asked for an install and what it costs beyond running the module: the history entry's origin, and the
/// instructions `install_chunked_code` charges for assembling the module (0 for `install_code`).
pub(super) struct InstallRequest {
    /// The controller asking (the code runs with it as `msg_caller`).
    pub sender: Principal,
    /// The history entry's origin.
    pub origin: mgmt::ChangeOrigin,
    /// Instructions charged on top of those the module's start, init and upgrade hooks use.
    pub extra_instructions: u64,
}

impl InstallRequest {
    /// A request from a user (ingress or the engine's own API).
    pub(super) fn from_user(sender: Principal) -> InstallRequest {
        InstallRequest { sender, origin: mgmt::ChangeOrigin::FromUser(mgmt::FromUserRecord { user_id: sender }), extra_instructions: 0 }
    }
}

impl Subnet {
    /// install_code in all three modes (ic-semantics §7). Atomic: on any failure the canister is as before.
    pub(super) fn install_code(
        &mut self,
        request: InstallRequest,
        canister: CanisterId,
        mode: InstallMode,
        wasm: &[u8],
        arg: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        let sender = request.sender;
        self.check_controller(sender, canister)?;
        let invalid = |detail: String| {
            RejectResponse::new(
                ErrorCode::CanisterInvalidWasm,
                format!("Error from Canister {canister}: Canister's Wasm module is not valid: {detail}"),
            )
        };
        let module = self.runtime.load(wasm).map_err(|e| invalid(e.to_string()))?;
        let has_code = self.canisters[&canister].code.is_some();
        let limit = self.config.instruction_limits.install;
        // The replica prepays the whole instruction limit before running anything, on top of the freezing limit;
        // a canister that cannot is refused, and the unused part is not charged.
        let c = &self.canisters[&canister];
        let required = c.freezing_limit(&self.config.fees) + self.config.fees.execution(limit, module.info.memory64);
        if c.cycles < required {
            return Err(RejectResponse::new(
                ErrorCode::CanisterOutOfCycles,
                format!(
                    "Canister installation failed with `Canister {canister} is out of cycles: please top up the canister with at least {} additional cycles`.",
                    required - c.cycles
                ),
            ));
        }
        let mut used = request.extra_instructions;
        let mut logs = Vec::new();

        // Upgrade: pre_upgrade runs on the old code; its effects are undone if anything later fails.
        let mut old_state = None;
        let mut kept_heap = None;
        let stable = match mode {
            InstallMode::Install if has_code => {
                return Err(RejectResponse::new(
                    ErrorCode::CanisterNonEmpty,
                    format!("Canister {canister} cannot be installed because the canister is not empty. Try installing with mode='reinstall' instead."),
                ))
            }
            InstallMode::Install | InstallMode::Reinstall => StableMemory::default(),
            InstallMode::Upgrade(options) => {
                if !has_code {
                    return Err(RejectResponse::new(
                        ErrorCode::CanisterWasmModuleNotFound,
                        format!("Error from Canister {canister}: Attempted to upgrade a canister that contains no Wasm module."),
                    ));
                }
                let old_eop = self.canisters[&canister].code.as_ref().is_some_and(|c| c.module.info.enhanced_orthogonal_persistence);
                match options.wasm_memory_persistence {
                    None if old_eop => {
                        return Err(RejectResponse::new(
                            ErrorCode::CanisterContractViolation,
                            format!("Error from Canister {canister}: Missing upgrade option: Enhanced orthogonal persistence requires the `wasm_memory_persistence` upgrade option."),
                        ))
                    }
                    Some(WasmMemoryPersistence::Keep) if !module.info.enhanced_orthogonal_persistence => {
                        return Err(RejectResponse::new(
                            ErrorCode::CanisterContractViolation,
                            format!("Error from Canister {canister}: Invalid upgrade option: The `wasm_memory_persistence: opt Keep` upgrade option requires that the new canister module supports enhanced orthogonal persistence."),
                        ))
                    }
                    _ => {}
                }
                let skip_pre_upgrade = options.skip_pre_upgrade;
                let mut exec = self.install_exec(canister, ApiType::PreUpgrade, sender, Vec::new());
                // pre_upgrade, start and post_upgrade share the install's one budget (the chunked install's
                // surcharge comes out of it first).
                exec.instruction_limit = limit.saturating_sub(used);
                let c = self.canisters.get_mut(&canister).expect("checked");
                let code = c.code.as_mut().expect("checked");
                let stable_before = code.store.data().stable.clone();
                let heap_before = code.snapshot();
                if code.module.info.has_pre_upgrade && !skip_pre_upgrade {
                    let executed = execution::run(
                        &self.runtime,
                        code,
                        &Entry::Export("canister_pre_upgrade".to_owned()),
                        exec,
                        Persist::Keep,
                    );
                    used += executed.instructions;
                    logs.extend(executed.exec.logs);
                    if let Err(trap) = executed.result {
                        self.append_logs(canister, logs, Some(&trap.message));
                        let message = format!("Error from Canister {canister}: pre_upgrade failed: {}", trap.message);
                        return Err(RejectResponse::new(trap.code, message));
                    }
                }
                let stable_after = code.store.data().stable.clone();
                if options.wasm_memory_persistence == Some(WasmMemoryPersistence::Keep) {
                    kept_heap = Some(code.committed_heap());
                }
                old_state = Some((stable_before, heap_before));
                stable_after
            }
        };

        let restore_old = |subnet: &mut Subnet, old_state: Option<(StableMemory, HeapSnapshot)>| {
            if let Some((stable, heap)) = old_state {
                let c = subnet.canisters.get_mut(&canister).expect("checked");
                if let Some(code) = c.code.as_mut() {
                    code.store.data_mut().stable = stable;
                    // Same module, same size unless pre_upgrade grew memory; restore handles both.
                    let _ = subnet.runtime.restore(code, &heap);
                }
            }
        };

        let instantiated = match &kept_heap {
            Some(heap) => self.runtime.instantiate_keeping(module.clone(), stable, heap),
            None => self.runtime.instantiate(module.clone(), stable),
        };
        let mut new_code = match instantiated {
            Ok(code) => code,
            Err(e) => {
                restore_old(self, old_state);
                // The start function runs later (as the replica's `canister_start`), so what fails here is the
                // store refusing the module's declared table or memory: the replica's FailedToInstantiateModule.
                return Err(RejectResponse::new(
                    ErrorCode::CanisterWasmEngineError,
                    format!(
                        "Error from Canister {canister}: Canister encountered a Wasm engine error: Failed to instantiate \
                         module: {e:#}"
                    ),
                ));
            }
        };

        let init_export = match mode {
            InstallMode::Upgrade(_) => module.info.has_post_upgrade.then_some("canister_post_upgrade"),
            _ => module.info.has_init.then_some("canister_init"),
        };
        let mut steps = vec![(Entry::Start, ApiType::Start, Vec::new())];
        if let Some(export) = init_export {
            steps.push((Entry::Export(export.to_owned()), ApiType::Init, arg));
        }
        let mut global_timer = 0;
        let mut certified_data = None;
        let mut balance = self.canisters[&canister].cycles;
        for (entry, api, step_arg) in steps {
            let mut exec = self.install_exec(canister, api, sender, step_arg);
            // Start and init share one instruction budget; both see the new version.
            exec.instruction_limit = limit.saturating_sub(used);
            exec.version = self.canisters[&canister].version + 1;
            exec.global_timer = 0;
            exec.balance = balance;
            // The canister's code is still the old one (or none): the width is the new module's.
            exec.memory64 = new_code.module.info.memory64;
            let executed = execution::run(&self.runtime, &mut new_code, &entry, exec, Persist::Keep);
            self.report_unimplemented(canister, &executed.exec.unimplemented);
            used += executed.instructions;
            logs.extend(executed.exec.logs.iter().cloned());
            if let Err(trap) = executed.result {
                restore_old(self, old_state);
                self.append_logs(canister, logs, Some(&trap.message));
                return Err(RejectResponse::new(trap.code, trap.message));
            }
            global_timer = executed.exec.global_timer;
            balance = executed.exec.balance;
            if executed.exec.certified_data.is_some() {
                certified_data = executed.exec.certified_data;
            }
        }

        let fee = self.config.fees.execution(used, module.info.memory64);
        let c = self.canisters.get_mut(&canister).expect("checked");
        c.code = Some(new_code);
        c.version += 1;
        c.global_timer = global_timer;
        c.cycles = balance.saturating_sub(fee);
        let deployed = match mode {
            InstallMode::Install => mgmt::CodeDeploymentMode::Install,
            InstallMode::Reinstall => mgmt::CodeDeploymentMode::Reinstall,
            InstallMode::Upgrade(_) => mgmt::CodeDeploymentMode::Upgrade,
        };
        let details = mgmt::CodeDeploymentRecord { mode: deployed, module_hash: module.hash.to_vec() };
        c.record_change(self.time_nanos, request.origin, mgmt::ChangeDetails::CodeDeployment(details));
        match (mode, certified_data) {
            (_, Some(data)) => c.certified_data = data,
            (InstallMode::Upgrade(_), None) => {}
            (_, None) => c.certified_data = Vec::new(),
        }
        self.append_logs(canister, logs, None);
        Ok(())
    }

    /// Empties a canister: every unanswered call context is rejected (CANISTER_REJECT) and deleted, though one
    /// with calls outstanding stays until their responses arrive (they refund cycles and run no code; until then
    /// the canister cannot stop), the timer is off, certified data, logs and the chunk store are cleared
    /// (ic-semantics §7). `origin` is the controller's `uninstall_code` (recorded in
    /// the history; snapshots stay); `None` is the system uninstalling a canister out of cycles, which also
    /// deletes its snapshots and drops its history, as the replica does.
    pub(super) fn uninstall(&mut self, id: CanisterId, origin: Option<mgmt::ChangeOrigin>) {
        let time = self.time_nanos;
        let Some(c) = self.canisters.get_mut(&id) else { return };
        c.code = None;
        c.global_timer = 0;
        c.certified_data.clear();
        c.logs.clear();
        c.chunks.clear();
        c.version += 1;
        match origin {
            Some(origin) => c.record_change(time, origin, mgmt::ChangeDetails::CodeUninstall),
            None => {
                c.snapshots.clear();
                c.history.changes.clear();
            }
        }
        // Open call contexts are answered with a reject now; the calls they made stay outstanding (the callees
        // may still answer), so a context stays, deleted, until its last response arrives, and the canister
        // cannot stop before (the replica marks them deleted and unregisters callbacks as responses come in).
        let mut rejects = Vec::new();
        for ctx in c.contexts.values_mut() {
            ctx.deleted = true;
            if std::mem::replace(&mut ctx.responded, true) {
                continue;
            }
            rejects.push((ctx.origin.clone(), ctx.method.clone(), std::mem::take(&mut ctx.available), ctx.deadline_nanos));
        }
        c.contexts.retain(|_, ctx| ctx.outstanding > 0);
        for (origin, method, refund, deadline) in rejects {
            let payload =
                Payload::Reject(RejectResponse::new(ErrorCode::CanisterRejectedMessage, "Canister has been uninstalled."));
            match origin {
                CallOrigin::Ingress { id: message, .. } => self.complete_ingress(message, payload.into_result()),
                CallOrigin::Canister { caller, callback } => {
                    let deadline_nanos = (deadline != 0).then_some(deadline);
                    let response = Response { originator: caller, callback, method, payload, refund, deadline_nanos };
                    self.enqueue(id, caller, Message::Response(response));
                }
                CallOrigin::System => {}
            }
        }
        self.maybe_stopped(id);
    }

    /// Adds the log lines of an install step (and its trap) to the canister's log.
    fn append_logs(&mut self, canister: CanisterId, logs: Vec<String>, trap: Option<&str>) {
        let time = self.time_nanos;
        if let Some(c) = self.canisters.get_mut(&canister) {
            for line in logs {
                c.log(time, line);
            }
            if let Some(trap) = trap {
                c.log(time, format!("[TRAP]: {trap}"));
            }
        }
    }
}
