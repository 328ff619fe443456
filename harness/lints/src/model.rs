//! What the loader learns about a crate: its module tree and, per module, the names it defines and the paths it
//! writes. Resolution happens later, once every module is known, because a path may name a module loaded after it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::report::Location;

/// Index of a module in [`Crate::modules`]; the crate root is `0`.
pub(crate) type ModId = usize;

/// The crate root's id.
pub(crate) const ROOT: ModId = 0;

/// A crate's module tree.
#[derive(Debug, Default)]
pub(crate) struct Crate {
    pub(crate) modules: Vec<Module>,
}

/// One module, inline or from a file.
#[derive(Debug, Default)]
pub(crate) struct Module {
    /// The files it was read from: none for inline modules, more than one for `#[cfg]` variants.
    pub(crate) files: Vec<PathBuf>,
    /// Its name in its parent (empty for the root).
    pub(crate) name: String,
    pub(crate) parent: Option<ModId>,
    pub(crate) children: BTreeMap<String, ModId>,
    /// Names of items defined here (types, functions, consts, …): a path ending in one resolves to this module.
    pub(crate) items: BTreeSet<String>,
    /// `use` bindings at module level: the name they bind and the path it stands for (re-exports are followed).
    pub(crate) uses: BTreeMap<String, RawPath>,
    /// `use …::*` at module level.
    pub(crate) globs: Vec<RawPath>,
    /// Every path written in this module's own code (not its children's) that may name a module of the crate.
    pub(crate) refs: Vec<Reference>,
}

/// A path as written, before resolution.
#[derive(Clone, Debug)]
pub(crate) struct RawPath {
    /// The module it is written in (where `self`, `super` and uniform `use` paths start).
    pub(crate) module: ModId,
    /// Starts with `::`: always an external crate.
    pub(crate) global: bool,
    /// Segments with their keywords (`crate`, `super`, `self`) kept, generics dropped.
    pub(crate) segments: Vec<String>,
}

/// A path written somewhere, with where.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    pub(crate) path: RawPath,
    pub(crate) location: Location,
}

impl Crate {
    /// Adds a child module (or returns the existing one of that name: `#[cfg]` variants of one module merge).
    pub(crate) fn child(&mut self, parent: ModId, name: &str) -> ModId {
        if let Some(&id) = self.modules[parent].children.get(name) {
            return id;
        }
        let id = self.modules.len();
        self.modules.push(Module { name: name.to_string(), parent: Some(parent), ..Module::default() });
        self.modules[parent].children.insert(name.to_string(), id);
        id
    }

    /// The module's ancestors from the root down to the module itself.
    pub(crate) fn lineage(&self, mut id: ModId) -> Vec<ModId> {
        let mut chain = vec![id];
        while let Some(parent) = self.modules[id].parent {
            chain.push(parent);
            id = parent;
        }
        chain.reverse();
        chain
    }

    /// `a::b::c` for a module, `crate` for the root.
    pub(crate) fn path_of(&self, id: ModId) -> String {
        let names: Vec<&str> = self.lineage(id).iter().skip(1).map(|&m| self.modules[m].name.as_str()).collect();
        if names.is_empty() {
            "crate".to_string()
        } else {
            names.join("::")
        }
    }
}
