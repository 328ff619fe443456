//! Reads a crate's source by following `mod` declarations from its root file, the way rustc finds module files.
//! Every problem becomes an error line and the rest of the tree is still read: the check never panics on input.

use std::collections::VecDeque;
use std::path::{Component, Path, PathBuf};

use crate::collect::{collect_file, Candidate, Pending};
use crate::model::{Crate, Module, ROOT};

/// Loads the module tree rooted at `root_file` (`src/lib.rs`, `src/main.rs`, …).
pub(crate) fn load(root_file: &Path) -> (Crate, Vec<String>) {
    let mut krate = Crate { modules: vec![Module::default()] };
    let mut errors = Vec::new();
    let root = Candidate { path: normalize(root_file), owns_dir: true };
    let mut queue = VecDeque::from([Pending { module: ROOT, candidates: vec![root], declared: None }]);
    while let Some(pending) = queue.pop_front() {
        let candidates: Vec<Candidate> =
            pending.candidates.iter().map(|c| Candidate { path: normalize(&c.path), owns_dir: c.owns_dir }).collect();
        let Some(found) = candidates.iter().find(|c| c.path.is_file()) else {
            let tried: Vec<String> = candidates.iter().map(|c| c.path.display().to_string()).collect();
            errors.push(match &pending.declared {
                Some(at) => format!(
                    "module `{}` declared at {}:{} has no file (looked for {})",
                    at.text,
                    at.file.display(),
                    at.line,
                    tried.join(" and ")
                ),
                None => format!("crate root {} does not exist", tried.join(" and ")),
            });
            continue;
        };
        // `#[cfg]` variants of one `mod x;` name the same file: read it once.
        if krate.modules[pending.module].files.contains(&found.path) {
            continue;
        }
        // A `#[path]` back to a file above would nest the same modules forever.
        let lineage = krate.lineage(pending.module);
        if lineage[..lineage.len() - 1].iter().any(|&m| krate.modules[m].files.contains(&found.path)) {
            let at = pending
                .declared
                .as_ref()
                .map(|at| format!("module `{}` declared at {}:{}", at.text, at.file.display(), at.line));
            errors.push(format!("{} is {}, which contains it", at.unwrap_or_default(), found.path.display()));
            continue;
        }
        krate.modules[pending.module].files.push(found.path.clone());
        let text = match std::fs::read_to_string(&found.path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(format!("{}: cannot read: {e}", found.path.display()));
                continue;
            }
        };
        let ast = match syn::parse_file(&text) {
            Ok(ast) => ast,
            Err(e) => {
                errors.push(format!("{}:{}: cannot parse: {e}", found.path.display(), e.span().start().line));
                continue;
            }
        };
        queue.extend(collect_file(&mut krate, pending.module, &found.path, found.owns_dir, &ast));
    }
    (krate, errors)
}

/// Removes `.` and `..` without touching the file system, so a `#[path = "../../x.rs"]` file reads as `x.rs`'s
/// real location in the report.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
