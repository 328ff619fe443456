//! A canister factory, as platforms that deploy a canister per user do: the child module is too large for one
//! message, so the owner uploads it in chunks into the factory's own chunk store (`upload_chunk` called by the
//! factory on itself), then every `spawn` creates a child, installs it with `install_chunked_code` from the
//! factory's store, and funds it with `deposit_cycles`.
//!
//! - `add_chunk(chunk)` / `set_module(hash)` / `reset_module()`: the owner (a controller) stages the child module;
//! - `spawn(cycles)`: the owner creates a child it controls together with the factory;
//! - `top_up(child, cycles)`: the owner funds a child it spawned;
//! - `children`, `module`: what was spawned and what is staged.
//!
//! Every step that calls the management canister can fail; the factory answers with the error and keeps its
//! books as they are (a child created but not installed is still listed, so its cycles are not lost).

use std::cell::RefCell;

use candid::{CandidType, Principal};
use ic_cdk::management_canister::{
    self as mgmt, CanisterInstallMode, CanisterSettings, ChunkHash, ClearChunkStoreArgs, CreateCanisterArgs,
    DepositCyclesArgs, InstallChunkedCodeArgs, UploadChunkArgs,
};
use serde::Deserialize;

/// The staged child module.
#[derive(CandidType, Deserialize, Clone, Default)]
struct Module {
    /// Chunk hashes, in upload order.
    chunks: Vec<Vec<u8>>,
    /// SHA-256 of the whole module, once the owner set it.
    hash: Option<Vec<u8>>,
}

/// A child the factory spawned.
#[derive(CandidType, Deserialize, Clone)]
struct Child {
    id: Principal,
    installed: bool,
    deposited: u128,
}

thread_local! {
    static MODULE: RefCell<Module> = RefCell::default();
    static CHILDREN: RefCell<Vec<Child>> = const { RefCell::new(Vec::new()) };
}

/// Cycles a child is created with: enough to prepay its installation (the IC refuses an install the canister
/// cannot prepay). `spawn`'s amount is deposited on top once the child is installed.
const CREATION_CYCLES: u128 = 1_000_000_000_000;
/// The least `spawn` deposits into a child.
const MIN_CHILD_CYCLES: u128 = 1_000_000_000_000;

fn only_owner() -> Result<(), String> {
    if ic_cdk::api::is_controller(&ic_cdk::api::msg_caller()) {
        Ok(())
    } else {
        Err("only a controller of the factory may do this".to_owned())
    }
}

/// Uploads one chunk of the child module into the factory's own chunk store; returns its hash.
#[ic_cdk::update]
async fn add_chunk(chunk: Vec<u8>) -> Result<Vec<u8>, String> {
    only_owner()?;
    if MODULE.with_borrow(|m| m.hash.is_some()) {
        return Err("the module is complete; reset it first".to_owned());
    }
    let arg = UploadChunkArgs { canister_id: ic_cdk::api::canister_self(), chunk };
    let ChunkHash { hash } = mgmt::upload_chunk(&arg).await.map_err(|e| format!("upload_chunk failed: {e}"))?;
    MODULE.with_borrow_mut(|m| m.chunks.push(hash.clone()));
    Ok(hash)
}

/// Marks the staged module complete: `hash` is the SHA-256 of all chunks in order.
#[ic_cdk::update]
fn set_module(hash: Vec<u8>) -> Result<(), String> {
    only_owner()?;
    if hash.len() != 32 {
        return Err("a module hash is 32 bytes".to_owned());
    }
    MODULE.with_borrow_mut(|m| {
        if m.chunks.is_empty() {
            return Err("no chunk uploaded".to_owned());
        }
        m.hash = Some(hash);
        Ok(())
    })
}

/// Forgets the staged module and empties the chunk store.
#[ic_cdk::update]
async fn reset_module() -> Result<(), String> {
    only_owner()?;
    let arg = ClearChunkStoreArgs { canister_id: ic_cdk::api::canister_self() };
    mgmt::clear_chunk_store(&arg).await.map_err(|e| format!("clear_chunk_store failed: {e}"))?;
    MODULE.with_borrow_mut(|m| *m = Module::default());
    Ok(())
}

/// Creates a child controlled by the factory and the caller, installs the staged module from the factory's
/// store and deposits `cycles` into it.
#[ic_cdk::update]
async fn spawn(cycles: u128) -> Result<Principal, String> {
    only_owner()?;
    let owner = ic_cdk::api::msg_caller();
    if cycles < MIN_CHILD_CYCLES {
        return Err(format!("a child needs at least {MIN_CHILD_CYCLES} cycles"));
    }
    let module = MODULE.with_borrow(|m| m.clone());
    let Some(hash) = module.hash else { return Err("no complete module staged".to_owned()) };
    // The creation fee and the deposit must leave the factory above its freezing limit with some room.
    let needed = ic_cdk::api::cost_create_canister() + CREATION_CYCLES + cycles;
    if ic_cdk::api::canister_liquid_cycle_balance() < needed {
        return Err(format!("the factory cannot afford {needed} cycles"));
    }
    let settings = CanisterSettings { controllers: Some(vec![ic_cdk::api::canister_self(), owner]), ..Default::default() };
    let created = mgmt::create_canister_with_extra_cycles(&CreateCanisterArgs { settings: Some(settings) }, CREATION_CYCLES)
        .await
        .map_err(|e| format!("create_canister failed: {e}"))?;
    let id = created.canister_id;
    CHILDREN.with_borrow_mut(|c| c.push(Child { id, installed: false, deposited: 0 }));
    let install = InstallChunkedCodeArgs {
        mode: CanisterInstallMode::Install,
        target_canister: id,
        store_canister: Some(ic_cdk::api::canister_self()),
        chunk_hashes_list: module.chunks.into_iter().map(|hash| ChunkHash { hash }).collect(),
        wasm_module_hash: hash,
        arg: Vec::new(),
    };
    mgmt::install_chunked_code(&install).await.map_err(|e| format!("child {id} created, install failed: {e}"))?;
    update_child(id, |c| c.installed = true);
    deposit(id, cycles).await?;
    Ok(id)
}

/// Deposits `cycles` into a child the factory spawned.
#[ic_cdk::update]
async fn top_up(child: Principal, cycles: u128) -> Result<(), String> {
    only_owner()?;
    if !CHILDREN.with_borrow(|c| c.iter().any(|c| c.id == child)) {
        return Err(format!("{child} is not a child of this factory"));
    }
    if ic_cdk::api::canister_liquid_cycle_balance() < cycles {
        return Err(format!("the factory cannot afford {cycles} cycles"));
    }
    deposit(child, cycles).await
}

async fn deposit(child: Principal, cycles: u128) -> Result<(), String> {
    mgmt::deposit_cycles(&DepositCyclesArgs { canister_id: child }, cycles)
        .await
        .map_err(|e| format!("deposit_cycles into {child} failed: {e}"))?;
    // Counted once the deposit is confirmed: a rejected deposit refunds the cycles to the factory.
    update_child(child, |c| c.deposited += cycles);
    Ok(())
}

fn update_child(id: Principal, f: impl FnOnce(&mut Child)) {
    CHILDREN.with_borrow_mut(|children| {
        if let Some(child) = children.iter_mut().find(|c| c.id == id) {
            f(child);
        }
    });
}

/// The children spawned so far.
#[ic_cdk::query]
fn children() -> Vec<Child> {
    CHILDREN.with_borrow(|c| c.clone())
}

/// The staged module.
#[ic_cdk::query]
fn module() -> Module {
    MODULE.with_borrow(|m| m.clone())
}

ic_cdk::export_candid!();
