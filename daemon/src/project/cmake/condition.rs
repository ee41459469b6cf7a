//! `if()` / `elseif()` / `while()` conditions.
//!
//! CMake reduces the argument list in five passes, each repeated while it shrinks the list:
//! parenthesised groups, unary tests (EXISTS, DEFINED, ...), binary tests (STREQUAL, MATCHES,
//! LESS, VERSION_*, IN_LIST, ...), NOT, then AND and OR (same precedence, left to right, no
//! short circuit). Each reduction leaves a "quoted" `1` or `0`, which is never a keyword and
//! never dereferenced. Anything left over is an error. Quoted arguments are never keywords and
//! never variable names (policy CMP0054), unquoted ones are dereferenced where CMake does.

use std::path::{Path, PathBuf};

use super::expand::{self, Expanded};
use super::interp::Interp;
use super::paths;
use super::types::{ComponentPass, ExistsKind};

fn keyword(arg: &Expanded, word: &str) -> bool {
    !arg.quoted && arg.value == word
}

fn reduced(value: bool) -> Expanded {
    Expanded {
        value: if value { "1".into() } else { "0".into() },
        quoted: true,
    }
}

/// CMake's true constants: 1, ON, YES, TRUE, Y (any case).
pub(crate) fn is_on(value: &str) -> bool {
    matches!(
        value.to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE" | "Y"
    )
}

/// CMake's false constants: empty, 0, OFF, NO, FALSE, N, IGNORE, NOTFOUND, *-NOTFOUND (any case).
pub(crate) fn is_off(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "" | "0" | "OFF" | "NO" | "FALSE" | "N" | "IGNORE" | "NOTFOUND"
    ) || upper.ends_with("-NOTFOUND")
}

/// C `strtod` over the whole string: Some when all of it is a number.
pub(crate) fn whole_number(s: &str) -> Option<f64> {
    let (value, used) = parse_double_prefix(s)?;
    if used == s.len() { Some(value) } else { None }
}

/// C `sscanf("%lg")`: a number at the start of the string.
pub(crate) fn leading_number(s: &str) -> Option<f64> {
    parse_double_prefix(s).map(|(v, _)| v)
}

/// Parses the longest prefix strtod would accept: leading white space, sign, decimal or
/// hexadecimal digits with fraction and exponent, `inf`, `infinity`, `nan`.
fn parse_double_prefix(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let start = i;
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let rest = &s[i..];
    let lower: String = rest
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let sign = if negative { -1.0 } else { 1.0 };
    if lower.starts_with("infinity") {
        return Some((sign * f64::INFINITY, i + 8));
    }
    if lower.starts_with("inf") {
        return Some((sign * f64::INFINITY, i + 3));
    }
    if lower.starts_with("nan") {
        return Some((f64::NAN, i + 3));
    }
    if lower.starts_with("0x") {
        let mut j = i + 2;
        let mut value = 0f64;
        let mut digits = 0;
        while j < b.len() && b[j].is_ascii_hexdigit() {
            value = value * 16.0 + f64::from((b[j] as char).to_digit(16).unwrap_or(0));
            j += 1;
            digits += 1;
        }
        if digits == 0 {
            // "0x" alone: strtod reads the 0.
            return Some((0.0, i + 1));
        }
        return Some((sign * value, j));
    }
    let mut j = i;
    let mut digits = 0;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if j < b.len() && b[j] == b'.' {
        j += 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        let exp_start = k;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        if k > exp_start {
            j = k;
        }
    }
    let text = &s[start..j];
    let value: f64 = text
        .parse()
        .ok()
        .or_else(|| text.trim_end_matches('.').parse().ok())?;
    Some((value, j))
}

/// `cmSystemTools::VersionCompare`: dotted numeric components compared in order, missing ones
/// count as 0, non-digits end the comparison. Returns the ordering of `a` against `b`.
pub(crate) fn version_compare(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while digit(a, i) || digit(b, j) {
        let (x, ni) = read_unsigned(a, i);
        let (y, nj) = read_unsigned(b, j);
        i = ni;
        j = nj;
        match x.cmp(&y) {
            std::cmp::Ordering::Equal => {}
            other => return other,
        }
        if b.get(j) == Some(&b'.') {
            j += 1;
        }
        if a.get(i) == Some(&b'.') {
            i += 1;
        }
    }
    std::cmp::Ordering::Equal
}

fn read_unsigned(s: &[u8], mut k: usize) -> (u128, usize) {
    let mut value: u128 = 0;
    while let Some(d) = s.get(k).filter(|c| c.is_ascii_digit()) {
        value = value
            .saturating_mul(10)
            .saturating_add(u128::from(d - b'0'));
        k += 1;
    }
    (value, k)
}

impl Interp<'_> {
    /// Evaluates expanded condition arguments. Err: CMake's error text.
    pub(crate) fn eval_condition(&mut self, args: Vec<Expanded>) -> Result<bool, String> {
        if args.is_empty() {
            return Ok(false);
        }
        let mut a = args;
        self.level_parens(&mut a)?;
        repeat(&mut a, |a| self.level_unary(a));
        repeat(&mut a, |a| self.level_binary(a));
        repeat(&mut a, |a| self.level_not(a));
        repeat(&mut a, |a| self.level_and_or(a));
        if a.len() != 1 {
            return Err("unknown arguments specified".into());
        }
        Ok(self.boolean(&a[0]))
    }

    /// An argument's truth: constants, numbers, then (unquoted only) a variable's value.
    fn boolean(&mut self, arg: &Expanded) -> bool {
        if is_on(&arg.value) {
            return true;
        }
        if is_off(&arg.value) {
            return false;
        }
        if let Some(n) = whole_number(&arg.value) {
            return n != 0.0;
        }
        if arg.quoted {
            return false;
        }
        match self.var(&arg.value) {
            Some(value) => !is_off(&value),
            None => false,
        }
    }

    /// The value of an unquoted argument naming a variable, else the argument itself.
    fn variable_or_string(&mut self, arg: &Expanded) -> String {
        if !arg.quoted
            && let Some(value) = self.var(&arg.value)
        {
            return value;
        }
        arg.value.clone()
    }

    fn level_parens(&mut self, a: &mut Vec<Expanded>) -> Result<(), String> {
        let mut i = 0;
        while i < a.len() {
            if keyword(&a[i], "(") {
                let mut depth = 1;
                let mut close = i + 1;
                while close < a.len() {
                    if keyword(&a[close], "(") {
                        depth += 1;
                    } else if keyword(&a[close], ")") {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    close += 1;
                }
                if depth != 0 {
                    return Err("mismatched parenthesis in condition".into());
                }
                let inner: Vec<Expanded> = a[i + 1..close].to_vec();
                let value = self.eval_condition(inner)?;
                a.splice(i..=close, [reduced(value)]);
            }
            i += 1;
        }
        Ok(())
    }

    fn level_unary(&mut self, a: &mut Vec<Expanded>) {
        let mut i = 0;
        while i + 1 < a.len() {
            if a[i].quoted {
                i += 1;
                continue;
            }
            let operand = a[i + 1].value.clone();
            let result = match a[i].value.as_str() {
                "EXISTS" => Some(self.file_test(&operand, ExistsKind::Exists)),
                "IS_READABLE" => Some(self.file_test(&operand, ExistsKind::Readable)),
                "IS_WRITABLE" => Some(self.file_test(&operand, ExistsKind::Writable)),
                "IS_EXECUTABLE" => Some(self.file_test(&operand, ExistsKind::Executable)),
                "IS_DIRECTORY" => Some(self.file_test(&operand, ExistsKind::IsDirectory)),
                "IS_SYMLINK" => Some(self.file_test(&operand, ExistsKind::IsSymlink)),
                "IS_ABSOLUTE" => Some(paths::is_full_path(&operand)),
                "COMMAND" => Some(self.command_exists(&operand)),
                "POLICY" => Some(is_policy(&operand)),
                "TARGET" => Some(self.target_exists(&operand)),
                "TEST" => Some(false),
                "DEFINED" => Some(self.defined(&operand)),
                _ => None,
            };
            if let Some(result) = result {
                a[i] = reduced(result);
                a.remove(i + 1);
            }
            i += 1;
        }
    }

    fn defined(&mut self, operand: &str) -> bool {
        if let Some(name) = special_variable(operand, "ENV") {
            return self.env_var(name).is_some();
        }
        if let Some(name) = special_variable(operand, "CACHE") {
            return self.cache_var(name).is_some();
        }
        self.is_defined(operand)
    }

    /// A file-system test on a path as written; relative paths (relative to the CMake
    /// process's working directory in CMake) are answered false.
    fn file_test(&mut self, operand: &str, kind: ExistsKind) -> bool {
        if operand.is_empty() || !paths::is_full_path(operand) || operand.starts_with('~') {
            return false;
        }
        let path = PathBuf::from(operand);
        self.note_exists(&path, kind)
    }

    /// `if(TARGET name)`: targets this evaluation created, ESP-IDF's build target, and
    /// components' library targets when the list of build components is known.
    pub(crate) fn target_exists(&mut self, name: &str) -> bool {
        if self.targets.contains(name) || name == "__idf_build_target" {
            return true;
        }
        let component = name
            .strip_prefix("idf::")
            .or_else(|| name.strip_prefix("___idf_"))
            .or_else(|| name.strip_prefix("__idf_"));
        let Some(component) = component else {
            return false;
        };
        if self.component_name() == Some(component) {
            return !self.out.registrations.is_empty() || self.out.cmake_library;
        }
        if self.pass() == Some(ComponentPass::EarlyExpansion) {
            // Script mode has no targets at all.
            return false;
        }
        match self.build_property("BUILD_COMPONENTS") {
            Some(components) => expand::list_items(&components)
                .iter()
                .any(|c| c == component),
            None => {
                self.warn(format!(
                    "`if(TARGET {name})` cannot be answered without the list of build components; assumed false"
                ));
                false
            }
        }
    }

    fn level_binary(&mut self, a: &mut Vec<Expanded>) {
        let mut i = 0;
        while i < a.len() {
            if i + 1 < a.len() && keyword(&a[i], "MATCHES") {
                // `MATCHES` with nothing to its left (e.g. an empty variable expanded away).
                a[i] = reduced(false);
                a.remove(i + 1);
                i += 1;
                continue;
            }
            if i + 2 >= a.len() || a[i + 1].quoted {
                i += 1;
                continue;
            }
            let op = a[i + 1].value.clone();
            let result = match op.as_str() {
                "MATCHES" => Some(self.matches(&a[i], &a[i + 2].value.clone())),
                "LESS" | "LESS_EQUAL" | "GREATER" | "GREATER_EQUAL" | "EQUAL" => {
                    let l = self.variable_or_string(&a[i]);
                    let r = self.variable_or_string(&a[i + 2]);
                    Some(match (leading_number(&l), leading_number(&r)) {
                        (Some(l), Some(r)) => match op.as_str() {
                            "LESS" => l < r,
                            "LESS_EQUAL" => l <= r,
                            "GREATER" => l > r,
                            "GREATER_EQUAL" => l >= r,
                            _ => l == r,
                        },
                        _ => false,
                    })
                }
                "STRLESS" | "STRLESS_EQUAL" | "STRGREATER" | "STRGREATER_EQUAL" | "STREQUAL" => {
                    let l = self.variable_or_string(&a[i]);
                    let r = self.variable_or_string(&a[i + 2]);
                    let ord = l.as_bytes().cmp(r.as_bytes());
                    Some(compare(&op, ord))
                }
                "VERSION_LESS"
                | "VERSION_LESS_EQUAL"
                | "VERSION_GREATER"
                | "VERSION_GREATER_EQUAL"
                | "VERSION_EQUAL" => {
                    let l = self.variable_or_string(&a[i]);
                    let r = self.variable_or_string(&a[i + 2]);
                    Some(compare(
                        op.trim_start_matches("VERSION_"),
                        version_compare(&l, &r),
                    ))
                }
                "IS_NEWER_THAN" => {
                    let l = a[i].value.clone();
                    let r = a[i + 2].value.clone();
                    // The answer depends on both files: a cached result must not outlive an
                    // edit of either (a missing one is recorded as an existence check).
                    for p in [&l, &r] {
                        let _ = self.read_input_file(Path::new(p));
                    }
                    Some(is_newer_than(Path::new(&l), Path::new(&r)))
                }
                "IN_LIST" => {
                    let needle = self.variable_or_string(&a[i]);
                    let list = a[i + 2].value.clone();
                    Some(match self.var(&list) {
                        Some(value) => expand::list_items(&value).contains(&needle),
                        None => false,
                    })
                }
                "PATH_EQUAL" => {
                    let l = self.variable_or_string(&a[i]);
                    let r = self.variable_or_string(&a[i + 2]);
                    Some(path_components(&l) == path_components(&r))
                }
                _ => None,
            };
            if let Some(result) = result {
                a[i] = reduced(result);
                a.remove(i + 1);
                a.remove(i + 1);
            }
            i += 1;
        }
    }

    fn matches(&mut self, subject: &Expanded, pattern: &str) -> bool {
        let text = self.variable_or_string(subject);
        self.clear_matches();
        let regex = match self.shared.regexes.get(pattern) {
            Ok(r) => r,
            Err(e) => {
                self.fail(e);
                return false;
            }
        };
        match regex.captures(&text) {
            Some(captures) => {
                self.store_matches(&captures);
                true
            }
            None => false,
        }
    }

    /// Clears `CMAKE_MATCH_<n>` before a new match, as CMake does: the groups of the previous
    /// match become empty and the count 0.
    pub(crate) fn clear_matches(&mut self) {
        let Some(count) = self.var("CMAKE_MATCH_COUNT") else {
            return;
        };
        let count = super::commands::atoi(&count).clamp(0, 9);
        for n in 0..=count {
            let name = format!("CMAKE_MATCH_{n}");
            if self.var(&name).is_some_and(|v| !v.is_empty()) {
                self.set_var(&name, "");
            }
        }
        self.set_var("CMAKE_MATCH_COUNT", "0");
    }

    /// Sets `CMAKE_MATCH_<n>` for the non-empty groups of a match, and `CMAKE_MATCH_COUNT` to
    /// the highest of them.
    pub(crate) fn store_matches(&mut self, captures: &regex::Captures<'_>) {
        let mut highest = None;
        for n in 0..captures.len().min(10) {
            if let Some(m) = captures.get(n).filter(|m| !m.as_str().is_empty()) {
                self.set_var(&format!("CMAKE_MATCH_{n}"), m.as_str().to_owned());
                highest = Some(n);
            }
        }
        self.set_var(
            "CMAKE_MATCH_COUNT",
            highest.map(|n| n.to_string()).unwrap_or_default(),
        );
    }

    fn level_not(&mut self, a: &mut Vec<Expanded>) {
        let mut i = 0;
        while i + 1 < a.len() {
            if keyword(&a[i], "NOT") {
                let operand = a[i + 1].clone();
                let value = !self.boolean(&operand);
                a[i] = reduced(value);
                a.remove(i + 1);
            }
            i += 1;
        }
    }

    fn level_and_or(&mut self, a: &mut Vec<Expanded>) {
        let mut i = 0;
        while i + 2 < a.len() {
            let is_and = keyword(&a[i + 1], "AND");
            if is_and || keyword(&a[i + 1], "OR") {
                let l = a[i].clone();
                let r = a[i + 2].clone();
                let (l, r) = (self.boolean(&l), self.boolean(&r));
                a[i] = reduced(if is_and { l && r } else { l || r });
                a.remove(i + 1);
                a.remove(i + 1);
            }
            i += 1;
        }
    }
}

/// Runs a reduction pass until it stops shrinking the list.
fn repeat(a: &mut Vec<Expanded>, mut pass: impl FnMut(&mut Vec<Expanded>)) {
    loop {
        let before = a.len();
        pass(a);
        if a.len() >= before {
            return;
        }
    }
}

fn compare(op: &str, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op.trim_start_matches("STR") {
        "LESS" => ord == Less,
        "LESS_EQUAL" => ord != Greater,
        "GREATER" => ord == Greater,
        "GREATER_EQUAL" => ord != Less,
        _ => ord == Equal,
    }
}

/// `ENV{NAME}` / `CACHE{NAME}` in `DEFINED`.
fn special_variable<'s>(operand: &'s str, prefix: &str) -> Option<&'s str> {
    let rest = operand.strip_prefix(prefix)?.strip_prefix('{')?;
    let name = rest.strip_suffix('}')?;
    if name.is_empty() { None } else { Some(name) }
}

/// CMake knows policies CMP0000 to about CMP0190; any well-formed id in that range exists.
fn is_policy(id: &str) -> bool {
    id.len() == 7
        && id.starts_with("CMP")
        && id[3..].bytes().all(|b| b.is_ascii_digit())
        && id[3..] <= *"0199"
}

fn is_newer_than(a: &Path, b: &Path) -> bool {
    let time = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (time(a), time(b)) {
        (Some(x), Some(y)) => x >= y,
        _ => true,
    }
}

fn path_components(p: &str) -> Vec<String> {
    let root = p.starts_with('/');
    let mut parts: Vec<String> = p
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if root {
        parts.insert(0, "/".into());
    }
    if p.ends_with('/') && p.len() > 1 {
        parts.push(String::new());
    }
    parts
}
