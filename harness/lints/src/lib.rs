//! Repository checks that run as ordinary tests, so `cargo test --workspace` enforces them in CI.
//!
//! The one check so far: **no import cycles between sibling modules of a crate.** DESIGN.md says each layer uses
//! only the layers above it; a cycle between two modules means neither can be read, tested or moved on its own.
//!
//! For every module `M` the check looks at the graph among `M`'s direct children, where child `A` depends on child
//! `B` when anything in `A`'s subtree names anything in `B`'s subtree (`use crate::b::…`, `super::b::…`,
//! `crate::b::Thing::new()` in code, such paths inside macro invocations, and re-exports followed to the module
//! that defines the item). A cycle among siblings is a violation. A module naming its own ancestors or descendants
//! is not, and `#[cfg(test)]` code is ignored: tests may reach anywhere.
//!
//! ```no_run
//! let roots = icfuzz_lints::crate_roots(std::path::Path::new("harness"));
//! let report = icfuzz_lints::check_all(&roots);
//! assert!(report.is_clean(), "{}", report.render(std::path::Path::new(".")));
//! ```
//!
//! It reads source only (syn, no compiler), so it sees every `cfg` branch except `cfg(test)`, and it does not
//! expand macros: a path built inside a `macro_rules!` body counts nowhere, a path written in an invocation counts
//! where the invocation is.

#![deny(missing_docs)]

mod collect;
mod cycles;
mod load;
mod model;
mod report;
mod resolve;
mod roots;

#[cfg(test)]
mod tests;

pub use report::{Cycle, Edge, Location, Report};
pub use roots::{crate_roots, package_roots, CrateRoot};

/// Checks one crate root: loads its module tree, resolves every reference and reports the sibling cycles.
///
/// Problems reading the tree (a missing module file, a parse error) are reported in [`Report::errors`]; the
/// modules that could be read are still checked.
pub fn check(root: &CrateRoot) -> Report {
    let (krate, errors) = load::load(&root.root_file);
    let mut report = cycles::find(&root.label, &krate);
    report.errors.extend(errors.into_iter().map(|e| format!("{}: {e}", root.label)));
    report
}

/// Checks several crate roots and merges their reports, in the order given.
pub fn check_all(roots: &[CrateRoot]) -> Report {
    let mut all = Report::default();
    for root in roots {
        let report = check(root);
        all.cycles.extend(report.cycles);
        all.errors.extend(report.errors);
    }
    all
}
