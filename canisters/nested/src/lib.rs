//! A store of nested documents, the shape of a comment thread or a JSON config: a document is a list of
//! documents, written with brackets (`[[][[]]]`). `store` parses it and measures the tree with recursive walks, as
//! production canisters walk their trees, so a document nested N deep takes N Rust frames. On the IC
//! the canister has 5 MiB of Wasm stack; documents a few tens of thousands deep fit there, and deeper ones trap
//! with a stack overflow (which the caller sees as a reject, nothing stored).

use std::cell::RefCell;

/// One document: its children, in order.
#[derive(Debug)]
struct Doc(Vec<Doc>);

thread_local! {
    /// Depth and element count of every stored document, by id (the trees themselves are not kept).
    static STORED: RefCell<Vec<(u64, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Parses a whole document. The parser keeps its own stack of open lists (so it never overflows); what recurses
/// is the measuring and dropping of the tree, as tree walks in production code do.
fn parse(text: &[u8]) -> Result<Doc, String> {
    let mut open: Vec<Vec<Doc>> = Vec::new();
    for (at, byte) in text.iter().enumerate() {
        match byte {
            b'[' => open.push(Vec::new()),
            b']' => {
                let done = Doc(open.pop().ok_or_else(|| format!("unbalanced `]` at byte {at}"))?);
                match open.last_mut() {
                    Some(parent) => parent.push(done),
                    None if at + 1 == text.len() => return Ok(done),
                    None => return Err(format!("trailing bytes after the document at {}", at + 1)),
                }
            }
            other => return Err(format!("unexpected byte {other:#04x} at {at}")),
        }
    }
    Err("unterminated document".into())
}

/// Nesting depth of `doc` (an empty document has depth 1).
fn depth(doc: &Doc) -> u64 {
    1 + doc.0.iter().map(depth).max().unwrap_or(0)
}

/// Number of documents in `doc`, itself included.
fn size(doc: &Doc) -> u64 {
    1 + doc.0.iter().map(size).sum::<u64>()
}

/// Parses and measures `document`; stores its depth and size and returns its id.
#[ic_cdk::update]
fn store(document: String) -> Result<u64, String> {
    let doc = parse(document.as_bytes())?;
    let measured = (depth(&doc), size(&doc));
    STORED.with_borrow_mut(|stored| {
        stored.push(measured);
        Ok(stored.len() as u64 - 1)
    })
}

/// Depth and size of document `id`.
#[ic_cdk::query]
fn stats(id: u64) -> Option<(u64, u64)> {
    STORED.with_borrow(|stored| stored.get(id as usize).copied())
}

ic_cdk::export_candid!();
