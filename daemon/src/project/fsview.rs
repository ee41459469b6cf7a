//! The file system as one plan sees it.
//!
//! A plan validates hundreds of cached results (component evaluations in two passes, the Kconfig
//! tree, the configuration), and many of them depend on the same files and directories. An
//! [`FsView`] lives for one plan and answers each question about a path once: a `stat`, a content
//! hash, an existence test. Directory listings come from a [`DirCache`] that lives as long as the
//! planner and reuses a listing while the directory's modification time vouches for it (adding,
//! removing or renaming an entry changes it).
//!
//! A view can also *trust* the file system: given the paths that changed since an earlier plan (a
//! file watcher's report), a result validated at or after that plan depends only on whether one of
//! its inputs is at or below a changed path; nothing else needs a system call.
//!
//! Timestamps are only trusted when they are older than [`RACY_WINDOW`] at the time they were
//! recorded: on file systems with coarse timestamps a change made in the same tick as the recorded
//! one would go unnoticed, so such a file is hashed again and such a directory listed again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::sync::LockExt;

/// A modification time within this distance of the time it was recorded may hide a later change
/// made in the same timestamp tick (coarse file systems have 1-2 s granularity).
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// A file read by an evaluation, as recorded for the validity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub path: PathBuf,
    /// Content hash (in-process only: not stable across builds of the daemon).
    pub hash: u64,
    /// Size and modification time when read, for the cheap validity check.
    pub len: u64,
    pub modified: Option<SystemTime>,
    /// When the file was read: a modification time this close to it cannot be trusted (the file
    /// may change again within the same timestamp tick), so it is re-hashed.
    pub read_at: SystemTime,
}

/// In-process content hash.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    hasher.write(bytes);
    hasher.write_usize(bytes.len());
    hasher.finish()
}

/// Reads a file and stamps it.
pub fn read_stamped(path: &Path) -> std::io::Result<(Vec<u8>, FileStamp)> {
    let read_at = SystemTime::now();
    let bytes = std::fs::read(path)?;
    let metadata = std::fs::metadata(path).ok();
    let stamp = FileStamp {
        path: path.to_path_buf(),
        hash: hash_bytes(&bytes),
        len: bytes.len() as u64,
        modified: metadata.and_then(|m| m.modified().ok()),
        read_at,
    };
    Ok((bytes, stamp))
}

/// Whether `modified`, recorded at `at`, is old enough to vouch for the content.
fn settled(modified: SystemTime, at: SystemTime) -> bool {
    at.duration_since(modified)
        .is_ok_and(|age| age > RACY_WINDOW)
}

/// What a file looks like compared with its stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileCheck {
    /// Size and modification time vouch for it (or the view trusts it).
    Unchanged,
    /// Its stamp moved but its content hash did not: the new size and modification time.
    SameContent {
        len: u64,
        modified: Option<SystemTime>,
    },
    Changed,
}

/// What a `stat` (following links) said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub is_dir: bool,
    pub is_file: bool,
}

/// What kind of entry a directory holds (as the listing says, without following links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: OsString,
    pub kind: EntryKind,
}

/// A directory's entries, sorted by name.
pub type Listing = Arc<[DirEntry]>;

struct CachedListing {
    modified: SystemTime,
    listed_at: SystemTime,
    /// The plan that last confirmed it.
    checked: u64,
    entries: Listing,
}

/// Directory listings kept between plans, and the latest `stat` of each path (which only a view
/// that trusts the file system uses, for paths no change reaches).
#[derive(Default)]
pub struct DirCache {
    dirs: Mutex<HashMap<PathBuf, CachedListing>>,
    stats: Mutex<FastMap<Vec<u8>, SharedStat>>,
}

/// A stat and the plan that took it.
type SharedStat = (Option<Stat>, u64);

/// Listings kept before the cache is emptied (a daemon planning many projects).
const DIR_CACHE_LIMIT: usize = 65_536;
/// Stats kept before they are forgotten.
const STAT_CACHE_LIMIT: usize = 262_144;

impl DirCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of directories held.
    pub fn len(&self) -> usize {
        self.dirs.locked().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fast hasher for the view's maps (keys are paths the daemon made, not adversarial input).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        self.0 = (self.0.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(K);
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }

    fn finish(&self) -> u64 {
        // Spread the high bits down: hashbrown takes its control bits from the top.
        self.0 ^ (self.0 >> 29)
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// A path's bytes, the key of the view's maps (hashing a `Path` walks its components).
fn key(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// Plan sequence numbers, shared by every view of the process so that they only grow.
static SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// What a view may take for granted: nothing changed since plan `since` except at or below
/// `changed`.
/// Up to this many changed paths, [`Trust`] compares each with a path rather than searching.
const FEW_CHANGES: usize = 8;

/// Whether the path `bytes` is `ancestor` or lies below it (both without trailing separators,
/// except the root).
fn at_or_below(bytes: &[u8], ancestor: &[u8]) -> bool {
    bytes.starts_with(ancestor)
        && (bytes.len() == ancestor.len()
            || ancestor.ends_with(b"/")
            || bytes[ancestor.len()] == b'/')
}

struct Trust {
    since: u64,
    /// The changed paths' bytes, sorted, without trailing separators.
    changed: Vec<Vec<u8>>,
}

impl Trust {
    fn new(since: u64, changed: &[PathBuf]) -> Trust {
        let mut changed: Vec<Vec<u8>> = changed
            .iter()
            .map(|p| {
                let mut b = key(p).to_vec();
                while b.len() > 1 && b.last() == Some(&b'/') {
                    b.pop();
                }
                b
            })
            .collect();
        changed.sort();
        changed.dedup();
        Trust { since, changed }
    }

    fn is_changed(&self, bytes: &[u8]) -> bool {
        self.changed
            .binary_search_by(|c| c.as_slice().cmp(bytes))
            .is_ok()
    }

    /// Whether `path` is a changed path or lies below one.
    fn affects(&self, path: &Path) -> bool {
        if self.changed.is_empty() {
            return false;
        }
        let bytes = key(path);
        // A few changed paths (the usual save): compare each as a prefix, which is cheaper than a
        // search per ancestor.
        if self.changed.len() <= FEW_CHANGES {
            return self.changed.iter().any(|c| at_or_below(bytes, c));
        }
        if self.is_changed(bytes) {
            return true;
        }
        // Every ancestor: the prefixes that end before a separator (and the root).
        (0..bytes.len()).any(|i| bytes[i] == b'/' && self.is_changed(&bytes[..i.max(1)]))
    }

    /// Whether a changed path is `dir`, above it, or below it.
    fn touches_tree(&self, dir: &Path) -> bool {
        let bytes = key(dir);
        if self.changed.len() <= FEW_CHANGES {
            return self
                .changed
                .iter()
                .any(|c| at_or_below(bytes, c) || at_or_below(c, bytes));
        }
        if self.affects(dir) {
            return true;
        }
        let start = self.changed.partition_point(|c| c.as_slice() < bytes);
        self.changed[start..]
            .iter()
            .take_while(|c| c.starts_with(bytes))
            .any(|c| bytes.ends_with(b"/") || c.get(bytes.len()) == Some(&b'/'))
    }
}

/// The file system for one plan (see the module docs). Not shared between threads.
pub struct FsView<'a> {
    seq: u64,
    dirs: Option<&'a DirCache>,
    trust: Option<Trust>,
    stats: RefCell<FastMap<Vec<u8>, Option<Stat>>>,
    hashes: RefCell<FastMap<Vec<u8>, Option<u64>>>,
    exists: RefCell<FastMap<(Vec<u8>, ExistsKind), bool>>,
    /// Listings fetched in this view (whatever the cache did meanwhile).
    listings: RefCell<FastMap<Vec<u8>, Option<Listing>>>,
}

/// The file-system tests the CMake evaluator records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExistsKind {
    Exists,
    IsDirectory,
    IsSymlink,
    Readable,
    Writable,
    Executable,
}

/// Runs one file-system test.
pub fn exists_test(path: &Path, kind: ExistsKind) -> bool {
    if path.as_os_str().is_empty() {
        return false;
    }
    match kind {
        ExistsKind::Exists => path.exists() || path.symlink_metadata().is_ok(),
        ExistsKind::IsDirectory => path.is_dir(),
        ExistsKind::IsSymlink => path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink()),
        ExistsKind::Readable => std::fs::File::open(path).is_ok() || path.is_dir(),
        ExistsKind::Writable => path.metadata().is_ok_and(|m| !m.permissions().readonly()),
        ExistsKind::Executable => is_executable(path),
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Lists a directory straight from the system.
fn list_now(dir: &Path) -> Option<Listing> {
    let entries = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .ok()?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => EntryKind::Symlink,
            Ok(t) if t.is_dir() => EntryKind::Dir,
            Ok(t) if t.is_file() => EntryKind::File,
            _ => EntryKind::Other,
        };
        out.push(DirEntry {
            name: entry.file_name(),
            kind,
        });
    }
    // Sorted by name, so that a name is found by binary search.
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Some(out.into())
}

impl<'a> FsView<'a> {
    fn with(dirs: Option<&'a DirCache>, trust: Option<Trust>) -> Self {
        FsView {
            seq: SEQUENCE.fetch_add(1, Ordering::Relaxed),
            dirs,
            trust,
            stats: RefCell::default(),
            hashes: RefCell::default(),
            exists: RefCell::default(),
            listings: RefCell::default(),
        }
    }

    /// A view that asks the system (once per question) and lists directories through `dirs`.
    pub fn new(dirs: &'a DirCache) -> Self {
        Self::with(Some(dirs), None)
    }

    /// A view without a listing cache: every directory is listed once per view.
    pub fn uncached() -> FsView<'static> {
        FsView::with(None, None)
    }

    /// A view that trusts results confirmed by plan `since` or later, except for inputs at or below
    /// one of `changed` (files, or directories whose entries changed).
    pub fn trusting(dirs: &'a DirCache, since: u64, changed: &[PathBuf]) -> Self {
        Self::with(Some(dirs), Some(Trust::new(since, changed)))
    }

    /// This view's plan number: results confirmed through it record it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether an input confirmed by plan `checked` is known to be as it was then.
    pub fn trusted(&self, checked: u64, path: &Path) -> bool {
        self.trust
            .as_ref()
            .is_some_and(|t| checked >= t.since && !t.affects(path))
    }

    /// Whether a result confirmed by plan `checked` that depends on the whole tree at `dir` (a
    /// glob's directory) is known to be as it was then: no changed path above, at or below it.
    pub fn tree_trusted(&self, checked: u64, dir: &Path) -> bool {
        self.trust
            .as_ref()
            .is_some_and(|t| checked >= t.since && !t.touches_tree(dir))
    }

    /// `stat` (following links), once per path and view. None: it does not exist.
    pub fn stat(&self, path: &Path) -> Option<Stat> {
        let k = key(path);
        if let Some(s) = self.stats.borrow().get(k) {
            return *s;
        }
        let shared = self.dirs.map(|d| &d.stats);
        if let (Some(shared), Some(trust)) = (shared, &self.trust)
            && let Some(&(s, checked)) = shared.locked().get(k)
            && checked >= trust.since
            && !trust.affects(path)
        {
            self.stats.borrow_mut().insert(k.to_vec(), s);
            return s;
        }
        let s = std::fs::metadata(path).ok().map(|m| Stat {
            len: m.len(),
            modified: m.modified().ok(),
            is_dir: m.is_dir(),
            is_file: m.is_file(),
        });
        self.stats.borrow_mut().insert(k.to_vec(), s);
        if let Some(shared) = shared {
            let mut map = shared.locked();
            if map.len() >= STAT_CACHE_LIMIT {
                map.clear();
            }
            map.insert(k.to_vec(), (s, self.seq));
        }
        s
    }

    /// What the listing of `path`'s directory says is at `path`: Some(Some(kind)) an entry of that
    /// name, Some(None) surely nothing, None when the listing cannot tell (no listable parent, a
    /// name like `..`). One listing answers for every name in a directory. A name the listing lacks
    /// is surely absent only when no entry could be taken for it by a case-insensitive file system
    /// (all names ASCII, none equal ignoring ASCII case; beyond ASCII, case folding and
    /// normalisation decide, so a `stat` does).
    fn lookup(&self, path: &Path) -> Option<Option<EntryKind>> {
        let name = path.file_name()?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
        let listing = self.list(parent)?;
        if let Ok(i) = listing.binary_search_by(|e| e.name.as_os_str().cmp(name)) {
            return Some(Some(listing[i].kind));
        }
        let name = name.to_str().filter(|n| n.is_ascii())?;
        let surely_absent = listing.iter().all(|e| {
            e.name
                .to_str()
                .is_some_and(|n| n.is_ascii() && !n.eq_ignore_ascii_case(name))
        });
        surely_absent.then_some(None)
    }

    pub fn is_file(&self, path: &Path) -> bool {
        match self.lookup(path) {
            Some(Some(EntryKind::File)) => true,
            Some(Some(EntryKind::Dir) | None) => false,
            _ => self.stat(path).is_some_and(|s| s.is_file),
        }
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        match self.lookup(path) {
            Some(Some(EntryKind::Dir)) => true,
            Some(Some(EntryKind::File) | None) => false,
            _ => self.stat(path).is_some_and(|s| s.is_dir),
        }
    }

    /// Whether something is at `path` (following links).
    pub fn exists(&self, path: &Path) -> bool {
        match self.lookup(path) {
            Some(Some(EntryKind::File | EntryKind::Dir)) => true,
            Some(None) => false,
            _ => self.stat(path).is_some(),
        }
    }

    /// Whether anything (a dangling link too) is at `path`.
    pub fn lexists(&self, path: &Path) -> bool {
        match self.lookup(path) {
            Some(entry) => entry.is_some(),
            None => self.stat(path).is_some() || path.symlink_metadata().is_ok(),
        }
    }

    /// The content hash of a file, once per path and view.
    pub fn content_hash(&self, path: &Path) -> Option<u64> {
        if let Some(h) = self.hashes.borrow().get(key(path)) {
            return *h;
        }
        let h = std::fs::read(path).ok().map(|b| hash_bytes(&b));
        self.hashes.borrow_mut().insert(key(path).to_vec(), h);
        h
    }

    /// Compares a file with its stamp, confirmed by plan `checked`: size and modification time
    /// first, the content hash only when those moved or cannot be trusted.
    pub fn check_file(&self, stamp: &FileStamp, checked: u64) -> FileCheck {
        if self.trusted(checked, &stamp.path) {
            return FileCheck::Unchanged;
        }
        let Some(now) = self.stat(&stamp.path) else {
            return FileCheck::Changed;
        };
        let vouched = stamp
            .modified
            .is_some_and(|then| now.modified == Some(then) && settled(then, stamp.read_at));
        if vouched && now.len == stamp.len {
            return FileCheck::Unchanged;
        }
        match self.content_hash(&stamp.path) {
            Some(h) if h == stamp.hash => FileCheck::SameContent {
                len: now.len,
                modified: now.modified,
            },
            _ => FileCheck::Changed,
        }
    }

    /// A file-system test, once per path, kind and view.
    pub fn exists_test(&self, path: &Path, kind: ExistsKind) -> bool {
        if path.as_os_str().is_empty() {
            return false;
        }
        // The tests a stat answers share the view's stats.
        match kind {
            ExistsKind::IsDirectory => return self.is_dir(path),
            ExistsKind::Exists => return self.lexists(path),
            _ => {}
        }
        let k = (key(path).to_vec(), kind);
        if let Some(r) = self.exists.borrow().get(&k) {
            return *r;
        }
        let r = exists_test(path, kind);
        self.exists.borrow_mut().insert(k, r);
        r
    }

    /// Whether a test confirmed by plan `checked` still gives `result`.
    pub fn exists_unchanged(
        &self,
        path: &Path,
        kind: ExistsKind,
        result: bool,
        checked: u64,
    ) -> bool {
        self.trusted(checked, path) || self.exists_test(path, kind) == result
    }

    /// A directory's entries (None: it cannot be listed), from the cache while the directory's
    /// modification time vouches for them.
    pub fn list(&self, dir: &Path) -> Option<Listing> {
        if let Some(l) = self.listings.borrow().get(key(dir)) {
            return l.clone();
        }
        let listing = self.list_uncached(dir);
        self.listings
            .borrow_mut()
            .insert(key(dir).to_vec(), listing.clone());
        listing
    }

    fn list_uncached(&self, dir: &Path) -> Option<Listing> {
        let Some(cache) = self.dirs else {
            return list_now(dir);
        };
        {
            let mut map = cache.dirs.locked();
            if let Some(c) = map.get_mut(dir)
                && self.trusted(c.checked, dir)
            {
                c.checked = self.seq;
                return Some(c.entries.clone());
            }
        }
        // Stat first (this view's stat, taken now or earlier in the plan): a change made while
        // listing then shows as a newer time next plan.
        let listed_at = SystemTime::now();
        let modified = self.stat(dir).filter(|s| s.is_dir).and_then(|s| s.modified);
        let Some(modified) = modified else {
            cache.dirs.locked().remove(dir);
            return list_now(dir);
        };
        {
            let mut map = cache.dirs.locked();
            if let Some(c) = map.get_mut(dir)
                && c.modified == modified
                && settled(modified, c.listed_at)
            {
                c.checked = self.seq;
                return Some(c.entries.clone());
            }
        }
        let entries = list_now(dir)?;
        let mut map = cache.dirs.locked();
        if map.len() >= DIR_CACHE_LIMIT {
            map.clear();
        }
        map.insert(
            dir.to_path_buf(),
            CachedListing {
                modified,
                listed_at,
                checked: self.seq,
                entries: entries.clone(),
            },
        );
        Some(entries)
    }

    /// Whether `path` is a directory, for an entry of a listing: links are followed with a `stat`.
    pub fn entry_is_dir(&self, path: &Path, kind: EntryKind) -> bool {
        match kind {
            EntryKind::Dir => true,
            EntryKind::Symlink | EntryKind::Other => self.is_dir(path),
            EntryKind::File => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, secs: u64) {
        let t = SystemTime::now() - Duration::from_secs(secs);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(t).unwrap();
    }

    fn age_dir(path: &Path, secs: u64) {
        let t = SystemTime::now() - Duration::from_secs(secs);
        let f = std::fs::File::open(path).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(t))
            .unwrap();
    }

    #[test]
    fn same_size_edit_within_the_same_tick_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, "one").unwrap();
        let (_, stamp) = read_stamped(&f).unwrap();
        // Same size, and the time put back: only the hash can tell.
        let before = std::fs::metadata(&f).unwrap().modified().unwrap();
        std::fs::write(&f, "two").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(before)
            .unwrap();
        let view = FsView::uncached();
        assert_eq!(view.check_file(&stamp, 0), FileCheck::Changed);
    }

    #[test]
    fn settled_files_are_checked_by_stat_and_touched_ones_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, "one").unwrap();
        age(&f, 60);
        let (_, stamp) = read_stamped(&f).unwrap();
        assert_eq!(
            FsView::uncached().check_file(&stamp, 0),
            FileCheck::Unchanged
        );
        age(&f, 30);
        assert!(matches!(
            FsView::uncached().check_file(&stamp, 0),
            FileCheck::SameContent { len: 3, .. }
        ));
        std::fs::remove_file(&f).unwrap();
        assert_eq!(FsView::uncached().check_file(&stamp, 0), FileCheck::Changed);
    }

    #[test]
    fn listings_are_reused_while_the_directory_time_vouches_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("src");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("a.c"), "").unwrap();
        let cache = DirCache::new();
        let names = |l: Listing| {
            let mut v: Vec<String> = l
                .iter()
                .map(|e| e.name.to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        // A fresh directory time is not trusted: each view lists again.
        assert_eq!(names(FsView::new(&cache).list(&d).unwrap()), ["a.c"]);
        std::fs::write(d.join("b.c"), "").unwrap();
        assert_eq!(names(FsView::new(&cache).list(&d).unwrap()), ["a.c", "b.c"]);
        // A settled one is.
        age_dir(&d, 60);
        assert_eq!(names(FsView::new(&cache).list(&d).unwrap()), ["a.c", "b.c"]);
        // Adding an entry moves the time.
        std::fs::write(d.join("c.c"), "").unwrap();
        assert_eq!(
            names(FsView::new(&cache).list(&d).unwrap()),
            ["a.c", "b.c", "c.c"]
        );
        // An entry added with the time put back is missed only by a cache that trusts a settled
        // time, which is the documented limit; a time within the racy window is never trusted.
        age_dir(&d, 1);
        std::fs::write(d.join("d.c"), "").unwrap();
        age_dir(&d, 1);
        assert_eq!(names(FsView::new(&cache).list(&d).unwrap()).len(), 4);
        std::fs::remove_dir_all(&d).unwrap();
        assert!(FsView::new(&cache).list(&d).is_none());
    }

    #[test]
    fn listings_answer_existence_and_leave_case_variants_to_stat() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("CMakeLists.txt"), "").unwrap();
        std::fs::create_dir(d.join("src")).unwrap();
        let view = FsView::uncached();
        assert_eq!(
            view.lookup(&d.join("CMakeLists.txt")),
            Some(Some(EntryKind::File))
        );
        assert_eq!(view.lookup(&d.join("src")), Some(Some(EntryKind::Dir)));
        assert_eq!(view.lookup(&d.join("Kconfig")), Some(None));
        assert_eq!(view.lookup(&d.join("cmakelists.TXT")), None);
        assert_eq!(view.lookup(&d.join("nope/x")), None);
        assert!(view.is_file(&d.join("CMakeLists.txt")) && !view.is_file(&d.join("src")));
        assert!(view.is_dir(&d.join("src")) && !view.exists(&d.join("Kconfig")));
        // What a stat says about a case variant depends on the file system; the view agrees with it.
        let variant = d.join("cmakelists.txt");
        assert_eq!(view.is_file(&variant), variant.is_file());
        std::fs::write(d.join("caf\u{e9}.txt"), "").unwrap();
        assert_eq!(FsView::uncached().lookup(&d.join("Kconfig")), None);
    }

    #[test]
    fn changed_paths_affect_themselves_and_what_lies_below() {
        // A few changed paths are compared one by one, many are searched: both give one answer.
        for padding in [0, FEW_CHANGES + 1] {
            let mut changed = vec![PathBuf::from("/p/comp/"), PathBuf::from("/p/main/src/a.c")];
            changed.extend((0..padding).map(|i| PathBuf::from(format!("/zz/{i}"))));
            check_trust(&Trust::new(1, &changed));
        }
        assert!(Trust::new(1, &[PathBuf::from("/")]).affects(Path::new("/a/b")));
        assert!(Trust::new(1, &[PathBuf::from("/")]).touches_tree(Path::new("/a")));
    }

    fn check_trust(t: &Trust) {
        for p in ["/p/comp", "/p/comp/x/y.c", "/p/main/src/a.c"] {
            assert!(t.affects(Path::new(p)), "{p}");
        }
        for p in ["/p", "/p/compo", "/p/main/src", "/p/main/src/a.cc", "/q"] {
            assert!(!t.affects(Path::new(p)), "{p}");
        }
        for d in ["/p", "/p/main", "/p/main/src", "/p/comp/x", "/"] {
            assert!(t.touches_tree(Path::new(d)), "{d}");
        }
        for d in ["/p/main/inc", "/p/com", "/p/main/sr"] {
            assert!(!t.touches_tree(Path::new(d)), "{d}");
        }
    }

    #[test]
    fn trust_covers_only_results_confirmed_since_and_paths_outside_the_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c/CMakeLists.txt");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "x").unwrap();
        let (_, stamp) = read_stamped(&f).unwrap();
        std::fs::write(&f, "yy").unwrap();
        let cache = DirCache::new();
        let first = FsView::new(&cache);
        let since = first.seq();
        drop(first);
        // Nothing reported: trusted, without looking.
        let view = FsView::trusting(&cache, since, &[]);
        assert_eq!(view.check_file(&stamp, since), FileCheck::Unchanged);
        // Confirmed before the plan the changes are counted from: checked for real.
        assert_eq!(view.check_file(&stamp, since - 1), FileCheck::Changed);
        // The file, or a directory above it, reported: checked for real.
        for changed in [f.clone(), dir.path().join("c")] {
            let view = FsView::trusting(&cache, since, &[changed]);
            assert_eq!(view.check_file(&stamp, since), FileCheck::Changed);
        }
    }
}
