//! IC limits the engine enforces (ic-semantics §5), in one place.

/// Bytes in a Wasm page (heap and stable memory alike).
pub const WASM_PAGE: u64 = 64 << 10;
/// wasm32 heap hard maximum: `memory.grow` beyond returns −1.
pub const WASM32_MAX_MEMORY: u64 = 4 << 30;
/// wasm64 heap hard maximum (6 GiB on today's replica).
pub const WASM64_MAX_MEMORY: u64 = 6 << 30;
/// Tables a canister's module may have (the replica's store limit `MAX_STORE_TABLES`).
pub const MAX_TABLES: usize = 1;
/// Elements a canister's table may have (the replica's store limit `MAX_STORE_TABLE_ELEMENTS`); more fails
/// instantiation (IC0521).
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;
/// Stable memory maximum: `stable64_grow` beyond returns −1.
pub const MAX_STABLE_MEMORY: u64 = 500 << 30;
/// Bytes in an OS page, the unit of the replica's dirty-page accounting.
pub const OS_PAGE: u64 = 4 << 10;
/// 4 KiB stable pages an update-like execution may dirty (2 GiB).
pub const STABLE_DIRTY_PAGES_UPDATE: u64 = (2 << 30) / OS_PAGE;
/// 4 KiB stable pages install/upgrade may dirty (8 GiB).
pub const STABLE_DIRTY_PAGES_INSTALL: u64 = (8 << 30) / OS_PAGE;
/// 4 KiB stable pages a query may dirty (1 GiB).
pub const STABLE_DIRTY_PAGES_QUERY: u64 = (1 << 30) / OS_PAGE;
/// Messages one canister-to-canister queue holds.
pub const QUEUE_CAPACITY: usize = 500;
/// Bounded-wait timeouts are capped at this many seconds.
pub const MAX_CALL_TIMEOUT_SECONDS: u32 = 300;
/// Largest certified data.
pub const MAX_CERTIFIED_DATA: usize = 32;
/// A canister's log keeps at most this many bytes of records; older ones are dropped first.
pub const MAX_LOG_BYTES: usize = 4 << 10;
/// Largest reply in replicated executions (and so the largest inter-canister response).
pub const MAX_REPLY_REPLICATED: usize = 2 << 20;
/// Largest reply in non-replicated executions (query calls).
pub const MAX_REPLY_NON_REPLICATED: usize = 3 << 20;
/// Largest inter-canister request (method name + argument) on one subnet.
pub const MAX_INTER_CANISTER_REQUEST: usize = 10 << 20;
/// Largest ingress message (method name + argument) on an application subnet.
pub const MAX_INGRESS_BYTES: usize = 2 << 20;
/// Largest Wasm chunk (`upload_chunk`); every stored chunk counts this much memory.
pub const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Chunks a chunk store holds (its 100 MiB limit, the largest Wasm module, in 1 MiB chunks).
pub const MAX_CHUNKS: usize = 100;
/// Instructions charged for one `upload_chunk` on an application subnet.
pub const UPLOAD_CHUNK_INSTRUCTIONS: u64 = 200_000_000;
/// Snapshots one canister may hold.
pub const MAX_SNAPSHOTS: usize = 10;
/// Instructions charged for taking or loading a snapshot, before one per byte of it (application subnet).
pub const SNAPSHOT_BASELINE_INSTRUCTIONS: u64 = 2_000_000_000;
/// Changes a canister's history keeps.
pub const MAX_HISTORY_CHANGES: usize = 20;
