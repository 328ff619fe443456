//! Stable memory: sparse 64 KiB pages with an undo journal for rollback.
//!
//! Pages that were never written read as zeros and cost nothing, so a canister growing stable memory to its
//! 500 GiB maximum cannot exhaust the harness. Every write in an execution first saves the page's old contents in
//! the journal; a trap undoes exactly those pages, so rollback costs what the execution touched.

use std::collections::{BTreeMap, BTreeSet};

use crate::limits::{MAX_STABLE_MEMORY, OS_PAGE, WASM_PAGE};

const PAGE: usize = WASM_PAGE as usize;

type Page = Box<[u8; PAGE]>;

/// A canister's stable memory.
#[derive(Clone, Debug, Default)]
pub(crate) struct StableMemory {
    size_pages: u64,
    pages: BTreeMap<u64, Page>,
    /// Undo log of the current execution.
    journal: Option<Journal>,
    /// Undo log since the subnet snapshot with this id, so restoring it costs the pages written since.
    since_snapshot: Option<(u64, Journal)>,
}

#[derive(Clone, Debug)]
struct Journal {
    size_pages: u64,
    /// Old contents of each page written since the journal began (`None`: the page did not exist).
    saved: BTreeMap<u64, Option<Page>>,
    /// The 4 KiB OS pages written since the journal began: the replica's dirty-page limit counts these, not the
    /// 64 KiB pages stable memory is stored in (one byte in each of many pages is not 64 KiB each).
    dirty: BTreeSet<u64>,
}

/// Why a stable-memory access failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StableError {
    /// The range is beyond the current size.
    OutOfBounds,
    /// The execution dirtied more pages than allowed.
    DirtyLimit,
}

impl StableMemory {
    /// Size in pages.
    pub(crate) fn size_pages(&self) -> u64 {
        self.size_pages
    }

    /// Starts recording changes so they can be undone.
    pub(crate) fn begin(&mut self) {
        self.journal = Some(Journal { size_pages: self.size_pages, saved: BTreeMap::new(), dirty: BTreeSet::new() });
    }

    /// Keeps the changes since `begin`.
    pub(crate) fn commit(&mut self) {
        self.journal = None;
    }

    /// Undoes every change since `begin`.
    pub(crate) fn rollback(&mut self) {
        if let Some(journal) = self.journal.take() {
            self.undo(journal);
        }
    }

    fn undo(&mut self, journal: Journal) {
        self.size_pages = journal.size_pages;
        for (index, old) in journal.saved {
            match old {
                Some(page) => {
                    self.pages.insert(index, page);
                }
                None => {
                    self.pages.remove(&index);
                }
            }
        }
    }

    /// Starts recording changes since subnet snapshot `id` (see [`StableMemory::restore_snapshot`]).
    pub(crate) fn mark_snapshot(&mut self, id: u64) {
        self.since_snapshot = Some((id, Journal { size_pages: self.size_pages, saved: BTreeMap::new(), dirty: BTreeSet::new() }));
    }

    /// Undoes every change since `mark_snapshot(id)`; `false` (and nothing done) if recording is for another id.
    pub(crate) fn restore_snapshot(&mut self, id: u64) -> bool {
        match self.since_snapshot.take() {
            Some((marked, journal)) if marked == id => {
                self.undo(journal);
                self.mark_snapshot(id);
                true
            }
            other => {
                self.since_snapshot = other;
                false
            }
        }
    }

    /// The contents without any journal, for storing in a snapshot.
    pub(crate) fn detached(&self) -> StableMemory {
        StableMemory { size_pages: self.size_pages, pages: self.pages.clone(), journal: None, since_snapshot: None }
    }

    /// Grows by `delta` pages; returns the old size, or `None` past `max_pages` (the caller returns −1).
    pub(crate) fn grow(&mut self, delta: u64, max_pages: u64) -> Option<u64> {
        let old = self.size_pages;
        let new = old.checked_add(delta)?;
        if new > max_pages.min(MAX_STABLE_MEMORY / WASM_PAGE) {
            return None;
        }
        self.size_pages = new;
        Some(old)
    }

    /// Reads `out.len()` bytes at `offset`.
    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), StableError> {
        self.check(offset, out.len() as u64)?;
        let mut done = 0usize;
        while done < out.len() {
            let at = offset + done as u64;
            let (index, within) = (at / WASM_PAGE, (at % WASM_PAGE) as usize);
            let n = (PAGE - within).min(out.len() - done);
            match self.pages.get(&index) {
                Some(page) => out[done..done + n].copy_from_slice(&page[within..within + n]),
                None => out[done..done + n].fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// The 4 KiB OS pages written since the journal began (the current execution's dirty pages).
    pub(crate) fn dirty_pages(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.dirty.len() as u64)
    }

    /// Writes `data` at `offset`, journaling each page's old contents first. `dirty_limit` is in 4 KiB OS pages
    /// written by the current execution.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8], dirty_limit: u64) -> Result<(), StableError> {
        self.check(offset, data.len() as u64)?;
        let mut done = 0usize;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / WASM_PAGE, (at % WASM_PAGE) as usize);
            let n = (PAGE - within).min(data.len() - done);
            if let Some(journal) = self.journal.as_mut() {
                let os_pages = at / OS_PAGE..=(at + n as u64 - 1) / OS_PAGE;
                let new = os_pages.clone().filter(|p| !journal.dirty.contains(p)).count() as u64;
                if journal.dirty.len() as u64 + new > dirty_limit {
                    return Err(StableError::DirtyLimit);
                }
                journal.dirty.extend(os_pages);
                journal.saved.entry(index).or_insert_with(|| self.pages.get(&index).cloned());
            }
            if let Some((_, journal)) = self.since_snapshot.as_mut() {
                journal.saved.entry(index).or_insert_with(|| self.pages.get(&index).cloned());
            }
            let page = self.pages.entry(index).or_insert_with(|| Box::new([0; PAGE]));
            page[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), StableError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size_pages * WASM_PAGE => Ok(()),
            _ => Err(StableError::OutOfBounds),
        }
    }

    /// Feeds size and contents to a hasher (zero pages and absent pages hash alike).
    pub(crate) fn hash_into(&self, hasher: &mut impl sha2::Digest) {
        hasher.update(self.size_pages.to_le_bytes());
        for (index, page) in &self.pages {
            if *index < self.size_pages && page.iter().any(|b| *b != 0) {
                hasher.update(index.to_le_bytes());
                hasher.update(&page[..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_contents_and_size() {
        let mut s = StableMemory::default();
        s.grow(1, u64::MAX).unwrap();
        s.write(10, b"keep", u64::MAX).unwrap();
        s.begin();
        s.grow(2, u64::MAX).unwrap();
        s.write(10, b"lose", u64::MAX).unwrap();
        s.write(WASM_PAGE * 2 + 5, b"x", u64::MAX).unwrap();
        s.rollback();
        let mut out = [0u8; 4];
        s.read(10, &mut out).unwrap();
        assert_eq!(&out, b"keep");
        assert_eq!(s.size_pages(), 1);
        assert_eq!(s.read(WASM_PAGE, &mut out), Err(StableError::OutOfBounds));
    }

    #[test]
    fn snapshot_journal_restores_only_to_its_snapshot() {
        let mut s = StableMemory::default();
        s.grow(1, u64::MAX).unwrap();
        s.write(0, b"one", u64::MAX).unwrap();
        s.mark_snapshot(7);
        s.begin();
        s.write(0, b"two", u64::MAX).unwrap();
        s.grow(1, u64::MAX).unwrap();
        s.commit();
        assert!(!s.restore_snapshot(8));
        assert!(s.restore_snapshot(7));
        let mut out = [0u8; 3];
        s.read(0, &mut out).unwrap();
        assert_eq!(&out, b"one");
        assert_eq!(s.size_pages(), 1);
        // Still recording for snapshot 7: restoring again after more writes works too.
        s.write(0, b"3!!", u64::MAX).unwrap();
        assert!(s.restore_snapshot(7));
        s.read(0, &mut out).unwrap();
        assert_eq!(&out, b"one");
    }

    #[test]
    fn writes_across_pages_and_dirty_limit() {
        let mut s = StableMemory::default();
        s.grow(40, u64::MAX).unwrap();
        s.begin();
        // Spans the 64 KiB pages 0, 1 and 2: OS pages 15 to 32, 18 of them.
        let data = vec![7u8; PAGE + 10];
        s.write(WASM_PAGE - 5, &data, 18).unwrap();
        let mut out = vec![0u8; PAGE + 10];
        s.read(WASM_PAGE - 5, &mut out).unwrap();
        assert_eq!(out, data);
        // OS page 15 is already dirty: rewriting it is free; OS page 14 would be the nineteenth.
        s.write(WASM_PAGE - 4096, b"a", 18).unwrap();
        assert_eq!(s.write(WASM_PAGE - 4097, b"a", 18), Err(StableError::DirtyLimit));
        assert_eq!(s.grow(u64::MAX, u64::MAX), None);
    }

    /// The limit counts 4 KiB OS pages as the replica does: one byte in each of 20 stable pages is 20 dirty pages
    /// (80 KiB), not 20 × 64 KiB, and one whole 64 KiB page is 16.
    #[test]
    fn the_dirty_limit_counts_os_pages() {
        let mut s = StableMemory::default();
        s.grow(40, u64::MAX).unwrap();
        s.begin();
        for page in 0..20 {
            s.write(page * WASM_PAGE + 100, b"x", 20).unwrap();
        }
        assert_eq!(s.write(20 * WASM_PAGE, b"x", 20), Err(StableError::DirtyLimit));
        s.rollback();
        s.begin();
        s.write(30 * WASM_PAGE, &vec![1u8; PAGE], 16).unwrap();
        assert_eq!(s.write(31 * WASM_PAGE, b"x", 16), Err(StableError::DirtyLimit));
    }
}
