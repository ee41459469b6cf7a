//! Makefile-style depfiles (`out.o: a.c a.h \` ...), as compilers write them with `-MD` and as
//! Ninja reads them for rules with `depfile =` (and without `deps =`, which moves them into the
//! deps log instead).
//!
//! The escaping rules are Ninja's, which follow what GCC and Clang produce: `\ ` is a space in a
//! name (2N+1 backslashes before a space are N backslashes and a space, 2N backslashes end the name),
//! `\#` is `#`, `\:` is `:` unless whitespace follows, `$$` is `$`, a backslash before a newline
//! continues the line, and other backslashes are kept.

/// A parsed depfile: the targets before the colon(s) and the prerequisites after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Depfile {
    pub outs: Vec<String>,
    pub ins: Vec<String>,
}

/// A depfile Ninja would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepfileError {
    #[error("expected ':' in depfile")]
    MissingColon,
    #[error("inputs may not also have inputs")]
    InputsWithInputs,
}

fn is_plain(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || c >= 0x80
        || matches!(
            c,
            b'+' | b'?'
                | b'"'
                | b'\''
                | b'&'
                | b','
                | b'/'
                | b'_'
                | b':'
                | b'.'
                | b'~'
                | b'('
                | b')'
                | b'}'
                | b'{'
                | b'%'
                | b'='
                | b'@'
                | b'['
                | b']'
                | b'!'
                | b'-'
        )
}

/// Parse a depfile. An empty (or whitespace-only) depfile is valid and has no targets.
pub fn parse(content: &[u8]) -> Result<Depfile, DepfileError> {
    let at = |i: usize| -> u8 { content.get(i).copied().unwrap_or(0) };
    let end = content.len();
    let mut result = Depfile::default();
    let mut i = 0usize;
    let mut have_target = false;
    let mut parsing_targets = true;
    let mut poisoned_input = false;
    let mut is_empty = true;
    let mut name: Vec<u8> = Vec::new();
    while i < end {
        let mut have_newline = false;
        name.clear();
        loop {
            let c = at(i);
            if c == b'\\' {
                let mut k = 0;
                while at(i + k) == b'\\' {
                    k += 1;
                }
                let next = at(i + k);
                match next {
                    b' ' => {
                        if k % 2 == 1 {
                            // 2N+1 backslashes and a space: N backslashes and a space.
                            name.extend(std::iter::repeat_n(b'\\', k / 2));
                            name.push(b' ');
                            i += k + 1;
                            continue;
                        }
                        // 2N backslashes and a space: the backslashes end the name.
                        name.extend(std::iter::repeat_n(b'\\', k));
                        i += k + 1;
                        break;
                    }
                    b'#' => {
                        name.extend(std::iter::repeat_n(b'\\', k - 1));
                        name.push(b'#');
                        i += k + 1;
                        continue;
                    }
                    b':' => {
                        let after = at(i + k + 1);
                        if i + k + 1 >= end || matches!(after, 0 | b' ' | b'\r' | b'\n' | b'\t') {
                            // A backslash before the target's colon is just a backslash.
                            name.extend(std::iter::repeat_n(b'\\', k));
                            name.push(b':');
                            if after == b'\n' {
                                have_newline = true;
                            }
                            i += k + 2;
                            break;
                        }
                        name.extend(std::iter::repeat_n(b'\\', k - 1));
                        name.push(b':');
                        i += k + 1;
                        continue;
                    }
                    0 | b'\r' | b'\n' => {
                        if k == 1 {
                            if next == b'\n' || (next == b'\r' && at(i + 2) == b'\n') {
                                // Line continuation: ends the name, not the rule.
                                i += if next == b'\n' { 2 } else { 3 };
                            } else {
                                // A lone backslash before the end or a bare CR is swallowed.
                                i += 1;
                            }
                            break;
                        }
                        // Several backslashes before a line end are text (the longest match).
                        name.extend(std::iter::repeat_n(b'\\', k));
                        i += k;
                        continue;
                    }
                    other => {
                        name.extend(std::iter::repeat_n(b'\\', k));
                        name.push(other);
                        i += k + 1;
                        continue;
                    }
                }
            }
            if c == b'$' && at(i + 1) == b'$' {
                name.push(b'$');
                i += 2;
                continue;
            }
            if i < end && is_plain(c) {
                let mut j = i + 1;
                while j < end && is_plain(content[j]) {
                    j += 1;
                }
                name.extend_from_slice(&content[i..j]);
                i = j;
                continue;
            }
            if i >= end || c == 0 {
                i += 1;
                break;
            }
            if c == b'\n' {
                have_newline = true;
                i += 1;
                break;
            }
            if c == b'\r' && at(i + 1) == b'\n' {
                have_newline = true;
                i += 2;
                break;
            }
            // Any other character (whitespace...) ends the name and is swallowed.
            i += 1;
            break;
        }

        let is_dependency = !parsing_targets;
        let mut len = name.len();
        if len > 0 && name[len - 1] == b':' {
            len -= 1;
            parsing_targets = false;
            have_target = true;
        }
        if len > 0 {
            is_empty = false;
            let piece = String::from_utf8_lossy(&name[..len]).into_owned();
            if !result.ins.contains(&piece) {
                if is_dependency {
                    if poisoned_input {
                        return Err(DepfileError::InputsWithInputs);
                    }
                    result.ins.push(piece);
                } else if !result.outs.contains(&piece) {
                    result.outs.push(piece);
                }
            } else if !is_dependency {
                poisoned_input = true;
            }
        }
        if have_newline {
            parsing_targets = true;
            poisoned_input = false;
        }
    }
    if !have_target && !is_empty {
        return Err(DepfileError::MissingColon);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Depfile {
        parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn basic() {
        let d = ok("build/ninja.o: ninja.cc ninja.h eval_env.h manifest_parser.h\n");
        assert_eq!(d.outs, ["build/ninja.o"]);
        assert_eq!(
            d.ins,
            ["ninja.cc", "ninja.h", "eval_env.h", "manifest_parser.h"]
        );
    }

    #[test]
    fn continuations_and_crlf() {
        let d = ok("foo.o: \\\n  bar.h baz.h \\\r\n  qux.h\r\n");
        assert_eq!(d.outs, ["foo.o"]);
        assert_eq!(d.ins, ["bar.h", "baz.h", "qux.h"]);
    }

    #[test]
    fn escaped_spaces_hashes_and_dollars() {
        let d = ok("a\\ b.o: c\\ d.h e\\#f.h g$$h.h \\\\\\ x.h\n");
        assert_eq!(d.outs, ["a b.o"]);
        assert_eq!(d.ins, ["c d.h", "e#f.h", "g$h.h", "\\ x.h"]);
        // 2N backslashes before a space end the name.
        let d = ok("a.o: x\\\\ y\n");
        assert_eq!(d.ins, ["x\\\\", "y"]);
    }

    #[test]
    fn windows_paths_and_escaped_colons() {
        let d = ok("c\\:\\x\\y.o: c\\:\\a.h\n");
        assert_eq!(d.outs, ["c:\\x\\y.o"]);
        assert_eq!(d.ins, ["c:\\a.h"]);
        // `\:` before whitespace is a backslash and the target's colon.
        let d = ok("x\\: y\n");
        assert_eq!(d.outs, ["x\\"]);
        assert_eq!(d.ins, ["y"]);
    }

    #[test]
    fn several_rules_and_phony_targets() {
        // `gcc -MP` adds an empty rule per header.
        let d = ok("out.o: a.h b.h\na.h:\nb.h:\n");
        assert_eq!(d.outs, ["out.o"]);
        assert_eq!(d.ins, ["a.h", "b.h"]);
        let d = ok("a b: c\nb: d\n");
        assert_eq!(d.outs, ["a", "b"]);
        assert_eq!(d.ins, ["c", "d"]);
    }

    #[test]
    fn duplicate_inputs_once() {
        let d = ok("a: b c b\n");
        assert_eq!(d.ins, ["b", "c"]);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"foo bar\n"), Err(DepfileError::MissingColon));
        // A prerequisite may not have prerequisites of its own.
        assert_eq!(parse(b"a: b\nb: c\n"), Err(DepfileError::InputsWithInputs));
        assert_eq!(
            parse(b"a: b\nb c: d\n"),
            Err(DepfileError::InputsWithInputs)
        );
        assert_eq!(parse(b"   \n\n"), Ok(Depfile::default()));
    }
}
