//! The file matching `source` patterns need: Python's `glob.glob` (non-recursive) with `fnmatch`
//! rules, results sorted as strings.

use std::path::{Path, PathBuf};

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch` on one path component: `*`, `?`, `[seq]`, `[!seq]`.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    crate::project::wildcard::matches(pattern, name, crate::project::wildcard::PYTHON_FNMATCH)
}

/// The existing paths matching `pattern` (absolute, or relative to the current directory), sorted.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let text = pattern.to_string_lossy();
    if !has_magic(&text) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let mut candidates: Vec<PathBuf> = vec![PathBuf::new()];
    let comps: Vec<_> = pattern.components().collect();
    for (idx, comp) in comps.iter().enumerate() {
        let part = comp.as_os_str().to_string_lossy();
        let last = idx + 1 == comps.len();
        let mut next = Vec::new();
        for base in &candidates {
            if !has_magic(&part) {
                let p = base.join(comp.as_os_str());
                if (last && p.exists()) || (!last && p.is_dir()) {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if fnmatch(&name, &part) {
                    let p = base.join(&name);
                    if last || p.is_dir() {
                        next.push(p);
                    }
                }
            }
        }
        candidates = next;
    }
    let mut out: Vec<(String, PathBuf)> = candidates
        .into_iter()
        .map(|p| (p.to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_rules() {
        assert!(fnmatch("Kconfig.in", "Kconfig*"));
        assert!(fnmatch("Kconfig", "Kconfig*"));
        assert!(fnmatch("abc", "a?c"));
        assert!(!fnmatch("abbc", "a?c"));
        assert!(fnmatch("a1", "a[0-9]"));
        assert!(!fnmatch("a1", "a[!0-9]"));
        assert!(fnmatch("x.soc", "*.soc"));
        assert!(fnmatch("a[", "a["));
        assert!(!fnmatch("Kconfig", "*.in"));
    }

    #[test]
    fn globbing_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for p in [
            "b/Kconfig.x",
            "a/Kconfig.x",
            "a/other",
            "c/.hidden/Kconfig.x",
        ] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found = glob(&dir.path().join("*/Kconfig.*"));
        assert_eq!(
            found,
            [
                dir.path().join("a/Kconfig.x"),
                dir.path().join("b/Kconfig.x")
            ]
        );
        assert!(glob(&dir.path().join("nothing*/x")).is_empty());
        assert_eq!(
            glob(&dir.path().join("a/other")),
            [dir.path().join("a/other")]
        );
    }
}
