//! Writing the files a user keeps (findings, corpus entries, resolved environments, reports) so that a crash of
//! icfuzz, `kill -9` or a full disk never leaves a partial or corrupt one behind.
//!
//! Every file is written whole to a hidden temporary file in the same directory, flushed to disk (`fsync`), then
//! given its name in one atomic step, and the directory entry is flushed too. A reader therefore sees either no
//! file or the complete one. A process killed mid-write leaves only a hidden temporary file, which every icfuzz
//! reader skips ([`is_temporary`]) and the next campaign removes ([`remove_stale`]).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Names of temporary files start with this (a dot: hidden, and skipped by libFuzzer-style corpus readers).
const TEMP_PREFIX: &str = ".icfuzz-tmp.";

/// Distinguishes the temporary files of one process (threads write concurrently).
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` unless a file of that name exists, atomically. Returns whether it wrote.
///
/// Never overwrites: icfuzz names outputs after their content (libFuzzer's `crash-<sha1>`) or picks a fresh name,
/// so an existing file is either the same bytes or someone else's, and both must stay.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if path.symlink_metadata().is_ok() {
        return Ok(false);
    }
    let tmp = write_temporary(path, bytes)?;
    // A hard link gives the name atomically and fails if it is taken, which `rename` (it replaces) does not.
    let named = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems without hard links (FAT, some network mounts): rename, after checking the name is free.
        // Another writer could take it in between, but only with the same content (see above).
        Err(_) if path.symlink_metadata().is_err() => std::fs::rename(&tmp, path).map(|()| true),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&tmp);
    let named = named.map_err(|e| context(e, path))?;
    if named {
        sync_directory(path)?;
    }
    Ok(named)
}

/// Writes `bytes` to `path`, replacing what is there, atomically: readers see the old file or the new one.
/// For files icfuzz owns and rewrites (e.g. `triage.json`).
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temporary(path, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(context(e, path));
    }
    sync_directory(path)
}

/// Whether a file name is one of icfuzz's temporary files (never a user's file, never complete).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// Removes the temporary files that processes no longer running left in `dir` (killed mid-write). Files of live
/// processes are theirs to finish. Returns how many it removed. Where process ids cannot be checked (no `/proc`)
/// nothing is removed: the files are hidden and every reader skips them.
pub fn remove_stale(dir: &Path) -> io::Result<usize> {
    if !Path::new("/proc/self").exists() {
        return Ok(0);
    }
    let own = std::process::id();
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| context(e, dir))? {
        let entry = entry.map_err(|e| context(e, dir))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(writer_pid) else { continue };
        if pid != own && !Path::new(&format!("/proc/{pid}")).exists() {
            std::fs::remove_file(entry.path()).map_err(|e| context(e, &entry.path()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The process that wrote a temporary file, from its name (`.icfuzz-tmp.<pid>.<n>.<name>`).
fn writer_pid(name: &str) -> Option<u32> {
    name.strip_prefix(TEMP_PREFIX)?.split('.').next()?.parse().ok()
}

/// Writes and flushes `bytes` to a new temporary file beside `path`; removes it again if anything fails (a full
/// disk must not leave a partial file).
fn write_temporary(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!("{TEMP_PREFIX}{}.{n}.{name}", std::process::id()));
    let written = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(context(e, path))
        }
    }
}

/// Flushes the directory holding `path`, so its new name survives a crash of the machine too.
fn sync_directory(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| context(e, dir))?;
    }
    #[cfg(not(unix))]
    let _ = path; // directories cannot be opened for syncing there; the rename itself is durable enough
    Ok(())
}

/// The error with the path it concerns (the kind is kept, so callers can still tell a full disk).
fn context(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("icfuzz-save-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_new_never_overwrites_and_leaves_no_temporary_file() {
        let dir = scratch("new");
        let path = dir.join("crash-1");
        assert!(write_new(&path, b"first").unwrap());
        assert!(!write_new(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        replace(&dir.join("triage.json"), b"{}").unwrap();
        replace(&dir.join("triage.json"), b"{\"a\":1}").unwrap();
        assert_eq!(std::fs::read(dir.join("triage.json")).unwrap(), b"{\"a\":1}");
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(names.iter().all(|n| !is_temporary(n)), "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temporary_files_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = scratch("stale");
        // A pid above the kernel's maximum (2^22) belongs to no process.
        let dead = dir.join(format!("{TEMP_PREFIX}4194999.0.crash-1"));
        let live = dir.join(format!("{TEMP_PREFIX}{}.7.crash-2", std::process::id()));
        let user = dir.join(".icfuzz-tmp-notes"); // not ours: the name does not parse
        for p in [&dead, &live, &user] {
            std::fs::write(p, b"partial").unwrap();
        }
        let expected = usize::from(Path::new("/proc/self").exists());
        assert_eq!(remove_stale(&dir).unwrap(), expected);
        assert_eq!(dead.exists(), expected == 0);
        assert!(live.exists() && user.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
