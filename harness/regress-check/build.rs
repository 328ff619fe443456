//! Copies the test file named by `ICFUZZ_REGRESS_TEST` into `OUT_DIR`, where `tests/regression.rs` includes it;
//! without the variable the included file is empty.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=ICFUZZ_REGRESS_TEST");
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("regression.rs");
    let source = match std::env::var_os("ICFUZZ_REGRESS_TEST") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", Path::new(&path).display());
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", Path::new(&path).display()))
        }
        None => String::new(),
    };
    std::fs::write(&out, source).expect("writing into OUT_DIR");
}
