//! Path arithmetic as CMake does it: lexical, on `/`-separated strings, never touching the disk
//! (except `REALPATH`).

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against `base` and lexically normalized (`.` dropped, `..` folded,
/// repeated separators collapsed): CMake's `CollapseFullPath`.
pub(crate) fn absolute(path: &Path, base: &Path) -> PathBuf {
    if path.is_absolute() || path.has_root() {
        normalize(path)
    } else {
        normalize(&base.join(path))
    }
}

/// Lexical normalization of a path (absolute or relative).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(component),
            },
            other => out.push(other),
        }
    }
    let mut result = PathBuf::new();
    for component in out {
        result.push(component.as_os_str());
    }
    result
}

/// A path as CMake writes it into a variable: forward slashes.
pub(crate) fn to_cmake(path: &Path) -> String {
    let s = path.to_string_lossy();
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    }
}

/// `absolute` on strings.
pub(crate) fn absolute_str(path: &str, base: &Path) -> String {
    to_cmake(&absolute(Path::new(path), base))
}

/// CMake's `FileIsFullPath`: a leading `/` or `~` (or a drive / UNC prefix on Windows).
pub(crate) fn is_full_path(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() == Some(&b'/') || b.first() == Some(&b'~') {
        return true;
    }
    if cfg!(windows) {
        return (b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic())
            || path.starts_with("\\\\");
    }
    false
}

/// `get_filename_component(... DIRECTORY)`: everything before the last slash of the path with
/// trailing slashes removed; `/` for a file at the root; empty without a slash.
pub(crate) fn filename_dir(path: &str) -> String {
    let mut p = path.replace('\\', "/");
    while p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    match p.rfind('/') {
        None => String::new(),
        Some(0) => "/".into(),
        Some(2) if p.as_bytes().get(1) == Some(&b':') => p[..3].to_owned(),
        Some(i) => p[..i].to_owned(),
    }
}

/// `get_filename_component(... NAME)`: after the last slash.
pub(crate) fn filename_name(path: &str) -> &str {
    match path.rfind(['/', '\\']) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// `EXT` (longest extension, from the first dot of the name) or `LAST_EXT`.
pub(crate) fn filename_ext(path: &str, last: bool) -> &str {
    let name = filename_name(path);
    let dot = if last {
        name.rfind('.')
    } else {
        name.find('.')
    };
    dot.map_or("", |i| &name[i..])
}

/// `NAME_WE` (name without the longest extension) or `NAME_WLE`.
pub(crate) fn filename_stem(path: &str, last: bool) -> &str {
    let name = filename_name(path);
    let dot = if last {
        name.rfind('.')
    } else {
        name.find('.')
    };
    dot.map_or(name, |i| &name[..i])
}

/// A path split as `cmake_path()` sees it: root directory, then relative part.
pub(crate) struct CmakePath<'a> {
    pub(crate) root: &'a str,
    pub(crate) relative: &'a str,
}

impl<'a> CmakePath<'a> {
    pub(crate) fn new(path: &'a str) -> Self {
        let root_len = path.bytes().take_while(|b| *b == b'/').count();
        CmakePath {
            root: if root_len > 0 { &path[..1] } else { "" },
            relative: &path[root_len..],
        }
    }

    /// The last element; empty when the path ends with a separator.
    pub(crate) fn filename(&self) -> &'a str {
        match self.relative.rfind('/') {
            Some(i) => &self.relative[i + 1..],
            None => self.relative,
        }
    }

    /// The extension of the filename: from its first dot (or last with `last_only`), a leading
    /// dot not counting; `.` and `..` have none.
    pub(crate) fn extension(&self, last_only: bool) -> &'a str {
        let name = self.filename();
        if name == "." || name == ".." {
            return "";
        }
        let search = if let Some(stripped) = name.strip_prefix('.') {
            stripped
        } else {
            name
        };
        let offset = name.len() - search.len();
        let dot = if last_only {
            search.rfind('.')
        } else {
            search.find('.')
        };
        dot.map_or("", |i| &name[offset + i..])
    }

    pub(crate) fn stem(&self, last_only: bool) -> &'a str {
        let name = self.filename();
        let ext = self.extension(last_only);
        &name[..name.len() - ext.len()]
    }

    /// The path without its last element (std::filesystem's `parent_path`).
    pub(crate) fn parent(&self, whole: &'a str) -> &'a str {
        if self.relative.is_empty() {
            return whole;
        }
        let rel_start = whole.len() - self.relative.len();
        match self.relative.rfind('/') {
            Some(i) => {
                let mut end = rel_start + i;
                // Separators before the filename are not part of the parent.
                while end > rel_start && whole.as_bytes()[end - 1] == b'/' {
                    end -= 1;
                }
                if end == rel_start {
                    &whole[..rel_start.max(self.root.len())]
                } else {
                    &whole[..end]
                }
            }
            None => &whole[..rel_start.min(self.root.len())],
        }
    }
}

/// `cmake_path(NORMAL_PATH)`: lexical normalization keeping a trailing separator.
pub(crate) fn normal_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let p = CmakePath::new(path);
    let mut parts: Vec<&str> = Vec::new();
    let trailing = path.ends_with('/')
        || path.ends_with("/.")
        || path.ends_with("/..")
        || path == "."
        || path == "..";
    for part in p.relative.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if !p.root.is_empty() => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let mut out = String::from(p.root);
    out.push_str(&parts.join("/"));
    if trailing && !parts.is_empty() && !out.ends_with('/') && parts.last() != Some(&"..") {
        out.push('/');
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// `file(RELATIVE_PATH)` / `cmake_path(RELATIVE_PATH)`: `path` relative to `base`, both
/// absolute and normalized.
pub(crate) fn relative_path(path: &Path, base: &Path) -> String {
    let path = normalize(path);
    let base = normalize(base);
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..b.len() {
        parts.push("..".into());
    }
    for c in &p[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    parts.join("/")
}
