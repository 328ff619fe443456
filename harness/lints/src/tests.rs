//! The checker on small source trees written to a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{check, CrateRoot, Report};

/// A source tree in its own temporary directory, removed when dropped.
struct Tree {
    dir: PathBuf,
}

impl Tree {
    /// Writes `files` (path relative to the tree, contents) and returns the tree.
    fn new(files: &[(&str, &str)]) -> Tree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!("icfuzz-lints-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = std::env::temp_dir().join(unique);
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Tree { dir }
    }

    fn check(&self) -> Report {
        check(&CrateRoot { label: "t".to_string(), root_file: self.dir.join("src/lib.rs") })
    }

    /// The report with paths relative to the tree.
    fn render(&self) -> String {
        self.check().render(&self.dir)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cycles(report: &Report) -> Vec<String> {
    report.cycles.iter().map(|c| format!("{}: {}", c.krate, c.modules.join(" → "))).collect()
}

#[test]
fn two_module_cycle_is_found() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        ("src/b.rs", "pub struct B;\n\npub fn make() -> crate::a::A {\n    crate::a::A\n}\n"),
    ]);
    let report = tree.check();
    assert_eq!(cycles(&report), ["t: a → b → a"]);
    assert_eq!(
        tree.render(),
        "t: a → b → a\n    a → b: src/a.rs:1 (crate::b::B)\n    b → a: src/b.rs:3 (crate::a::A; 2 references)\n"
    );
}

#[test]
fn parent_child_references_are_not_cycles() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod p;\npub use p::X;\nfn f() -> crate::p::Y { p::Y }\n"),
        ("src/p/mod.rs", "mod c;\npub use c::X;\npub struct Y;\nfn g() -> c::X { self::c::X }\n"),
        (
            "src/p/c.rs",
            "use super::Y;\npub struct X;\nfn h() -> crate::p::Y { super::super::p::Y }\nfn i() -> crate::X { X }\n",
        ),
    ]);
    let report = tree.check();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn test_only_references_are_ignored() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "pub struct B;\n\
             #[cfg(test)]\nmod tests { use crate::a::A; }\n\
             #[cfg(test)]\nmod more;\n\
             #[cfg(all(test, unix))]\nfn t() -> crate::a::A { crate::a::A }\n\
             #[cfg(test)]\nuse crate::a::A;\n\
             impl B {\n    #[cfg(test)]\n    fn t(&self) -> crate::a::A { crate::a::A }\n}\n",
        ),
    ]);
    let report = tree.check();
    // `more.rs` does not exist: a test-only module is not even read.
    assert!(report.is_clean(), "{report}");

    // `not(test)` is normal code.
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        ("src/b.rs", "pub struct B;\n#[cfg(not(test))]\nfn t() -> crate::a::A { crate::a::A }\n"),
    ]);
    assert_eq!(cycles(&tree.check()), ["t: a → b → a"]);
}

#[test]
fn three_module_cycle_is_reported_with_its_path() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod c;\nmod a;\nmod b;\n"),
        ("src/a.rs", "pub struct A;\nfn f() { let _ = crate::b::B; }\n"),
        ("src/b.rs", "pub struct B;\nuse super::c::C as Renamed;\n"),
        ("src/c.rs", "pub struct C;\n\n\nfn g() { println!(\"{:?}\", crate::a::A as usize); }\n"),
    ]);
    assert_eq!(
        tree.render(),
        "t: a → b → c → a\n    a → b: src/a.rs:2 (crate::b::B)\n    b → c: src/b.rs:2 (super::c::C)\n    \
         c → a: src/c.rs:4 (crate::a::A)\n"
    );
}

#[test]
fn path_attributes_and_inline_modules_are_followed() {
    let tree = Tree::new(&[
        (
            "src/lib.rs",
            "#[path = \"elsewhere/named.rs\"]\nmod a;\nmod outer {\n\
             pub mod inner {\n pub struct Uses(crate::a::A);\n }\n mod deep;\n}\n",
        ),
        ("src/elsewhere/named.rs", "pub struct A;\nmod beside;\n"),
        // A `#[path]` file owns its directory, like `mod.rs`: `beside.rs` sits next to it.
        ("src/elsewhere/beside.rs", "fn f() -> crate::outer::inner::Uses { todo!() }\n"),
        // Inside the inline `outer` of a mod-rs file: `src/outer/deep.rs`.
        ("src/outer/deep.rs", "fn g() -> crate::a::A { todo!() }\n"),
    ]);
    let report = tree.check();
    assert_eq!(cycles(&report), ["t: a → outer → a"], "{report}");
    // Two references make `outer → a`: so `deep.rs` was read.
    assert_eq!(
        tree.render(),
        "t: a → outer → a\n    a → outer: src/elsewhere/beside.rs:1 (crate::outer::inner::Uses)\n    \
         outer → a: src/lib.rs:5 (crate::a::A; 2 references)\n"
    );
}

#[test]
fn cycles_below_the_root_are_named_by_full_path() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod m;\n"),
        ("src/m/mod.rs", "mod x;\nmod y;\n"),
        ("src/m/x.rs", "use super::y::Y;\npub struct X;\n"),
        ("src/m/y.rs", "use crate::m::x::X;\npub struct Y;\n"),
    ]);
    assert_eq!(cycles(&tree.check()), ["t: m::x → m::y → m::x"]);
}

#[test]
fn re_exports_are_followed_to_the_defining_module() {
    // `crate::B` is `b::B`: going through the root's re-export does not hide the cycle.
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\npub use b::*;\npub use a::A as Alias;\n"),
        ("src/a.rs", "pub struct A;\nfn f(_: crate::B) {}\n"),
        ("src/b.rs", "pub struct B;\nuse crate::Alias;\n"),
    ]);
    assert_eq!(cycles(&tree.check()), ["t: a → b → a"]);
}

#[test]
fn test_only_statements_fields_and_arms_are_ignored() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "pub struct B { #[cfg(test)] a: crate::a::A }\n\
             pub enum E { #[cfg(test)] V(crate::a::A) }\n\
             fn f(x: u8) {\n    #[cfg(test)]\n    let _ = crate::a::A;\n    \
             match x { #[cfg(test)] 0 => drop(crate::a::A), _ => {} }\n}\n",
        ),
    ]);
    let report = tree.check();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn paths_to_re_exported_macros_are_references() {
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\nmacro_rules! mac { () => {} }\npub(crate) use mac;\n"),
        ("src/b.rs", "pub struct B;\nfn f() { crate::a::mac!(); }\n"),
    ]);
    assert_eq!(cycles(&tree.check()), ["t: a → b → a"]);
}

#[test]
fn other_crates_and_macro_definitions_are_not_references() {
    let tree = Tree::new(&[
        ("src/lib.rs", "pub use std as a_std;\nmod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "pub struct B;\nuse crate::a_std::fmt;\nmacro_rules! m { () => { $crate::a::A } }\n\
             fn f() { let _ = ::a::A; }\n",
        ),
    ]);
    let report = tree.check();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_bigger_group_lists_a_cycle_through_every_edge() {
    // a ⇄ b and b ⇄ c: one strongly connected group, two cycles, all four edges shown.
    let tree = Tree::new(&[
        ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("src/a.rs", "pub struct A;\nuse crate::b::B;\n"),
        ("src/b.rs", "pub struct B;\nuse crate::a::A;\nuse crate::c::C;\n"),
        ("src/c.rs", "pub struct C;\nuse crate::b::B;\n"),
    ]);
    assert_eq!(cycles(&tree.check()), ["t: a → b → a", "t: b → c → b"]);
    assert_eq!(
        tree.render(),
        "t: a → b → a\nt: b → c → b\n    a → b: src/a.rs:2 (crate::b::B)\n    b → a: src/b.rs:2 (crate::a::A)\n    \
         b → c: src/b.rs:3 (crate::c::C)\n    c → b: src/c.rs:2 (crate::b::B)\n"
    );

    // Two separate groups each get their own edge list.
    let tree = Tree::new(&[
        (
            "src/lib.rs",
            "mod a;
mod b;
mod c;
mod d;
",
        ),
        (
            "src/a.rs",
            "pub struct A;
use crate::b::B;
",
        ),
        (
            "src/b.rs",
            "pub struct B;
use crate::a::A;
use crate::c::C;
",
        ),
        (
            "src/c.rs",
            "pub struct C;
use crate::d::D;
",
        ),
        (
            "src/d.rs",
            "pub struct D;
use crate::c::C;
",
        ),
    ]);
    assert_eq!(
        tree.render(),
        "t: a → b → a\n    a → b: src/a.rs:2 (crate::b::B)\n    b → a: src/b.rs:2 (crate::a::A)\n\
         t: c → d → c\n    c → d: src/c.rs:2 (crate::d::D)\n    d → c: src/d.rs:2 (crate::c::C)\n"
    );
}

#[test]
fn a_missing_module_file_is_an_error_not_a_panic() {
    let tree = Tree::new(&[("src/lib.rs", "mod a;\nmod gone;\n"), ("src/a.rs", "pub struct A;\nfn broken( {\n")]);
    let report = tree.check();
    assert!(report.cycles.is_empty());
    let rendered = tree.render();
    assert!(rendered.contains("error: t: module `gone` declared at src/lib.rs:2 has no file"), "{rendered}");
    assert!(rendered.contains("error: t: src/a.rs:") && rendered.contains("cannot parse"), "{rendered}");
    assert!(!report.is_clean());
}

#[test]
fn loops_in_the_source_end() {
    // Globs that import each other, a re-export of itself, and a file that declares itself as its own child.
    let tree = Tree::new(&[(
        "src/lib.rs",
        "pub use a::*;\n\
         mod a { pub use super::*; pub use self::X as X; }\n\
         mod b { fn f() -> crate::Missing { crate::a::X } }\n\
         #[path = \"lib.rs\"]\nmod again;\n",
    )]);
    let rendered = tree.render();
    assert_eq!(rendered, "error: t: module `again` declared at src/lib.rs:5 is src/lib.rs, which contains it\n");
}

#[test]
fn cfg_variants_of_one_module_are_read_once() {
    let tree = Tree::new(&[
        (
            "src/lib.rs",
            "#[cfg(unix)]\nmod a;\n#[cfg(not(unix))]\nmod a;\n\
             #[cfg(windows)]\n#[path = \"b_win.rs\"]\nmod b;\nmod b;\n",
        ),
        ("src/a.rs", "use crate::b::B;\n"),
        ("src/b.rs", "pub struct B;\n"),
        ("src/b_win.rs", "pub struct B;\nfn f() { crate::a::g(); }\n"),
    ]);
    let report = tree.check();
    assert!(report.errors.is_empty(), "{report}");
    // Both files of `b` count: the Windows one makes the cycle; `a.rs`'s one reference is counted once.
    assert_eq!(
        tree.render(),
        "t: a → b → a\n    a → b: src/a.rs:1 (crate::b::B)\n    b → a: src/b_win.rs:2 (crate::a::g)\n"
    );
}

#[test]
fn a_missing_crate_root_is_an_error() {
    let report = check(&CrateRoot { label: "t".to_string(), root_file: Path::new("/nonexistent/src/lib.rs").into() });
    assert_eq!(report.errors, ["t: crate root /nonexistent/src/lib.rs does not exist"]);
}

#[test]
fn roots_are_found_for_libraries_and_binaries() {
    let tree = Tree::new(&[
        ("pkg/Cargo.toml", "[package]\nname = \"the-pkg\"\n\n[dependencies]\nname = \"x\"\n"),
        ("pkg/src/lib.rs", ""),
        ("pkg/src/main.rs", ""),
        ("pkg/src/bin/tool.rs", ""),
        ("pkg/src/bin/other/main.rs", ""),
        ("not-a-package/src/lib.rs", ""),
    ]);
    let labels: Vec<String> = crate::crate_roots(&tree.dir).into_iter().map(|r| r.label).collect();
    assert_eq!(labels, ["the-pkg", "the-pkg (bin)", "the-pkg (bin other)", "the-pkg (bin tool)"]);
}
