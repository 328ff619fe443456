//! Embeds the adversary canister: builds the `canisters/` workspace (shared with the test suite's build, so it
//! is built once) and points `ADVERSARY_WASM` at the module for `include_bytes!`.

fn main() {
    let canisters = icfuzz_test_canisters::canisters_dir();
    for path in ["adversary/src", "adversary/Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", canisters.join(path).display());
    }
    let wasm = icfuzz_test_canisters::wasm_path("adversary");
    println!("cargo:rustc-env=ADVERSARY_WASM={}", wasm.display());
}
