//! Engine update calls per second versus the physical limit: a bare wasmtime loop calling the same exported method
//! of the same canister module, with minimal host functions and nothing else (no scheduling, no fuel, no cycles, no
//! rollback bookkeeping, no state reset).
//!
//! Run with `cargo bench -p icfuzz-engine --bench calls`. Prints both rates and their ratio for `deposit` on the
//! ic-cdk bank canister (Candid decode, a state write, Candid encode); the target is a ratio of at least 50%.

#![allow(clippy::disallowed_types)] // A benchmark measures wall-clock time on purpose.

use std::time::Instant;

use candid::Encode;
use icfuzz_engine::{Config, Principal, Subnet};
use wasmtime::{Caller, Engine, Extern, Linker, Module, Store, Val};

const CALLS: u32 = 200_000;

/// What the bare loop's host functions need: the argument of the current call.
struct Bare {
    arg: Vec<u8>,
}

fn memory<'a>(caller: &'a mut Caller<'_, Bare>) -> (&'a mut [u8], &'a Bare) {
    let Some(Extern::Memory(m)) = caller.get_export("memory") else { panic!("the canister exports its memory") };
    let (data, state) = m.data_and_store_mut(caller);
    (data, &*state)
}

fn bare_rate(wasm: &[u8], method: &str, arg: &[u8]) -> f64 {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).expect("compiles");
    let mut linker: Linker<Bare> = Linker::new(&engine);
    for import in module.imports() {
        let wasmtime::ExternType::Func(ty) = import.ty() else { continue };
        let name = import.name().to_owned();
        linker
            .func_new(import.module(), import.name(), ty.clone(), move |mut caller, params, results| {
                let int = |v: &Val| v.i64().map(|x| x as usize).or(v.i32().map(|x| x as u32 as usize)).unwrap_or(0);
                match name.as_str() {
                    "msg_arg_data_size" => results[0] = Val::I32(caller.data().arg.len() as i32),
                    "msg_arg_data_copy" => {
                        let (dst, off, len) = (int(&params[0]), int(&params[1]), int(&params[2]));
                        let (mem, state) = memory(&mut caller);
                        mem[dst..dst + len].copy_from_slice(&state.arg[off..off + len]);
                    }
                    "trap" => return Err(wasmtime::Error::msg("trap")),
                    _ => {
                        for (r, ty) in results.iter_mut().zip(ty.results()) {
                            *r = Val::default_for_ty(&ty).unwrap_or(Val::I32(0));
                        }
                    }
                }
                Ok(())
            })
            .expect("defines");
    }
    let mut store = Store::new(&engine, Bare { arg: arg.to_vec() });
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    let export = instance.get_typed_func::<(), ()>(&mut store, &format!("canister_update {method}")).expect("exported");
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "canister_init") {
        init.call(&mut store, ()).expect("init");
    }
    for _ in 0..1_000 {
        export.call(&mut store, ()).expect("warm-up");
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        export.call(&mut store, ()).expect("call");
    }
    CALLS as f64 / start.elapsed().as_secs_f64()
}

fn engine_rate(wasm: &[u8], method: &str, arg: &[u8]) -> f64 {
    let mut subnet = Subnet::new(Config::default()).expect("wasmtime");
    let id = subnet.create_canister();
    subnet.install_canister(id, wasm, vec![], None).expect("installs");
    let user = Principal::anonymous();
    for _ in 0..1_000 {
        subnet.update_call(id, user, method, arg.to_vec()).expect("warm-up");
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        subnet.update_call(id, user, method, arg.to_vec()).expect("call");
    }
    CALLS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let wasm = icfuzz_test_canisters::wasm("bank");
    let arg = Encode!(&1u64).expect("encodes");
    let bare = bare_rate(&wasm, "deposit", &arg);
    let engine = engine_rate(&wasm, "deposit", &arg);
    println!("update calls per second, ic-cdk bank `deposit` ({CALLS} calls each)");
    println!("  bare wasmtime loop (physical limit): {bare:>10.0} /s");
    println!("  icfuzz engine update_call:           {engine:>10.0} /s");
    println!("  ratio engine / bare:                 {:>10.1} %  (target ≥ 50%)", 100.0 * engine / bare);
}
