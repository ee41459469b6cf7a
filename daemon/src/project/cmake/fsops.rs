//! The file system as the evaluator sees it: content hashes, file stamps, existence tests and
//! globbing, all in a form that can be replayed to check whether a result is still valid.

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::types::{ExistsCheck, ExistsKind, FileInput, GlobRecord};

/// In-process content hash.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    hasher.write(bytes);
    hasher.write_usize(bytes.len());
    hasher.finish()
}

/// Reads a file and describes it for the validity check.
pub(crate) fn read_file(path: &Path) -> std::io::Result<(Vec<u8>, FileInput)> {
    let read_at = SystemTime::now();
    let bytes = std::fs::read(path)?;
    let metadata = std::fs::metadata(path).ok();
    let input = FileInput {
        path: path.to_path_buf(),
        hash: hash_bytes(&bytes),
        len: bytes.len() as u64,
        modified: metadata.and_then(|m| m.modified().ok()),
        read_at,
    };
    Ok((bytes, input))
}

/// A modification time within this distance of the read time may hide a later change made in
/// the same timestamp tick (coarse file systems have 1-2 s granularity).
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What a file looks like compared with a recorded read.
pub(crate) enum FileCheck {
    /// Size and modification time vouch for it.
    Unchanged,
    /// Its stamp moved but its content hash did not: the new size and modification time.
    SameContent {
        len: u64,
        modified: Option<SystemTime>,
    },
    Changed,
}

/// Compares a file with a recorded read: size and modification time first (one `stat`), the
/// content hash only when those changed or cannot be trusted (a modification within
/// [`RACY_WINDOW`] of the read may hide a later change in the same timestamp tick).
pub(crate) fn check_file(input: &FileInput) -> FileCheck {
    let Ok(metadata) = std::fs::metadata(&input.path) else {
        return FileCheck::Changed;
    };
    let modified = metadata.modified().ok();
    let trusted = input.modified.is_some_and(|then| {
        modified == Some(then)
            && input
                .read_at
                .duration_since(then)
                .is_ok_and(|age| age > RACY_WINDOW)
    });
    if trusted && metadata.len() == input.len {
        return FileCheck::Unchanged;
    }
    match std::fs::read(&input.path) {
        Ok(bytes) if hash_bytes(&bytes) == input.hash => FileCheck::SameContent {
            len: metadata.len(),
            modified,
        },
        _ => FileCheck::Changed,
    }
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
                    .is_ok_and(|age| age > RACY_WINDOW)
        })
}

/// Runs one file-system test.
pub(crate) fn exists_test(path: &Path, kind: ExistsKind) -> bool {
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

/// Whether a recorded test still gives the same answer.
pub(crate) fn exists_unchanged(check: &ExistsCheck) -> bool {
    exists_test(&check.path, check.kind) == check.result
}

/// Whether a recorded glob still matches the same paths.
pub(crate) fn glob_unchanged(record: &GlobRecord) -> bool {
    let (matched, _) = glob(
        &record.patterns,
        record.recursive,
        record.list_directories,
        record.follow_symlinks,
        record.entry_limit,
    );
    matched == record.matched
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
    let mut out = Vec::new();
    let mut budget = limit;
    for pattern in patterns {
        glob_one(
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
                let Ok(entries) = std::fs::read_dir(dir_or_dot(dir)) else {
                    continue;
                };
                for entry in entries.flatten() {
                    *budget = budget.saturating_sub(1);
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if wildcard_match(part, &name) && entry.path().is_dir() {
                        next.push(dir.join(name));
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
                if dir.is_dir() && list_directories {
                    out.push(dir);
                }
            } else if path.symlink_metadata().is_ok() && (list_directories || !path.is_dir()) {
                out.push(path);
            }
        } else {
            let Ok(entries) = std::fs::read_dir(dir_or_dot(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                *budget = budget.saturating_sub(1);
                let name = entry.file_name().to_string_lossy().into_owned();
                if wildcard_match(name_pattern, &name) {
                    let path = entry.path();
                    if list_directories || !path.is_dir() {
                        out.push(dir.join(name));
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

fn walk(
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
    let Ok(entries) = std::fs::read_dir(dir_or_dot(dir)) else {
        return;
    };
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = dir.join(&name);
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let is_dir = if file_type.is_symlink() {
            follow_symlinks && path.is_dir()
        } else {
            file_type.is_dir()
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
