//! Path canonicalisation the way Ninja does it, and the normalisation espctl adds on top.
//!
//! Ninja identifies a file by its *canonical* path: `./` components and empty components are
//! dropped, `dir/..` pairs collapse, a trailing `/` goes, and leading `..` components stay (Ninja
//! never looks at the file system for this, so `a/../b` is `b` even if `a` is a symlink). Nothing
//! else changes: an absolute path and a relative path to the same file are two different nodes to
//! Ninja, and CMake writes some outputs under both names. [`Normalizer`] maps both to one key.

use std::path::{Component, Path, PathBuf};

/// Canonicalise `path` as Ninja's `CanonicalizePath` does on POSIX.
///
/// The empty string stays empty (Ninja rejects empty paths before canonicalising), a path that
/// collapses to nothing becomes `.`.
pub fn canonicalize(path: &str) -> String {
    if is_canonical(path) {
        return path.to_string();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    // Number of leading `..` in `parts` that cannot be collapsed.
    let mut fixed = 0usize;
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.len() > fixed {
                    parts.pop();
                } else {
                    parts.push("..");
                    fixed += 1;
                }
            }
            other => parts.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if absolute {
        out.push('/');
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Whether [`canonicalize`] would return `path` unchanged (the common case, checked without
/// allocating).
pub fn is_canonical(path: &str) -> bool {
    if path.is_empty() || path == "." {
        return true;
    }
    let bytes = path.as_bytes();
    if bytes.len() > 1 && bytes[bytes.len() - 1] == b'/' {
        return false;
    }
    let mut seen_normal = false;
    let start = usize::from(bytes[0] == b'/');
    if start == 1 && bytes.len() == 1 {
        return true;
    }
    for comp in path[start..].split('/') {
        match comp {
            "" | "." => return false,
            ".." => {
                if seen_normal {
                    return false;
                }
            }
            _ => seen_normal = true,
        }
    }
    true
}

/// Lexically normalise an absolute path: drop `.`, resolve `..` against the preceding component.
pub fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Make `path` absolute (against the current directory if relative) and lexically normal.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        lexical_normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        lexical_normalize(&cwd.join(path))
    }
}

/// Where a path Ninja names really is, relative to the build directory when it is inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    /// Inside the build directory: the path relative to it, canonical, never `..`-led.
    /// The build directory itself is the empty string.
    Build(String),
    /// Anywhere else: an absolute, lexically normal path.
    Outside(PathBuf),
}

/// Maps the paths a build manifest names (relative to Ninja's working directory, the build
/// directory, or absolute) to one [`Location`] per file, so that `gen/x.h` and
/// `/home/me/proj/build/gen/x.h` are recognised as the same file.
///
/// The build directory is known under every name it has: the path as given, its real path
/// (symlinks resolved), and any extra alias (CMake's `cmake_ninja_workdir`).
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// Absolute, lexically normal build directory as given.
    build_dir: PathBuf,
    /// Every absolute spelling of the build directory, longest first.
    aliases: Vec<PathBuf>,
}

impl Normalizer {
    pub fn new(build_dir: &Path) -> Normalizer {
        let build_dir = absolute(build_dir);
        let mut n = Normalizer {
            aliases: vec![build_dir.clone()],
            build_dir,
        };
        if let Ok(real) = std::fs::canonicalize(&n.build_dir) {
            n.add_alias(&real);
        }
        n
    }

    /// Another absolute name of the build directory.
    pub fn add_alias(&mut self, alias: &Path) {
        if !alias.is_absolute() {
            return;
        }
        let alias = lexical_normalize(alias);
        if !self.aliases.contains(&alias) {
            self.aliases.push(alias);
            self.aliases
                .sort_by_key(|a| std::cmp::Reverse(a.as_os_str().len()));
        }
    }

    pub fn build_dir(&self) -> &Path {
        &self.build_dir
    }

    /// Where `path` (as Ninja names it, relative to the build directory or absolute) is.
    pub fn locate(&self, path: &str) -> Location {
        if !path.starts_with('/') {
            let canon = canonicalize(path);
            if canon == "." {
                return Location::Build(String::new());
            }
            if !canon.starts_with("../") && canon != ".." {
                return Location::Build(canon);
            }
            return self.locate_abs(&lexical_normalize(&self.build_dir.join(&canon)));
        }
        self.locate_abs(&lexical_normalize(Path::new(path)))
    }

    /// Where an absolute path is.
    pub fn locate_abs(&self, abs: &Path) -> Location {
        for alias in &self.aliases {
            if let Ok(rest) = abs.strip_prefix(alias) {
                return Location::Build(rest.to_string_lossy().into_owned());
            }
        }
        Location::Outside(abs.to_path_buf())
    }

    /// The absolute path of a location (under the build directory as given).
    pub fn absolute(&self, loc: &Location) -> PathBuf {
        match loc {
            Location::Build(rel) if rel.is_empty() => self.build_dir.clone(),
            Location::Build(rel) => self.build_dir.join(rel),
            Location::Outside(p) => p.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalize_like_ninja() {
        let cases = [
            ("foo.h", "foo.h"),
            ("./foo.h", "foo.h"),
            ("./foo/./bar.h", "foo/bar.h"),
            ("./x/foo/../bar.h", "x/bar.h"),
            ("./x/foo/../../bar.h", "bar.h"),
            ("foo//bar", "foo/bar"),
            ("foo//.//..///bar", "bar"),
            ("./x/../foo/../../bar.h", "../bar.h"),
            ("foo/./.", "foo"),
            ("foo/bar/..", "foo"),
            ("foo/.hidden_bar", "foo/.hidden_bar"),
            ("/foo", "/foo"),
            ("//foo", "/foo"),
            ("/", "/"),
            ("..", ".."),
            ("../", ".."),
            ("../foo", "../foo"),
            ("../../foo/../bar", "../../bar"),
            ("foo/..", "."),
            (".", "."),
            ("./.", "."),
            ("foo/", "foo"),
            ("/..", "/.."),
            ("a/b/c/../../../..", ".."),
            ("foo/...", "foo/..."),
            ("..foo/bar", "..foo/bar"),
        ];
        for (input, want) in cases {
            assert_eq!(canonicalize(input), want, "canonicalize({input:?})");
            assert_eq!(
                is_canonical(input),
                input == want,
                "is_canonical({input:?})"
            );
        }
    }

    #[test]
    fn normalizer_unifies_absolute_and_relative() {
        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("build");
        std::fs::create_dir(&build).unwrap();
        let mut n = Normalizer::new(&build);
        let abs = format!("{}/gen/x.h", build.display());
        assert_eq!(n.locate("gen/x.h"), Location::Build("gen/x.h".into()));
        assert_eq!(
            n.locate("./gen/../gen/x.h"),
            Location::Build("gen/x.h".into())
        );
        assert_eq!(n.locate(&abs), Location::Build("gen/x.h".into()));
        assert_eq!(
            n.locate("../src/a.c"),
            Location::Outside(dir.path().join("src/a.c"))
        );
        assert_eq!(n.locate("../build/y"), Location::Build("y".into()));
        assert_eq!(n.locate("."), Location::Build(String::new()));
        // A symlinked spelling of the build directory.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&build, &link).unwrap();
        n.add_alias(&link);
        assert_eq!(
            n.locate(&format!("{}/z", link.display())),
            Location::Build("z".into())
        );
        assert_eq!(n.absolute(&Location::Build("z".into())), build.join("z"));
    }
}
