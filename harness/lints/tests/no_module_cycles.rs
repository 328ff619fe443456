//! The workspace's own crates have no import cycles between sibling modules (see the `icfuzz-lints` docs for the
//! rule). On failure the message lists every cycle with one `file:line` per edge: move or split what it names.
//! An edge's example may name a re-export (`crate::Thing`): it counts for the module that defines `Thing`.

use std::path::Path;

#[test]
fn no_module_cycles_in_harness_crates() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let harness = manifest_dir.parent().expect("harness/lints has a parent");
    let repo = harness.parent().unwrap_or(harness);
    let roots = icfuzz_lints::crate_roots(harness);
    // A wrong directory would find nothing and pass: insist on finding at least this crate.
    assert!(
        roots.iter().any(|r| r.root_file == manifest_dir.join("src/lib.rs")),
        "no crates found under {}: {roots:?}",
        harness.display()
    );
    let report = icfuzz_lints::check_all(&roots);
    assert!(
        report.is_clean(),
        "modules of one crate import each other in a cycle, or their source could not be read ({} crate roots checked):\n{}",
        roots.len(),
        report.render(repo)
    );
}
