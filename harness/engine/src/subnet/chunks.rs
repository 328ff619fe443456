//! The Wasm chunk store and chunked installs: `upload_chunk`, `stored_chunks`, `clear_chunk_store`,
//! `install_chunked_code`, as the replica's `canister_manager.rs` and `wasm_chunk_store.rs` do them.
//!
//! A chunk is at most 1 MiB and is stored under its SHA-256; a store holds at most 100 chunks, each counted as a
//! full 1 MiB of the canister's memory (storage fees, freezing limit). A module too large for one message is
//! uploaded in chunks and installed by listing their hashes in order; the SHA-256 of the concatenation must be
//! the `wasm_module_hash` given.

use std::sync::Arc;

use ic_management_canister_types as mgmt;
use sha2::{Digest, Sha256};

use super::install::{InstallMode, InstallRequest};
use super::Subnet;
use crate::limits::{MAX_CHUNKS, MAX_CHUNK_BYTES, UPLOAD_CHUNK_INSTRUCTIONS};
use crate::types::{CanisterId, ErrorCode, Principal, RejectResponse};

/// The replica's reject for every chunk-store error (`WasmChunkStoreError`, IC0504).
fn store_error(message: impl std::fmt::Display) -> RejectResponse {
    RejectResponse::new(ErrorCode::CanisterContractViolation, format!("Error from Wasm chunk store: {message}."))
}

/// A 32-byte hash, or the chunk store's error for one of another length.
fn chunk_hash(bytes: &[u8]) -> Result<[u8; 32], RejectResponse> {
    bytes.try_into().map_err(|_| store_error("Chunk hash is invalid. The length is not 32"))
}

impl Subnet {
    /// The canister exists and `caller` is the canister itself or one of its controllers: who may use a chunk
    /// store.
    fn check_store_access(&self, caller: Principal, canister: CanisterId) -> Result<(), RejectResponse> {
        if caller == canister && self.canisters.contains_key(&canister) {
            return Ok(());
        }
        self.check_controller(caller, canister)
    }

    /// `upload_chunk`: charges the upload (even for a chunk already stored: the replica charges before hashing),
    /// then stores the chunk unless it is there already. Replies with its hash.
    pub(super) fn upload_chunk(&mut self, caller: Principal, args: mgmt::UploadChunkArgs) -> Result<mgmt::ChunkHash, RejectResponse> {
        let id = args.canister_id;
        self.check_store_access(caller, id)?;
        let fee = self.config.fees.execution(UPLOAD_CHUNK_INSTRUCTIONS, false);
        let fees = self.config.fees;
        let c = self.canisters.get_mut(&id).expect("checked");
        let hash: [u8; 32] = Sha256::digest(&args.chunk).into();
        let new = !c.chunks.contains_key(&hash);
        if new && args.chunk.len() > MAX_CHUNK_BYTES {
            return Err(store_error(format!(
                "Wasm chunk size {} exceeds the maximum chunk size of {MAX_CHUNK_BYTES}",
                args.chunk.len()
            )));
        }
        if new && c.chunks.len() >= MAX_CHUNKS {
            return Err(store_error(format!(
                "Wasm chunk store has already reached maximum capacity of {} bytes or the maximum number of entries, {MAX_CHUNKS}",
                MAX_CHUNKS * MAX_CHUNK_BYTES
            )));
        }
        // The balance must cover the fee and stay above the freezing limit with the chunk's memory added.
        let memory_after = c.memory_bytes() + if new { MAX_CHUNK_BYTES as u64 } else { 0 };
        let required = fee + fees.freezing_limit(memory_after, c.settings.freezing_threshold);
        if c.cycles < required {
            return Err(store_error(format!(
                "Error charging for 'upload_chunk': Canister {id} is out of cycles: please top up the canister with at least {} additional cycles",
                required - c.cycles
            )));
        }
        c.cycles -= fee;
        if new {
            c.chunks.insert(hash, Arc::from(args.chunk));
        }
        Ok(mgmt::ChunkHash { hash: hash.to_vec() })
    }

    /// `stored_chunks`: the hashes in the store, in hash order (the replica's map order, not upload order).
    pub(super) fn stored_chunks(&self, caller: Principal, canister: CanisterId) -> Result<mgmt::StoredChunksResult, RejectResponse> {
        self.check_store_access(caller, canister)?;
        Ok(self.canisters[&canister].chunks.keys().map(|hash| mgmt::ChunkHash { hash: hash.to_vec() }).collect())
    }

    /// `clear_chunk_store`: empties the store (free).
    pub(super) fn clear_chunk_store(&mut self, caller: Principal, canister: CanisterId) -> Result<(), RejectResponse> {
        self.check_store_access(caller, canister)?;
        self.canisters.get_mut(&canister).expect("checked").chunks.clear();
        Ok(())
    }

    /// `install_chunked_code`: the caller controls the target and is the store canister or controls it; the
    /// chunks are concatenated in list order and must hash to `wasm_module_hash`; then it is `install_code`,
    /// charged 1 MiB of instructions more per listed chunk for assembling the module (as the replica).
    pub(super) fn install_chunked_code(
        &mut self,
        caller: Principal,
        args: mgmt::InstallChunkedCodeArgs,
        mode: InstallMode,
        origin: mgmt::ChangeOrigin,
    ) -> Result<(), RejectResponse> {
        let target = args.target_canister;
        let store = args.store_canister.unwrap_or(target);
        if !self.canisters.contains_key(&store) {
            return Err(RejectResponse::new(
                ErrorCode::CanisterNotFound,
                format!(
                    "InstallChunkedCode Error: Store canister {store} was not found on subnet {} of target canister {target}",
                    self.config.subnet_id
                ),
            ));
        }
        if caller != store {
            self.check_controller(caller, store)?;
        }
        self.check_controller(caller, target)?;
        let expected: [u8; 32] = args.wasm_module_hash.as_slice().try_into().map_err(|_| {
            RejectResponse::new(ErrorCode::CanisterContractViolation, format!("Invalid wasm hash {:?}", args.wasm_module_hash))
        })?;
        let chunks = &self.canisters[&store].chunks;
        let mut wasm = Vec::new();
        for entry in &args.chunk_hashes_list {
            let hash = chunk_hash(&entry.hash)?;
            let chunk = chunks.get(&hash).ok_or_else(|| store_error(format!("Chunk hash {hash:?} was not found")))?;
            wasm.extend_from_slice(chunk);
        }
        let actual: [u8; 32] = Sha256::digest(&wasm).into();
        if actual != expected {
            return Err(store_error(format!("Wasm module hash {actual:?} does not match given hash {expected:?}")));
        }
        let extra_instructions = args.chunk_hashes_list.len() as u64 * MAX_CHUNK_BYTES as u64;
        let request = InstallRequest { sender: caller, origin, extra_instructions };
        self.install_code(request, target, mode, &wasm, args.arg)
    }
}
