//! Shell-style wildcard matching of one name (`*`, `?`, `[...]`), in the dialects of the tools the
//! project model reproduces: CMake's `file(GLOB)`, Python's `fnmatch` (Kconfig `orsource`) and GNU
//! Make's `$(wildcard)`. They differ only in whether `[^...]` negates and whether `\` escapes.

/// What a tool's wildcards allow besides `*`, `?`, `[...]` and `[!...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// `[^...]` negates like `[!...]` (Python's fnmatch reads `^` literally).
    pub caret_negates: bool,
    /// `\x` matches `x` literally.
    pub backslash_escapes: bool,
}

pub const CMAKE: Dialect = Dialect {
    caret_negates: true,
    backslash_escapes: false,
};
pub const PYTHON_FNMATCH: Dialect = Dialect {
    caret_negates: false,
    backslash_escapes: false,
};
pub const GNU_MAKE: Dialect = Dialect {
    caret_negates: true,
    backslash_escapes: true,
};

/// Whether `name` matches the whole of `pattern`. An unterminated `[` is a literal `[`.
pub fn matches(pattern: &str, name: &str, dialect: Dialect) -> bool {
    // The common shapes (`*.c`, `*`, a plain name) without building character vectors.
    let special = |s: &str| s.contains(['*', '?', '[', '\\']);
    match pattern.strip_prefix('*') {
        Some(suffix) if !special(suffix) => return name.ends_with(suffix),
        None if !special(pattern) => return name == pattern,
        _ => {}
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher: on a mismatch, let the last `*` swallow one more character.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => match class(&p[pi..], n[ni], dialect) {
                    Some((true, len)) => {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    None if n[ni] == '[' => {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                    None => {}
                },
                '\\' if dialect.backslash_escapes && pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                // An escape that does not match is a mismatch, never a literal backslash.
                '\\' if dialect.backslash_escapes && pi + 1 < p.len() => {}
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The class at `p[0] == '['`: whether `c` is in it and the class's length; None when unterminated.
/// A `]` right after the opening (or after the negation) is a member, not the end.
fn class(p: &[char], c: char, dialect: Dialect) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = match p.get(i) {
        Some('!') => true,
        Some('^') => dialect.caret_negates,
        _ => false,
    };
    if negated {
        i += 1;
    }
    let start = i;
    let mut matched = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((matched != negated, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialects_differ_only_where_their_tools_do() {
        for d in [CMAKE, PYTHON_FNMATCH, GNU_MAKE] {
            assert!(matches("*.c", "main.c", d));
            assert!(matches("a?c", "abc", d));
            assert!(!matches("a?c", "abbc", d));
            assert!(matches("a[0-9]", "a1", d));
            assert!(!matches("a[!0-9]", "a1", d));
            assert!(matches("a[", "a[", d));
            assert!(matches("[]x]", "]", d));
            assert!(matches("*a*b", "xxaxxb", d));
        }
        assert!(!matches("a[^0-9]", "a1", CMAKE));
        assert!(matches("a[^0-9]", "a^", PYTHON_FNMATCH));
        assert!(matches(r"a\*", "a*", GNU_MAKE));
        assert!(!matches(r"a\*", "a*", CMAKE));
        assert!(!matches(r"\a", "\\", GNU_MAKE));
    }
}
