//! Empty: this package exists for its `regression` test target (see Cargo.toml), which compiles a test file that
//! `icfuzz regress` wrote, with `icfuzz` as its only dev-dependency, the way a user's crate would.
