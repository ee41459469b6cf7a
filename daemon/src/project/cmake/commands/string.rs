//! `string()`.

use regex::Regex;
use sha2::Digest;

use super::super::condition::is_off;
use super::super::expand::join_list;
use super::super::interp::{Flow, Interp, MAX_VALUE_LEN};
use super::atoi;

/// One piece of a `REGEX REPLACE` replacement: text or a group reference.
enum Piece {
    Text(String),
    Group(usize),
}

/// Parses a replacement expression: `\0`..`\9` are groups, `\n` a newline, `\\` a backslash.
fn parse_replacement(replace: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = replace.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            None => return Err("replace-expression ends in a backslash".into()),
            Some(d) if d.is_ascii_digit() => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(d as usize - '0' as usize));
            }
            Some('n') => text.push('\n'),
            Some('\\') => text.push('\\'),
            Some(d) => return Err(format!("unknown escape `\\{d}` in replace-expression")),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// `string(REGEX REPLACE)` semantics: every match replaced; an empty match is an error.
pub(crate) fn regex_replace(regex: &Regex, input: &str, replace: &str) -> Result<String, String> {
    let pieces = parse_replacement(replace)?;
    let mut out = String::new();
    let mut last = 0;
    for captures in regex.captures_iter(input) {
        let whole = captures.get(0).map_or(0..0, |m| m.range());
        if whole.is_empty() {
            return Err(format!(
                "regex `{}` matched an empty string",
                regex.as_str()
            ));
        }
        out.push_str(&input[last..whole.start]);
        for piece in &pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(n) => {
                    if let Some(m) = captures.get(*n) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
        last = whole.end;
        if out.len() > MAX_VALUE_LEN {
            return Err("string(REGEX REPLACE) result too large".into());
        }
    }
    out.push_str(&input[last..]);
    Ok(out)
}

/// `$<...>` generator expressions removed (nested ones included).
pub(crate) fn genex_strip(input: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'<') {
            chars.next();
            depth += 1;
        } else if c == '>' && depth > 0 {
            depth -= 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// CMake's `MAKE_C_IDENTIFIER`: non-alphanumerics become `_`, a leading digit gets a `_`.
fn make_c_identifier(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

impl Interp<'_> {
    pub(crate) fn cmd_string(&mut self, args: Vec<String>) -> Flow {
        let Some(sub) = args.first().cloned() else {
            self.fail("string() called with incorrect number of arguments");
            return Flow::Stop;
        };
        match self.string_sub(&sub, &args[1..]) {
            Ok(flow) => flow,
            Err(e) => {
                self.fail(format!("string({sub}): {e}"));
                Flow::Stop
            }
        }
    }

    fn string_sub(&mut self, sub: &str, a: &[String]) -> Result<Flow, String> {
        let need = |n: usize| -> Result<(), String> {
            if a.len() < n {
                Err("called with incorrect number of arguments".into())
            } else {
                Ok(())
            }
        };
        match sub {
            "APPEND" | "PREPEND" => {
                need(1)?;
                let current = self.var_or_empty(&a[0]);
                let addition = a[1..].concat();
                let value = if sub == "APPEND" {
                    current + &addition
                } else {
                    addition + &current
                };
                check_len(&value)?;
                self.set_var(&a[0], value);
            }
            "CONCAT" => {
                need(1)?;
                self.set_var(&a[0], a[1..].concat());
            }
            "JOIN" => {
                need(2)?;
                self.set_var(&a[1], a[2..].join(&a[0]));
            }
            "LENGTH" => {
                need(2)?;
                self.set_var(&a[1], a[0].len().to_string());
            }
            "TOLOWER" | "TOUPPER" => {
                need(2)?;
                let v = if sub == "TOLOWER" {
                    a[0].to_ascii_lowercase()
                } else {
                    a[0].to_ascii_uppercase()
                };
                self.set_var(&a[1], v);
            }
            "STRIP" => {
                need(2)?;
                self.set_var(
                    &a[1],
                    a[0].trim_matches(|c: char| c.is_ascii_whitespace())
                        .to_owned(),
                );
            }
            "GENEX_STRIP" => {
                need(2)?;
                self.set_var(&a[1], genex_strip(&a[0]));
            }
            "MAKE_C_IDENTIFIER" => {
                need(2)?;
                self.set_var(&a[1], make_c_identifier(&a[0]));
            }
            "SUBSTRING" => {
                need(4)?;
                let bytes = a[0].as_bytes();
                let begin = atoi(&a[1]);
                let length = atoi(&a[2]);
                if begin < 0 || begin as usize > bytes.len() {
                    return Err(format!(
                        "begin index {begin} is out of range 0 - {}",
                        bytes.len()
                    ));
                }
                if length < -1 {
                    return Err(format!(
                        "end index {length} is out of range -1 - {}",
                        bytes.len()
                    ));
                }
                let begin = begin as usize;
                let end = if length == -1 {
                    bytes.len()
                } else {
                    (begin + length as usize).min(bytes.len())
                };
                self.set_var(
                    &a[3],
                    String::from_utf8_lossy(&bytes[begin..end]).into_owned(),
                );
            }
            "FIND" => {
                need(3)?;
                let reverse = a.get(3).map(String::as_str) == Some("REVERSE");
                let found = if reverse {
                    a[0].rfind(a[1].as_str())
                } else {
                    a[0].find(a[1].as_str())
                };
                self.set_var(&a[2], found.map_or("-1".into(), |i| i.to_string()));
            }
            "REPLACE" => {
                need(3)?;
                let input = a[3..].concat();
                let value = if a[0].is_empty() {
                    input
                } else {
                    input.replace(a[0].as_str(), &a[1])
                };
                check_len(&value)?;
                self.set_var(&a[2], value);
            }
            "REPEAT" => {
                need(3)?;
                let count = atoi(&a[1]);
                if count < 0 {
                    return Err("repeat count is not a positive number".into());
                }
                if a[0].len().saturating_mul(count as usize) > MAX_VALUE_LEN {
                    return Err("result too large".into());
                }
                self.set_var(&a[2], a[0].repeat(count as usize));
            }
            "COMPARE" => {
                need(4)?;
                let ord = a[1].as_bytes().cmp(a[2].as_bytes());
                use std::cmp::Ordering::*;
                let result = match a[0].as_str() {
                    "LESS" => ord == Less,
                    "LESS_EQUAL" => ord != Greater,
                    "GREATER" => ord == Greater,
                    "GREATER_EQUAL" => ord != Less,
                    "EQUAL" => ord == Equal,
                    "NOTEQUAL" => ord != Equal,
                    other => return Err(format!("unknown comparison {other}")),
                };
                self.set_var(&a[3], if result { "1" } else { "0" });
            }
            "ASCII" => {
                need(2)?;
                let (codes, out) = a.split_at(a.len() - 1);
                let mut value = String::new();
                for code in codes {
                    let n = atoi(code);
                    match u8::try_from(n).ok().filter(|n| *n > 0 && *n < 128) {
                        Some(b) => value.push(b as char),
                        None => return Err(format!("character with code {code} does not exist")),
                    }
                }
                self.set_var(&out[0], value);
            }
            "HEX" => {
                need(2)?;
                let value: String = a[0].bytes().map(|b| format!("{b:02x}")).collect();
                self.set_var(&a[1], value);
            }
            "CONFIGURE" => {
                need(2)?;
                let at_only = a[2..].iter().any(|x| x == "@ONLY");
                let escape_quotes = a[2..].iter().any(|x| x == "ESCAPE_QUOTES");
                let Some(value) = self.configure_string(&a[0], at_only, escape_quotes) else {
                    return Ok(Flow::Stop);
                };
                self.set_var(&a[1], value);
            }
            "REGEX" => return self.string_regex(a),
            "TIMESTAMP" => {
                need(1)?;
                let utc = a[1..].iter().any(|x| x == "UTC");
                let format = a[1..]
                    .iter()
                    .find(|x| *x != "UTC")
                    .cloned()
                    .unwrap_or_else(|| "%Y-%m-%dT%H:%M:%S".into());
                let value = if utc {
                    chrono::Utc::now().format(&format).to_string()
                } else {
                    chrono::Local::now().format(&format).to_string()
                };
                self.set_var(&a[0], value);
            }
            "RANDOM" => {
                need(1)?;
                let out = a.last().cloned().unwrap_or_default();
                let mut length = 5usize;
                let mut alphabet: Vec<char> =
                    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        .chars()
                        .collect();
                let mut i = 0;
                while i + 1 < a.len() {
                    match a[i].as_str() {
                        "LENGTH" => length = atoi(&a[i + 1]).clamp(1, 4096) as usize,
                        "ALPHABET" => alphabet = a[i + 1].chars().collect(),
                        _ => {}
                    }
                    i += 2;
                }
                if alphabet.is_empty() {
                    return Err("ALPHABET must not be empty".into());
                }
                // Deterministic: the value only names generated files, it never selects sources.
                let value: String = (0..length)
                    .map(|k| alphabet[(k * 7 + 3) % alphabet.len()])
                    .collect();
                self.set_var(&out, value);
            }
            "SHA256" | "SHA224" | "SHA384" | "SHA512" => {
                need(2)?;
                let data = a[1..].concat();
                let digest = match sub {
                    "SHA224" => hex::encode(sha2::Sha224::digest(data.as_bytes())),
                    "SHA384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                    "SHA512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                    _ => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                };
                self.set_var(&a[0], digest);
            }
            "JSON" => return self.string_json(a),
            _ => {
                // UUID, MD5, SHA1, SHA3_*: not available; the result stays empty.
                if let Some(out) = a.first().cloned() {
                    self.set_var(&out, "");
                }
                self.warn(format!(
                    "string({sub}) is not evaluated; its result is left empty"
                ));
            }
        }
        Ok(Flow::Normal)
    }

    fn string_regex(&mut self, a: &[String]) -> Result<Flow, String> {
        let Some(mode) = a.first() else {
            return Err("REGEX needs a mode".into());
        };
        match mode.as_str() {
            "MATCH" | "MATCHALL" => {
                if a.len() < 3 {
                    return Err("called with incorrect number of arguments".into());
                }
                let regex = self.shared.regexes.get(&a[1])?;
                let input = a[3..].concat();
                self.clear_matches();
                if mode == "MATCH" {
                    let value = match regex.captures(&input) {
                        Some(c) => {
                            self.store_matches(&c);
                            c.get(0).map(|m| m.as_str().to_owned()).unwrap_or_default()
                        }
                        None => String::new(),
                    };
                    self.set_var(&a[2], value);
                } else {
                    let mut found = Vec::new();
                    for c in regex.captures_iter(&input) {
                        let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
                        if whole.is_empty() {
                            return Err(format!("regex `{}` matched an empty string", a[1]));
                        }
                        self.clear_matches();
                        self.store_matches(&c);
                        found.push(whole.to_owned());
                    }
                    self.set_var(&a[2], join_list(&found));
                }
            }
            "REPLACE" => {
                if a.len() < 4 {
                    return Err("called with incorrect number of arguments".into());
                }
                let regex = self.shared.regexes.get(&a[1])?;
                let input = a[4..].concat();
                self.clear_matches();
                if let Some(c) = regex.captures_iter(&input).last() {
                    self.store_matches(&c);
                }
                let value = regex_replace(&regex, &input, &a[2])?;
                self.set_var(&a[3], value);
            }
            other => return Err(format!("unknown REGEX mode {other}")),
        }
        Ok(Flow::Normal)
    }

    /// `string(JSON)`: GET, TYPE, LENGTH, MEMBER; the rest is warned about.
    fn string_json(&mut self, a: &[String]) -> Result<Flow, String> {
        let Some(out) = a.first().cloned() else {
            return Err("JSON needs an output variable".into());
        };
        let mut rest = &a[1..];
        let mut error_var = None;
        if rest.first().map(String::as_str) == Some("ERROR_VARIABLE") {
            error_var = rest.get(1).cloned();
            rest = rest.get(2..).unwrap_or(&[]);
        }
        let (Some(mode), Some(json)) = (rest.first(), rest.get(1)) else {
            return Err("JSON called with incorrect number of arguments".into());
        };
        let path = &rest[2..];
        let fail = |this: &mut Self, message: String| -> Result<Flow, String> {
            match &error_var {
                Some(var) => {
                    this.set_var(var, message);
                    this.set_var(&out, format!("{}-NOTFOUND", path.join("-")));
                    Ok(Flow::Normal)
                }
                None => Err(message),
            }
        };
        let root: serde_json::Value = match serde_json::from_str(json) {
            Ok(v) => v,
            Err(e) => return fail(self, format!("failed parsing json string: {e}")),
        };
        let (walk, last) = match mode.as_str() {
            "MEMBER" if !path.is_empty() => (&path[..path.len() - 1], path.last()),
            _ => (path, None),
        };
        let mut node = &root;
        for key in walk {
            let next = match node {
                serde_json::Value::Object(map) => map.get(key),
                serde_json::Value::Array(items) => {
                    key.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return fail(self, format!("member `{key}` not found")),
            }
        }
        let value = match mode.as_str() {
            "GET" => match node {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => {
                    if *b {
                        "ON".into()
                    } else {
                        "OFF".into()
                    }
                }
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            },
            "TYPE" => match node {
                serde_json::Value::Null => "NULL",
                serde_json::Value::Bool(_) => "BOOLEAN",
                serde_json::Value::Number(_) => "NUMBER",
                serde_json::Value::String(_) => "STRING",
                serde_json::Value::Array(_) => "ARRAY",
                serde_json::Value::Object(_) => "OBJECT",
            }
            .to_owned(),
            "LENGTH" => match node {
                serde_json::Value::Array(items) => items.len().to_string(),
                serde_json::Value::Object(map) => map.len().to_string(),
                _ => return fail(self, "LENGTH needs an array or an object".into()),
            },
            "MEMBER" => {
                let index = last.map_or(0, |l| atoi(l)).max(0) as usize;
                match node {
                    serde_json::Value::Object(map) => match map.keys().nth(index) {
                        Some(k) => k.clone(),
                        None => return fail(self, "MEMBER index out of range".into()),
                    },
                    _ => return fail(self, "MEMBER needs an object".into()),
                }
            }
            other => {
                self.set_var(&out, "");
                self.warn(format!(
                    "string(JSON ... {other}) is not evaluated; its result is left empty"
                ));
                return Ok(Flow::Normal);
            }
        };
        if let Some(var) = &error_var {
            self.set_var(var, "NOTFOUND");
        }
        self.set_var(&out, value);
        Ok(Flow::Normal)
    }

    /// `@VAR@` and (unless `@ONLY`) `${VAR}` substitution plus `#cmakedefine` lines, as
    /// `configure_file()` does to text.
    pub(crate) fn configure_string(
        &mut self,
        input: &str,
        at_only: bool,
        escape_quotes: bool,
    ) -> Option<String> {
        let mut lines_out = Vec::new();
        for line in input.split('\n') {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("#cmakedefine01") {
                let name = rest.split_whitespace().next().unwrap_or("").to_owned();
                let on = self.var(&name).is_some_and(|v| !is_off(&v));
                lines_out.push(format!("#define {name} {}", if on { 1 } else { 0 }));
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("#cmakedefine") {
                let mut words = rest.split_whitespace();
                let name = words.next().unwrap_or("").to_owned();
                let on = self.var(&name).is_some_and(|v| !is_off(&v));
                if on {
                    let tail = rest.trim_start().strip_prefix(name.as_str()).unwrap_or("");
                    let replaced = self.substitute_at(tail, at_only, escape_quotes)?;
                    lines_out.push(format!("#define {name}{replaced}"));
                } else {
                    lines_out.push(format!("/* #undef {name} */"));
                }
                continue;
            }
            lines_out.push(self.substitute_at(line, at_only, escape_quotes)?);
        }
        Some(lines_out.join("\n"))
    }

    fn substitute_at(&mut self, text: &str, at_only: bool, escape_quotes: bool) -> Option<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('@') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let name_len = after
                .bytes()
                .take_while(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'+' | b'-')
                })
                .count();
            if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'@') {
                let mut value = self.var_or_empty(&after[..name_len]);
                if escape_quotes {
                    value = value.replace('"', "\\\"");
                }
                out.push_str(&value);
                rest = &after[name_len + 1..];
            } else {
                out.push('@');
                rest = after;
            }
        }
        out.push_str(rest);
        if at_only {
            return Some(out);
        }
        // `${VAR}` references, without escape processing.
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(start) = rest.find("${") {
            result.push_str(&rest[..start]);
            match rest[start + 2..].find('}') {
                Some(end) => {
                    let name = &rest[start + 2..start + 2 + end];
                    let mut value = self.var_or_empty(name);
                    if escape_quotes {
                        value = value.replace('"', "\\\"");
                    }
                    result.push_str(&value);
                    rest = &rest[start + 3 + end..];
                }
                None => {
                    result.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        result.push_str(rest);
        Some(result)
    }
}

fn check_len(value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE_LEN {
        Err("result too large".into())
    } else {
        Ok(())
    }
}
