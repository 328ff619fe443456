//! Which module of the crate a path names. Re-exports are followed to the module that defines the item, so that
//! `crate::Thing` (re-exported by the root from module `a`) counts as a dependency on `a`, not on the root:
//! otherwise importing through the root's re-export would hide a cycle without removing it.

use crate::model::{Crate, ModId, RawPath, ROOT};

/// Longer re-export chains than this are not followed (real ones are two or three long).
const MAX_DEPTH: usize = 16;

/// What a path, or a prefix of it, names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A module of the crate.
    Module(ModId),
    /// An item defined in (or, when the name is unknown, under) this module.
    Item(ModId),
    /// Something outside the crate, or a path that cannot be resolved.
    Outside,
}

/// The deepest module of the crate that `path` names, or `None` for paths into other crates.
pub(crate) fn module_of(krate: &Crate, path: &RawPath) -> Option<ModId> {
    let mut resolver = Resolver { krate, looking_up: Vec::new() };
    match resolver.resolve(path) {
        Target::Module(m) | Target::Item(m) => Some(m),
        Target::Outside => None,
    }
}

struct Resolver<'a> {
    krate: &'a Crate,
    /// The names being looked up, innermost last: a name met again is a loop (`use a::x` ⇄ `use b::x`, or
    /// `pub(crate) use mac;` beside `macro_rules! mac`), and following it again would never end.
    looking_up: Vec<(ModId, String)>,
}

impl Resolver<'_> {
    fn resolve(&mut self, path: &RawPath) -> Target {
        let Some(first) = path.segments.first() else { return Target::Module(path.module) };
        if path.global {
            return Target::Outside;
        }
        match first.as_str() {
            "crate" => self.walk(ROOT, &path.segments[1..]),
            "self" => self.walk(path.module, &path.segments[1..]),
            "super" => {
                let supers = path.segments.iter().take_while(|s| *s == "super").count();
                let mut module = path.module;
                for _ in 0..supers {
                    match self.krate.modules[module].parent {
                        Some(parent) => module = parent,
                        None => return Target::Outside,
                    }
                }
                self.walk(module, &path.segments[supers..])
            }
            // A `use` path that starts with a plain name: a name in this module if there is one (2018 uniform
            // paths), else another crate.
            name => match self.lookup(path.module, name) {
                Some(Target::Module(m)) => self.walk(m, &path.segments[1..]),
                Some(other) => other,
                None => Target::Outside,
            },
        }
    }

    fn walk(&mut self, mut module: ModId, segments: &[String]) -> Target {
        for segment in segments {
            match self.lookup(module, segment) {
                Some(Target::Module(m)) => module = m,
                Some(other) => return other,
                // An associated item, enum variant or something defined by a macro: the path names this module.
                None => return Target::Item(module),
            }
        }
        Target::Module(module)
    }

    /// What `name` means inside `module`: a child module, a `use` binding, an item, or a name a glob brings in.
    fn lookup(&mut self, module: ModId, name: &str) -> Option<Target> {
        if let Some(&child) = self.krate.modules[module].children.get(name) {
            return Some(Target::Module(child));
        }
        let key = (module, name.to_string());
        if self.looking_up.contains(&key) || self.looking_up.len() > MAX_DEPTH {
            return None;
        }
        self.looking_up.push(key);
        let found = self.lookup_binding(module, name);
        self.looking_up.pop();
        found
    }

    fn lookup_binding(&mut self, module: ModId, name: &str) -> Option<Target> {
        let krate = self.krate;
        let m = &krate.modules[module];
        if let Some(binding) = m.uses.get(name) {
            match self.resolve(binding) {
                // A binding that leads back to itself, beside an item of that name: the item is here.
                Target::Outside if m.items.contains(name) => return Some(Target::Item(module)),
                target => return Some(target),
            }
        }
        if m.items.contains(name) {
            return Some(Target::Item(module));
        }
        m.globs.iter().find_map(|glob| match self.resolve(glob) {
            Target::Module(source) if source != module => self.lookup(source, name),
            _ => None,
        })
    }
}
