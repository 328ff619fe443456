//! The check's result, and how it reads: one line per cycle, then one indented line per edge saying where the
//! reference that creates it is, so a developer knows what to move. Cycles through the same modules are listed
//! together with their edges once.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a reference is written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The source file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The path as written, e.g. `crate::environment::substitute`.
    pub text: String,
}

/// One dependency between two sibling modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The depending module, as a path from the crate root (`backend`, `module::rewrite`).
    pub from: String,
    /// The module depended on.
    pub to: String,
    /// The first reference (by file, then line) that creates the edge.
    pub example: Location,
    /// How many references create it.
    pub count: usize,
}

/// A cycle among the children of one module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The crate (or binary) it is in, e.g. `icfuzz` or `icfuzz-cli (bin)`.
    pub krate: String,
    /// Cycles of one crate with the same group share a strongly connected set of modules: the report lists them
    /// together and their edges once.
    pub group: usize,
    /// The modules in order, the first repeated at the end: `[a, b, a]`.
    pub modules: Vec<String>,
    /// One edge per step of the cycle.
    pub edges: Vec<Edge>,
}

/// Everything the check found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The cycles, grouped by crate and by the module whose children they join.
    pub cycles: Vec<Cycle>,
    /// Problems reading the source (missing module files, parse errors), one line each.
    pub errors: Vec<String>,
}

impl Report {
    /// No cycles and no errors.
    pub fn is_clean(&self) -> bool {
        self.cycles.is_empty() && self.errors.is_empty()
    }

    /// The report as text, with file names shown relative to `base` where they are under it.
    pub fn render(&self, base: &Path) -> String {
        let mut out = String::new();
        let mut rest = &self.cycles[..];
        while let Some(first) = rest.first() {
            let len = rest.iter().take_while(|c| c.krate == first.krate && c.group == first.group).count();
            let (group, tail) = rest.split_at(len);
            rest = tail;
            for cycle in group {
                out.push_str(&format!("{}: {}\n", cycle.krate, cycle.modules.join(" → ")));
            }
            // A big group has many cycles over the same few edges: each edge once, in order of first appearance.
            let mut shown: Vec<(&str, &str)> = Vec::new();
            for edge in group.iter().flat_map(|c| &c.edges) {
                if shown.contains(&(edge.from.as_str(), edge.to.as_str())) {
                    continue;
                }
                shown.push((&edge.from, &edge.to));
                let file = edge.example.file.strip_prefix(base).unwrap_or(&edge.example.file);
                let more = match edge.count {
                    1 => String::new(),
                    n => format!("; {n} references"),
                };
                out.push_str(&format!(
                    "    {} → {}: {}:{} ({}{more})\n",
                    edge.from,
                    edge.to,
                    file.display(),
                    edge.example.line,
                    edge.example.text
                ));
            }
        }
        // Errors are plain lines that embed absolute paths; shortening them the same way keeps the report uniform.
        let prefix = format!("{}/", base.display());
        for error in &self.errors {
            let error = if base.as_os_str().is_empty() { error.clone() } else { error.replace(&prefix, "") };
            out.push_str(&format!("error: {error}\n"));
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Path::new("")))
    }
}
