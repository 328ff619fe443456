//! A subnet monitor, as node-provider dashboards run: `replica_version` asks `subnet_info` for the canister's own
//! subnet, `block_failures` sums the nodes' block failures since a time from `node_metrics_history`.

use ic_cdk::management_canister::{node_metrics_history, subnet_info, NodeMetricsHistoryArgs, SubnetInfoArgs};

/// The replica version of the subnet the monitor runs on.
#[ic_cdk::update]
async fn replica_version() -> Result<String, String> {
    let info = subnet_info(&SubnetInfoArgs { subnet_id: ic_cdk::api::subnet_self() })
        .await
        .map_err(|e| format!("subnet_info failed: {e}"))?;
    Ok(info.replica_version)
}

/// Block failures of all nodes of the monitor's subnet in the latest record since `since_nanos`.
#[ic_cdk::update]
async fn block_failures(since_nanos: u64) -> Result<u64, String> {
    let arg = NodeMetricsHistoryArgs { subnet_id: ic_cdk::api::subnet_self(), start_at_timestamp_nanos: since_nanos };
    let history = node_metrics_history(&arg).await.map_err(|e| format!("node_metrics_history failed: {e}"))?;
    let latest = history.last().map(|r| r.node_metrics.iter().map(|n| n.num_block_failures_total).sum());
    Ok(latest.unwrap_or(0))
}

ic_cdk::export_candid!();
