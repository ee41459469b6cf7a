//! Path helpers shared by the Make evaluator and planner: lexical normalisation, relative display,
//! and `$(wildcard)`-style globbing (`*`, `?`, `[...]`) done with plain directory reads.

use std::path::{Component, Path, PathBuf};

/// `a/./b/../c/` → `a/c`, without touching the file system (like Make's `$(abspath)` after joining).
/// Leading `..` of a relative path are kept; `..` above the root stays at the root.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(comp),
            },
            other => out.push(other),
        }
    }
    let mut buf = PathBuf::new();
    for comp in out {
        buf.push(comp.as_os_str());
    }
    if buf.as_os_str().is_empty() && !path.is_absolute() {
        buf.push(".");
    }
    buf
}

/// `base.join(path)` normalised; an absolute `path` stays as it is (normalised).
pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    normalize(&base.join(path))
}

/// `path` relative to `base` (both absolute and normalised), using `..` where needed.
pub(crate) fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for comp in &p[common..] {
        out.push(comp.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// How to show a file in a warning: relative to `base` when it is inside it, else as it is.
pub(crate) fn display(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// Whether a pattern word has glob characters.
pub(crate) fn has_glob(pattern: &str) -> bool {
    pattern.bytes().any(|c| matches!(c, b'*' | b'?' | b'['))
}

/// Expand one `$(wildcard)` pattern. Relative patterns are matched against `cwd` and returned
/// relative, as Make returns them; literal parts of the pattern are kept as written (so
/// `dir/./*.c` gives `dir/./a.c`). Results are sorted, as GNU Make 4.3 sorts them.
pub(crate) fn wildcard(pattern: &str, cwd: &Path) -> Vec<String> {
    if pattern.is_empty() {
        return Vec::new();
    }
    if !has_glob(pattern) {
        let path = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            cwd.join(pattern)
        };
        return if path.exists() || path.symlink_metadata().is_ok() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let absolute = pattern.starts_with('/');
    let segments: Vec<&str> = pattern.split('/').collect();
    // (shown text, real path) pairs.
    let mut current: Vec<(String, PathBuf)> = if absolute {
        vec![(String::new(), PathBuf::from("/"))]
    } else {
        vec![(String::new(), cwd.to_path_buf())]
    };
    let start = usize::from(absolute);
    for (i, seg) in segments.iter().enumerate().skip(start) {
        let last = i + 1 == segments.len();
        let mut next = Vec::new();
        for (shown, real) in &current {
            let joined_shown = |name: &str| {
                if shown.is_empty() && !absolute {
                    name.to_string()
                } else {
                    format!("{shown}/{name}")
                }
            };
            if seg.is_empty() {
                // `a//b` or a trailing slash: keep as written, must be a directory.
                if real.is_dir() {
                    next.push((format!("{shown}/"), real.clone()));
                }
                continue;
            }
            if !has_glob(seg) {
                let path = real.join(seg);
                if last {
                    if path.symlink_metadata().is_ok() {
                        next.push((joined_shown(seg), path));
                    }
                } else if path.is_dir() {
                    next.push((joined_shown(seg), path));
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(real) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| (!n.starts_with('.') || seg.starts_with('.')) && fnmatch(seg, n))
                .collect();
            names.sort();
            for name in names {
                let path = real.join(&name);
                if last || path.is_dir() {
                    next.push((joined_shown(&name), path));
                }
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    let mut out: Vec<String> = current
        .into_iter()
        .map(|(shown, _)| {
            if absolute && !shown.starts_with('/') {
                format!("/{shown}")
            } else {
                shown
            }
        })
        .collect();
    out.sort();
    out
}

/// Shell-style match of one path segment: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, `\` escapes.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    crate::project::wildcard::matches(pattern, name, crate::project::wildcard::GNU_MAKE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c/")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("./x.o")), PathBuf::from("x.o"));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
        assert_eq!(normalize(Path::new("/..")), PathBuf::from("/"));
        assert_eq!(normalize(Path::new(".")), PathBuf::from("."));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/p/build/x.o"), Path::new("/p")),
            PathBuf::from("build/x.o")
        );
        assert_eq!(
            relative_to(Path::new("/out/x"), Path::new("/p/q")),
            PathBuf::from("../../out/x")
        );
        assert_eq!(
            relative_to(Path::new("/p"), Path::new("/p")),
            PathBuf::from(".")
        );
    }

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch("*.c", "a.c"));
        assert!(!fnmatch("*.c", "a.cpp"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[ab]x", "bx"));
        assert!(!fnmatch("[!ab]x", "bx"));
        assert!(fnmatch("[a-c]*", "cat"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a*b*c", "aXXbYYc"));
        assert!(!fnmatch("a*b*c", "aXXbYY"));
        assert!(fnmatch("\\*", "*"));
    }

    #[test]
    fn wildcard_relative_absolute_and_literal() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        for f in ["b.c", "a.c", "x.h", ".hidden.c", "src/z.c", "src/sub/y.c"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        assert_eq!(wildcard("*.c", root), vec!["a.c", "b.c"]);
        assert_eq!(wildcard("./*.c", root), vec!["./a.c", "./b.c"]);
        assert_eq!(wildcard("*/*.c", root), vec!["src/z.c"]);
        assert_eq!(wildcard("src/*/*.c", root), vec!["src/sub/y.c"]);
        assert_eq!(wildcard(".*.c", root), vec![".hidden.c"]);
        let abs = format!("{}/./*.c", root.display());
        assert_eq!(
            wildcard(&abs, Path::new("/nonexistent")),
            vec![
                format!("{}/./a.c", root.display()),
                format!("{}/./b.c", root.display())
            ]
        );
        assert_eq!(wildcard("x.h", root), vec!["x.h"]);
        assert!(wildcard("missing.h", root).is_empty());
        assert!(wildcard("nodir/*.c", root).is_empty());
    }
}
