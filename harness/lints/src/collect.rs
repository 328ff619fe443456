//! Walks one parsed file: adds its modules to the tree, records the names each defines and binds, and every path
//! that may name a module of the crate. File modules (`mod x;`) are returned to the loader rather than read here,
//! so one file's problems never stop another's.

use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ExprLit, Ident, Item, Lit, Meta, Token, UseTree};

use crate::model::{Crate, ModId, RawPath, Reference};
use crate::report::Location;

/// A file that may hold a module's source.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub(crate) path: PathBuf,
    /// Its child modules live beside it (`lib.rs`, `main.rs`, `mod.rs`, `#[path]` files), not in a directory named
    /// after it.
    pub(crate) owns_dir: bool,
}

/// A `mod x;` still to be read: the first candidate that exists is its source.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) module: ModId,
    pub(crate) candidates: Vec<Candidate>,
    /// The `mod x;` declaration (`None` for the crate root).
    pub(crate) declared: Option<Location>,
}

/// Adds what `ast` (the source of `module`, read from `file`) declares to `krate`; returns its file modules.
pub(crate) fn collect_file(
    krate: &mut Crate,
    module: ModId,
    file: &Path,
    owns_dir: bool,
    ast: &syn::File,
) -> Vec<Pending> {
    // `#![cfg(test)]` at the top of a file makes the whole module test-only.
    if is_test_only(&ast.attrs) {
        return Vec::new();
    }
    let file_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let child_dir = match (owns_dir, file.file_stem()) {
        (false, Some(stem)) => file_dir.join(stem),
        _ => file_dir.clone(),
    };
    let mut collector = Collector {
        krate,
        file,
        file_dir,
        child_dir,
        inline_dirs: Vec::new(),
        modules: vec![module],
        blocks: 0,
        pending: Vec::new(),
    };
    for item in &ast.items {
        collector.visit_item(item);
    }
    collector.pending
}

/// Whether `#[cfg(…)]` among `attrs` can only hold under `cfg(test)`.
pub(crate) fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| attr.path().is_ident("cfg") && attr.parse_args::<Meta>().is_ok_and(|m| needs_test(&m)))
}

fn needs_test(meta: &Meta) -> bool {
    let list = |meta: &syn::MetaList| meta.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok();
    match meta {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(l) if l.path.is_ident("all") => list(l).is_some_and(|ms| ms.iter().any(needs_test)),
        Meta::List(l) if l.path.is_ident("any") => {
            list(l).is_some_and(|ms| !ms.is_empty() && ms.iter().all(needs_test))
        }
        // `not(test)` and everything else holds in a normal build.
        _ => false,
    }
}

/// The value of `#[path = "…"]`, if any.
fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

fn name(ident: &Ident) -> String {
    ident.unraw().to_string()
}

struct Collector<'a> {
    krate: &'a mut Crate,
    file: &'a Path,
    /// The directory holding the file: where `#[path]` outside inline modules is relative to.
    file_dir: PathBuf,
    /// Where this file's `mod x;` look for `x.rs` and `x/mod.rs`.
    child_dir: PathBuf,
    /// Directories of the inline modules we are inside (their name, or their `#[path]`).
    inline_dirs: Vec<String>,
    /// The module stack; the last is the current module.
    modules: Vec<ModId>,
    /// How many blocks (function bodies, …) deep: items there are not reachable by module paths.
    blocks: usize,
    pending: Vec<Pending>,
}

impl Collector<'_> {
    fn current(&self) -> ModId {
        *self.modules.last().unwrap_or(&0)
    }

    fn location(&self, ident: &Ident, text: String) -> Location {
        Location { file: self.file.to_path_buf(), line: ident.span().start().line, text }
    }

    fn reference(&mut self, global: bool, segments: Vec<String>, at: &Ident) {
        let text = format!("{}{}", if global { "::" } else { "" }, segments.join("::"));
        let location = self.location(at, text);
        let path = RawPath { module: self.current(), global, segments };
        let module = self.current();
        self.krate.modules[module].refs.push(Reference { path, location });
    }

    fn define(&mut self, ident: &Ident) {
        if self.blocks == 0 {
            let module = self.current();
            self.krate.modules[module].items.insert(name(ident));
        }
    }

    fn declare_file_module(&mut self, module: ModId, item: &syn::ItemMod) {
        let inline_dir = self.inline_dirs.iter().fold(self.child_dir.clone(), |dir, d| dir.join(d));
        let candidates = match path_attr(&item.attrs) {
            // rustc: relative to the file's directory, unless inside an inline module.
            Some(p) if self.inline_dirs.is_empty() => vec![Candidate { path: self.file_dir.join(p), owns_dir: true }],
            Some(p) => vec![Candidate { path: inline_dir.join(p), owns_dir: true }],
            None => {
                let n = name(&item.ident);
                vec![
                    Candidate { path: inline_dir.join(format!("{n}.rs")), owns_dir: false },
                    Candidate { path: inline_dir.join(&n).join("mod.rs"), owns_dir: true },
                ]
            }
        };
        let declared = Some(self.location(&item.ident, self.krate.path_of(module)));
        self.pending.push(Pending { module, candidates, declared });
    }

    /// Records the bindings and references of one `use` tree; `prefix` holds the segments above it.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &UseTree, global: bool) {
        match tree {
            UseTree::Path(p) => {
                prefix.push(name(&p.ident));
                self.use_tree(prefix, &p.tree, global);
                prefix.pop();
            }
            UseTree::Name(n) => {
                let leaf = name(&n.ident);
                self.use_leaf(prefix, &leaf, &leaf, &n.ident, global);
            }
            UseTree::Rename(r) => {
                let leaf = name(&r.ident);
                self.use_leaf(prefix, &leaf, &name(&r.rename), &r.ident, global);
            }
            UseTree::Glob(g) => {
                let path = RawPath { module: self.current(), global, segments: prefix.clone() };
                if self.blocks == 0 {
                    let module = self.current();
                    self.krate.modules[module].globs.push(path);
                }
                let at = Ident::new("glob", g.star_token.span);
                self.reference(global, prefix.clone(), &at);
            }
            UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree, global);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], leaf: &str, binds: &str, at: &Ident, global: bool) {
        // `use a::b::{self}` binds `b` to `a::b`.
        let mut segments = prefix.to_vec();
        let binds = if leaf == "self" { prefix.last().cloned().unwrap_or_default() } else { binds.to_string() };
        if leaf != "self" {
            segments.push(leaf.to_string());
        }
        if segments.is_empty() {
            return;
        }
        if self.blocks == 0 && binds != "_" && !binds.is_empty() {
            let module = self.current();
            let path = RawPath { module, global, segments: segments.clone() };
            self.krate.modules[module].uses.insert(binds, path);
        }
        self.reference(global, segments, at);
    }

    /// Finds `crate::…`, `super::…` and `self::…` in a macro invocation's tokens, which syn leaves unparsed.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let is_sep = |i: usize| {
            matches!((tokens.get(i), tokens.get(i + 1)), (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
        };
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => self.scan_tokens(group.stream()),
                TokenTree::Ident(ident) if matches!(ident.to_string().as_str(), "crate" | "super" | "self") => {
                    // `$crate` belongs to a macro definition; `a::self` is the middle of a longer path.
                    let after_dollar = i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    if after_dollar || (i >= 2 && is_sep(i - 2)) {
                        continue;
                    }
                    let mut segments = vec![ident.to_string()];
                    let mut j = i + 1;
                    while is_sep(j) {
                        match tokens.get(j + 2) {
                            Some(TokenTree::Ident(next)) => segments.push(name(next)),
                            _ => break,
                        }
                        j += 3;
                    }
                    if segments.len() >= 2 {
                        self.reference(false, segments, ident);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast Item) {
        let attrs = match item {
            Item::Const(i) => &i.attrs,
            Item::Enum(i) => &i.attrs,
            Item::ExternCrate(i) => &i.attrs,
            Item::Fn(i) => &i.attrs,
            Item::ForeignMod(i) => &i.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Macro(i) => &i.attrs,
            Item::Mod(i) => &i.attrs,
            Item::Static(i) => &i.attrs,
            Item::Struct(i) => &i.attrs,
            Item::Trait(i) => &i.attrs,
            Item::TraitAlias(i) => &i.attrs,
            Item::Type(i) => &i.attrs,
            Item::Union(i) => &i.attrs,
            Item::Use(i) => &i.attrs,
            _ => return,
        };
        if is_test_only(attrs) {
            return;
        }
        match item {
            Item::Const(i) => self.define(&i.ident),
            Item::Enum(i) => self.define(&i.ident),
            Item::Fn(i) => self.define(&i.sig.ident),
            Item::Static(i) => self.define(&i.ident),
            Item::Struct(i) => self.define(&i.ident),
            Item::Trait(i) => self.define(&i.ident),
            Item::TraitAlias(i) => self.define(&i.ident),
            Item::Type(i) => self.define(&i.ident),
            Item::Union(i) => self.define(&i.ident),
            Item::ExternCrate(i) => {
                // `extern crate foo as bar;` binds `bar` to another crate: a path through it is external.
                let bound = i.rename.as_ref().map(|(_, r)| r).unwrap_or(&i.ident);
                if self.blocks == 0 && name(bound) != "_" {
                    let module = self.current();
                    let path = RawPath { module, global: true, segments: vec![name(&i.ident)] };
                    self.krate.modules[module].uses.insert(name(bound), path);
                }
                return;
            }
            _ => {}
        }
        visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let parent = self.current();
        let module = self.krate.child(parent, &name(&item.ident));
        let Some((_, items)) = &item.content else {
            self.declare_file_module(module, item);
            return;
        };
        self.inline_dirs.push(path_attr(&item.attrs).unwrap_or_else(|| name(&item.ident)));
        self.modules.push(module);
        // A module's own items are reachable by path even when it is declared inside a block.
        let blocks = std::mem::take(&mut self.blocks);
        for item in items {
            self.visit_item(item);
        }
        self.blocks = blocks;
        self.modules.pop();
        self.inline_dirs.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree, item.leading_colon.is_some());
    }

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        // A `macro_rules!` body is expanded elsewhere: its paths belong to the call sites, not here. Its name is an
        // item, so `pub(crate) use name;` beside it resolves here.
        if item.mac.path.is_ident("macro_rules") {
            if let Some(ident) = &item.ident {
                self.define(ident);
            }
            return;
        }
        self.visit_macro(&item.mac);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.scan_tokens(mac.tokens.clone());
    }

    fn visit_foreign_item(&mut self, item: &'ast syn::ForeignItem) {
        match item {
            syn::ForeignItem::Fn(f) if !is_test_only(&f.attrs) => self.define(&f.sig.ident),
            syn::ForeignItem::Static(s) if !is_test_only(&s.attrs) => self.define(&s.ident),
            syn::ForeignItem::Type(t) if !is_test_only(&t.attrs) => self.define(&t.ident),
            _ => return,
        }
        visit::visit_foreign_item(self, item);
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        let attrs = match item {
            syn::TraitItem::Const(i) => &i.attrs,
            syn::TraitItem::Fn(i) => &i.attrs,
            syn::TraitItem::Type(i) => &i.attrs,
            syn::TraitItem::Macro(i) => &i.attrs,
            _ => return visit::visit_trait_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let test_only = match stmt {
            syn::Stmt::Local(local) => is_test_only(&local.attrs),
            syn::Stmt::Macro(mac) => is_test_only(&mac.attrs),
            _ => false,
        };
        if !test_only {
            visit::visit_stmt(self, stmt);
        }
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        if !is_test_only(&arm.attrs) {
            visit::visit_arm(self, arm);
        }
    }

    fn visit_field(&mut self, field: &'ast syn::Field) {
        if !is_test_only(&field.attrs) {
            visit::visit_field(self, field);
        }
    }

    fn visit_variant(&mut self, variant: &'ast syn::Variant) {
        if !is_test_only(&variant.attrs) {
            visit::visit_variant(self, variant);
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.blocks += 1;
        visit::visit_block(self, block);
        self.blocks -= 1;
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let anchored =
            path.segments.first().is_some_and(|s| s.ident == "crate" || s.ident == "super" || s.ident == "self");
        if path.leading_colon.is_none() && anchored && path.segments.len() >= 2 {
            let segments = path.segments.iter().map(|s| name(&s.ident)).collect();
            self.reference(false, segments, &path.segments[0].ident);
        }
        // Generic arguments hold more paths.
        visit::visit_path(self, path);
    }

    // `pub(in crate::a)` and `pub(super)` name an ancestor by definition: never a dependency.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    // Attributes are docs, derives and lints: no code that depends on a module.
    fn visit_attribute(&mut self, _: &'ast Attribute) {}
}
