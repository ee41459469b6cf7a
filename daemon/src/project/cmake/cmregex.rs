//! CMake regular expressions on top of the `regex` crate.
//!
//! CMake's engine knows `^ $ . [] [^] * + ? | ()` and backslash escapes, nothing else: `{` and
//! `}` are literal, `\d` is a plain `d`, `^` is an anchor only at the start of the expression (or
//! of an alternative or group) and `$` only at its end, and backslash is literal inside brackets.
//! The translation keeps those meanings; `.` matches any character including a newline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;

/// Compiled expressions shared by every evaluation (file contents change, their patterns rarely do).
#[derive(Default)]
pub(crate) struct RegexCache {
    compiled: Mutex<HashMap<String, Result<Arc<Regex>, String>>>,
}

const CACHE_LIMIT: usize = 4096;

impl RegexCache {
    pub(crate) fn get(&self, pattern: &str) -> Result<Arc<Regex>, String> {
        if let Ok(map) = self.compiled.lock()
            && let Some(found) = map.get(pattern)
        {
            return found.clone();
        }
        let compiled = compile(pattern).map(Arc::new);
        if let Ok(mut map) = self.compiled.lock() {
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(pattern.to_owned(), compiled.clone());
        }
        compiled
    }
}

fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern);
    regex::RegexBuilder::new(&translated)
        .dot_matches_new_line(true)
        .size_limit(1 << 20)
        .nest_limit(100)
        .build()
        .map_err(|_| format!("regular expression `{pattern}` cannot compile"))
}

fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                match chars.get(i + 1) {
                    Some(&next) => push_literal(&mut out, next),
                    None => out.push_str("\\\\"),
                }
                i += 2;
                continue;
            }
            '^' => {
                let at_start = i == 0 || matches!(chars[i - 1], '(' | '|');
                if at_start {
                    out.push('^')
                } else {
                    out.push_str("\\^")
                }
            }
            '$' => {
                let at_end = i + 1 == chars.len() || matches!(chars[i + 1], ')' | '|');
                if at_end {
                    out.push('$')
                } else {
                    out.push_str("\\$")
                }
            }
            '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '[' => {
                // A bracket expression: copy up to its closing bracket, escaping what the regex
                // crate would otherwise read as syntax (nested classes, set operations, escapes).
                let mut j = i + 1;
                let mut class = String::from("[");
                if chars.get(j) == Some(&'^') {
                    class.push('^');
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    class.push_str("\\]");
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    let d = chars[j];
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    match d {
                        '\\' | '[' | '&' | '~' | '^' => {
                            class.push('\\');
                            class.push(d);
                        }
                        '-' if j + 1 < chars.len() && chars[j + 1] == '-' => class.push_str("\\-"),
                        _ => class.push(d),
                    }
                    j += 1;
                }
                if closed {
                    class.push(']');
                    out.push_str(&class);
                    i = j + 1;
                    continue;
                }
                out.push_str("\\[");
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() {
        out.push(c);
    } else {
        out.push('\\');
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmake_meanings() {
        let cache = RegexCache::default();
        assert!(cache.get("^a{2}$").unwrap().is_match("a{2}"));
        assert!(cache.get("\\d").unwrap().is_match("d"));
        assert!(!cache.get("\\d").unwrap().is_match("1"));
        assert!(cache.get("a^b").unwrap().is_match("a^b"));
        assert!(cache.get("[a-c]+$").unwrap().is_match("xxabc"));
        assert!(cache.get("\\.c$").unwrap().is_match("foo.c"));
        assert!(!cache.get("\\.c$").unwrap().is_match("fooxc"));
        assert!(cache.get("[\\]").unwrap().is_match("\\"));
        assert!(cache.get("(a|b)$").unwrap().is_match("xb"));
        assert!(cache.get("a.b").unwrap().is_match("a\nb"));
        assert!(cache.get("(").is_err());
    }
}
