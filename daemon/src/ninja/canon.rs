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
    Outside(String),
}

/// Maps the paths a build manifest names (relative to Ninja's working directory, the build
/// directory, or absolute) to one [`Location`] per file, so that `gen/x.h` and
/// `/home/me/proj/build/gen/x.h` are recognised as the same file. Purely lexical, like Ninja.
///
/// The build directory is known under every name it has: the path as given, its real path
/// (symlinks resolved), and any extra alias (CMake's `cmake_ninja_workdir`).
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// Absolute, lexically normal build directory as given.
    build_dir: PathBuf,
    build_str: String,
    /// Every absolute spelling of the build directory (canonical strings), longest first.
    aliases: Vec<String>,
}

impl Normalizer {
    pub fn new(build_dir: &Path) -> Normalizer {
        let build_dir = absolute(build_dir);
        let build_str = canonicalize(&build_dir.to_string_lossy());
        let mut n = Normalizer {
            aliases: vec![build_str.clone()],
            build_dir,
            build_str,
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
        let alias = canonicalize(&alias.to_string_lossy());
        if !self.aliases.contains(&alias) {
            self.aliases.push(alias);
            self.aliases.sort_by_key(|a| std::cmp::Reverse(a.len()));
        }
    }

    pub fn build_dir(&self) -> &Path {
        &self.build_dir
    }

    /// Where `path` (as Ninja names it, relative to the build directory or absolute) is.
    pub fn locate(&self, path: &str) -> Location {
        if !path.starts_with('/') {
            let owned;
            let canon = if is_canonical(path) {
                path
            } else {
                owned = canonicalize(path);
                owned.as_str()
            };
            if canon == "." {
                return Location::Build(String::new());
            }
            if canon != ".." && !canon.starts_with("../") {
                return Location::Build(canon.to_string());
            }
            return self.locate_abs_str(&canonicalize(&format!("{}/{canon}", self.build_str)));
        }
        if is_canonical(path) {
            self.locate_abs_str(path)
        } else {
            self.locate_abs_str(&canonicalize(path))
        }
    }

    /// Where an absolute path is.
    pub fn locate_abs(&self, abs: &Path) -> Location {
        self.locate_abs_str(&canonicalize(&abs.to_string_lossy()))
    }

    fn locate_abs_str(&self, abs: &str) -> Location {
        for alias in &self.aliases {
            if abs == alias {
                return Location::Build(String::new());
            }
            if alias == "/" {
                return Location::Build(abs[1..].to_string());
            }
            if let Some(rest) = abs.strip_prefix(alias.as_str())
                && let Some(rest) = rest.strip_prefix('/')
            {
                return Location::Build(rest.to_string());
            }
        }
        Location::Outside(abs.to_string())
    }

    /// The absolute path of a location (under the build directory as given).
    pub fn absolute(&self, loc: &Location) -> PathBuf {
        PathBuf::from(self.absolute_string(loc))
    }

    /// [`Normalizer::absolute`] as a string.
    pub fn absolute_string(&self, loc: &Location) -> String {
        let mut s = String::new();
        self.absolute_into(loc, &mut s);
        s
    }

    /// Write the absolute path of `loc` into `out` (cleared first).
    pub fn absolute_into(&self, loc: &Location, out: &mut String) {
        out.clear();
        match loc {
            Location::Build(rel) => {
                out.push_str(&self.build_str);
                if !rel.is_empty() {
                    if !self.build_str.ends_with('/') {
                        out.push('/');
                    }
                    out.push_str(rel);
                }
            }
            Location::Outside(p) => out.push_str(p),
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
            Location::Outside(format!("{}/src/a.c", dir.path().display()))
        );
        assert_eq!(
            n.locate("/x/./y/../z"),
            Location::Outside("/x/z".to_string())
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
