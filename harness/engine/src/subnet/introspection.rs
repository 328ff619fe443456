//! What the management canister tells about canisters and the subnet: `canister_info`, `canister_metadata`,
//! `subnet_info` (callable by canisters only) and `fetch_canister_logs` (a query for users only), as the
//! replica's `execution_environment.rs` answers them.

use ic_management_canister_types as mgmt;

use super::Subnet;
use crate::module::CustomSectionVisibility;
use crate::types::{CanisterId, ErrorCode, Principal, RejectResponse};

/// The replica version `subnet_info` reports: the engine's, so nobody mistakes it for a real replica's.
pub const REPLICA_VERSION: &str = concat!("icfuzz-engine-", env!("CARGO_PKG_VERSION"));

fn canister_not_found(canister: CanisterId) -> RejectResponse {
    RejectResponse::new(ErrorCode::CanisterNotFound, format!("Canister {canister} not found."))
}

impl Subnet {
    /// `canister_info`: any canister may ask about any canister. The last `num_requested_changes` changes
    /// (oldest first; more than are kept is not an error), the module hash and the controllers (sorted, as the
    /// replica keeps them in a set).
    pub(super) fn canister_info(&self, args: &mgmt::CanisterInfoArgs) -> Result<mgmt::CanisterInfoResult, RejectResponse> {
        let c = self.canisters.get(&args.canister_id).ok_or_else(|| canister_not_found(args.canister_id))?;
        let wanted = usize::try_from(args.num_requested_changes.unwrap_or(0)).unwrap_or(usize::MAX);
        let kept = c.history.changes.len();
        let recent_changes = c.history.changes.iter().skip(kept.saturating_sub(wanted)).cloned().collect();
        let mut controllers = c.settings.controllers.clone();
        controllers.sort();
        controllers.dedup();
        Ok(mgmt::CanisterInfoResult {
            total_num_changes: c.history.total,
            recent_changes,
            module_hash: c.code.as_ref().map(|code| code.module.hash.to_vec()),
            controllers,
        })
    }

    /// `canister_metadata`: an `icp:public` section for anyone, an `icp:private` one for controllers only (to
    /// anyone else it does not exist, as on the IC).
    pub(super) fn canister_metadata(
        &self,
        caller: Principal,
        args: &mgmt::CanisterMetadataArgs,
    ) -> Result<mgmt::CanisterMetadataResult, RejectResponse> {
        let canister = args.canister_id;
        let c = self.canisters.get(&canister).ok_or_else(|| canister_not_found(canister))?;
        let code = c.code.as_ref().ok_or_else(|| {
            RejectResponse::new(
                ErrorCode::CanisterRejectedMessage,
                format!("The canister {canister} has no Wasm module and hence no metadata is available."),
            )
        })?;
        let visible = |visibility: &CustomSectionVisibility| match visibility {
            CustomSectionVisibility::Public => true,
            CustomSectionVisibility::Private => c.settings.controllers.contains(&caller),
        };
        match code.module.info.custom_sections.get(&args.name) {
            Some((visibility, content)) if visible(visibility) => Ok(mgmt::CanisterMetadataResult { value: content.clone() }),
            _ => Err(RejectResponse::new(
                ErrorCode::CanisterRejectedMessage,
                format!("The canister {canister} has no metadata section with the name {}.", args.name),
            )),
        }
    }

    /// `subnet_info` for this subnet. The engine is one subnet, so any other id names none: the IC cannot route
    /// such a request.
    pub(super) fn subnet_info(&self, args: &mgmt::SubnetInfoArgs) -> Result<mgmt::SubnetInfoResult, RejectResponse> {
        if args.subnet_id != self.config.subnet_id {
            return Err(RejectResponse::new(ErrorCode::CanisterNotFound, format!("No route to canister {}", args.subnet_id)));
        }
        Ok(mgmt::SubnetInfoResult { replica_version: REPLICA_VERSION.to_owned(), registry_version: 1 })
    }

    /// `fetch_canister_logs` as a query call from a user: who may read follows the canister's `log_visibility`
    /// (controllers by default, anyone, or controllers and listed viewers); `filter` keeps an `[start, end)`
    /// range of indexes or timestamps.
    pub(super) fn fetch_canister_logs(
        &self,
        caller: Principal,
        args: &mgmt::FetchCanisterLogsArgs,
    ) -> Result<mgmt::FetchCanisterLogsResult, RejectResponse> {
        let canister = args.canister_id;
        let c = self.canisters.get(&canister).ok_or_else(|| canister_not_found(canister))?;
        let controller = c.settings.controllers.contains(&caller);
        let allowed = match &c.settings.log_visibility {
            mgmt::LogVisibility::Public => true,
            mgmt::LogVisibility::Controllers => controller,
            mgmt::LogVisibility::AllowedViewers(viewers) => controller || viewers.contains(&caller),
        };
        if !allowed {
            return Err(RejectResponse::new(
                ErrorCode::CanisterRejectedMessage,
                format!("Caller {caller} is not allowed to query ic00 method fetch_canister_logs"),
            ));
        }
        let keep = |record: &crate::types::LogRecord| match &args.filter {
            None => true,
            Some(mgmt::CanisterLogFilter::ByIdx { start, end }) => (*start..*end).contains(&record.idx),
            Some(mgmt::CanisterLogFilter::ByTimestampNanos { start, end }) => (*start..*end).contains(&record.timestamp_nanos),
        };
        let canister_log_records = c
            .logs
            .iter()
            .filter(|r| keep(r))
            .map(|r| mgmt::CanisterLogRecord {
                idx: r.idx,
                timestamp_nanos: r.timestamp_nanos,
                content: r.content.clone().into_bytes(),
            })
            .collect();
        Ok(mgmt::FetchCanisterLogsResult { canister_log_records })
    }
}
