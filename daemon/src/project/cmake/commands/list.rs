//! `list()`.

use super::super::expand::{join_list, list_items, split_list_into};
use super::super::interp::{Flow, Interp, MAX_VALUE_LEN};
use super::atoi;

impl Interp<'_> {
    pub(crate) fn cmd_list(&mut self, args: Vec<String>) -> Flow {
        if args.len() < 2 {
            self.fail("list() called with incorrect number of arguments");
            return Flow::Stop;
        }
        let sub = args[0].as_str();
        let name = args[1].clone();
        let rest = &args[2..];
        let result = match sub {
            "LENGTH" => self.list_read(&name, rest, 1, |items, _| Ok(items.len().to_string())),
            "GET" => {
                if rest.len() < 2 {
                    Err("list(GET) needs at least one index and an output variable".into())
                } else {
                    self.list_read(&name, rest, rest.len(), |items, indexes| {
                        let mut out = Vec::new();
                        for index in indexes {
                            let i = resolve_index(index, items.len(), false)?;
                            out.push(items[i].clone());
                        }
                        Ok(join_list(&out))
                    })
                }
            }
            "JOIN" => self.list_read(&name, rest, 2, |items, glue| Ok(items.join(&glue[0]))),
            "SUBLIST" => self.list_read(&name, rest, 3, |items, a| {
                let begin = atoi(&a[0]);
                let length = atoi(&a[1]);
                if begin < 0 || begin as usize > items.len() {
                    return Err(format!(
                        "list(SUBLIST) begin index {begin} is out of range 0 - {}",
                        items.len()
                    ));
                }
                if length < -1 {
                    return Err(format!("list(SUBLIST) length {length} is negative"));
                }
                let begin = begin as usize;
                let end = if length == -1 {
                    items.len()
                } else {
                    (begin + length as usize).min(items.len())
                };
                Ok(join_list(&items[begin..end]))
            }),
            "FIND" => self.list_read(&name, rest, 2, |items, a| {
                Ok(items
                    .iter()
                    .position(|i| *i == a[0])
                    .map_or("-1".into(), |p| p.to_string()))
            }),
            "APPEND" | "PREPEND" => {
                self.list_append(&name, rest, sub == "PREPEND");
                Ok(())
            }
            "INSERT" => self.list_modify(&name, |items| {
                let Some(index) = rest.first() else {
                    return Err("list(INSERT) needs an index".into());
                };
                let i = resolve_index(index, items.len(), true)?;
                let mut new = Vec::new();
                for value in &rest[1..] {
                    split_list_into(value, true, &mut new);
                }
                items.splice(i..i, new);
                Ok(())
            }),
            "POP_BACK" | "POP_FRONT" => {
                let mut items = self.list_value(&name);
                let mut popped = Vec::new();
                let wanted = rest.len().max(1);
                for _ in 0..wanted {
                    if items.is_empty() {
                        break;
                    }
                    popped.push(if sub == "POP_BACK" {
                        items.pop().unwrap_or_default()
                    } else {
                        items.remove(0)
                    });
                }
                for (i, out) in rest.iter().enumerate() {
                    match popped.get(i) {
                        Some(v) => self.set_var(out, v.clone()),
                        None => self.unset_var(out),
                    }
                }
                if self.is_defined(&name) {
                    self.set_var(&name, join_list(&items));
                }
                Ok(())
            }
            "REMOVE_ITEM" => self.list_modify(&name, |items| {
                let mut remove = Vec::new();
                for value in rest {
                    split_list_into(value, true, &mut remove);
                }
                items.retain(|i| !remove.contains(i));
                Ok(())
            }),
            "REMOVE_AT" => self.list_modify(&name, |items| {
                let mut indexes = Vec::new();
                for index in rest {
                    indexes.push(resolve_index(index, items.len(), false)?);
                }
                let mut i = 0;
                items.retain(|_| {
                    let keep = !indexes.contains(&i);
                    i += 1;
                    keep
                });
                Ok(())
            }),
            "REMOVE_DUPLICATES" => self.list_modify(&name, |items| {
                let mut seen = std::collections::HashSet::new();
                items.retain(|i| seen.insert(i.clone()));
                Ok(())
            }),
            "REVERSE" => self.list_modify(&name, |items| {
                items.reverse();
                Ok(())
            }),
            "SORT" => self.list_sort(&name, rest),
            "FILTER" => self.list_filter(&name, rest),
            "TRANSFORM" => self.list_transform(&name, rest),
            other => Err(format!("list() does not know sub-command {other}")),
        };
        match result {
            Ok(()) => Flow::Normal,
            Err(e) => {
                self.fail(e);
                Flow::Stop
            }
        }
    }

    fn list_value(&mut self, name: &str) -> Vec<String> {
        self.var(name).map(|v| list_items(&v)).unwrap_or_default()
    }

    /// A reading sub-command: `rest` holds `n` operands and then the output variable.
    fn list_read(
        &mut self,
        name: &str,
        rest: &[String],
        n: usize,
        f: impl FnOnce(&[String], &[String]) -> Result<String, String>,
    ) -> Result<(), String> {
        if rest.len() != n {
            return Err(format!(
                "list() sub-command on `{name}` called with incorrect number of arguments"
            ));
        }
        let items = self.list_value(name);
        let out = rest[n - 1].clone();
        let value = f(&items, &rest[..n - 1])?;
        self.set_var(&out, value);
        Ok(())
    }

    /// A modifying sub-command on an existing list (nothing happens to an undefined one).
    fn list_modify(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Vec<String>) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some(value) = self.var(name) else {
            return Ok(());
        };
        let mut items = list_items(&value);
        f(&mut items)?;
        self.set_var(name, join_list(&items));
        Ok(())
    }

    fn list_append(&mut self, name: &str, values: &[String], prepend: bool) {
        let existing = self.var(name);
        if values.is_empty() {
            if existing.is_none() {
                self.set_var(name, "");
            }
            return;
        }
        let addition = join_list(values);
        match existing {
            Some(current) if !current.is_empty() => {
                if prepend {
                    self.set_var(name, format!("{addition};{current}"));
                } else {
                    // Appending in place: lists of sources grow one element at a time.
                    if current.len() + addition.len() + 1 > MAX_VALUE_LEN {
                        self.fail(format!("list(APPEND): the value of `{name}` is too large"));
                        return;
                    }
                    let slot = self.scopes.top_value_mut(name, || Some(current));
                    slot.push(';');
                    slot.push_str(&addition);
                }
            }
            _ => self.set_var(name, addition),
        }
    }

    fn list_sort(&mut self, name: &str, rest: &[String]) -> Result<(), String> {
        let mut compare = "STRING";
        let mut case_insensitive = false;
        let mut descending = false;
        let mut i = 0;
        while i < rest.len() {
            let value = rest.get(i + 1).map(String::as_str).unwrap_or("");
            match rest[i].as_str() {
                "COMPARE" => {
                    compare = if matches!(value, "STRING" | "FILE_BASENAME" | "NATURAL") {
                        value
                    } else {
                        return Err(format!("list(SORT) given unknown COMPARE {value}"));
                    }
                }
                "CASE" => case_insensitive = value == "INSENSITIVE",
                "ORDER" => descending = value == "DESCENDING",
                other => return Err(format!("list(SORT) given unknown argument {other}")),
            }
            i += 2;
        }
        let compare = compare.to_owned();
        self.list_modify(name, |items| {
            let key = |s: &String| -> String {
                let s = if compare == "FILE_BASENAME" {
                    super::super::paths::filename_name(s).to_owned()
                } else {
                    s.clone()
                };
                if case_insensitive {
                    s.to_lowercase()
                } else {
                    s
                }
            };
            if compare == "NATURAL" {
                items.sort_by(|a, b| natural_cmp(&key(a), &key(b)));
            } else {
                items.sort_by_key(key);
            }
            if descending {
                items.reverse();
            }
            Ok(())
        })
    }

    fn list_filter(&mut self, name: &str, rest: &[String]) -> Result<(), String> {
        let (include, pattern) = match rest {
            [mode, regex, pattern]
                if regex == "REGEX" && (mode == "INCLUDE" || mode == "EXCLUDE") =>
            {
                (mode == "INCLUDE", pattern.clone())
            }
            _ => return Err("list(FILTER) expects <list> INCLUDE|EXCLUDE REGEX <regex>".into()),
        };
        let regex = self.shared.regexes.get(&pattern)?;
        self.list_modify(name, |items| {
            items.retain(|i| regex.is_match(i) == include);
            Ok(())
        })
    }

    fn list_transform(&mut self, name: &str, rest: &[String]) -> Result<(), String> {
        let Some(action) = rest.first() else {
            return Err("list(TRANSFORM) needs an action".into());
        };
        let mut i = 1;
        let mut operands = Vec::new();
        let needed = match action.as_str() {
            "APPEND" | "PREPEND" => 1,
            "REPLACE" => 2,
            "TOLOWER" | "TOUPPER" | "STRIP" | "GENEX_STRIP" => 0,
            other => return Err(format!("list(TRANSFORM) does not know action {other}")),
        };
        for _ in 0..needed {
            let Some(v) = rest.get(i) else {
                return Err(format!("list(TRANSFORM {action}) is missing arguments"));
            };
            operands.push(v.clone());
            i += 1;
        }
        enum Selector {
            All,
            At(Vec<String>),
            For(i64, i64, i64),
            Regex(String),
        }
        let mut selector = Selector::All;
        let mut output = None;
        while i < rest.len() {
            match rest[i].as_str() {
                "AT" => {
                    let mut indexes = Vec::new();
                    i += 1;
                    while i < rest.len() && rest[i] != "OUTPUT_VARIABLE" {
                        indexes.push(rest[i].clone());
                        i += 1;
                    }
                    selector = Selector::At(indexes);
                    continue;
                }
                "FOR" => {
                    let start = rest.get(i + 1).map_or(0, |v| atoi(v));
                    let stop = rest.get(i + 2).map_or(0, |v| atoi(v));
                    let mut step = 1;
                    i += 3;
                    if let Some(v) = rest.get(i).filter(|v| v.as_str() != "OUTPUT_VARIABLE") {
                        step = atoi(v).max(1);
                        i += 1;
                    }
                    selector = Selector::For(start, stop, step);
                    continue;
                }
                "REGEX" => {
                    selector = Selector::Regex(rest.get(i + 1).cloned().unwrap_or_default());
                    i += 2;
                    continue;
                }
                "OUTPUT_VARIABLE" => {
                    output = rest.get(i + 1).cloned();
                    i += 2;
                    continue;
                }
                other => return Err(format!("list(TRANSFORM) given unknown argument {other}")),
            }
        }
        let mut items = self.list_value(name);
        let len = items.len();
        let selected: Vec<bool> = match &selector {
            Selector::All => vec![true; len],
            Selector::At(indexes) => {
                let mut s = vec![false; len];
                for index in indexes {
                    s[resolve_index(index, len, false)?] = true;
                }
                s
            }
            Selector::For(start, stop, step) => {
                let mut s = vec![false; len];
                let start = resolve_index(&start.to_string(), len, false)?;
                let stop = resolve_index(&stop.to_string(), len, false)?;
                let mut k = start;
                while k <= stop {
                    s[k] = true;
                    k += *step as usize;
                }
                s
            }
            Selector::Regex(pattern) => {
                let regex = self.shared.regexes.get(pattern)?;
                items.iter().map(|item| regex.is_match(item)).collect()
            }
        };
        let replace_regex = if action == "REPLACE" {
            Some(self.shared.regexes.get(&operands[0])?)
        } else {
            None
        };
        for (item, selected) in items.iter_mut().zip(selected) {
            if !selected {
                continue;
            }
            *item = match action.as_str() {
                "APPEND" => format!("{item}{}", operands[0]),
                "PREPEND" => format!("{}{item}", operands[0]),
                "TOLOWER" => item.to_ascii_lowercase(),
                "TOUPPER" => item.to_ascii_uppercase(),
                "STRIP" => item
                    .trim_matches(|c: char| c.is_ascii_whitespace())
                    .to_owned(),
                "GENEX_STRIP" => super::string::genex_strip(item),
                _ => match &replace_regex {
                    Some(regex) => super::string::regex_replace(regex, item, &operands[1])?,
                    None => item.clone(),
                },
            };
        }
        let target = output.unwrap_or_else(|| name.to_owned());
        self.set_var(&target, join_list(&items));
        Ok(())
    }
}

/// A list index (negative counts from the end) checked against the length; `insert` allows
/// the length itself.
fn resolve_index(index: &str, len: usize, insert: bool) -> Result<usize, String> {
    let i = atoi(index);
    let len_i = len as i64;
    let resolved = if i < 0 { len_i + i } else { i };
    let limit = if insert { len_i } else { len_i - 1 };
    if resolved < 0 || resolved > limit {
        return Err(format!(
            "list index: {i} out of range (-{len}, {})",
            len_i - 1
        ));
    }
    Ok(resolved as usize)
}

/// Natural order: runs of digits compare by value.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let x = std::str::from_utf8(&a[si..i])
                .unwrap_or("0")
                .trim_start_matches('0');
            let y = std::str::from_utf8(&b[sj..j])
                .unwrap_or("0")
                .trim_start_matches('0');
            let ord = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        } else {
            let ord = a[i].cmp(&b[j]);
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}
