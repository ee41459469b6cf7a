//! The file system as the evaluator sees it: content hashes, file stamps, existence tests and
//! globbing, all in a form that can be replayed to check whether a result is still valid.

use std::path::{Path, PathBuf};

use super::types::{ExistsCheck, ExistsKind, FileInput, GlobRecord};
use crate::project::fsview::{self, FsView};

/// In-process content hash.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    fsview::hash_bytes(bytes)
}

/// Reads a file and describes it for the validity check.
pub(crate) fn read_file(path: &Path) -> std::io::Result<(Vec<u8>, FileInput)> {
    fsview::read_stamped(path)
}

/// Whether the file's size and modification time alone vouch that it is unchanged.
pub(crate) fn stat_unchanged(input: &FileInput) -> bool {
    let Ok(metadata) = std::fs::metadata(&input.path) else {
        return false;
    };
    metadata.len() == input.len
        && input.modified.is_some_and(|then| {
            metadata.modified().is_ok_and(|now| now == then)
                && input
                    .read_at
                    .duration_since(then)
                    .is_ok_and(|age| age > fsview::RACY_WINDOW)
        })
}

/// Runs one file-system test.
pub(crate) fn exists_test(path: &Path, kind: ExistsKind) -> bool {
    fsview::exists_test(path, kind)
}

/// Whether a recorded test, confirmed by plan `checked`, still gives the same answer.
pub(crate) fn exists_unchanged(fs: &FsView, check: &ExistsCheck, checked: u64) -> bool {
    fs.exists_unchanged(&check.path, check.kind, check.result, checked)
}

/// Whether a recorded glob, confirmed by plan `checked`, still matches the same paths.
pub(crate) fn glob_unchanged(fs: &FsView, record: &GlobRecord, checked: u64) -> bool {
    if record
        .patterns
        .iter()
        .all(|p| glob_root(p).is_some_and(|root| fs.tree_trusted(checked, &root)))
    {
        return true;
    }
    let (matched, _) = glob_in(
        fs,
        &record.patterns,
        record.recursive,
        record.list_directories,
        record.follow_symlinks,
        record.entry_limit,
    );
    matched == record.matched
}

/// The directory a glob pattern's answer depends on: everything the pattern can match lies below
/// it (the part before the first component with a wildcard, without the last component). None
/// for a pattern that is relative or goes up (`..`): its directory is not spelled as a watcher
/// would report it.
fn glob_root(pattern: &str) -> Option<std::borrow::Cow<'_, Path>> {
    // Spelled plainly (the usual case): the root is a prefix of the pattern.
    let plain = !pattern.contains('\\')
        && !pattern.contains("//")
        && !pattern.split('/').any(|p| p == "." || p == "..");
    if !plain {
        return glob_root_owned(pattern).map(std::borrow::Cow::Owned);
    }
    if !pattern.starts_with('/') {
        return None;
    }
    let dir_part = &pattern[..pattern.rfind('/')?];
    let mut end = 0;
    let mut offset = 0;
    for part in dir_part.split('/') {
        let start = offset;
        offset += part.len() + 1;
        if part.is_empty() {
            continue;
        }
        if has_wildcard(part) {
            break;
        }
        end = start + part.len();
    }
    let root = if end == 0 { "/" } else { &dir_part[..end] };
    Some(std::borrow::Cow::Borrowed(Path::new(root)))
}

/// [`glob_root`] for any spelling, built component by component.
fn glob_root_owned(pattern: &str) -> Option<PathBuf> {
    let pattern = pattern.replace('\\', "/");
    if !pattern.starts_with('/') || pattern.split('/').any(|p| p == "..") {
        return None;
    }
    let dir_part = &pattern[..pattern.rfind('/')?];
    let mut root = PathBuf::from("/");
    for part in dir_part.split('/').filter(|p| !p.is_empty()) {
        if has_wildcard(part) {
            break;
        }
        if part != "." {
            root.push(part);
        }
    }
    Some(root)
}

/// Directory entries one glob visits at most (a runaway `GLOB_RECURSE /`).
pub(crate) const GLOB_ENTRY_LIMIT: usize = 200_000;

/// `file(GLOB)` / `file(GLOB_RECURSE)` over absolute patterns, visiting at most `limit`
/// directory entries. Results are absolute and sorted, as CMake sorts them. Also returns how
/// many entries were visited (`limit` when the walk was cut short).
pub(crate) fn glob(
    patterns: &[String],
    recursive: bool,
    list_directories: bool,
    follow_symlinks: bool,
    limit: usize,
) -> (Vec<PathBuf>, usize) {
    glob_in(
        &FsView::uncached(),
        patterns,
        recursive,
        list_directories,
        follow_symlinks,
        limit,
    )
}

/// [`glob`] with the directories listed through `fs`.
pub(crate) fn glob_in(
    fs: &FsView,
    patterns: &[String],
    recursive: bool,
    list_directories: bool,
    follow_symlinks: bool,
    limit: usize,
) -> (Vec<PathBuf>, usize) {
    let mut out = Vec::new();
    let mut budget = limit;
    for pattern in patterns {
        glob_one(
            fs,
            pattern,
            recursive,
            list_directories,
            follow_symlinks,
            &mut budget,
            &mut out,
        );
    }
    out.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    out.dedup();
    (out, limit - budget)
}

fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'*' | b'?' | b'['))
}

fn glob_one(
    fs: &FsView,
    pattern: &str,
    recursive: bool,
    list_directories: bool,
    follow_symlinks: bool,
    budget: &mut usize,
    out: &mut Vec<PathBuf>,
) {
    let pattern = pattern.replace('\\', "/");
    let (dir_part, name_pattern) = match pattern.rfind('/') {
        Some(i) => (&pattern[..i], &pattern[i + 1..]),
        None => ("", pattern.as_str()),
    };
    let root = if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    // Expand wildcards in the directory part, level by level.
    let mut dirs = vec![root];
    for part in dir_part.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &dirs {
            if has_wildcard(part) {
                let Some(entries) = fs.list(dir_or_dot(dir)) else {
                    continue;
                };
                for entry in entries.iter() {
                    *budget = budget.saturating_sub(1);
                    let name = entry.name.to_string_lossy();
                    if wildcard_match(part, &name) {
                        let path = dir.join(&*name);
                        if fs.entry_is_dir(&path, entry.kind) {
                            next.push(path);
                        }
                    }
                }
            } else if part != "." {
                next.push(dir.join(part));
            } else {
                next.push(dir.clone());
            }
        }
        dirs = next;
        if *budget == 0 {
            return;
        }
    }
    for dir in dirs {
        if recursive {
            walk(
                fs,
                &dir,
                name_pattern,
                list_directories,
                follow_symlinks,
                budget,
                0,
                out,
            );
        } else if !has_wildcard(name_pattern) {
            let path = dir.join(name_pattern);
            if name_pattern.is_empty() {
                if fs.is_dir(&dir) && list_directories {
                    out.push(dir);
                }
            } else if fs.lexists(&path) && (list_directories || !fs.is_dir(&path)) {
                out.push(path);
            }
        } else {
            let Some(entries) = fs.list(dir_or_dot(&dir)) else {
                continue;
            };
            for entry in entries.iter() {
                *budget = budget.saturating_sub(1);
                let name = entry.name.to_string_lossy();
                if wildcard_match(name_pattern, &name) {
                    let path = dir.join(&*name);
                    if list_directories || !fs.entry_is_dir(&path, entry.kind) {
                        out.push(path);
                    }
                }
            }
        }
    }
}

fn dir_or_dot(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

#[allow(clippy::too_many_arguments)]
fn walk(
    fs: &FsView,
    dir: &Path,
    name_pattern: &str,
    list_directories: bool,
    follow_symlinks: bool,
    budget: &mut usize,
    depth: usize,
    out: &mut Vec<PathBuf>,
) {
    if depth > 64 || *budget == 0 {
        return;
    }
    let Some(entries) = fs.list(dir_or_dot(dir)) else {
        return;
    };
    let mut subdirs = Vec::new();
    for entry in entries.iter() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = entry.name.to_string_lossy();
        let path = dir.join(&*name);
        let is_dir = match entry.kind {
            fsview::EntryKind::Symlink => follow_symlinks && fs.is_dir(&path),
            fsview::EntryKind::Dir => true,
            fsview::EntryKind::File => false,
            // The listing could not tell: ask without following links, as the walk always did.
            fsview::EntryKind::Other => path.symlink_metadata().is_ok_and(|m| m.is_dir()),
        };
        if is_dir {
            if list_directories && wildcard_match(name_pattern, &name) {
                out.push(path.clone());
            }
            subdirs.push(path);
        } else if wildcard_match(name_pattern, &name) {
            out.push(path);
        }
    }
    for sub in subdirs {
        walk(
            fs,
            &sub,
            name_pattern,
            list_directories,
            follow_symlinks,
            budget,
            depth + 1,
            out,
        );
    }
}

/// Glob wildcard match of a whole name: `*`, `?`, `[...]` (`[!...]` / `[^...]` negated).
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    crate::project::wildcard::matches(pattern, name, crate::project::wildcard::CMAKE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_root_is_the_same_however_it_is_computed() {
        for pattern in [
            "/a/b/*.c",
            "/a/b/c.c",
            "/a/*/x/*.c",
            "/*.c",
            "/a//b/*.c",
            "/a/./b/*.c",
            "/a/b/./*.c",
            "/a/b[12]/c/*.h",
            "/a/b/**/*.c",
            "relative/*.c",
            "/a/../b/*.c",
            "C:\\a\\b\\*.c",
            "\\a\\b\\*.c",
        ] {
            assert_eq!(
                glob_root(pattern).map(|r| r.into_owned()),
                glob_root_owned(pattern),
                "{pattern}"
            );
        }
        assert_eq!(glob_root("/a/b/*.c").unwrap(), Path::new("/a/b"));
        assert!(matches!(
            glob_root("/a/b/*.c"),
            Some(std::borrow::Cow::Borrowed(_))
        ));
    }
}
