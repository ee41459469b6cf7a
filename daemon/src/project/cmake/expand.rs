//! Variable references, escape sequences and list splitting: what happens to an argument between
//! the text in the file and the string a command receives.
//!
//! CMake processes escapes and `${}` / `$ENV{}` / `$CACHE{}` references in one left-to-right pass
//! over the argument text; references nest (`${a_${b}}`: the inner one is expanded first, its
//! value becomes part of the outer name). Values are inserted as they are, never re-scanned.
//! `\;` is kept as written so that list splitting can tell an escaped separator from a real one.
//! Unquoted arguments are then split into list elements; quoted and bracket ones are not.

use super::syntax::{Arg, ArgKind};

/// Where a reference looks its name up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Normal,
    Env,
    Cache,
}

/// Expands escapes and references in `text`. `resolve` answers a lookup; `line` is the value of
/// `${CMAKE_CURRENT_LIST_LINE}`. The error text is CMake's diagnosis.
pub(crate) fn expand(
    text: &str,
    line: u32,
    resolve: &mut dyn FnMut(RefKind, &str) -> Option<String>,
) -> Result<String, String> {
    if !text.bytes().any(|b| b == b'\\' || b == b'$') {
        return Ok(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    // Open references: (kind, where the name starts in `out`).
    let mut open: Vec<(RefKind, usize)> = Vec::new();
    let mut i = 0;
    // Start of the literal run not yet copied to `out`.
    let mut run = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                out.push_str(&text[run..i]);
                let Some(&next) = bytes.get(i + 1) else {
                    // A lone trailing backslash stays as it is.
                    out.push('\\');
                    i += 1;
                    run = i;
                    continue;
                };
                match next {
                    b't' => out.push('\t'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b';' if open.is_empty() => out.push_str("\\;"),
                    b if b.is_ascii_alphanumeric() => {
                        return Err(format!("invalid character escape `\\{}`", b as char));
                    }
                    _ => {
                        // Identity escape: the escaped character itself (which may be a
                        // multi-byte character: copy the whole of it).
                        let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                        out.push_str(&text[i + 1..i + 1 + len]);
                        i += 1 + len;
                        run = i;
                        continue;
                    }
                }
                i += 2;
                run = i;
            }
            b'$' => {
                let rest = &bytes[i + 1..];
                let (kind, skip) = if rest.first() == Some(&b'{') {
                    (RefKind::Normal, 2)
                } else if rest.starts_with(b"ENV{") {
                    (RefKind::Env, 5)
                } else if rest.starts_with(b"CACHE{") {
                    (RefKind::Cache, 7)
                } else {
                    let name_len = rest.iter().take_while(|b| is_name_byte(**b)).count();
                    if name_len > 0 && rest.get(name_len) == Some(&b'{') {
                        let syntax = String::from_utf8_lossy(&rest[..name_len]);
                        return Err(format!(
                            "syntax `${syntax}{{}}` is not supported; only `${{}}`, `$ENV{{}}` and `$CACHE{{}}` are"
                        ));
                    }
                    i += 1;
                    continue;
                };
                out.push_str(&text[run..i]);
                i += skip;
                run = i;
                open.push((kind, out.len()));
            }
            b'}' if !open.is_empty() => {
                out.push_str(&text[run..i]);
                let (kind, start) = open.pop().unwrap_or((RefKind::Normal, out.len()));
                let name = out.split_off(start);
                let value = if kind == RefKind::Normal && name == "CMAKE_CURRENT_LIST_LINE" {
                    Some(line.to_string())
                } else {
                    resolve(kind, &name)
                };
                if let Some(value) = value {
                    if out.len() + value.len() > super::interp::MAX_VALUE_LEN {
                        return Err("the expanded value is too large".into());
                    }
                    out.push_str(&value);
                }
                i += 1;
                run = i;
            }
            b if !open.is_empty() && !is_name_byte(b) => {
                let partial = format!(
                    "{}{}",
                    &out[open.last().map_or(0, |o| o.1)..],
                    &text[run..i]
                );
                let shown = text[i..].chars().next().unwrap_or('?');
                return Err(format!(
                    "invalid character `{shown}` in a variable name: `{partial}`"
                ));
            }
            _ => i += 1,
        }
    }
    if !open.is_empty() {
        return Err("there is an unterminated variable reference".into());
    }
    out.push_str(&text[run..]);
    Ok(out)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'.' | b'+' | b'-')
}

/// Splits a value into list elements the way arguments are split: `;` separates, `\;` is a
/// literal semicolon, semicolons inside square brackets do not separate, empty elements are
/// dropped unless `keep_empty`.
pub(crate) fn split_list_into(value: &str, keep_empty: bool, out: &mut Vec<String>) {
    if value.is_empty() {
        return;
    }
    if !value.bytes().any(|b| b == b';') {
        out.push(value.to_owned());
        return;
    }
    let mut element = String::new();
    let mut nesting: i64 = 0;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if chars.peek() == Some(&';') {
                    chars.next();
                    element.push(';');
                } else {
                    element.push('\\');
                }
            }
            '[' => {
                nesting += 1;
                element.push('[');
            }
            ']' => {
                nesting -= 1;
                element.push(']');
            }
            ';' if nesting == 0 => {
                if keep_empty || !element.is_empty() {
                    out.push(std::mem::take(&mut element));
                } else {
                    element.clear();
                }
            }
            c => element.push(c),
        }
    }
    if keep_empty || !element.is_empty() {
        out.push(element);
    }
}

/// The elements of a list value, empty elements included (what `list()` works on).
pub(crate) fn list_items(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    split_list_into(value, true, &mut out);
    out
}

/// The elements of a list value without empty ones (what unquoted `${var}` produces).
pub(crate) fn list_items_nonempty(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    split_list_into(value, false, &mut out);
    out
}

/// Joins list elements into a list value.
pub(crate) fn join_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(item.as_ref());
    }
    out
}

/// An argument after expansion, remembering whether it was quoted (for `if()`).
#[derive(Debug, Clone)]
pub(crate) struct Expanded {
    pub(crate) value: String,
    pub(crate) quoted: bool,
}

/// Expands one written argument into the arguments the command receives.
pub(crate) fn expand_arg(
    arg: &Arg,
    line: u32,
    resolve: &mut dyn FnMut(RefKind, &str) -> Option<String>,
    out: &mut Vec<Expanded>,
) -> Result<(), String> {
    match arg.kind {
        ArgKind::Bracket => out.push(Expanded {
            value: arg.text.clone(),
            quoted: true,
        }),
        ArgKind::Quoted => {
            let value = if arg.is_literal() {
                arg.text.clone()
            } else {
                expand(&arg.text, line, resolve)?
            };
            out.push(Expanded {
                value,
                quoted: true,
            });
        }
        ArgKind::Unquoted => {
            if arg.is_literal() {
                out.push(Expanded {
                    value: arg.text.clone(),
                    quoted: false,
                });
            } else {
                let value = expand(&arg.text, line, resolve)?;
                let mut items = Vec::new();
                split_list_into(&value, false, &mut items);
                out.extend(items.into_iter().map(|value| Expanded {
                    value,
                    quoted: false,
                }));
            }
        }
    }
    Ok(())
}
